/**
 * The cluster objects the extender decides on. Every pod bound, claim allocated or pod created
 * changes the caches, and a decision over changed objects rebuilds the core's model (about 2 ms
 * for 256 nodes and 1,000 pods; kube-scheduler calls filter and prioritize for every pod). The
 * view hands out the same objects for up to `maxStalenessMs` — but only while that cannot
 * matter for correctness:
 *
 * - While no planned pod is waiting to bind, no capacity is reserved, so the extender's filter
 *   rejects nothing kube-scheduler's own plugins would not (they check the node's real capacity);
 *   a slightly old view only makes the packing scores slightly old.
 * - While a plan holds a reservation, every change is taken at once: a pod bound elsewhere may
 *   have used the capacity that keeps a planned pod's reservation whole.
 * - A change to what the reservations or the node set are made of — a pod carrying a plan, a
 *   Node, a ResourceSlice, a DeviceClass, a Queue, a PodGroup — is taken at once in any case.
 *
 * `maxStalenessMs` 0 turns the reuse off (every decision on the caches' current objects).
 */
import { ANNOTATION_PLAN } from '../api/scheduling/labels.ts';
import type { ClusterObjects } from '../scheduling/round-types.ts';
import type { InformerChange, KubeObject } from './informer.ts';

/** What the view needs of the caches (ClusterInformers). */
export interface ViewSource {
  snapshot(): ClusterObjects;
  onEachChange(
    listener: (resource: string, change: InformerChange<KubeObject>) => void,
  ): () => void;
}

/** Caches whose every change is taken at once. */
const STRUCTURAL: ReadonlySet<string> = new Set([
  'nodes',
  'resourceslices',
  'deviceclasses',
  'queues',
  'podgroups',
]);

interface PodLike {
  metadata?: { annotations?: Record<string, string> };
  spec?: { nodeName?: string };
}

function planned(object: KubeObject): boolean {
  return (object as PodLike).metadata?.annotations?.[ANNOTATION_PLAN] !== undefined;
}

/** A planned pod not bound yet: its plan reserves capacity. */
function reserving(object: KubeObject): boolean {
  const pod = object as PodLike;
  return planned(object) && (pod.spec?.nodeName ?? '') === '';
}

export class ExtenderView {
  readonly #source: ViewSource;
  readonly #maxStalenessMs: number;
  readonly #now: () => number;
  readonly #off: () => void;
  #objects: ClusterObjects | undefined;
  #takenAt = 0;
  /** Something changed that must be seen before the next decision. */
  #urgent = true;
  /** Something changed at all since the objects were taken. */
  #changed = true;
  #reservations = false;

  constructor(source: ViewSource, maxStalenessMs: number, now: () => number = Date.now) {
    this.#source = source;
    this.#maxStalenessMs = maxStalenessMs;
    this.#now = now;
    this.#off = source.onEachChange((resource, change) => {
      this.#changed = true;
      if (STRUCTURAL.has(resource) || (resource === 'pods' && planned(change.object))) {
        this.#urgent = true;
      }
    });
  }

  /** The objects to decide on now (see the module comment). */
  objects(): ClusterObjects {
    const now = this.#now();
    const fresh =
      this.#objects !== undefined &&
      !this.#urgent &&
      (!this.#changed || (!this.#reservations && now - this.#takenAt < this.#maxStalenessMs));
    if (fresh && this.#objects !== undefined) return this.#objects;
    const objects = this.#source.snapshot();
    this.#objects = objects;
    this.#takenAt = now;
    this.#urgent = false;
    this.#changed = false;
    this.#reservations = objects.pods.some((p) => reserving(p as KubeObject));
    return objects;
  }

  close(): void {
    this.#off();
  }
}
