/**
 * A periodic sampler for integration tests: calls `sample` every `intervalMs`, never overlapping,
 * and counts the samples taken. A failed sample (a transient API error) is skipped, not fatal.
 */
export class PeriodicSampler {
  samples = 0;
  readonly #intervalMs: number;
  readonly #sample: () => Promise<void>;
  #timer: NodeJS.Timeout | undefined;
  #busy = false;

  constructor(intervalMs: number, sample: () => Promise<void>) {
    this.#intervalMs = intervalMs;
    this.#sample = sample;
  }

  start(): void {
    this.#timer = setInterval(() => void this.#tick(), this.#intervalMs);
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  async #tick(): Promise<void> {
    if (this.#busy) return;
    this.#busy = true;
    try {
      await this.#sample();
      this.samples++;
    } catch {
      // A transient API error loses one sample only.
    } finally {
      this.#busy = false;
    }
  }
}
