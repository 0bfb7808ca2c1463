/**
 * `phalanx`: our own placement policy. It starts as FGD (fgd.ts) and keeps its own name so that
 * reports, configuration and benchmarks can follow it as it departs from the published policy.
 *
 * Pure: no I/O.
 */
import type { PlacementPolicy } from '../policy.ts';
import { fgdPolicy } from './fgd.ts';

export function phalanxPolicy(): PlacementPolicy {
  return fgdPolicy('phalanx');
}
