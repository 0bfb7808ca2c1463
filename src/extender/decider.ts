/**
 * The seam between the extender's HTTP adapter and the scheduling core. The adapter decodes the
 * kube-scheduler's wire JSON into these shapes, asks an {@link ExtenderDecider}, and encodes the
 * answer; the decider never sees PascalCase keys or HTTP. The adapter also keeps the wire
 * invariants whatever a decider returns (see `guard.ts`), so a decider may stay simple.
 *
 * Pure: no I/O.
 */

/** The pod being scheduled, as decoded from `Pod` (a v1.Pod). */
export interface ExtenderPod {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  /** The v1.Pod JSON as received. */
  readonly raw: unknown;
}

/** Candidate nodes of one filter or prioritize call. */
export interface NodeInput {
  /** Node names in the order the scheduler sent them (both modes). */
  readonly names: readonly string[];
  /** Full v1.Node objects, aligned with `names`; only when the scheduler is not node-cache-capable. */
  readonly nodes?: readonly unknown[];
}

/**
 * A filter verdict. Every input node should appear in exactly one of the three, or be covered by
 * `others`; messages are the short sentences kube-scheduler shows in the pod's FailedScheduling
 * event. Listing nodes in input order is cheapest for the adapter to check.
 */
export interface FilterOutcome {
  feasible: string[];
  /** Node name → why the pod cannot go there now (preemption may still help). */
  failed: Record<string, string>;
  /** Node name → why the pod can never go there; preemption skips these nodes. */
  unresolvable: Record<string, string>;
  /**
   * The verdict of every input node not named above. Use it when most nodes fail for one reason
   * (a gang member planned onto one node fails the other 4,999): an object with thousands of keys
   * costs milliseconds to build and to serialise, this costs nothing.
   */
  others?: { readonly message: string; readonly unresolvable: boolean };
}

/** The victims the scheduler proposes (or the extender keeps) on one node, by pod UID. */
export interface MetaVictimsIn {
  podUids: string[];
  numPDBViolations: number;
}

export interface HostScore {
  host: string;
  /** 0..10; the adapter rounds and clamps whatever is returned. */
  score: number;
}

export interface ExtenderDecider {
  filter(pod: ExtenderPod, nodes: NodeInput): FilterOutcome;
  prioritize(pod: ExtenderPod, nodes: NodeInput): HostScore[];
  /**
   * Candidate node → victims. Return the nodes (and victims) that preemption may use; a node
   * left out is dropped from the candidates.
   */
  preempt(
    pod: ExtenderPod,
    candidates: ReadonlyMap<string, MetaVictimsIn>,
  ): Map<string, MetaVictimsIn>;
  /** The model behind the decider has synced; `/readyz` reflects it. */
  ready(): boolean;
}

/**
 * A request the extender cannot answer because of what was sent (an unknown node, a malformed
 * field). Thrown by the wire decoders and by deciders; the adapter replies with `status` and the
 * message as the `Error` text.
 */
export class ExtenderInputError extends Error {
  readonly status: number;

  constructor(message: string, status = 400) {
    super(message);
    this.name = 'ExtenderInputError';
    this.status = status;
  }
}

/**
 * Decides nothing: every node passes filter, every node scores 0, every preemption candidate is
 * kept as proposed. The benchmark's baseline and tests use it; production uses the core's decider.
 */
export class PassThroughDecider implements ExtenderDecider {
  readonly #ready: () => boolean;

  constructor(options: { ready?: () => boolean } = {}) {
    this.#ready = options.ready ?? (() => true);
  }

  filter(_pod: ExtenderPod, nodes: NodeInput): FilterOutcome {
    return { feasible: [...nodes.names], failed: {}, unresolvable: {} };
  }

  prioritize(_pod: ExtenderPod, nodes: NodeInput): HostScore[] {
    return nodes.names.map((host) => ({ host, score: 0 }));
  }

  preempt(
    _pod: ExtenderPod,
    candidates: ReadonlyMap<string, MetaVictimsIn>,
  ): Map<string, MetaVictimsIn> {
    return new Map(candidates);
  }

  ready(): boolean {
    return this.#ready();
  }
}
