/**
 * The replay loop: pods arrive in plan order and each is placed or rejected on arrival by the
 * same single-pod placement the planner and extender use (`placeOne` over a `ClusterModel` with a
 * named policy). In the openb protocol pods never leave. After every pod the metrics record the
 * cluster's allocation and fragmentation against the demand arrived so far.
 *
 * Pure: no I/O (time is read through the `now` option so tests stay deterministic).
 */
import { ClusterModel } from '../scheduling/cluster.ts';
import { type GpuPick, type NodeView, shapeMilli } from '../scheduling/node-view.ts';
import { type Placed, placeOne, policyContext } from '../scheduling/place.ts';
import type { PlacementPolicy } from '../scheduling/policy.ts';
import { ReplayMetrics, type SeriesPoint } from './metrics.ts';
import type { TracePod } from './openb.ts';
import type { ReplayPlan } from './tune.ts';

/** What happened to one arriving pod. */
export interface ReplayStep {
  readonly index: number;
  readonly pod: TracePod;
  readonly placed: { readonly node: NodeView; readonly pick: GpuPick } | undefined;
  readonly reason: string | undefined;
  readonly arrivedMilli: number;
  readonly model: ClusterModel;
  readonly metrics: ReplayMetrics;
}

export interface ReplaySummary {
  readonly policy: string;
  readonly pods: number;
  readonly placed: number;
  readonly rejected: number;
  readonly arrivedMilli: number;
  readonly allocatedMilli: number;
  readonly capacityMilli: number;
  readonly wallMs: number;
}

export interface ReplayResult {
  readonly series: readonly SeriesPoint[];
  readonly summary: ReplaySummary;
}

export interface ReplayOptions {
  readonly plan: ReplayPlan;
  readonly policy: PlacementPolicy;
  /** Called after every pod (tests check invariants here). */
  readonly onStep?: (step: ReplayStep) => void;
  /** Called after every pod with the number done and the total. */
  readonly onProgress?: (done: number, total: number) => void;
  /** Milliseconds clock for the wall time (default: performance.now). */
  readonly now?: () => number;
}

/** The policy context of a model: the plan's generator and the largest node's capacities. */
export function runReplay(options: ReplayOptions): ReplayResult {
  const now = options.now ?? (() => performance.now());
  const started = now();
  const { plan, policy } = options;
  const model = ClusterModel.fromNodes(plan.nodes);
  const ctx = policyContext(model, () => plan.random.next());
  policy.prepare?.(plan.mix, ctx);
  const metrics = new ReplayMetrics(model, plan.mix);
  let arrivedMilli = 0;
  let placed = 0;
  plan.pods.forEach((pod, index) => {
    const result = placeOne(model, pod.shape, policy, ctx, pod.name);
    arrivedMilli += shapeMilli(pod.shape);
    const done: Placed | undefined = 'allocation' in result ? result : undefined;
    if (done !== undefined) {
      placed++;
      policy.placed?.(done.node, pod.shape, done.pick);
      metrics.nodeChanged(done.node.ordinal);
    }
    metrics.record(arrivedMilli);
    options.onStep?.({
      index,
      pod,
      placed: done,
      reason: 'reason' in result ? result.reason : undefined,
      arrivedMilli,
      model,
      metrics,
    });
    options.onProgress?.(index + 1, plan.pods.length);
  });
  const summary: ReplaySummary = {
    policy: policy.name,
    pods: plan.pods.length,
    placed,
    rejected: plan.pods.length - placed,
    arrivedMilli,
    allocatedMilli: model.gpuMilliAllocated(),
    capacityMilli: model.gpuMilliTotal,
    wallMs: now() - started,
  };
  return { series: metrics.series(), summary };
}
