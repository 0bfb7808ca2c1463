/**
 * The planner controller's round scheduling (debounce, bounded delay, period, no overlap, waiting
 * for the caches to show its own writes), its metrics and its per-gang log lines.
 */
import { Writable } from 'node:stream';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { ANNOTATION_PLAN } from '../../../src/api/scheduling/labels.ts';
import type { ApplyReport, WriteOutcome } from '../../../src/kube/writes.ts';
import { createLogger, silentLogger } from '../../../src/observability/logger.ts';
import {
  PlannerController,
  type PlannerControllerOptions,
  PlannerMetrics,
} from '../../../src/planner/controller.ts';
import type {
  ClusterObjects,
  GangReport,
  PlannerSettings,
  PodWrite,
  RoundResult,
} from '../../../src/scheduling/round-types.ts';

const OBJECTS: ClusterObjects = {
  nodes: [],
  slices: [],
  claims: [],
  templates: [],
  pods: [],
  namespaces: new Map(),
  podGroups: [],
  queues: [],
};

const outcome = (o: Partial<WriteOutcome> = {}): WriteOutcome => ({
  ok: 0,
  skipped: 0,
  conflict: 0,
  notFound: 0,
  failed: 0,
  ...o,
});

function report(extra: Partial<ApplyReport> = {}): ApplyReport {
  return {
    annotations: outcome(),
    pins: outcome(),
    deletions: outcome(),
    events: outcome(),
    queues: outcome(),
    written: [],
    pinned: [],
    ...extra,
  };
}

function round(gangs: GangReport[] = []): RoundResult {
  return { writes: [], deletions: [], events: [], queues: [], gangs, problems: [] };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const controllers: PlannerController[] = [];

interface Harness {
  controller: PlannerController;
  metrics: PlannerMetrics;
  registry: Registry;
  rounds: PlannerSettings[];
}

function harness(o: Partial<PlannerControllerOptions> = {}): Harness {
  const registry = new Registry();
  const metrics = new PlannerMetrics(registry);
  const rounds: PlannerSettings[] = [];
  const controller = new PlannerController({
    snapshot: () => OBJECTS,
    plan: (_objects, settings) => {
      rounds.push(settings);
      return round();
    },
    apply: async () => report(),
    podVersion: () => undefined,
    settings: { policy: 'best-fit' },
    metrics,
    logger: silentLogger(),
    debounceMs: 20,
    maxDelayMs: 100,
    periodMs: 60_000,
    ...o,
  });
  controllers.push(controller);
  return { controller, metrics, registry, rounds };
}

afterEach(async () => {
  await Promise.all(controllers.splice(0).map((c) => c.stop()));
});

async function metric(registry: Registry, sample: string): Promise<number | undefined> {
  const text = await registry.metrics();
  const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
  return line === undefined ? undefined : Number(line.slice(sample.length + 1));
}

describe('PlannerController scheduling', () => {
  it('ignores changes until started, then runs a round at once with the settings and the time', async () => {
    const h = harness({ now: () => 1234 });
    h.controller.notify();
    await sleep(50);
    expect(h.rounds).toHaveLength(0);
    h.controller.start();
    await sleep(10);
    expect(h.rounds).toEqual([{ policy: 'best-fit', now: 1234 }]);
    expect(await metric(h.registry, 'phalanx_planner_leader')).toBe(1);
  });

  it('coalesces a burst of changes into one round after the quiet period', async () => {
    const h = harness();
    h.controller.start();
    await sleep(10);
    for (let i = 0; i < 20; i++) h.controller.notify();
    await sleep(80);
    expect(h.rounds).toHaveLength(2);
  });

  it('still runs rounds during a change storm, at least every maxDelay', async () => {
    const h = harness();
    h.controller.start();
    await sleep(10);
    const end = Date.now() + 350;
    while (Date.now() < end) {
      h.controller.notify();
      await sleep(5);
    }
    // Debounce alone would wait for the storm to end; the bound gives ~4 rounds in 350 ms.
    expect(h.rounds.length).toBeGreaterThanOrEqual(3);
  });

  it('runs periodic rounds without any change', async () => {
    const h = harness({ periodMs: 40 });
    h.controller.start();
    await sleep(190);
    expect(h.rounds.length).toBeGreaterThanOrEqual(3);
    await h.controller.stop();
    const n = h.rounds.length;
    await sleep(100);
    expect(h.rounds).toHaveLength(n);
    expect(await metric(h.registry, 'phalanx_planner_leader')).toBe(0);
  });

  it('never overlaps rounds, and runs once more for changes that came during one', async () => {
    let active = 0;
    let most = 0;
    const h = harness({
      apply: async () => {
        active++;
        most = Math.max(most, active);
        await sleep(60);
        active--;
        return report();
      },
    });
    h.controller.start();
    await sleep(10);
    h.controller.notify();
    await sleep(30);
    h.controller.notify();
    await sleep(250);
    expect(most).toBe(1);
    expect(h.rounds).toHaveLength(2);
  });

  it('waits for the pod cache to show its own writes before the next round, within a bound', async () => {
    const versions = new Map([['ns/p', '5']]);
    let first = true;
    const h = harness({
      apply: async () => {
        if (!first) return report();
        first = false;
        return report({ written: [{ key: 'ns/p', staleResourceVersion: '5' }] });
      },
      podVersion: (key) => versions.get(key),
      catchUpMs: 1000,
    });
    h.controller.start();
    await sleep(10);
    h.controller.notify();
    await sleep(150);
    expect(h.rounds).toHaveLength(1);
    versions.set('ns/p', '6');
    await sleep(100);
    expect(h.rounds).toHaveLength(2);
  });

  it('plans anyway when the cache stays behind longer than the bound', async () => {
    const h = harness({
      apply: async () => report({ written: [{ key: 'ns/p', staleResourceVersion: '5' }] }),
      podVersion: () => '5',
      catchUpMs: 100,
    });
    h.controller.start();
    await sleep(10);
    h.controller.notify();
    await sleep(250);
    expect(h.rounds).toHaveLength(2);
  });
});

describe('PlannerController metrics and logs', () => {
  const gangs: GangReport[] = [
    {
      key: 'ns/a',
      queue: 'q',
      phase: 'Planned',
      members: 8,
      size: 8,
      gpus: 8,
      level: 'node',
      domain: 'n1',
    },
    {
      key: 'ns/b',
      queue: 'q',
      phase: 'Waiting',
      members: 8,
      size: 8,
      gpus: 8,
      reason: 'gang ns/b: no room',
    },
    { key: 'ns/c', queue: undefined, phase: 'Running', members: 2, size: 2, gpus: 2 },
  ];
  const pinned = (plan: string, name: string): PodWrite => ({
    namespace: 'ns',
    name,
    uid: name,
    annotations: { [ANNOTATION_PLAN]: JSON.stringify({ plan }) },
    pinNode: 'n1',
  });

  it('pre-initialises every series and records a round', async () => {
    const h = harness({
      plan: () => round(gangs),
      apply: async () =>
        report({
          pins: outcome({ ok: 3, conflict: 1 }),
          pinned: [pinned('a-1', 'p0'), pinned('a-1', 'p1'), pinned('x-2', 'p2')],
        }),
    });
    expect(await metric(h.registry, 'phalanx_planner_gangs{phase="Stale"}')).toBe(0);
    expect(await metric(h.registry, 'phalanx_planner_plans_total')).toBe(0);
    expect(
      await metric(h.registry, 'phalanx_planner_writes_total{kind="pins",result="conflict"}'),
    ).toBe(0);
    const summary = await h.controller.runRound();
    expect(summary?.report.pinned).toHaveLength(3);
    expect(await metric(h.registry, 'phalanx_planner_gangs{phase="Planned"}')).toBe(1);
    expect(await metric(h.registry, 'phalanx_planner_gangs{phase="Waiting"}')).toBe(1);
    expect(await metric(h.registry, 'phalanx_planner_gangs{phase="Running"}')).toBe(1);
    expect(await metric(h.registry, 'phalanx_planner_reserved_idle_gpus')).toBe(8);
    expect(await metric(h.registry, 'phalanx_planner_plans_total')).toBe(2);
    expect(await metric(h.registry, 'phalanx_planner_writes_total{kind="pins",result="ok"}')).toBe(
      3,
    );
    expect(
      await metric(h.registry, 'phalanx_planner_writes_total{kind="pins",result="conflict"}'),
    ).toBe(1);
    expect(await metric(h.registry, 'phalanx_planner_rounds_total{result="success"}')).toBe(1);
    expect(await metric(h.registry, 'phalanx_planner_round_duration_seconds_count')).toBe(1);
  });

  it('counts a failed round and keeps going', async () => {
    let fail = true;
    const h = harness({
      plan: () => {
        if (fail) throw new Error('ledger out of sync');
        return round();
      },
    });
    expect(await h.controller.runRound()).toBeUndefined();
    fail = false;
    expect(await h.controller.runRound()).toBeDefined();
    expect(await metric(h.registry, 'phalanx_planner_rounds_total{result="error"}')).toBe(1);
    expect(h.controller.rounds).toBe(2);
  });

  it('logs each gang once per phase or reason change, keyed by gang, and problems once', async () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l));
        done();
      },
    });
    let current = gangs;
    const h = harness({
      logger: createLogger({ component: 'test', destination: sink }),
      plan: () => ({ ...round(current), problems: ['pool n9: 1 of 2 slices present'] }),
    });
    await h.controller.runRound();
    await h.controller.runRound();
    current = [{ ...gangs[0], phase: 'Running' } as GangReport];
    await h.controller.runRound();
    await sleep(20);
    const gangLines = lines.filter((l) => l.gang !== undefined);
    expect(gangLines.map((l) => `${l.gang} ${l.phase}`)).toEqual([
      'ns/a Planned',
      'ns/b Waiting',
      'ns/c Running',
      'ns/a Running',
    ]);
    expect(gangLines[1]?.msg).toBe('gang ns/b: no room');
    expect(lines.filter((l) => l.problem !== undefined)).toHaveLength(1);
  });
});
