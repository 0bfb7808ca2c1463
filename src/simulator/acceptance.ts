/**
 * The acceptance figures of a gang simulation, Phalanx against the fifo-first-fit baseline on the
 * same workload and seed:
 *
 * 1. zero partial gangs under Phalanx and zero double allocations (the invariants are checked
 *    after every step; a violation stops the run, so a finished run has passed them all);
 * 2. at least 95% of multi-node gangs within one rack when capacity allows: some rack had room
 *    for the whole gang outside head-of-line reservations when it was admitted (the planner's own
 *    view, which its note reports); the stricter figure counting reserved room is shown beside it;
 * 3. mean queueing delay at least 20% below the baseline's, with a makespan at most 1.05 × its;
 * 4. every queue's share of the GPUs while all queues waited within 10% (relative) of its
 *    weight's share.
 *
 * Pure: no I/O.
 */
import type { GangRunResult } from './gang-run.ts';

export const RACK_LOCALITY_TARGET = 0.95;
export const DELAY_REDUCTION_TARGET = 0.2;
export const MAKESPAN_SLACK = 1.05;
export const SHARE_TOLERANCE = 0.1;

export interface Check {
  readonly name: string;
  readonly value: string;
  readonly pass: boolean;
}

export interface Acceptance {
  readonly checks: readonly Check[];
  readonly pass: boolean;
  /** The numbers behind the checks, for tables and JSON. */
  readonly figures: {
    readonly partialGangs: number;
    readonly steps: number;
    readonly withinRackWhenOpen: number;
    readonly withinRackWhenRoom: number;
    readonly delayPhalanxS: number;
    readonly delayFifoS: number;
    readonly delayReduction: number;
    readonly makespanRatio: number;
    /** Largest relative gap between a queue's contended share and its weight share. */
    readonly worstShareGap: number;
  };
}

const pct = (x: number, digits = 1) =>
  Number.isFinite(x) ? `${(100 * x).toFixed(digits)}%` : 'n/a';

/** Largest |share − weight share| / weight share over the queues (NaN when never contended). */
export function worstShareGap(run: GangRunResult): number {
  let worst = 0;
  for (const q of run.metrics.queues) {
    if (q.weightShare <= 0) continue;
    if (!Number.isFinite(q.contendedShare)) return Number.NaN;
    worst = Math.max(worst, Math.abs(q.contendedShare - q.weightShare) / q.weightShare);
  }
  return worst;
}

export function acceptance(phalanx: GangRunResult, fifo: GangRunResult): Acceptance {
  const m = phalanx.metrics;
  const l = m.locality;
  const within = l.withinRackWhenOpen;
  const reduction = 1 - m.delay.meanS / fifo.metrics.delay.meanS;
  const makespanRatio = m.makespanS / fifo.metrics.makespanS;
  const gap = worstShareGap(phalanx);
  const checks: Check[] = [
    {
      name: 'zero partial gangs, zero double allocations',
      value: `${m.partialGangsSeen} partial gangs; ledger recounted after all ${m.steps} steps`,
      pass: m.partialGangsSeen === 0,
    },
    {
      name: `≥${pct(RACK_LOCALITY_TARGET, 0)} of multi-node gangs in one rack when capacity allows`,
      value: `${pct(within)} (${l.rackOpenWithinRack}/${l.rackOpen}); counting reserved room ${pct(l.withinRackWhenRoom)} (${l.rackRoomWithinRack}/${l.rackRoom})`,
      pass: !Number.isFinite(within) || within >= RACK_LOCALITY_TARGET,
    },
    {
      name: `mean queueing delay ≥${pct(DELAY_REDUCTION_TARGET, 0)} below fifo-first-fit`,
      value: `${m.delay.meanS.toFixed(1)} s vs ${fifo.metrics.delay.meanS.toFixed(1)} s (${pct(reduction)} lower)`,
      pass: reduction >= DELAY_REDUCTION_TARGET,
    },
    {
      name: `makespan ≤ ${MAKESPAN_SLACK}× fifo-first-fit`,
      value: `${makespanRatio.toFixed(3)}×`,
      pass: makespanRatio <= MAKESPAN_SLACK,
    },
    {
      name: `queue shares within ${pct(SHARE_TOLERANCE, 0)} of weights`,
      value: `worst gap ${pct(gap)} (${m.queues.map((q) => `${q.name} ${pct(q.contendedShare)} vs ${pct(q.weightShare)}`).join(', ')})`,
      pass: Number.isFinite(gap) && gap <= SHARE_TOLERANCE,
    },
  ];
  return {
    checks,
    pass: checks.every((c) => c.pass),
    figures: {
      partialGangs: m.partialGangsSeen,
      steps: m.steps,
      withinRackWhenOpen: within,
      withinRackWhenRoom: l.withinRackWhenRoom,
      delayPhalanxS: m.delay.meanS,
      delayFifoS: fifo.metrics.delay.meanS,
      delayReduction: reduction,
      makespanRatio,
      worstShareGap: gap,
    },
  };
}
