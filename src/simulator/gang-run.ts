/**
 * One gang simulation end to end: build the cluster model and topology tree from the workload,
 * run its gangs through Phalanx (gangs.ts) or the fifo-first-fit baseline (fifo.ts) in the event
 * loop (gang-events.ts), and collect the metrics (gang-metrics.ts). `phalanx simulate` and the
 * gang-overlay benchmark both go through here.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { ClusterModel } from '../scheduling/cluster.ts';
import { TopologyTree } from '../scheduling/topology.ts';
import { FIFO_SCHEDULER, FifoGangScheduler } from './fifo.ts';
import { type GangScheduler, runGangEvents } from './gang-events.ts';
import { GangRecorder, type GangRunMetrics } from './gang-metrics.ts';
import { type GangWorkload, parseWorkload, WorkloadError } from './gang-workload.ts';
import { PHALANX_SCHEDULER, PhalanxGangScheduler } from './gangs.ts';
import { readNodeCsv } from './openb.ts';

export const GANG_SCHEDULERS = [PHALANX_SCHEDULER, FIFO_SCHEDULER] as const;
export type GangSchedulerName = (typeof GANG_SCHEDULERS)[number];

/** The embedded default workload, shipped beside this file. */
export const DEFAULT_WORKLOAD_PATH = join(import.meta.dirname, 'default', 'workload.yaml');

export interface LoadedWorkload {
  readonly workload: GangWorkload;
  readonly path: string;
  readonly sha256: string;
}

/** Reads and parses a workload file; node lists it names are read relative to it. */
export function loadWorkload(path: string, seed?: number): LoadedWorkload {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new WorkloadError(path, [`cannot read the file (${code}); check the path`]);
  }
  const base = dirname(resolve(path));
  const workload = parseWorkload(bytes.toString('utf8'), path, {
    readNodes: (p) => readNodeCsv(resolve(base, p)).rows,
    ...(seed === undefined ? {} : { seed }),
  });
  return { workload, path, sha256: createHash('sha256').update(bytes).digest('hex') };
}

export interface GangRunSettings {
  readonly scheduler: GangSchedulerName;
  /** Phalanx's placement policy (default: the live planner's). */
  readonly policy?: string | undefined;
  /** Seed of random choices during the run. */
  readonly seed: number;
  readonly onProgress?: ((arrived: number, total: number) => void) | undefined;
  /** Milliseconds clock for the wall time (default: performance.now). */
  readonly now?: (() => number) | undefined;
}

export interface WorkloadInfo {
  readonly name: string;
  readonly description: string;
  readonly synthetic: string | undefined;
  readonly seed: number;
  readonly nodes: number;
  readonly gpus: number;
  readonly gangs: number;
  readonly pods: number;
  readonly queues: readonly {
    readonly name: string;
    readonly weight: number;
    readonly cohort: string | undefined;
    readonly quotas: readonly { readonly resource: string; readonly nominal: number }[];
  }[];
}

export interface GangRunResult {
  readonly scheduler: GangSchedulerName;
  readonly policy: string;
  readonly seed: number;
  readonly workload: WorkloadInfo;
  readonly metrics: GangRunMetrics;
  /** Invariant checks passed (one per step); a failed check throws instead. */
  readonly invariantChecks: number;
  readonly wallMs: number;
}

export function workloadInfo(w: GangWorkload): WorkloadInfo {
  return {
    name: w.name,
    description: w.description,
    synthetic: w.synthetic,
    seed: w.seed,
    nodes: w.nodes.length,
    gpus: w.nodes.reduce((s, n) => s + n.gpus.length, 0),
    gangs: w.gangs.length,
    pods: w.gangs.reduce((s, g) => s + g.pods, 0),
    queues: w.queues.map((q) => ({
      name: q.metadata.name,
      weight: q.spec.weight,
      cohort: q.spec.cohort,
      quotas: q.spec.quotas.map((x) => ({ resource: x.resource, nominal: x.nominal })),
    })),
  };
}

function makeScheduler(
  workload: GangWorkload,
  model: ClusterModel,
  tree: TopologyTree,
  settings: GangRunSettings,
): GangScheduler {
  if (settings.scheduler === FIFO_SCHEDULER) {
    return new FifoGangScheduler(model, tree, settings.seed);
  }
  return new PhalanxGangScheduler(workload, model, tree, {
    policy: settings.policy,
    seed: settings.seed,
  });
}

/** Runs the workload with one scheduler on a fresh cluster model. */
export function runGangSimulation(
  workload: GangWorkload,
  settings: GangRunSettings,
): GangRunResult {
  const now = settings.now ?? (() => performance.now());
  const started = now();
  const model = ClusterModel.fromNodes(workload.nodes);
  const tree = new TopologyTree(model.nodes);
  const scheduler = makeScheduler(workload, model, tree, settings);
  const recorder = new GangRecorder(workload, model, tree);
  runGangEvents(workload.gangs, scheduler, recorder, { onProgress: settings.onProgress });
  const metrics = recorder.result();
  return {
    scheduler: settings.scheduler,
    policy: scheduler.policy,
    seed: settings.seed,
    workload: workloadInfo(workload),
    metrics,
    invariantChecks: metrics.steps,
    wallMs: now() - started,
  };
}
