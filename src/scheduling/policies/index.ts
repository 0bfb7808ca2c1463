/**
 * The placement policies by name: the published baselines of the FGD paper's simulator and our
 * own. Each call returns a fresh instance, because some policies keep per-run memory (the shape
 * mix, what runs where, memoised scores).
 *
 * Pure: no I/O.
 */
import type { PlacementPolicy } from '../policy.ts';
import { bestFitPolicy } from './best-fit.ts';
import { dotProductPolicy } from './dot-product.ts';
import { fgdPolicy } from './fgd.ts';
import { gpuClusteringPolicy } from './gpu-clustering.ts';
import { gpuPackingPolicy } from './gpu-packing.ts';
import { phalanxPolicy } from './phalanx.ts';
import { randomPolicy } from './random.ts';

const FACTORIES = {
  random: randomPolicy,
  'dot-product': dotProductPolicy,
  'gpu-clustering': gpuClusteringPolicy,
  'gpu-packing': gpuPackingPolicy,
  'best-fit': bestFitPolicy,
  fgd: () => fgdPolicy(),
  phalanx: phalanxPolicy,
} as const satisfies Readonly<Record<string, () => PlacementPolicy>>;

export type PolicyName = keyof typeof FACTORIES;

/** Every policy name, the published baselines first (in the paper's order), ours last. */
export const POLICY_NAMES: readonly PolicyName[] = Object.keys(FACTORIES) as PolicyName[];

/** The published baselines (every name but ours). */
export const BASELINE_POLICY_NAMES: readonly PolicyName[] = POLICY_NAMES.filter(
  (n) => n !== 'phalanx',
);

export function isPolicyName(name: string): name is PolicyName {
  return Object.hasOwn(FACTORIES, name);
}

/** A fresh policy by name; throws a sentence listing the names when it is unknown. */
export function policyByName(name: string): PlacementPolicy {
  if (!isPolicyName(name)) {
    throw new Error(`policy "${name}" is unknown; use one of ${POLICY_NAMES.join(', ')}`);
  }
  return FACTORIES[name]();
}
