/**
 * One simulation run end to end: read the trace (with file hashes), plan the replay for a seed
 * and ratio, replay it with a named policy. `phalanx simulate` and the openb validation bench
 * both go through here.
 */
import { ClusterModel, type NodeSpec } from '../scheduling/cluster.ts';
import { policyByName } from '../scheduling/policies/index.ts';
import { type ReplayStep, type ReplaySummary, runReplay } from './engine.ts';
import { type NodeOccupancy, nodeOccupancy } from './html/occupancy.ts';
import type { SeriesPoint } from './metrics.ts';
import { readNodeCsv, readPodCsv, type TraceInput, type TracePod } from './openb.ts';
import { planReplay, type TuneStats } from './tune.ts';

export interface Trace {
  readonly nodes: TraceInput<NodeSpec>;
  readonly pods: TraceInput<TracePod>;
}

/** Reads the node list and the pod list. Errors name the file, line and column. */
export function loadTrace(nodesPath: string, podsPath: string): Trace {
  return { nodes: readNodeCsv(nodesPath), pods: readPodCsv(podsPath) };
}

export interface RunSettings {
  readonly policy: string;
  readonly seed: number;
  readonly ratio: number;
  readonly onProgress?: (done: number, total: number) => void;
  /** Keep every node's GPU use at the end of the run (for the report's occupancy map). */
  readonly occupancy?: boolean;
}

/** Where a run's inputs came from, so a result can be traced to the exact files. */
export interface RunInputs {
  readonly nodes: { readonly path: string; readonly sha256: string; readonly count: number };
  readonly pods: { readonly path: string; readonly sha256: string; readonly count: number };
}

export interface SimulationRun {
  readonly policy: string;
  readonly seed: number;
  readonly ratio: number;
  readonly inputs: RunInputs;
  readonly tune: TuneStats;
  readonly summary: ReplaySummary;
  readonly series: readonly SeriesPoint[];
  /** Every node's GPU use after the last pod; present when RunSettings.occupancy was set. */
  readonly occupancy?: readonly NodeOccupancy[];
}

export function simulate(trace: Trace, settings: RunSettings): SimulationRun {
  const policy = policyByName(settings.policy);
  const plan = planReplay(trace.nodes.rows, trace.pods.rows, {
    ratio: settings.ratio,
    seed: settings.seed,
  });
  let occupancy: NodeOccupancy[] | undefined;
  const last = plan.pods.length - 1;
  const onStep = (step: ReplayStep): void => {
    if (step.index === last) occupancy = nodeOccupancy(step.model.nodes);
  };
  const { summary, series } = runReplay({
    plan,
    policy,
    ...(settings.onProgress === undefined ? {} : { onProgress: settings.onProgress }),
    ...(settings.occupancy === true ? { onStep } : {}),
  });
  if (settings.occupancy === true && occupancy === undefined) {
    occupancy = nodeOccupancy(ClusterModel.fromNodes(plan.nodes).nodes);
  }
  const input = <T>(file: TraceInput<T>) => ({
    path: file.path,
    sha256: file.sha256,
    count: file.rows.length,
  });
  return {
    policy: policy.name,
    seed: settings.seed,
    ratio: settings.ratio,
    inputs: { nodes: input(trace.nodes), pods: input(trace.pods) },
    tune: plan.stats,
    summary,
    series,
    ...(occupancy === undefined ? {} : { occupancy }),
  };
}
