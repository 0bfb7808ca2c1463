/**
 * Applying a planning round: the pin patch (what the API server allows on a gated pod), the order
 * annotations → pins, guards and how conflicts are counted, event dedupe with series, and Queue
 * status writes, against a recording fake of the REST client.
 */
import { describe, expect, it } from 'vitest';
import {
  ANNOTATION_PLAN,
  ANNOTATION_WAITING_REASON,
  SCHEDULING_GATE,
} from '../../../src/api/scheduling/labels.ts';
import { KubeApiError, type RequestOptions } from '../../../src/kube/rest.ts';
import {
  type Affinity,
  type ApiRequester,
  annotationsMatch,
  EventRecorder,
  isPinnedTo,
  microTime,
  pinnedAffinity,
  pinPatch,
  planIdOf,
  RoundWriter,
  sameJson,
  type WritablePod,
  type WriteTargets,
} from '../../../src/kube/writes.ts';
import { silentLogger } from '../../../src/observability/logger.ts';
import type { CoreEvent, PodWrite, RoundResult } from '../../../src/scheduling/round-types.ts';

const PIN = (node: string) => ({ key: 'metadata.name', operator: 'In', values: [node] });

describe('pinnedAffinity', () => {
  it('sets a single term when the pod has no required affinity, keeping the rest', () => {
    const before: Affinity = {
      podAntiAffinity: { x: 1 },
      nodeAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 1 }] },
    };
    expect(pinnedAffinity(before, 'n1')).toEqual({
      podAntiAffinity: { x: 1 },
      nodeAffinity: {
        preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 1 }],
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [{ matchFields: [PIN('n1')] }],
        },
      },
    });
    expect(
      pinnedAffinity(undefined, 'n1').nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution,
    ).toEqual({
      nodeSelectorTerms: [{ matchFields: [PIN('n1')] }],
    });
  });

  it('appends the node to every existing term, after what was there', () => {
    const terms = [
      { matchExpressions: [{ key: 'zone', operator: 'In', values: ['a'] }] },
      { matchFields: [{ key: 'metadata.name', operator: 'NotIn', values: ['bad'] }] },
    ];
    const out = pinnedAffinity(
      {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: terms },
        },
      },
      'n2',
    );
    expect(
      out.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms,
    ).toEqual([
      { ...terms[0], matchFields: [PIN('n2')] },
      { matchFields: [{ key: 'metadata.name', operator: 'NotIn', values: ['bad'] }, PIN('n2')] },
    ]);
    expect(isPinnedTo(out, 'n2')).toBe(true);
    expect(isPinnedTo(out, 'n3')).toBe(false);
    // Idempotent: pinning again adds nothing.
    expect(pinnedAffinity(out, 'n2')).toEqual(out);
  });

  it('builds a guarded patch that removes only the Phalanx gate', () => {
    const pod: WritablePod = {
      metadata: { uid: 'u1', resourceVersion: '42' },
      spec: { schedulingGates: [{ name: 'other' }, { name: SCHEDULING_GATE }] },
    };
    expect(pinPatch(pod, 'n1')).toEqual([
      { op: 'test', path: '/metadata/uid', value: 'u1' },
      { op: 'test', path: '/metadata/resourceVersion', value: '42' },
      { op: 'add', path: '/spec/affinity', value: pinnedAffinity(undefined, 'n1') },
      { op: 'replace', path: '/spec/schedulingGates', value: [{ name: 'other' }] },
    ]);
    const alone = pinPatch(
      { ...pod, spec: { schedulingGates: [{ name: SCHEDULING_GATE }] } },
      'n1',
    );
    expect(alone.at(-1)).toEqual({ op: 'remove', path: '/spec/schedulingGates' });
  });
});

describe('small helpers', () => {
  it('compares annotations, JSON and formats MicroTime', () => {
    expect(annotationsMatch({ a: '1' }, { a: '1', b: null })).toBe(true);
    expect(annotationsMatch({ a: '1', b: 'x' }, { b: null })).toBe(false);
    expect(annotationsMatch(undefined, { a: '1' })).toBe(false);
    expect(sameJson({ a: [1, { b: 2 }], c: undefined }, { a: [1, { b: 2 }] })).toBe(true);
    expect(sameJson({ a: [1, 2] }, { a: [2, 1] })).toBe(false);
    expect(sameJson({ a: 1 }, { a: 1, b: 2 })).toBe(false);
    expect(microTime(Date.UTC(2026, 0, 2, 3, 4, 5, 678))).toBe('2026-01-02T03:04:05.678000Z');
    const w: PodWrite = {
      namespace: 'ns',
      name: 'p',
      uid: 'u',
      annotations: { [ANNOTATION_PLAN]: JSON.stringify({ plan: 'g-1' }) },
    };
    expect(planIdOf(w)).toBe('g-1');
    expect(planIdOf({ ...w, annotations: { [ANNOTATION_PLAN]: 'not json' } })).toBeUndefined();
  });
});

// ---- a recording fake API ---------------------------------------------------------------------

interface Call {
  method: string;
  path: string;
  contentType?: string;
  body?: unknown;
}

class FakeApi implements ApiRequester {
  readonly calls: Call[] = [];
  readonly pods = new Map<string, WritablePod>();
  /** path → error to throw (once). */
  readonly failures = new Map<string, KubeApiError>();
  #rv = 100;

  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const call: Call = { method, path };
    if (options.contentType !== undefined) call.contentType = options.contentType;
    if (options.body !== undefined) call.body = structuredClone(options.body);
    this.calls.push(call);
    const failure = this.failures.get(`${method} ${path}`);
    if (failure !== undefined) {
      this.failures.delete(`${method} ${path}`);
      throw failure;
    }
    const m = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)$/.exec(path);
    if (m !== null && method === 'PATCH') return this.#patchPod(`${m[1]}/${m[2]}`, options) as T;
    return {} as T;
  }

  #patchPod(key: string, options: RequestOptions): WritablePod {
    const pod = structuredClone(this.pods.get(key) ?? {});
    if (options.contentType === 'application/merge-patch+json') {
      const meta = (options.body as { metadata: { annotations: Record<string, string | null> } })
        .metadata;
      const annotations = { ...pod.metadata?.annotations };
      for (const [k, v] of Object.entries(meta.annotations)) {
        if (v === null) delete annotations[k];
        else annotations[k] = v;
      }
      pod.metadata = { ...pod.metadata, annotations };
    } else {
      for (const op of options.body as { op: string; path: string; value?: unknown }[]) {
        if (op.path === '/spec/affinity')
          pod.spec = { ...pod.spec, affinity: op.value as Affinity };
        if (op.path === '/spec/schedulingGates') {
          pod.spec = { ...pod.spec, schedulingGates: (op.value ?? []) as { name: string }[] };
        }
      }
    }
    pod.metadata = { ...pod.metadata, resourceVersion: String(++this.#rv) };
    this.pods.set(key, pod);
    return pod;
  }
}

function gatedPod(name: string, rv = '1'): WritablePod {
  return {
    metadata: { name, namespace: 'ns', uid: `uid-${name}`, resourceVersion: rv, annotations: {} },
    spec: { schedulingGates: [{ name: SCHEDULING_GATE }] },
  };
}

function targets(
  api: FakeApi,
  cache: Map<string, WritablePod>,
  queues = new Map<string, { status?: unknown }>(),
): WriteTargets {
  void api;
  return {
    pod: (ns, name) => cache.get(`${ns}/${name}`),
    podGroup: (ns, name) =>
      name === 'pg' ? { apiVersion: 'scheduling.k8s.io/v1alpha2', uid: `pg-${ns}` } : undefined,
    queue: (name) => queues.get(name),
  };
}

const emptyRound = (): RoundResult => ({
  writes: [],
  deletions: [],
  events: [],
  queues: [],
  gangs: [],
  problems: [],
});

function planWrite(name: string, node: string): PodWrite {
  return {
    namespace: 'ns',
    name,
    uid: `uid-${name}`,
    annotations: {
      [ANNOTATION_PLAN]: JSON.stringify({ gang: 'ns/g', plan: 'g-1', node }),
      [ANNOTATION_WAITING_REASON]: null,
    },
    pinNode: node,
  };
}

function writer(
  api: FakeApi,
  cache: Map<string, WritablePod>,
  queues?: Map<string, { status?: unknown }>,
  now = () => 1_000_000,
) {
  const t = targets(api, cache, queues);
  return new RoundWriter({
    client: api,
    logger: silentLogger(),
    targets: t,
    events: new EventRecorder({
      client: api,
      logger: silentLogger(),
      identity: 'me',
      targets: t,
      now,
    }),
  });
}

describe('RoundWriter', () => {
  it('writes every annotation before any pin, guards each write, and reports what changed', async () => {
    const api = new FakeApi();
    const cache = new Map<string, WritablePod>();
    for (const n of ['p0', 'p1', 'p2']) {
      cache.set(`ns/${n}`, gatedPod(n, `7${n.at(-1)}`));
      api.pods.set(`ns/${n}`, gatedPod(n, `7${n.at(-1)}`));
    }
    const round = {
      ...emptyRound(),
      writes: ['p0', 'p1', 'p2'].map((n) => planWrite(n, 'node-a')),
    };
    const report = await writer(api, cache).apply(round);
    const kinds = api.calls.map((c) => c.contentType);
    expect(kinds).toEqual([
      ...Array(3).fill('application/merge-patch+json'),
      ...Array(3).fill('application/json-patch+json'),
    ]);
    const merge = api.calls[0]?.body as { metadata: Record<string, unknown> };
    expect(merge.metadata.uid).toBe('uid-p0');
    expect(merge.metadata.resourceVersion).toBe('70');
    // The pin is guarded by the version the annotation write returned.
    const pin = api.calls.find(
      (c) => c.path.endsWith('/p0') && c.contentType?.includes('json-patch'),
    )?.body as {
      path: string;
      value: unknown;
    }[];
    const annotated = api.calls.findIndex((c) => c.path.endsWith('/p0'));
    expect(annotated).toBeGreaterThanOrEqual(0);
    expect(pin[1]?.value).not.toBe('70');
    expect(Number(pin[1]?.value)).toBeGreaterThan(100);
    expect(report.annotations.ok).toBe(3);
    expect(report.pins.ok).toBe(3);
    expect(report.pinned).toHaveLength(3);
    expect(report.written.map((w) => w.staleResourceVersion).sort()).toEqual(['70', '71', '72']);
    expect(isPinnedTo(api.pods.get('ns/p1')?.spec?.affinity, 'node-a')).toBe(true);
    expect(api.pods.get('ns/p1')?.spec?.schedulingGates).toEqual([]);
  });

  it('pins no member of a plan one of whose annotation writes conflicted, and counts the conflict', async () => {
    const api = new FakeApi();
    const cache = new Map([
      ['ns/p0', gatedPod('p0')],
      ['ns/p1', gatedPod('p1')],
    ]);
    for (const [k, v] of cache) api.pods.set(k, structuredClone(v));
    api.failures.set(
      'PATCH /api/v1/namespaces/ns/pods/p1',
      new KubeApiError(
        'PATCH',
        '/api/v1/namespaces/ns/pods/p1',
        409,
        'Conflict',
        'the object has been modified',
      ),
    );
    const report = await writer(api, cache).apply({
      ...emptyRound(),
      writes: [planWrite('p0', 'n'), planWrite('p1', 'n')],
    });
    expect(report.annotations).toMatchObject({ ok: 1, conflict: 1 });
    // p0's annotation landed, but its plan is not on p1: no member of the plan is pinned.
    expect(report.pins).toMatchObject({ ok: 0, skipped: 2 });
    expect(report.pinned).toEqual([]);
  });

  it('still pins the members of other plans when one plan could not be written', async () => {
    const api = new FakeApi();
    const cache = new Map([
      ['ns/p0', gatedPod('p0')],
      ['ns/q0', gatedPod('q0')],
    ]);
    for (const [k, v] of cache) api.pods.set(k, structuredClone(v));
    api.failures.set(
      'PATCH /api/v1/namespaces/ns/pods/q0',
      new KubeApiError('PATCH', '/api/v1/namespaces/ns/pods/q0', 409, 'Conflict', 'modified'),
    );
    const other: PodWrite = {
      ...planWrite('q0', 'm'),
      annotations: { [ANNOTATION_PLAN]: JSON.stringify({ gang: 'ns/h', plan: 'h-1', node: 'm' }) },
    };
    const report = await writer(api, cache).apply({
      ...emptyRound(),
      writes: [planWrite('p0', 'n'), other],
    });
    expect(report.pinned.map((w) => w.name)).toEqual(['p0']);
  });

  it('counts a failed test op as a conflict, skips no-op annotations, and ignores vanished pods', async () => {
    const api = new FakeApi();
    const already = gatedPod('p0');
    already.metadata = {
      ...already.metadata,
      annotations: { [ANNOTATION_WAITING_REASON]: 'waiting' },
    };
    const cache = new Map([['ns/p0', already]]);
    api.failures.set(
      'PATCH /api/v1/namespaces/ns/pods/p0',
      new KubeApiError(
        'PATCH',
        '/api/v1/namespaces/ns/pods/p0',
        422,
        'Invalid',
        'the server rejected our request due to an error in our request',
      ),
    );
    const report = await writer(api, cache).apply({
      ...emptyRound(),
      writes: [
        {
          namespace: 'ns',
          name: 'p0',
          uid: 'uid-p0',
          annotations: { [ANNOTATION_WAITING_REASON]: 'waiting' },
          pinNode: 'n',
        },
        { namespace: 'ns', name: 'gone', uid: 'uid-gone', annotations: { a: 'b' } },
      ],
    });
    expect(report.annotations).toMatchObject({ ok: 0, skipped: 1, notFound: 1 });
    expect(report.pins).toMatchObject({ conflict: 1 });
    expect(report.written).toEqual([]);
  });

  it('does not pin a pod that lost its gate, and leaves it alone', async () => {
    const api = new FakeApi();
    const ungated = gatedPod('p0');
    ungated.spec = { schedulingGates: [] };
    const report = await writer(api, new Map([['ns/p0', ungated]])).apply({
      ...emptyRound(),
      writes: [{ namespace: 'ns', name: 'p0', uid: 'uid-p0', annotations: {}, pinNode: 'n' }],
    });
    expect(report.pins.skipped).toBe(1);
    expect(api.calls).toEqual([]);
  });

  it('deletes with a uid precondition and treats 404 as done elsewhere', async () => {
    const api = new FakeApi();
    api.failures.set(
      'DELETE /api/v1/namespaces/ns/pods/b',
      new KubeApiError(
        'DELETE',
        '/api/v1/namespaces/ns/pods/b',
        404,
        'NotFound',
        'pods "b" not found',
      ),
    );
    const report = await writer(api, new Map([['ns/a', gatedPod('a')]])).apply({
      ...emptyRound(),
      deletions: [
        { namespace: 'ns', name: 'a', uid: 'uid-a', reason: 'plan expired' },
        { namespace: 'ns', name: 'b', uid: 'uid-b', reason: 'plan expired' },
      ],
    });
    expect(report.deletions).toMatchObject({ ok: 1, notFound: 1 });
    expect(api.calls[0]?.body).toEqual({
      apiVersion: 'v1',
      kind: 'DeleteOptions',
      preconditions: { uid: 'uid-a' },
    });
  });

  it('writes Queue status through the status subresource only when it changed', async () => {
    const api = new FakeApi();
    const queues = new Map<string, { status?: unknown }>([
      ['same', { status: { admitted: 1 } }],
      ['changed', { status: { admitted: 1 } }],
    ]);
    const report = await writer(api, new Map(), queues).apply({
      ...emptyRound(),
      queues: [
        { name: 'same', status: { admitted: 1 } },
        { name: 'changed', status: { admitted: 2 } },
        { name: 'missing', status: {} },
      ],
    });
    expect(report.queues).toMatchObject({ ok: 1, skipped: 1, notFound: 1 });
    expect(api.calls).toEqual([
      {
        method: 'PATCH',
        path: '/apis/scheduling.phalanx.dev/v1alpha1/queues/changed/status',
        contentType: 'application/json-patch+json',
        body: [{ op: 'add', path: '/status', value: { admitted: 2 } }],
      },
    ]);
  });
});

function eventName(body: unknown): string {
  return (body as { metadata?: { name?: string } } | undefined)?.metadata?.name ?? '';
}

describe('EventRecorder', () => {
  const waiting: CoreEvent = {
    kind: 'Pod',
    namespace: 'ns',
    name: 'p0',
    uid: 'u0',
    type: 'Normal',
    reason: 'GangWaiting',
    message: 'gang ns/g: 3/8 pods present; waiting for 5',
  };

  function recorder(api: FakeApi, clock: { now: number }) {
    return new EventRecorder({
      client: api,
      logger: silentLogger(),
      identity: 'host_1',
      targets: {
        podGroup: (_ns, name) =>
          name === 'pg' ? { apiVersion: 'scheduling.k8s.io/v1alpha2' } : undefined,
      },
      now: () => clock.now,
      seriesWriteMs: 60_000,
      forgetMs: 600_000,
    });
  }

  it('creates an events.k8s.io Event once, then only bumps its series at most once a minute', async () => {
    const api = new FakeApi();
    const clock = { now: Date.UTC(2026, 0, 1) };
    const rec = recorder(api, clock);
    const outcome = { ok: 0, skipped: 0, conflict: 0, notFound: 0, failed: 0 };
    await rec.record([waiting, waiting], outcome);
    expect(api.calls).toHaveLength(1);
    const created = api.calls[0];
    expect(created?.method).toBe('POST');
    expect(created?.path).toBe('/apis/events.k8s.io/v1/namespaces/ns/events');
    expect(created?.body).toMatchObject({
      apiVersion: 'events.k8s.io/v1',
      reportingController: 'phalanx.dev/planner',
      reportingInstance: 'host_1',
      reason: 'GangWaiting',
      type: 'Normal',
      note: waiting.message,
      eventTime: '2026-01-01T00:00:00.000000Z',
      regarding: { apiVersion: 'v1', kind: 'Pod', namespace: 'ns', name: 'p0', uid: 'u0' },
    });
    const name = eventName(created?.body);
    for (let i = 0; i < 5; i++) {
      clock.now += 10_000;
      await rec.record([waiting], outcome);
    }
    expect(api.calls).toHaveLength(1);
    clock.now += 10_000;
    await rec.record([waiting], outcome);
    expect(api.calls).toHaveLength(2);
    expect(api.calls[1]).toEqual({
      method: 'PATCH',
      path: `/apis/events.k8s.io/v1/namespaces/ns/events/${name}`,
      contentType: 'application/merge-patch+json',
      body: { series: { count: 7, lastObservedTime: microTime(clock.now) } },
    });
    expect(outcome).toMatchObject({ ok: 2, skipped: 5 });
  });

  it('starts a new Event when the old one expired on the server or was forgotten', async () => {
    const api = new FakeApi();
    const clock = { now: 0 };
    const rec = recorder(api, clock);
    const outcome = { ok: 0, skipped: 0, conflict: 0, notFound: 0, failed: 0 };
    await rec.record([waiting], outcome);
    const name = eventName(api.calls[0]?.body);
    clock.now += 61_000;
    api.failures.set(
      `PATCH /apis/events.k8s.io/v1/namespaces/ns/events/${name}`,
      new KubeApiError('PATCH', 'x', 404, 'NotFound', 'gone'),
    );
    await rec.record([waiting], outcome);
    expect(api.calls.map((c) => c.method)).toEqual(['POST', 'PATCH', 'POST']);
    clock.now += 700_000;
    await rec.record([], outcome);
    expect(rec.remembered).toBe(0);
  });

  it('refers to PodGroups by their served apiVersion and skips unknown ones', async () => {
    const api = new FakeApi();
    const rec = recorder(api, { now: 0 });
    const outcome = { ok: 0, skipped: 0, conflict: 0, notFound: 0, failed: 0 };
    await rec.record(
      [
        { ...waiting, kind: 'PodGroup', name: 'pg', uid: undefined } as unknown as CoreEvent,
        { ...waiting, kind: 'PodGroup', name: 'unknown' },
      ],
      outcome,
    );
    expect(api.calls).toHaveLength(1);
    expect((api.calls[0]?.body as { regarding?: unknown } | undefined)?.regarding).toEqual({
      apiVersion: 'scheduling.k8s.io/v1alpha2',
      kind: 'PodGroup',
      namespace: 'ns',
      name: 'pg',
    });
    expect(outcome).toMatchObject({ ok: 1, skipped: 1 });
  });
});
