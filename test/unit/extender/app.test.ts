/**
 * The extender over HTTP (fastify inject), with hand-written request bodies in the exact shape
 * kube-scheduler sends (`k8s.io/kube-scheduler/extender/v1`, PascalCase keys, `null` for the
 * unused field) and assertions on the exact reply bytes.
 */
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { buildExtenderApp } from '../../../src/extender/app.ts';
import {
  type ExtenderDecider,
  ExtenderInputError,
  type ExtenderPod,
  type FilterOutcome,
  type HostScore,
  type MetaVictimsIn,
  type NodeInput,
} from '../../../src/extender/decider.ts';
import { ExtenderMetrics } from '../../../src/extender/metrics.ts';
import { createLogger } from '../../../src/observability/logger.ts';

// ---- a small real decider over nodes named n<digits> -------------------------------------------

const NODE = /^n(\d+)$/;

function lastDigit(node: string): number {
  const m = NODE.exec(node);
  if (m === null) throw new ExtenderInputError(`node "${node}" is not known to the extender`);
  return Number(m[1]) % 10;
}

/**
 * Passes nodes whose name ends in an even digit; fails those ending in 1, 3, 5, 7 and marks those
 * ending in 9 unresolvable. Scores 1.6 × the last digit (so fractions and values above 10 occur).
 * Preemption keeps even nodes and never evicts pods whose UID starts with `keep-`. A pod named
 * `crash` makes every verb throw.
 */
class EvenDigitDecider implements ExtenderDecider {
  isReady = true;
  readonly calls: string[] = [];

  #check(pod: ExtenderPod, verb: string): void {
    this.calls.push(`${verb} ${pod.namespace}/${pod.name} ${pod.uid}`);
    if (pod.name === 'crash') throw new Error('index out of range in the test decider');
  }

  filter(pod: ExtenderPod, nodes: NodeInput): FilterOutcome {
    this.#check(pod, 'filter');
    const out: FilterOutcome = { feasible: [], failed: {}, unresolvable: {} };
    for (const node of nodes.names) {
      const d = lastDigit(node);
      if (d % 2 === 0) out.feasible.push(node);
      else if (d === 9) out.unresolvable[node] = `node ${node} has no GPU of model H100`;
      else out.failed[node] = `node ${node} has 0 of 4 GPUs free`;
    }
    return out;
  }

  prioritize(pod: ExtenderPod, nodes: NodeInput): HostScore[] {
    this.#check(pod, 'prioritize');
    return nodes.names.map((host) => ({ host, score: lastDigit(host) * 1.6 }));
  }

  preempt(
    pod: ExtenderPod,
    candidates: ReadonlyMap<string, MetaVictimsIn>,
  ): Map<string, MetaVictimsIn> {
    this.#check(pod, 'preempt');
    const out = new Map<string, MetaVictimsIn>();
    for (const [node, v] of candidates) {
      if (lastDigit(node) % 2 !== 0) continue;
      out.set(node, {
        podUids: v.podUids.filter((uid) => !uid.startsWith('keep-')),
        numPDBViolations: v.numPDBViolations,
      });
    }
    return out;
  }

  ready(): boolean {
    return this.isReady;
  }
}

// ---- harness ----------------------------------------------------------------------------------

class Lines extends Writable {
  readonly lines: Record<string, unknown>[] = [];

  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    for (const line of chunk.toString('utf8').split('\n'))
      if (line !== '') this.lines.push(JSON.parse(line) as Record<string, unknown>);
    done();
  }
}

interface Harness {
  app: FastifyInstance;
  decider: EvenDigitDecider;
  registry: Registry;
  log: Lines;
}

const apps: FastifyInstance[] = [];

afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.close()));
});

function harness(options: { bodyLimitBytes?: number; pathPrefix?: string } = {}): Harness {
  const decider = new EvenDigitDecider();
  const registry = new Registry();
  const log = new Lines();
  const app = buildExtenderApp({
    decider,
    logger: createLogger({ component: 'extender', verbosity: 3, destination: log }),
    metrics: new ExtenderMetrics(registry),
    ...options,
  });
  apps.push(app);
  return { app, decider, registry, log };
}

function post(app: FastifyInstance, url: string, body: string, contentType = 'application/json') {
  return app.inject({
    method: 'POST',
    url,
    headers: { 'content-type': contentType },
    payload: body,
  });
}

/** A pod as kube-scheduler sends it (v1.Pod JSON, camelCase inside). */
const POD =
  '{"metadata":{"name":"w-0","namespace":"ml","uid":"7c1a9f3e-0d4b-4f7e-9a53-2b8f0c6e1d11","labels":{"phalanx.dev/gang":"train-a"},"annotations":null},"spec":{"schedulerName":"phalanx","containers":[{"name":"main","image":"trainer:1"}],"resourceClaims":[{"name":"gpus","resourceClaimTemplateName":"four-gpus"}]},"status":{"phase":"Pending"}}';

const node = (name: string, rack: string): string =>
  `{"metadata":{"name":"${name}","labels":{"kubernetes.io/hostname":"${name}","phalanx.dev/rack":"${rack}"}},"spec":{},"status":{"allocatable":{"cpu":"64","memory":"512Gi"}}}`;

const FILTER_KEYS = ['Nodes', 'NodeNames', 'FailedNodes', 'FailedAndUnresolvableNodes', 'Error'];

// ---- filter -----------------------------------------------------------------------------------

describe('POST /scheduler/filter', () => {
  it('answers a node-cache-capable call with NodeNames, Nodes null and exact PascalCase keys', async () => {
    const { app, decider } = harness();
    const body = `{"Pod":${POD},"Nodes":null,"NodeNames":["n1","n2","n3","n4","n9"]}`;
    const res = await post(app, '/scheduler/filter', body);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.body).toBe(
      '{"Nodes":null,"NodeNames":["n2","n4"],"FailedNodes":{"n1":"node n1 has 0 of 4 GPUs free","n3":"node n3 has 0 of 4 GPUs free"},"FailedAndUnresolvableNodes":{"n9":"node n9 has no GPU of model H100"},"Error":""}',
    );
    const reply = JSON.parse(res.body) as Record<string, unknown>;
    expect(Object.keys(reply)).toEqual(FILTER_KEYS);
    expect(reply.Nodes).toBeNull();
    expect(decider.calls).toEqual(['filter ml/w-0 7c1a9f3e-0d4b-4f7e-9a53-2b8f0c6e1d11']);
  });

  it('answers a full-mode call with Nodes.items (the feasible nodes as sent) and NodeNames null', async () => {
    const { app } = harness();
    const body = `{"Pod":${POD},"Nodes":{"metadata":{},"items":[${node('n1', 'r1')},${node('n2', 'r1')},${node('n6', 'r2')}]},"NodeNames":null}`;
    const res = await post(app, '/scheduler/filter', body);
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe(
      `{"Nodes":{"items":[${node('n2', 'r1')},${node('n6', 'r2')}]},"NodeNames":null,"FailedNodes":{"n1":"node n1 has 0 of 4 GPUs free"},"FailedAndUnresolvableNodes":{},"Error":""}`,
    );
    const reply = JSON.parse(res.body) as Record<string, unknown>;
    expect(Object.keys(reply)).toEqual(FILTER_KEYS);
    expect(reply.NodeNames).toBeNull();
  });

  it('replies with an empty array (never null) and empty maps when given no nodes', async () => {
    const { app } = harness();
    const res = await post(app, '/scheduler/filter', `{"Pod":${POD},"Nodes":null,"NodeNames":[]}`);
    expect(res.body).toBe(
      '{"Nodes":null,"NodeNames":[],"FailedNodes":{},"FailedAndUnresolvableNodes":{},"Error":""}',
    );
    const full = await post(app, '/scheduler/filter', `{"Pod":${POD},"Nodes":{"items":null}}`);
    expect(full.body).toBe(
      '{"Nodes":{"items":[]},"NodeNames":null,"FailedNodes":{},"FailedAndUnresolvableNodes":{},"Error":""}',
    );
  });

  it('reads keys case-insensitively, as Go encoding/json does, and still writes PascalCase', async () => {
    const { app } = harness();
    const body = `{"pod":${POD},"nodes":null,"NODENAMES":["n2","n7"],"Unknown":1}`;
    const res = await post(app, '/scheduler/filter', body);
    expect(res.statusCode).toBe(200);
    expect(JSON.parse(res.body)).toEqual({
      Nodes: null,
      NodeNames: ['n2'],
      FailedNodes: { n7: 'node n7 has 0 of 4 GPUs free' },
      FailedAndUnresolvableNodes: {},
      Error: '',
    });
  });

  it('accepts application/json with a charset', async () => {
    const { app } = harness();
    const body = `{"Pod":${POD},"Nodes":null,"NodeNames":["n2"]}`;
    const res = await post(app, '/scheduler/filter', body, 'application/json; charset=utf-8');
    expect(res.statusCode).toBe(200);
    expect(JSON.parse(res.body)).toMatchObject({ NodeNames: ['n2'] });
  });
});

// ---- prioritize -------------------------------------------------------------------------------

describe('POST /scheduler/prioritize', () => {
  it('returns a bare array of {Host, Score} with integer scores clamped to 0..10 (cache mode)', async () => {
    const { app } = harness();
    const body = `{"Pod":${POD},"Nodes":null,"NodeNames":["n0","n2","n4","n8"]}`;
    const res = await post(app, '/scheduler/prioritize', body);
    expect(res.statusCode).toBe(200);
    // 1.6 × digit: 0, 3.2, 6.4, 12.8 → 0, 3, 6, 10
    expect(res.body).toBe(
      '[{"Host":"n0","Score":0},{"Host":"n2","Score":3},{"Host":"n4","Score":6},{"Host":"n8","Score":10}]',
    );
    const reply = JSON.parse(res.body) as { Host: string; Score: number }[];
    expect(reply.every((p) => Object.keys(p).join() === 'Host,Score')).toBe(true);
    expect(reply.every((p) => Number.isInteger(p.Score))).toBe(true);
  });

  it('returns the same bare array in full mode', async () => {
    const { app } = harness();
    const body = `{"Pod":${POD},"Nodes":{"items":[${node('n3', 'r1')},${node('n6', 'r2')}]},"NodeNames":null}`;
    const res = await post(app, '/scheduler/prioritize', body);
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe('[{"Host":"n3","Score":5},{"Host":"n6","Score":10}]');
  });
});

// ---- preempt ----------------------------------------------------------------------------------

describe('POST /scheduler/preempt', () => {
  it('answers meta victims in cache mode, dropping the nodes the decider drops', async () => {
    const { app } = harness();
    const body = `{"Pod":${POD},"NodeNameToVictims":null,"NodeNameToMetaVictims":{"n1":{"Pods":[{"UID":"a1"}],"NumPDBViolations":0},"n2":{"Pods":[{"UID":"a2"},{"UID":"keep-a3"}],"NumPDBViolations":1}}}`;
    const res = await post(app, '/scheduler/preempt', body);
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe(
      '{"NodeNameToMetaVictims":{"n2":{"Pods":[{"UID":"a2"}],"NumPDBViolations":1}}}',
    );
  });

  it('answers meta victims (UIDs) when the scheduler sent full victim pods', async () => {
    const { app } = harness();
    const victim = (uid: string) =>
      `{"metadata":{"name":"v-${uid}","namespace":"batch","uid":"${uid}"},"spec":{"priority":0}}`;
    const body = `{"Pod":${POD},"NodeNameToVictims":{"n4":{"Pods":[${victim('u1')},${victim('u2')}],"NumPDBViolations":0},"n5":{"Pods":[${victim('u3')}],"NumPDBViolations":2}},"NodeNameToMetaVictims":null}`;
    const res = await post(app, '/scheduler/preempt', body);
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe(
      '{"NodeNameToMetaVictims":{"n4":{"Pods":[{"UID":"u1"},{"UID":"u2"}],"NumPDBViolations":0}}}',
    );
  });

  it('answers an empty map as {}', async () => {
    const { app } = harness();
    const body = `{"Pod":${POD},"NodeNameToVictims":null,"NodeNameToMetaVictims":{"n1":{"Pods":null,"NumPDBViolations":null}}}`;
    const res = await post(app, '/scheduler/preempt', body);
    expect(res.body).toBe('{"NodeNameToMetaVictims":{}}');
  });
});

// ---- failures ---------------------------------------------------------------------------------

const GOOD_FILTER = `{"Pod":${POD},"Nodes":null,"NodeNames":["n2"]}`;

/** Sends `body`, expects `status` with an Error sentence, then checks the app still answers. */
async function expectFailure(
  h: Harness,
  request: { url?: string; body: string; contentType?: string },
  status: number,
  message: string | RegExp,
): Promise<string> {
  const res = await post(
    h.app,
    request.url ?? '/scheduler/filter',
    request.body,
    request.contentType,
  );
  expect(res.statusCode).toBe(status);
  const reply = JSON.parse(res.body) as { Error: string };
  expect(Object.keys(reply)).toEqual(['Error']);
  expect(reply.Error).toMatch(message);
  const next = await post(h.app, '/scheduler/filter', GOOD_FILTER);
  expect(next.statusCode).toBe(200);
  return reply.Error;
}

describe('failures are answered with a status and a sentence, and the app keeps serving', () => {
  it('400 for malformed JSON', async () => {
    await expectFailure(harness(), { body: '{"Pod":{' }, 400, /^request body is not valid JSON/);
  });

  it('400 for an empty body', async () => {
    await expectFailure(harness(), { body: '' }, 400, 'request body is empty');
  });

  it('400 for a body that is not an object', async () => {
    await expectFailure(harness(), { body: '["n1"]' }, 400, 'request body is not a JSON object');
  });

  it('400 naming the element of the wrong type', async () => {
    const body = `{"Pod":${POD},"Nodes":null,"NodeNames":["n1",7]}`;
    await expectFailure(harness(), { body }, 400, /^NodeNames\[1\] is not a string$/);
  });

  it('400 when every field is null', async () => {
    const body = '{"Pod":null,"Nodes":null,"NodeNames":null}';
    await expectFailure(harness(), { body }, 400, /^Pod is missing$/);
  });

  it('400 when neither Nodes nor NodeNames is set', async () => {
    const body = `{"Pod":${POD},"Nodes":null,"NodeNames":null}`;
    await expectFailure(harness(), { body }, 400, /^neither Nodes nor NodeNames is set/);
  });

  it('400 when the Pod is missing or has no UID', async () => {
    const h = harness();
    await expectFailure(h, { body: '{"NodeNames":["n2"]}' }, 400, /^Pod is missing$/);
    const noUid = '{"Pod":{"metadata":{"name":"w-0","namespace":"ml"}},"NodeNames":["n2"]}';
    await expectFailure(h, { body: noUid }, 400, /^Pod\.metadata\.uid is missing$/);
  });

  it('400 for a node the decider does not know (ExtenderInputError)', async () => {
    const body = `{"Pod":${POD},"Nodes":null,"NodeNames":["n2","gpu-x"]}`;
    await expectFailure(harness(), { body }, 400, /^node "gpu-x" is not known to the extender$/);
  });

  it('400 for a malformed victim map', async () => {
    const body = `{"Pod":${POD},"NodeNameToMetaVictims":{"n2":{"Pods":[{"uid":""}]}}}`;
    await expectFailure(
      harness(),
      { url: '/scheduler/preempt', body },
      400,
      /^NodeNameToMetaVictims\["n2"\]\.Pods\[0\]\.UID is missing$/,
    );
  });

  it('413 for a body over the limit', async () => {
    const h = harness({ bodyLimitBytes: 1024 });
    const names = Array.from({ length: 300 }, (_, i) => `"n${i}"`).join(',');
    const body = `{"Pod":${POD},"Nodes":null,"NodeNames":[${names}]}`;
    expect(body.length).toBeGreaterThan(1024);
    await expectFailure(h, { body }, 413, /larger than the extender's limit of 1 KiB/);
  });

  it('415 for another content type, naming it', async () => {
    await expectFailure(
      harness(),
      { body: GOOD_FILTER, contentType: 'text/plain' },
      415,
      'content type "text/plain" is not supported; send the body as application/json',
    );
  });

  it('415 when the Content-Type is missing', async () => {
    const h = harness();
    const res = await h.app.inject({
      method: 'POST',
      url: '/scheduler/filter',
      payload: GOOD_FILTER,
    });
    expect(res.statusCode).toBe(415);
    expect(JSON.parse(res.body)).toEqual({
      Error: 'the request has no Content-Type; send the body as application/json',
    });
  });

  it('the status a decider puts on an ExtenderInputError', async () => {
    const h = harness();
    h.decider.prioritize = () => {
      throw new ExtenderInputError('cluster model is resyncing; retry', 503);
    };
    const body = `{"Pod":${POD},"NodeNames":["n2","n4"]}`;
    await expectFailure(
      h,
      { url: '/scheduler/prioritize', body },
      503,
      /^cluster model is resyncing; retry$/,
    );
  });

  it('500 with the pod and the cause when the decider crashes, logged at warn', async () => {
    const h = harness();
    const body = `{"Pod":{"metadata":{"name":"crash","namespace":"ml","uid":"u-1"}},"NodeNames":["n2"]}`;
    const message = await expectFailure(h, { body }, 500, /for pod ml\/crash/);
    expect(message).toContain('index out of range in the test decider');
    const warn = h.log.lines.find((l) => l.msg === 'extender call failed');
    expect(warn).toMatchObject({ level: 'warn', pod: 'ml/crash' });
  });

  it('404 with the routes it serves for an unknown route', async () => {
    const { app } = harness();
    const res = await post(app, '/scheduler/bind', '{}');
    expect(res.statusCode).toBe(404);
    expect(JSON.parse(res.body)).toEqual({
      Error:
        'no route POST /scheduler/bind; the extender serves POST /scheduler/filter, /scheduler/prioritize, /scheduler/preempt, GET /healthz and GET /readyz',
    });
  });
});

// ---- decider answers that would break the wire ------------------------------------------------

describe('the adapter keeps the wire valid whatever the decider returns', () => {
  it('drops unknown nodes, fails silent ones and keeps one verdict per node', async () => {
    const h = harness();
    h.decider.filter = () => ({
      feasible: ['n2', 'ghost', 'n4'],
      failed: { n4: 'taken', ghost2: 'x' },
      unresolvable: {},
    });
    const body = `{"Pod":${POD},"Nodes":null,"NodeNames":["n2","n4","n6","n2"]}`;
    const res = await post(h.app, '/scheduler/filter', body);
    const reply = JSON.parse(res.body) as { NodeNames: string[]; FailedNodes: object };
    expect(reply.NodeNames).toEqual(['n2']);
    expect(Object.keys(reply.FailedNodes)).toEqual(['n4', 'n6']);
    const warn = h.log.lines.find((l) => l.level === 'warn');
    expect(warn?.pod).toBe('ml/w-0');
    expect(String(warn?.problems)).toContain('"ghost"');
  });
});

// ---- prefix, probes, metrics, logs ------------------------------------------------------------

describe('prefix, probes, metrics and logs', () => {
  it('serves the verbs under a configured prefix', async () => {
    const { app } = harness({ pathPrefix: '/phalanx/' });
    expect((await post(app, '/phalanx/filter', GOOD_FILTER)).statusCode).toBe(200);
    expect((await post(app, '/scheduler/filter', GOOD_FILTER)).statusCode).toBe(404);
  });

  it('/healthz is 200; /readyz follows the decider', async () => {
    const { app, decider } = harness();
    expect((await app.inject({ url: '/healthz' })).statusCode).toBe(200);
    expect((await app.inject({ url: '/readyz' })).statusCode).toBe(200);
    decider.isReady = false;
    const res = await app.inject({ url: '/readyz' });
    expect(res.statusCode).toBe(503);
    expect(res.body).toContain('not synced');
  });

  it('pre-initialises its series and counts calls by verb and code', async () => {
    const h = harness();
    const before = await h.registry.metrics();
    expect(before).toContain('phalanx_extender_requests_total{verb="preempt",code="500"} 0');
    expect(before).toContain(
      'phalanx_extender_filtered_nodes_total{verb="filter",result="unresolvable"} 0',
    );
    await post(h.app, '/scheduler/filter', `{"Pod":${POD},"NodeNames":["n1","n2","n9"]}`);
    await post(h.app, '/scheduler/filter', '{');
    const after = await h.registry.metrics();
    expect(after).toContain('phalanx_extender_requests_total{verb="filter",code="200"} 1');
    expect(after).toContain('phalanx_extender_requests_total{verb="filter",code="400"} 1');
    expect(after).toContain(
      'phalanx_extender_filtered_nodes_total{verb="filter",result="feasible"} 1',
    );
    expect(after).toContain(
      'phalanx_extender_filtered_nodes_total{verb="filter",result="failed"} 1',
    );
    expect(after).toContain('phalanx_extender_request_duration_seconds_count{verb="filter"} 2');
  });

  it('logs each call at debug keyed by pod', async () => {
    const h = harness();
    await post(h.app, '/scheduler/filter', `{"Pod":${POD},"NodeNames":["n1","n2"]}`);
    expect(h.log.lines).toContainEqual(
      expect.objectContaining({ level: 'debug', msg: 'filter', pod: 'ml/w-0', feasible: 1 }),
    );
  });
});
