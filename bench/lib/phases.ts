/**
 * Per-phase timing inside a measured operation: wrap the steps of interest, then summarise each
 * phase. Cheap (two performance.now() calls per step), so it can stay on while the outer latency
 * is measured.
 */
import { type Summary, summarize } from './stats.ts';

export class PhaseTimer {
  readonly #samples = new Map<string, number[]>();

  /** Runs `fn` and records how long it took under `phase`, whether it resolves or rejects. */
  async time<T>(phase: string, fn: () => Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      return await fn();
    } finally {
      this.record(phase, performance.now() - started);
    }
  }

  record(phase: string, ms: number): void {
    const list = this.#samples.get(phase);
    if (list === undefined) this.#samples.set(phase, [ms]);
    else list.push(ms);
  }

  /** Forgets everything recorded so far (call after a warm-up). */
  reset(): void {
    this.#samples.clear();
  }

  /** Phases in first-recorded order with their summaries. */
  summaries(): { phase: string; summary: Summary }[] {
    return [...this.#samples.entries()].map(([phase, samples]) => ({
      phase,
      summary: summarize(samples),
    }));
  }
}
