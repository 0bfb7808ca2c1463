/**
 * Compact Nodes for the scheduler side's cache.
 *
 * A GPU node's Node object is 10–20 KB of JSON (images, conditions, node info, Node Feature
 * Discovery labels and annotations), about 13 KB of heap each as parsed; the core reads its name,
 * labels, allocatable resources, taints and whether it is cordoned. The {@link NodeCompactor}
 * keeps those (plus uid and resourceVersion, which the informer needs) and drops the rest:
 * 5,000 such nodes take about 4 MiB instead of 64 MiB.
 *
 * Sharing across nodes: label values are replaced, in place, by one canonical string per value
 * (the labels object is kept as parsed rather than copied, because objects parsed from JSON with
 * the same keys share one layout and a copy would not); `allocatable` and `taints` are shared
 * between nodes that have the same ones. Shared objects are frozen.
 */
import type { NodeObject } from '../scheduling/round-types.ts';
import { InternTable, type InternTableLimits } from './slice-compaction.ts';

/** A Node as listed or watched: what the core reads, plus whatever else the server sent. */
export interface NodeLike extends NodeObject {
  metadata: NodeObject['metadata'] & { resourceVersion?: string };
}

export interface NodeCompactorOptions {
  /** Most distinct label values kept canonical (least recently used out first). */
  readonly maxLabelValues?: number;
  readonly limits?: Partial<InternTableLimits>;
}

/** Label values longer than this are left as they are (they are rarely shared). */
const MAX_SHARED_VALUE_LENGTH = 128;

/** Canonical strings, bounded, least recently used out first. */
class StringTable {
  readonly #max: number;
  readonly #values = new Map<string, string>();

  constructor(max: number) {
    this.#max = max;
  }

  get size(): number {
    return this.#values.size;
  }

  canonical(value: string): string {
    const known = this.#values.get(value);
    if (known !== undefined) {
      this.#values.delete(value);
      this.#values.set(value, known);
      return known;
    }
    this.#values.set(value, value);
    if (this.#values.size > this.#max) {
      const oldest = this.#values.keys().next();
      if (oldest.done !== true) this.#values.delete(oldest.value);
    }
    return value;
  }
}

type Taints = NonNullable<NonNullable<NodeObject['spec']>['taints']>;

/**
 * The Node informer's transform (see the module comment). One instance per cache. `compact` is
 * idempotent and returns its own results as they are.
 */
export class NodeCompactor {
  readonly #strings: StringTable;
  readonly #table: InternTable;
  readonly #produced = new WeakSet<object>();

  constructor(options: NodeCompactorOptions = {}) {
    this.#strings = new StringTable(options.maxLabelValues ?? 20_000);
    this.#table = new InternTable(options.limits);
  }

  /** Distinct label values held canonical now. */
  get labelValues(): number {
    return this.#strings.size;
  }

  compact<T extends NodeLike>(node: T): T {
    if (this.#produced.has(node)) return node;
    const m = node.metadata;
    const metadata: NodeLike['metadata'] = {};
    if (m.name !== undefined) metadata.name = m.name;
    if (m.uid !== undefined) metadata.uid = m.uid;
    if (m.resourceVersion !== undefined) metadata.resourceVersion = m.resourceVersion;
    if (m.labels !== undefined) metadata.labels = this.#labels(m.labels);
    const out: NodeLike = { metadata };
    const spec: NonNullable<NodeObject['spec']> = {};
    if (node.spec?.unschedulable !== undefined) spec.unschedulable = node.spec.unschedulable;
    if (node.spec?.taints !== undefined) spec.taints = this.#taints(node.spec.taints);
    if (spec.unschedulable !== undefined || spec.taints !== undefined) out.spec = spec;
    const allocatable = node.status?.allocatable;
    if (allocatable !== undefined) out.status = { allocatable: this.#allocatable(allocatable) };
    this.#produced.add(out);
    // Only fields of T are set, each with a value equal to the one T had.
    return out as T;
  }

  /** The same object, its values swapped for canonical strings (the informer owns it). */
  #labels(labels: Record<string, string>): Record<string, string> {
    for (const [key, value] of Object.entries(labels)) {
      if (typeof value !== 'string' || value.length > MAX_SHARED_VALUE_LENGTH) continue;
      // Equal text, but the one string instance every node shares.
      labels[key] = this.#strings.canonical(value);
    }
    return labels;
  }

  #taints(taints: Taints): Taints {
    return this.#table.get(
      JSON.stringify(taints),
      () => Object.freeze(taints.map((t) => Object.freeze({ ...t }))) as Taints,
    );
  }

  #allocatable(allocatable: Record<string, string>): Record<string, string> {
    return this.#table.get(JSON.stringify(allocatable), () => Object.freeze({ ...allocatable }));
  }
}
