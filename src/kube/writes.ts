/**
 * Applies a planning round's decisions to the API server: pod annotations first, then for every
 * planned pod one guarded update that pins it to its node and removes the Phalanx gate, then
 * deletions of stale pods, Events and Queue statuses.
 *
 * Every pod write is guarded by the uid and resourceVersion the cache holds, so a decision made on
 * a stale view is refused (409) instead of applied; conflicts and 404s are expected in a live
 * cluster and are left to the next round, which sees the current objects.
 *
 * Pinning a gated pod. While a pod has scheduling gates the API server lets its node affinity be
 * tightened but never loosened (pod-scheduling-readiness, GA in 1.30; `validateNodeAffinityMutation`
 * in the core validation): when `requiredDuringSchedulingIgnoredDuringExecution` is unset or has
 * no terms, any terms may be set; otherwise the number of `nodeSelectorTerms` must stay the same
 * and each term may only grow, by appending to its `matchExpressions` and `matchFields` with the
 * existing entries unchanged and in place. So the pin appends `metadata.name In [node]` to the
 * `matchFields` of every existing term (ANDing it into each alternative) or sets the single term
 * when there is none. Checked against a 1.36 API server by test/integration/gangs.test.ts. The
 * gate is removed in the same patch: validation compares against the old pod, which is gated.
 */
import { ANNOTATION_PLAN, SCHEDULING_GATE } from '../api/scheduling/labels.ts';
import type { Logger } from '../observability/logger.ts';
import type { NodeSelectorRequirement, NodeSelectorTerm } from '../scheduling/node-affinity.ts';
import type { CoreEvent, PodWrite, RoundResult } from '../scheduling/round-types.ts';
import { KubeApiError, type KubeClient } from './rest.ts';

/** The one method of the REST client the writers use (a fake in tests). */
export type ApiRequester = Pick<KubeClient, 'request'>;

// ---- shapes -----------------------------------------------------------------------------------

export interface Affinity {
  nodeAffinity?: {
    requiredDuringSchedulingIgnoredDuringExecution?: { nodeSelectorTerms?: NodeSelectorTerm[] };
    preferredDuringSchedulingIgnoredDuringExecution?: unknown[];
  };
  podAffinity?: unknown;
  podAntiAffinity?: unknown;
}

/** The parts of a cached pod the writer reads. */
export interface WritablePod {
  metadata?: {
    name?: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    annotations?: Record<string, string>;
  };
  spec?: {
    schedulingGates?: { name: string }[];
    affinity?: Affinity;
  };
}

/** What the writer looks up in the caches. */
export interface WriteTargets {
  pod(namespace: string, name: string): WritablePod | undefined;
  /** apiVersion and uid of a PodGroup, for Events about it. */
  podGroup(namespace: string, name: string): { apiVersion: string; uid?: string } | undefined;
  queue(name: string): { status?: unknown } | undefined;
}

export interface WriteOutcome {
  ok: number;
  skipped: number;
  conflict: number;
  notFound: number;
  failed: number;
}

export interface ApplyReport {
  readonly annotations: WriteOutcome;
  readonly pins: WriteOutcome;
  readonly deletions: WriteOutcome;
  readonly events: WriteOutcome;
  readonly queues: WriteOutcome;
  /**
   * Pods changed by this round with the resourceVersion the cache held before: the cache has
   * caught up with the round once it holds another version (or the pod is gone).
   */
  readonly written: readonly { readonly key: string; readonly staleResourceVersion: string }[];
  /** Pod writes whose pin (and ungate) was applied. */
  readonly pinned: readonly PodWrite[];
}

const emptyOutcome = (): WriteOutcome => ({
  ok: 0,
  skipped: 0,
  conflict: 0,
  notFound: 0,
  failed: 0,
});

// ---- pure helpers -----------------------------------------------------------------------------

export const PIN_FIELD = 'metadata.name';

function pinRequirement(node: string): NodeSelectorRequirement {
  return { key: PIN_FIELD, operator: 'In', values: [node] };
}

function termPinned(term: NodeSelectorTerm, node: string): boolean {
  return (term.matchFields ?? []).some(
    (f) =>
      f.key === PIN_FIELD && f.operator === 'In' && f.values?.length === 1 && f.values[0] === node,
  );
}

/** Every alternative of the pod's required node affinity already demands this node. */
export function isPinnedTo(affinity: Affinity | undefined, node: string): boolean {
  const terms =
    affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ?? [];
  return terms.length > 0 && terms.every((t) => termPinned(t, node));
}

/**
 * The affinity with `metadata.name In [node]` ANDed into every required term (or as the only
 * term), a change the API server allows on a gated pod. Other affinity parts are kept as they are.
 */
export function pinnedAffinity(affinity: Affinity | undefined, node: string): Affinity {
  const nodeAffinity = affinity?.nodeAffinity ?? {};
  const required = nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution ?? {};
  const terms = required.nodeSelectorTerms ?? [];
  const pinned: NodeSelectorTerm[] =
    terms.length === 0
      ? [{ matchFields: [pinRequirement(node)] }]
      : terms.map((t) =>
          termPinned(t, node)
            ? t
            : { ...t, matchFields: [...(t.matchFields ?? []), pinRequirement(node)] },
        );
  return {
    ...affinity,
    nodeAffinity: {
      ...nodeAffinity,
      requiredDuringSchedulingIgnoredDuringExecution: { ...required, nodeSelectorTerms: pinned },
    },
  };
}

/** The JSON patch that pins a gated pod and removes the Phalanx gate, guarded by uid and version. */
export function pinPatch(pod: WritablePod, node: string): object[] {
  const gates = (pod.spec?.schedulingGates ?? []).filter((g) => g.name !== SCHEDULING_GATE);
  return [
    { op: 'test', path: '/metadata/uid', value: pod.metadata?.uid ?? '' },
    { op: 'test', path: '/metadata/resourceVersion', value: pod.metadata?.resourceVersion ?? '' },
    { op: 'add', path: '/spec/affinity', value: pinnedAffinity(pod.spec?.affinity, node) },
    gates.length === 0
      ? { op: 'remove', path: '/spec/schedulingGates' }
      : { op: 'replace', path: '/spec/schedulingGates', value: gates },
  ];
}

/** Whether the annotations already read as asked (string set, null absent). */
export function annotationsMatch(
  current: Readonly<Record<string, string>> | undefined,
  wanted: Readonly<Record<string, string | null>>,
): boolean {
  return Object.entries(wanted).every(([k, v]) =>
    v === null ? current?.[k] === undefined : current?.[k] === v,
  );
}

/** Deep equality of two JSON values (object key order ignored). */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((v, i) => sameJson(v, b[i]));
  }
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  const ka = Object.keys(ra).filter((k) => ra[k] !== undefined);
  const kb = Object.keys(rb).filter((k) => rb[k] !== undefined);
  return ka.length === kb.length && ka.every((k) => sameJson(ra[k], rb[k]));
}

/** `2026-01-02T03:04:05.678000Z`: the MicroTime format events.k8s.io requires. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

type Classified = 'conflict' | 'notFound' | 'failed';

function classify(error: unknown): Classified {
  if (!(error instanceof KubeApiError)) return 'failed';
  if (error.conflict || error.status === 412) return 'conflict';
  if (error.notFound) return 'notFound';
  // A failed `test` op of a JSON patch (the guard): the object changed under us. The API server
  // answers it with this generic 422 (seen on 1.36), which no validation error uses.
  if (
    error.status === 422 &&
    /rejected our request due to an error in our request|test operation/i.test(error.message)
  ) {
    return 'conflict';
  }
  return 'failed';
}

function reasonOf(error: unknown): string {
  if (error instanceof KubeApiError) {
    return error.message.replace(/^\S+ \S+: /, '');
  }
  return error instanceof Error ? error.message : String(error);
}

async function forEachLimit<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

const podPath = (namespace: string, name: string): string =>
  `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(name)}`;

// ---- events -----------------------------------------------------------------------------------

export const REPORTING_CONTROLLER = 'phalanx.dev/planner';
const EVENT_NOTE_MAX = 1024;

interface SeriesEntry {
  readonly namespace: string;
  name: string;
  count: number;
  lastWritten: number;
  lastObserved: number;
}

export interface EventRecorderOptions {
  readonly client: ApiRequester;
  readonly logger: Logger;
  /** reportingInstance, e.g. `host-1234`. */
  readonly identity: string;
  readonly targets: Pick<WriteTargets, 'podGroup'>;
  readonly now?: () => number;
  /** A repeated event bumps its series on the server at most this often. Default 60 s. */
  readonly seriesWriteMs?: number;
  /** An event not repeated for this long starts a new Event object next time. Default 10 min. */
  readonly forgetMs?: number;
}

/**
 * events.k8s.io/v1 Events with keyed dedupe: the same event on the same object (type, reason and
 * message) is created once; repeats only bump its `series` count, written at most once a minute,
 * so a gang that waits for an hour does not write an Event every round.
 */
export class EventRecorder {
  readonly #o: EventRecorderOptions;
  readonly #now: () => number;
  readonly #series = new Map<string, SeriesEntry>();
  #seq = 0;

  constructor(options: EventRecorderOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
  }

  /** Number of events remembered for dedupe. */
  get remembered(): number {
    return this.#series.size;
  }

  async record(events: readonly CoreEvent[], outcome: WriteOutcome): Promise<void> {
    const now = this.#now();
    this.#forget(now);
    const unique = new Map<string, CoreEvent>();
    for (const e of events) {
      unique.set(
        [e.kind, e.namespace, e.name, e.uid ?? '', e.type, e.reason, e.message].join('\u0000'),
        e,
      );
    }
    await forEachLimit([...unique], 8, async ([key, e]) => {
      try {
        const wrote = await this.#one(key, e, now);
        if (wrote) outcome.ok++;
        else outcome.skipped++;
      } catch (error) {
        outcome[classify(error)]++;
        this.#o.logger.warn(
          { namespace: e.namespace, name: e.name, reason: e.reason, err: reasonOf(error) },
          `event ${e.reason} on ${e.kind} ${e.namespace}/${e.name} cannot be written: ${reasonOf(error)}`,
        );
      }
    });
  }

  #forget(now: number): void {
    const forgetMs = this.#o.forgetMs ?? 10 * 60_000;
    for (const [key, entry] of this.#series) {
      if (now - entry.lastObserved > forgetMs) this.#series.delete(key);
    }
  }

  async #one(key: string, e: CoreEvent, now: number): Promise<boolean> {
    const entry = this.#series.get(key);
    if (entry === undefined) {
      const created = await this.#create(e, now);
      if (created === undefined) return false;
      this.#series.set(key, { ...created, count: 1, lastWritten: now, lastObserved: now });
      return true;
    }
    entry.count++;
    entry.lastObserved = now;
    if (now - entry.lastWritten < (this.#o.seriesWriteMs ?? 60_000)) return false;
    try {
      await this.#o.client.request(
        'PATCH',
        `/apis/events.k8s.io/v1/namespaces/${encodeURIComponent(entry.namespace)}/events/${encodeURIComponent(entry.name)}`,
        {
          contentType: 'application/merge-patch+json',
          body: { series: { count: entry.count, lastObservedTime: microTime(now) } },
        },
      );
    } catch (error) {
      if (!(error instanceof KubeApiError && error.notFound)) throw error;
      // The Event expired on the server (its TTL is an hour): start a new one.
      const created = await this.#create(e, now);
      if (created === undefined) return false;
      entry.name = created.name;
      entry.count = 1;
    }
    entry.lastWritten = now;
    return true;
  }

  async #create(
    e: CoreEvent,
    now: number,
  ): Promise<{ namespace: string; name: string } | undefined> {
    const regarding = this.#regarding(e);
    if (regarding === undefined) return undefined;
    const name = `${e.name.slice(0, 200)}.${(now * 1000 + (this.#seq++ % 1000)).toString(16)}`;
    await this.#o.client.request(
      'POST',
      `/apis/events.k8s.io/v1/namespaces/${encodeURIComponent(e.namespace)}/events`,
      {
        body: {
          apiVersion: 'events.k8s.io/v1',
          kind: 'Event',
          metadata: { name, namespace: e.namespace },
          eventTime: microTime(now),
          reportingController: REPORTING_CONTROLLER,
          reportingInstance: this.#o.identity,
          action: 'Plan',
          reason: e.reason,
          note: e.message.length > EVENT_NOTE_MAX ? e.message.slice(0, EVENT_NOTE_MAX) : e.message,
          type: e.type,
          regarding,
        },
      },
    );
    return { namespace: e.namespace, name };
  }

  #regarding(e: CoreEvent): Record<string, string> | undefined {
    const ref: Record<string, string> = { kind: e.kind, namespace: e.namespace, name: e.name };
    if (e.kind === 'Pod') {
      ref.apiVersion = 'v1';
      if (e.uid !== undefined) ref.uid = e.uid;
      return ref;
    }
    const group = this.#o.targets.podGroup(e.namespace, e.name);
    if (group === undefined) return undefined;
    ref.apiVersion = group.apiVersion;
    const uid = e.uid ?? group.uid;
    if (uid !== undefined) ref.uid = uid;
    return ref;
  }
}

// ---- the round writer -------------------------------------------------------------------------

export interface RoundWriterOptions {
  readonly client: ApiRequester;
  readonly logger: Logger;
  readonly targets: WriteTargets;
  readonly events: EventRecorder;
  /** Parallel requests per phase. Default 8. */
  readonly concurrency?: number;
}

interface PodState {
  /** The version the cache held before this round wrote. */
  readonly cachedVersion: string;
  /** The latest known copy: the cache's, or what a write of this round returned. */
  current: WritablePod;
}

/** Applies RoundResults; one per planner process. */
export class RoundWriter {
  readonly #o: RoundWriterOptions;

  constructor(options: RoundWriterOptions) {
    this.#o = options;
  }

  async apply(result: RoundResult): Promise<ApplyReport> {
    const report = {
      annotations: emptyOutcome(),
      pins: emptyOutcome(),
      deletions: emptyOutcome(),
      events: emptyOutcome(),
      queues: emptyOutcome(),
      written: [] as { key: string; staleResourceVersion: string }[],
      pinned: [] as PodWrite[],
    };
    const pods = new Map<string, PodState>();
    const changed = new Set<string>();
    const limit = this.#o.concurrency ?? 8;
    await forEachLimit(result.writes, limit, (w) =>
      this.#annotate(w, pods, changed, report.annotations),
    );
    const held = this.#incompletePlans(result.writes, pods);
    const pins = result.writes.filter((w) => w.pinNode !== undefined && w.pinNode !== '');
    await forEachLimit(pins, limit, async (w) => {
      if (held.has(planIdOf(w) ?? '')) {
        report.pins.skipped++;
        return;
      }
      if (await this.#pin(w, pods, changed, report.pins)) report.pinned.push(w);
    });
    await forEachLimit(result.deletions, limit, (d) =>
      this.#delete(d, pods, changed, report.deletions),
    );
    await this.#o.events.record(result.events, report.events);
    await forEachLimit(result.queues, limit, (q) => this.#queue(q, report.queues));
    for (const key of changed) {
      report.written.push({ key, staleResourceVersion: pods.get(key)?.cachedVersion ?? '' });
    }
    return report;
  }

  /**
   * Plans with a member whose plan annotation is not on the pod after the annotation phase: none
   * of their members is pinned this round, so a plan is never partly committed (the next round
   * sees the plan written on some gated members only, and decides again).
   */
  #incompletePlans(writes: readonly PodWrite[], pods: Map<string, PodState>): Set<string> {
    const held = new Set<string>();
    for (const w of writes) {
      const id = planIdOf(w);
      if (id === undefined || held.has(id)) continue;
      const current = pods.get(`${w.namespace}/${w.name}`)?.current;
      if (
        current === undefined ||
        !annotationsMatch(current.metadata?.annotations, w.annotations)
      ) {
        held.add(id);
        this.#o.logger.info(
          { plan: id, pod: `${w.namespace}/${w.name}` },
          `plan ${id}: the plan could not be written on pod ${w.namespace}/${w.name}; pinning none of its pods this round`,
        );
      }
    }
    return held;
  }

  #state(pods: Map<string, PodState>, namespace: string, name: string): PodState | undefined {
    const key = `${namespace}/${name}`;
    let state = pods.get(key);
    if (state === undefined) {
      const cached = this.#o.targets.pod(namespace, name);
      if (cached === undefined) return undefined;
      state = { cachedVersion: cached.metadata?.resourceVersion ?? '', current: cached };
      pods.set(key, state);
    }
    return state;
  }

  #failure(outcome: WriteOutcome, error: unknown, what: string, fields: object): void {
    const kind = classify(error);
    outcome[kind]++;
    const reason = reasonOf(error);
    if (kind === 'failed') {
      this.#o.logger.warn({ ...fields, err: reason }, `${what}: ${reason}`);
    } else {
      this.#o.logger.debug(
        { ...fields, err: reason },
        `${what}: the object changed or is gone; the next round decides again`,
      );
    }
  }

  async #annotate(
    w: PodWrite,
    pods: Map<string, PodState>,
    changed: Set<string>,
    outcome: WriteOutcome,
  ): Promise<void> {
    if (Object.keys(w.annotations).length === 0) return;
    const key = `${w.namespace}/${w.name}`;
    const state = this.#state(pods, w.namespace, w.name);
    if (state === undefined || (w.uid !== '' && state.current.metadata?.uid !== w.uid)) {
      outcome.notFound++;
      return;
    }
    if (annotationsMatch(state.current.metadata?.annotations, w.annotations)) {
      outcome.skipped++;
      return;
    }
    try {
      state.current = await this.#o.client.request<WritablePod>(
        'PATCH',
        podPath(w.namespace, w.name),
        {
          contentType: 'application/merge-patch+json',
          body: {
            metadata: {
              uid: state.current.metadata?.uid,
              resourceVersion: state.current.metadata?.resourceVersion,
              annotations: w.annotations,
            },
          },
        },
      );
      changed.add(key);
      outcome.ok++;
    } catch (error) {
      this.#failure(outcome, error, `pod ${key}: annotations cannot be written`, { pod: key });
    }
  }

  async #pin(
    w: PodWrite,
    pods: Map<string, PodState>,
    changed: Set<string>,
    outcome: WriteOutcome,
  ): Promise<boolean> {
    const key = `${w.namespace}/${w.name}`;
    const node = w.pinNode ?? '';
    const state = this.#state(pods, w.namespace, w.name);
    if (state === undefined || (w.uid !== '' && state.current.metadata?.uid !== w.uid)) {
      outcome.notFound++;
      return false;
    }
    // An annotation write of this round that failed leaves the plan unwritten: do not pin.
    if (!annotationsMatch(state.current.metadata?.annotations, w.annotations)) {
      outcome.skipped++;
      return false;
    }
    const gated = (state.current.spec?.schedulingGates ?? []).some(
      (g) => g.name === SCHEDULING_GATE,
    );
    if (!gated) {
      outcome.skipped++;
      if (!isPinnedTo(state.current.spec?.affinity, node)) {
        this.#o.logger.warn(
          { pod: key, node },
          `pod ${key} lost its ${SCHEDULING_GATE} gate before it was pinned to ${node}; it is scheduled without the plan`,
        );
      }
      return false;
    }
    try {
      state.current = await this.#o.client.request<WritablePod>(
        'PATCH',
        podPath(w.namespace, w.name),
        { contentType: 'application/json-patch+json', body: pinPatch(state.current, node) },
      );
      changed.add(key);
      outcome.ok++;
      return true;
    } catch (error) {
      this.#failure(outcome, error, `pod ${key}: cannot be pinned to node ${node}`, {
        pod: key,
        node,
      });
      return false;
    }
  }

  async #delete(
    d: RoundResult['deletions'][number],
    pods: Map<string, PodState>,
    changed: Set<string>,
    outcome: WriteOutcome,
  ): Promise<void> {
    const key = `${d.namespace}/${d.name}`;
    this.#state(pods, d.namespace, d.name);
    try {
      await this.#o.client.request('DELETE', podPath(d.namespace, d.name), {
        body: { apiVersion: 'v1', kind: 'DeleteOptions', preconditions: { uid: d.uid } },
      });
      changed.add(key);
      outcome.ok++;
      this.#o.logger.info({ pod: key, reason: d.reason }, `deleted pod ${key}: ${d.reason}`);
    } catch (error) {
      this.#failure(outcome, error, `pod ${key}: cannot be deleted`, { pod: key });
    }
  }

  async #queue(q: RoundResult['queues'][number], outcome: WriteOutcome): Promise<void> {
    const cached = this.#o.targets.queue(q.name);
    if (cached === undefined) {
      outcome.notFound++;
      return;
    }
    if (sameJson(cached.status, q.status)) {
      outcome.skipped++;
      return;
    }
    try {
      await this.#o.client.request(
        'PATCH',
        `/apis/scheduling.phalanx.dev/v1alpha1/queues/${encodeURIComponent(q.name)}/status`,
        {
          contentType: 'application/json-patch+json',
          body: [{ op: 'add', path: '/status', value: q.status }],
        },
      );
      outcome.ok++;
    } catch (error) {
      this.#failure(outcome, error, `queue ${q.name}: status cannot be written`, {
        queue: q.name,
      });
    }
  }
}

/** The plan id a pod write carries in its plan annotation, if any. */
export function planIdOf(w: PodWrite): string | undefined {
  const raw = w.annotations[ANNOTATION_PLAN];
  if (raw === undefined || raw === null) return undefined;
  try {
    const plan = (JSON.parse(raw) as { plan?: unknown }).plan;
    return typeof plan === 'string' ? plan : undefined;
  } catch {
    return undefined;
  }
}
