/**
 * Per-phase timing inside a measured operation: wrap the steps of interest, then summarise each
 * phase. Cheap (two performance.now() calls per step), so it can stay on while the outer latency
 * is measured.
 */
import { type Summary, summarize } from './stats.ts';

/** One timed step: `performance.now()` at its start and end (in the process that timed it). */
export interface Interval {
  readonly start: number;
  readonly end: number;
}

/** Every recorded interval by phase, in first-recorded order: plain data, safe to send over IPC. */
export type PhaseIntervals = Readonly<Record<string, readonly Interval[]>>;

/** Total length covered by a set of intervals, overlaps counted once. */
export function coveredLength(intervals: readonly Interval[]): number {
  const sorted = [...intervals].sort((a, b) => a.start - b.start);
  let total = 0;
  let runStart = Number.NEGATIVE_INFINITY;
  let runEnd = Number.NEGATIVE_INFINITY;
  for (const { start, end } of sorted) {
    if (start > runEnd) {
      if (runEnd > runStart) total += runEnd - runStart;
      runStart = start;
      runEnd = end;
    } else if (end > runEnd) runEnd = end;
  }
  if (runEnd > runStart) total += runEnd - runStart;
  return total;
}

export class PhaseTimer {
  readonly #intervals = new Map<string, Interval[]>();

  /** A timer holding `recorded` (e.g. intervals another process timed and sent over). */
  static from(recorded: PhaseIntervals): PhaseTimer {
    const timer = new PhaseTimer();
    for (const [phase, list] of Object.entries(recorded))
      for (const { start, end } of list) timer.recordInterval(phase, start, end);
    return timer;
  }

  /** Runs `fn` and records how long it took under `phase`, whether it resolves or rejects. */
  async time<T>(phase: string, fn: () => Promise<T>): Promise<T> {
    const start = performance.now();
    try {
      return await fn();
    } finally {
      this.recordInterval(phase, start, performance.now());
    }
  }

  recordInterval(phase: string, start: number, end: number): void {
    const list = this.#intervals.get(phase);
    if (list === undefined) this.#intervals.set(phase, [{ start, end }]);
    else list.push({ start, end });
  }

  /** Records a duration that ends now. */
  record(phase: string, ms: number): void {
    const end = performance.now();
    this.recordInterval(phase, end - ms, end);
  }

  /** Forgets everything recorded so far (call after a warm-up). */
  reset(): void {
    this.#intervals.clear();
  }

  /** A copy of everything recorded so far; {@link PhaseTimer.from} turns it back into a timer. */
  intervals(): PhaseIntervals {
    return Object.fromEntries([...this.#intervals].map(([phase, list]) => [phase, [...list]]));
  }

  /** Phases in first-recorded order with their summaries. */
  summaries(): { phase: string; summary: Summary }[] {
    return [...this.#intervals.entries()].map(([phase, list]) => ({
      phase,
      summary: summarize(list.map((i) => i.end - i.start)),
    }));
  }

  /**
   * Wall time during which at least one of `phases` was running. For steps that may run side by
   * side (two writes in parallel) this counts the overlap once, unlike a sum of durations.
   */
  coveredMs(phases: readonly string[]): number {
    return coveredLength(phases.flatMap((p) => this.#intervals.get(p) ?? []));
  }
}
