/**
 * A periodic sampler for integration tests: subclasses implement `sample()`, which runs every
 * `intervalMs` without overlapping; `samples` counts the ones taken. A failed sample (a transient
 * API error) is skipped, not fatal.
 */
export abstract class PeriodicSampler {
  samples = 0;
  readonly #intervalMs: number;
  #timer: NodeJS.Timeout | undefined;
  #busy = false;

  constructor(intervalMs = 200) {
    this.#intervalMs = intervalMs;
  }

  protected abstract sample(): Promise<void>;

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
      await this.sample();
      this.samples++;
    } catch {
      // A transient API error loses one sample only.
    } finally {
      this.#busy = false;
    }
  }
}
