/**
 * The gang overlay: a documented, seeded way to turn a trace of single pods (openb has no
 * multi-pod jobs) into a gang workload. Everything it makes up is synthetic, and every output of
 * an overlay run says "synthetic gang overlay" next to the trace name.
 *
 * 1. Trace pods are taken in creation order (ties by name).
 * 2. Each pod that asks for whole GPUs leads a gang whose size (pods) is drawn from a published
 *    job-size distribution: by default the Microsoft Philly trace's GPUs per job (Jeon et al.,
 *    ATC'19) as Gavel's workload generator encodes it (Narayanan et al., OSDI'20): 1 (70%),
 *    2 (10%), 4 (15%), 8 (5%). Every member has the leader's shape; the gang absorbs the next
 *    size − 1 whole-GPU pods of the trace, which make no gangs of their own, so the number of pods
 *    stays the trace's. GPU shares and CPU-only pods stay single-pod gangs.
 * 3. A gang arrives at its leader's creation time and runs for its leader's lifetime (deletion −
 *    creation, at least 1 s). Arrival times are divided by one compression factor so that the
 *    offered GPU load inside the arrival window reaches `load` (default 1.0) of the cluster: the
 *    trace's own load is about 0.2%, which would never make anything wait. Run times are kept.
 * 4. Each gang goes to a queue drawn with probability proportional to the queue's weight
 *    (default team-a 3, team-b 2, team-c 1, each with a nominal quota of every GPU of the
 *    cluster, so the weights alone set the fair shares). Multi-pod gangs prefer one rack.
 * 5. Nodes without topology labels are grouped into racks of 8 nodes and blocks of 8 racks in
 *    node-list order.
 *
 * Pure: no I/O.
 */
import { decodeQueue, type Queue } from '../api/scheduling/v1alpha1/queue.ts';
import type { NodeSpec } from '../scheduling/cluster.ts';
import { MILLI_PER_GPU } from '../scheduling/node-view.ts';
import { DRIVER } from '../scheduling/snapshot.ts';
import { groupIntoRacks } from './cluster-spec.ts';
import { gangGpus } from './gang-metrics.ts';
import { type Choice, draw, type GangWorkload, type SimGang } from './gang-workload.ts';
import type { TracePod } from './openb.ts';
import { type Random, seededRandom } from './random.ts';

export const OVERLAY_LABEL = 'synthetic gang overlay';

/** Pods per gang: Philly GPUs per job (Jeon et al., ATC'19) as encoded by Gavel (OSDI'20). */
export const PHILLY_GANG_SIZES: Choice<number> = {
  values: [1, 2, 4, 8],
  weights: [0.7, 0.1, 0.15, 0.05],
};

export interface OverlayQueue {
  readonly name: string;
  readonly weight: number;
}

export const OVERLAY_QUEUES: readonly OverlayQueue[] = [
  { name: 'team-a', weight: 3 },
  { name: 'team-b', weight: 2 },
  { name: 'team-c', weight: 1 },
];

export const DEFAULT_OVERLAY_LOAD = 1.0;
export const DEFAULT_OVERLAY_DEMAND = 1.3;
export const DEFAULT_MAX_RUNTIME_S = 86_400;
export const OVERLAY_NODES_PER_RACK = 8;
export const OVERLAY_RACKS_PER_BLOCK = 8;

export interface OverlaySettings {
  readonly seed: number;
  /** The trace's name, shown with the overlay label. */
  readonly trace: string;
  /** Offered GPU load inside the arrival window, as a fraction of the cluster's GPUs. */
  readonly load?: number;
  /** Requested GPUs of all pods as a multiple of the cluster's GPUs (tuned up by redraws). */
  readonly demand?: number;
  /** Longest run time kept, seconds. */
  readonly maxRuntime?: number;
  readonly sizes?: Choice<number>;
  readonly queues?: readonly OverlayQueue[];
}

export interface OverlayStats {
  readonly tracePods: number;
  readonly gangs: number;
  readonly multiPodGangs: number;
  /** Trace pods that joined an earlier pod's gang. */
  readonly absorbed: number;
  /** Arrival times were divided by this. */
  readonly compression: number;
  /** Seconds from the first to the last arrival after compression. */
  readonly windowS: number;
  readonly load: number;
}

export interface Overlay {
  readonly workload: GangWorkload;
  readonly stats: OverlayStats;
}

type TimedPod = TracePod & {
  readonly times: { readonly created: number; readonly deleted: number };
};

const isWhole = (p: TracePod) => p.shape.gpuCount > 0 && p.shape.gpuMilli >= MILLI_PER_GPU;

function timed(pods: readonly TracePod[]): TimedPod[] {
  const out = pods.filter((p): p is TimedPod => p.times !== undefined);
  if (out.length === 0) {
    throw new Error(
      'the pod list has no creation_time and deletion_time columns; the gang overlay needs them (use openb_pod_list_default.csv)',
    );
  }
  return out.sort(
    (a, b) => a.times.created - b.times.created || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
  );
}

/**
 * Tunes the pod list up to `demand` × the cluster's GPUs, as the published openb protocol does:
 * pods drawn uniformly with replacement are appended (named `<name>-tuned-<i>`) until the
 * requested GPUs reach the target. A copy keeps the drawn pod's shape and lifetime and arrives at
 * the creation time of a second, independent draw, so arrivals keep the trace's time profile.
 */
function tuneUp(
  pods: readonly TimedPod[],
  gpus: number,
  demand: number,
  random: Random,
): TimedPod[] {
  const milli = (p: TracePod) =>
    p.shape.gpuCount === 0
      ? 0
      : p.shape.gpuMilli >= MILLI_PER_GPU
        ? p.shape.gpuCount * MILLI_PER_GPU
        : p.shape.gpuMilli;
  let total = pods.reduce((s, p) => s + milli(p), 0);
  const target = demand * gpus * MILLI_PER_GPU;
  const out = [...pods];
  if (!pods.some((p) => milli(p) > 0)) return out;
  for (let i = 0; total < target; i++) {
    const drawn = pods[random.int(pods.length)] as TimedPod;
    const when = (pods[random.int(pods.length)] as TimedPod).times.created;
    const life = drawn.times.deleted - drawn.times.created;
    out.push({
      ...drawn,
      name: `${drawn.name}-tuned-${i}`,
      times: { created: when, deleted: when + life },
    });
    total += milli(drawn);
  }
  return out.sort(
    (a, b) => a.times.created - b.times.created || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
  );
}

interface RawGang {
  readonly leader: TimedPod;
  readonly pods: number;
}

/** Groups pods into gangs (step 2 above). */
function formGangs(pods: readonly TimedPod[], sizes: Choice<number>, random: Random): RawGang[] {
  const wholeAt = pods.flatMap((p, i) => (isWhole(p) ? [i] : []));
  const absorbed = new Uint8Array(pods.length);
  const gangs: RawGang[] = [];
  let next = 0;
  pods.forEach((leader, i) => {
    if (absorbed[i] === 1) return;
    let size = 1;
    if (isWhole(leader)) {
      const wanted = draw(sizes, random);
      while (next < wholeAt.length && (wholeAt[next] ?? 0) <= i) next++;
      for (; size < wanted && next < wholeAt.length; next++, size++)
        absorbed[wholeAt[next] ?? 0] = 1;
    }
    gangs.push({ leader, pods: size });
  });
  return gangs;
}

/**
 * Offered load inside an arrival window of `w` seconds: the GPU-seconds the gangs would use
 * inside the window if each started on arrival (run times cut at the window), over the cluster's
 * GPU-seconds in it.
 */
export function windowLoad(
  gangs: readonly { gpus: number; runtime: number }[],
  gpus: number,
  w: number,
): number {
  let sum = 0;
  for (const g of gangs) sum += g.gpus * Math.min(g.runtime, w);
  return sum / (gpus * w);
}

/**
 * The factor arrival times are divided by so that the offered load inside the compressed arrival
 * window reaches `load` (found by bisection; the load only grows as the window shrinks). 1 when
 * the trace already offers that much; the largest factor (one second) when it never can.
 */
export function compressionFor(
  gangs: readonly { gpus: number; runtime: number }[],
  span: number,
  gpus: number,
  load: number,
): number {
  if (span <= 1 || gpus <= 0) return 1;
  if (windowLoad(gangs, gpus, span) >= load) return 1;
  if (windowLoad(gangs, gpus, 1) < load) return span;
  let lo = 1;
  let hi = span;
  for (let i = 0; i < 64; i++) {
    const mid = Math.sqrt(lo * hi);
    if (windowLoad(gangs, gpus, span / mid) < load) lo = mid;
    else hi = mid;
  }
  return hi;
}

function overlayQueues(queues: readonly OverlayQueue[], gpus: number): Queue[] {
  return queues.map((q) =>
    decodeQueue({
      apiVersion: 'scheduling.phalanx.dev/v1alpha1',
      kind: 'Queue',
      metadata: { name: q.name },
      spec: { weight: q.weight, quotas: [{ resource: DRIVER, nominal: Math.max(gpus, 1) }] },
    }),
  );
}

/** The overlay workload of a trace (nodes and pods as read from openb files). */
export function gangOverlay(
  nodes: readonly NodeSpec[],
  tracePods: readonly TracePod[],
  settings: OverlaySettings,
): Overlay {
  const random = seededRandom(settings.seed);
  const gpus = nodes.reduce((s, n) => s + n.gpus.length, 0);
  const pods = tuneUp(timed(tracePods), gpus, settings.demand ?? DEFAULT_OVERLAY_DEMAND, random);
  const maxRuntime = settings.maxRuntime ?? DEFAULT_MAX_RUNTIME_S;
  const raw = formGangs(pods, settings.sizes ?? PHILLY_GANG_SIZES, random);
  const queues = settings.queues ?? OVERLAY_QUEUES;
  const queueChoice: Choice<string> = {
    values: queues.map((q) => q.name),
    weights: queues.map((q) => q.weight),
  };
  const drafts = raw.map((r) => {
    const gang: SimGang = {
      id: r.leader.name,
      queue: draw(queueChoice, random),
      priority: 0,
      arrival: r.leader.times.created,
      runtime: Math.min(maxRuntime, Math.max(1, r.leader.times.deleted - r.leader.times.created)),
      pods: r.pods,
      shape: r.leader.shape,
      required: undefined,
      preferred: r.pods > 1 ? 'rack' : undefined,
    };
    return { gang, gpus: gangGpus(gang), runtime: gang.runtime };
  });
  const t0 = pods[0]?.times.created ?? 0;
  const span = (pods.at(-1)?.times.created ?? t0) - t0;
  const load = settings.load ?? DEFAULT_OVERLAY_LOAD;
  const compression = compressionFor(drafts, span, gpus, load);
  const gangs = drafts.map((d) => ({
    ...d.gang,
    arrival: Math.round(((d.gang.arrival - t0) / compression) * 1000) / 1000,
  }));
  const name = `${settings.trace} (${OVERLAY_LABEL})`;
  return {
    workload: {
      name,
      description: `${settings.trace} pods grouped into gangs by the ${OVERLAY_LABEL} (seed ${settings.seed}); arrivals compressed ${compression.toFixed(0)}x to an offered load of ${load.toFixed(2)} x the cluster's GPUs`,
      synthetic: OVERLAY_LABEL,
      seed: settings.seed,
      nodes: groupIntoRacks(nodes, OVERLAY_NODES_PER_RACK, OVERLAY_RACKS_PER_BLOCK),
      queues: overlayQueues(queues, gpus),
      gangs,
    },
    stats: {
      tracePods: tracePods.length,
      gangs: gangs.length,
      multiPodGangs: gangs.filter((g) => g.pods > 1).length,
      absorbed: pods.length - raw.length,
      compression,
      windowS: span / compression,
      load,
    },
  };
}
