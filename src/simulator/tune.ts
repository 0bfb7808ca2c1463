/**
 * The replay plan of the published openb protocol (FGD paper's simulator, "workload tuning"):
 *
 * 1. the trace's pods, sorted by name, are shuffled with the seed;
 * 2. the workload is tuned to `ratio` × the cluster's milli-GPU: when the trace asks for less,
 *    pods drawn uniformly (with replacement) from the trace are appended until the next draw
 *    would pass the target; when it asks for more, random pods are removed until it no longer
 *    does;
 * 3. the nodes, sorted by name, are put in a random order; placement ties go to the node that
 *    comes first (the published simulator prefixes node names with a random permutation index
 *    and breaks ties by name, which is the same thing);
 * 4. the same generator then drives the policy's random choices.
 *
 * The shape mix (for FGD and the fragmentation measure) is taken from the trace as read, before
 * tuning. A ratio of 0 or less replays the shuffled trace untuned.
 *
 * Pure: no I/O.
 */
import type { NodeSpec } from '../scheduling/cluster.ts';
import { MILLI_PER_GPU, shapeMilli } from '../scheduling/node-view.ts';
import type { ShapeMix } from '../scheduling/policy.ts';
import { workloadMix } from './mix.ts';
import type { TracePod } from './openb.ts';
import { type Random, seededRandom, shuffle } from './random.ts';

export interface TuneStats {
  readonly tracePods: number;
  readonly traceMilli: number;
  readonly capacityMilli: number;
  readonly targetMilli: number;
  readonly plannedMilli: number;
  readonly added: number;
  readonly removed: number;
}

export interface ReplayPlan {
  /** Nodes in placement-tie order (a node's ordinal in the model is its index here). */
  readonly nodes: readonly NodeSpec[];
  /** Pods in arrival order. */
  readonly pods: readonly TracePod[];
  readonly mix: ShapeMix;
  /** The generator, already advanced past the plan; the policy draws from it next. */
  readonly random: Random;
  readonly stats: TuneStats;
}

function byName<T extends { readonly name: string }>(items: readonly T[]): T[] {
  return [...items].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function totalMilli(pods: readonly TracePod[]): number {
  return pods.reduce((sum, p) => sum + shapeMilli(p.shape), 0);
}

/**
 * Appends random draws from `source` until the next draw would pass `target`. As published, the
 * stop test compares the milli of ONE of the drawn pod's GPUs (so a multi-GPU pod can overshoot
 * the target by a few GPUs, and CPU-only draws never stop the loop), while the running total adds
 * all of its GPUs.
 */
function tuneUp(
  pods: TracePod[],
  source: readonly TracePod[],
  start: number,
  target: number,
  random: Random,
): number {
  let total = start;
  // Only GPU pods can stop the loop: without any, there is nothing to tune up with.
  if (!source.some((p) => p.shape.gpuMilli > 0)) return total;
  for (let i = 0; ; i++) {
    const drawn = source[random.int(source.length)] as TracePod;
    if (total + drawn.shape.gpuMilli > target) break;
    pods.push({ ...drawn, name: `${drawn.name}-tuned-${i}` });
    total += shapeMilli(drawn.shape);
  }
  return total;
}

/** Removes random pods until the total no longer passes `target`. */
function tuneDown(pods: TracePod[], start: number, target: number, random: Random): number {
  let total = start;
  while (total > target && pods.length > 0) {
    const [removed] = pods.splice(random.int(pods.length), 1);
    if (removed !== undefined) total -= shapeMilli(removed.shape);
  }
  return total;
}

/** The nodes sorted by name, then put in a random order. */
export function shuffledNodes(nodes: readonly NodeSpec[], random: Random): NodeSpec[] {
  const order = byName(nodes);
  shuffle(order, random);
  return order;
}

export interface PlanOptions {
  readonly ratio: number;
  readonly seed: number;
}

export function planReplay(
  nodes: readonly NodeSpec[],
  tracePods: readonly TracePod[],
  options: PlanOptions,
): ReplayPlan {
  const random = seededRandom(options.seed);
  const mix = workloadMix(tracePods);
  const sorted = byName(tracePods);
  const pods = [...sorted];
  shuffle(pods, random);
  const capacityMilli = nodes.reduce((sum, n) => sum + n.gpus.length * MILLI_PER_GPU, 0);
  const traceMilli = totalMilli(pods);
  const targetMilli = options.ratio * capacityMilli;
  let plannedMilli = traceMilli;
  if (options.ratio > 0 && traceMilli < targetMilli) {
    plannedMilli = tuneUp(pods, sorted, traceMilli, targetMilli, random);
  } else if (options.ratio > 0 && traceMilli > targetMilli) {
    plannedMilli = tuneDown(pods, traceMilli, targetMilli, random);
  }
  const stats: TuneStats = {
    tracePods: tracePods.length,
    traceMilli,
    capacityMilli,
    targetMilli,
    plannedMilli,
    added: Math.max(0, pods.length - tracePods.length),
    removed: Math.max(0, tracePods.length - pods.length),
  };
  return { nodes: shuffledNodes(nodes, random), pods, mix, random, stats };
}
