/**
 * The production decider: the core's decisions over the caches' objects, answered through the
 * real extender app (fastify inject) in kube-scheduler's wire shape.
 */
import type { FastifyInstance } from 'fastify';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { ANNOTATION_PLAN, LABEL_GANG } from '../../../src/api/scheduling/labels.ts';
import { buildExtenderApp } from '../../../src/extender/app.ts';
import { CoreDecider, type ExtenderCore } from '../../../src/extender/core-decider.ts';
import { ExtenderMetrics } from '../../../src/extender/metrics.ts';
import { silentLogger } from '../../../src/observability/logger.ts';
import * as realCore from '../../../src/scheduling/extender-decisions.ts';
import type { ClusterObjects, PlannerSettings } from '../../../src/scheduling/round-types.ts';
import type { PodObject } from '../../../src/scheduling/workload.ts';

function objects(pods: PodObject[] = []): ClusterObjects {
  return {
    nodes: ['n1', 'n2', 'n3'].map((name) => ({
      metadata: { name, labels: { 'kubernetes.io/hostname': name } },
      status: { allocatable: { cpu: '16', memory: '64Gi' } },
    })),
    slices: [],
    claims: [],
    templates: [],
    pods,
    namespaces: new Map(),
    podGroups: [],
    queues: [],
  };
}

const apps: FastifyInstance[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.close()));
});

function app(decider: CoreDecider): FastifyInstance {
  const a = buildExtenderApp({
    decider,
    logger: silentLogger(),
    metrics: new ExtenderMetrics(new Registry()),
    pathPrefix: '/scheduler',
  });
  apps.push(a);
  return a;
}

function args(pod: object, names: string[]): string {
  return JSON.stringify({ Pod: pod, Nodes: null, NodeNames: names });
}

async function post(a: FastifyInstance, verb: string, body: string) {
  const res = await a.inject({
    method: 'POST',
    url: `/scheduler/${verb}`,
    headers: { 'content-type': 'application/json' },
    payload: body,
  });
  return { status: res.statusCode, body: res.json() as Record<string, unknown> };
}

const planned: PodObject = {
  metadata: {
    name: 'w-0',
    namespace: 'ml',
    uid: 'u0',
    labels: { [LABEL_GANG]: 'train' },
    annotations: {
      [ANNOTATION_PLAN]: JSON.stringify({ gang: 'ml/train', plan: 'train-1', node: 'n2' }),
    },
  },
  spec: { containers: [{ name: 'main' }] },
};

describe('CoreDecider with the real core', () => {
  it('passes a planned pod only to its planned node and scores that node highest', async () => {
    const world = objects([planned]);
    const a = app(
      new CoreDecider({ core: realCore, objects: () => world, synced: () => true, settings: {} }),
    );
    const filter = await post(a, 'filter', args(planned, ['n1', 'n2', 'n3']));
    expect(filter.status).toBe(200);
    expect(filter.body.NodeNames).toEqual(['n2']);
    expect(Object.keys(filter.body.FailedAndUnresolvableNodes as object).sort()).toEqual([
      'n1',
      'n3',
    ]);
    const scores = await post(a, 'prioritize', args(planned, ['n1', 'n2']));
    expect(scores.body).toEqual([
      { Host: 'n1', Score: 0 },
      { Host: 'n2', Score: 10 },
    ]);
  });

  it('keeps an unplanned gang pod off every node', async () => {
    const pod: PodObject = {
      metadata: { ...planned.metadata, annotations: {} },
      spec: { containers: [{ name: 'main' }] },
    };
    const world = objects([pod]);
    const a = app(
      new CoreDecider({ core: realCore, objects: () => world, synced: () => true, settings: {} }),
    );
    const filter = await post(a, 'filter', args(pod, ['n1', 'n2']));
    expect(filter.body.NodeNames).toEqual([]);
    expect(String((filter.body.FailedAndUnresolvableNodes as Record<string, string>).n1)).toMatch(
      /gang ml\/train has no plan/,
    );
  });
});

describe('CoreDecider wiring', () => {
  function recordingCore(
    log: { objects: ClusterObjects; settings: PlannerSettings }[],
  ): ExtenderCore {
    return {
      filterPod: (o, s, _pod, names) => {
        log.push({ objects: o, settings: s });
        return {
          feasible: names.filter((n) => n !== 'n9'),
          failed: {},
          unresolvable: {},
          unknown: names.filter((n) => n === 'n9'),
        };
      },
      scorePod: (o, s, _pod, names) => {
        log.push({ objects: o, settings: s });
        return names.map((host) => ({ host, score: 1 }));
      },
      preemptVictims: (o, s, _pod, candidates) => {
        log.push({ objects: o, settings: s });
        return new Map(candidates);
      },
    };
  }

  it('hands the core the same objects value and the settings with the current time', async () => {
    const log: { objects: ClusterObjects; settings: PlannerSettings }[] = [];
    const world = objects();
    let now = 1000;
    const a = app(
      new CoreDecider({
        core: recordingCore(log),
        objects: () => world,
        synced: () => true,
        settings: { policy: 'best-fit', planTtlSeconds: 60 },
        now: () => now++,
      }),
    );
    await post(a, 'filter', args(planned, ['n1']));
    await post(a, 'prioritize', args(planned, ['n1']));
    await post(
      a,
      'preempt',
      JSON.stringify({
        Pod: planned,
        NodeNameToVictims: null,
        NodeNameToMetaVictims: { n1: { Pods: [{ UID: 'v1' }], NumPDBViolations: 0 } },
      }),
    );
    expect(log).toHaveLength(3);
    expect(log.every((l) => l.objects === world)).toBe(true);
    expect(log.map((l) => l.settings)).toEqual([
      { policy: 'best-fit', planTtlSeconds: 60, now: 1000 },
      { policy: 'best-fit', planTtlSeconds: 60, now: 1001 },
      { policy: 'best-fit', planTtlSeconds: 60, now: 1002 },
    ]);
  });

  it('answers 503 with a sentence until the caches synced, and for nodes it has not seen', async () => {
    let synced = false;
    const decider = new CoreDecider({
      core: recordingCore([]),
      objects: () => objects(),
      synced: () => synced,
      settings: {},
    });
    const a = app(decider);
    expect(decider.ready()).toBe(false);
    const early = await post(a, 'filter', args(planned, ['n1']));
    expect(early.status).toBe(503);
    expect(early.body.Error).toMatch(/has not loaded the cluster yet/);
    expect((await a.inject({ url: '/readyz' })).statusCode).toBe(503);
    synced = true;
    const unknown = await post(a, 'filter', args(planned, ['n1', 'n9']));
    expect(unknown.status).toBe(503);
    expect(unknown.body.Error).toMatch(/nodes n9 are not in the extender's cache yet/);
    expect((await a.inject({ url: '/readyz' })).statusCode).toBe(200);
  });
});
