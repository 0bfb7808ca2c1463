/**
 * Score scale shared by the published baselines: whole numbers from 0 to 100, as a Kubernetes
 * scheduler score plugin returns them. Keeping the truncation matters: it decides which nodes tie,
 * and ties go to the lower node ordinal.
 *
 * Pure: no I/O.
 */

export const MAX_SCORE = 100;

/** `value / max`, or 0 when there is nothing to normalise by. */
export function normalised(value: number, max: number): number {
  return max > 0 ? value / max : 0;
}
