/**
 * The production {@link ExtenderDecider}: the core's filter, score and preemption decisions over
 * the live caches. The caches hand out the same ClusterObjects value until something changes, and
 * the core memoises its model per value, so a call costs the decision only, never a rebuild of
 * the world.
 */
import type { ClusterObjects, PlannerSettings } from '../scheduling/round-types.ts';
import type { PodObject } from '../scheduling/workload.ts';
import {
  type ExtenderDecider,
  ExtenderInputError,
  type ExtenderPod,
  type FilterOutcome,
  type HostScore,
  type MetaVictimsIn,
  type NodeInput,
} from './decider.ts';

/** The core's extender decisions (scheduling/extender-decisions.ts), injectable for tests. */
export interface ExtenderCore {
  filterPod(
    objects: ClusterObjects,
    settings: PlannerSettings,
    pod: PodObject,
    nodeNames: readonly string[],
  ): FilterOutcome & { unknown?: string[] };
  scorePod(
    objects: ClusterObjects,
    settings: PlannerSettings,
    pod: PodObject,
    nodeNames: readonly string[],
  ): HostScore[];
  preemptVictims(
    objects: ClusterObjects,
    settings: PlannerSettings,
    pod: PodObject,
    candidates: ReadonlyMap<string, MetaVictimsIn>,
  ): Map<string, MetaVictimsIn>;
}

export interface CoreDeciderOptions {
  readonly core: ExtenderCore;
  /** The caches' current objects (the same value until a cache changes). */
  readonly objects: () => ClusterObjects;
  /** True once every cache has listed. */
  readonly synced: () => boolean;
  readonly settings: Omit<PlannerSettings, 'now'>;
  readonly now?: () => number;
}

/** Unavailable for now: kube-scheduler retries (or skips an ignorable extender). */
const UNAVAILABLE = 503;

function podObject(pod: ExtenderPod): PodObject {
  const raw = pod.raw as Partial<PodObject> | null | undefined;
  if (raw !== null && typeof raw === 'object' && typeof raw.metadata === 'object') {
    return raw as PodObject;
  }
  return {
    metadata: {
      name: pod.name,
      namespace: pod.namespace,
      uid: pod.uid,
      labels: { ...pod.labels },
      annotations: { ...pod.annotations },
    },
  };
}

function listNodes(names: readonly string[]): string {
  const shown = names.slice(0, 5).join(', ');
  return names.length > 5 ? `${shown} and ${names.length - 5} more` : shown;
}

export class CoreDecider implements ExtenderDecider {
  readonly #o: CoreDeciderOptions;
  readonly #now: () => number;

  constructor(options: CoreDeciderOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
  }

  ready(): boolean {
    return this.#o.synced();
  }

  #input(): { objects: ClusterObjects; settings: PlannerSettings } {
    if (!this.#o.synced()) {
      throw new ExtenderInputError(
        'the extender has not loaded the cluster yet (its caches are still listing); retry shortly',
        UNAVAILABLE,
      );
    }
    return { objects: this.#o.objects(), settings: { ...this.#o.settings, now: this.#now() } };
  }

  filter(pod: ExtenderPod, nodes: NodeInput): FilterOutcome {
    const { objects, settings } = this.#input();
    const decision = this.#o.core.filterPod(objects, settings, podObject(pod), nodes.names);
    const unknown = decision.unknown ?? [];
    if (unknown.length > 0) {
      throw new ExtenderInputError(
        `nodes ${listNodes(unknown)} are not in the extender's cache yet; retry once it has seen them`,
        UNAVAILABLE,
      );
    }
    const outcome: FilterOutcome = {
      feasible: decision.feasible,
      failed: decision.failed,
      unresolvable: decision.unresolvable,
    };
    if (decision.others !== undefined) outcome.others = decision.others;
    return outcome;
  }

  prioritize(pod: ExtenderPod, nodes: NodeInput): HostScore[] {
    const { objects, settings } = this.#input();
    return this.#o.core.scorePod(objects, settings, podObject(pod), nodes.names);
  }

  preempt(
    pod: ExtenderPod,
    candidates: ReadonlyMap<string, MetaVictimsIn>,
  ): Map<string, MetaVictimsIn> {
    const { objects, settings } = this.#input();
    return this.#o.core.preemptVictims(objects, settings, podObject(pod), candidates);
  }
}
