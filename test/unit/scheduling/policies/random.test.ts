import { describe, expect, it } from 'vitest';
import { randomPolicy } from '../../../../src/scheduling/policies/random.ts';
import { seededRandom } from '../../../../src/simulator/random.ts';
import { context, node, sequence, shape } from './fixture.ts';

describe('random policy', () => {
  it('scores with a uniform draw and reservoir-samples a fitting GPU for a share', () => {
    // Fitting GPUs for 500: 0 and 2. Draws: GPU 0 taken (1st), 0.3 × 2 → 0 replaces with GPU 2.
    const ctx = context(sequence(0.9, 0.3, 0.7));
    const score = randomPolicy().score(node({ gpus: [1000, 300, 800] }), shape(1, 1, 500), ctx);
    expect(score).toEqual({ score: 0.7, pick: { gpus: [2], milli: 500 } });
  });

  it('keeps the first fitting GPU when the second draw says so', () => {
    const ctx = context(sequence(0.1, 0.6, 0.2));
    const score = randomPolicy().score(node({ gpus: [1000, 300, 800] }), shape(1, 1, 500), ctx);
    expect(score?.pick.gpus).toEqual([0]);
  });

  it('chooses each fitting GPU about equally often', () => {
    const rng = seededRandom(7);
    const ctx = context(() => rng.next());
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 4000; i++) {
      const g = randomPolicy().score(node({ gpus: [1000, 100, 600, 900] }), shape(1, 1, 500), ctx)
        ?.pick.gpus[0];
      counts[g ?? 1] = (counts[g ?? 1] ?? 0) + 1;
    }
    expect(counts[1]).toBe(0);
    for (const g of [0, 2, 3]) expect(Math.abs((counts[g] ?? 0) / 4000 - 1 / 3)).toBeLessThan(0.03);
  });

  it('takes the first idle GPUs for whole-GPU pods and refuses nodes without them', () => {
    const ctx = context(() => 0.5);
    expect(
      randomPolicy().score(node({ gpus: [0, 1000, 1000] }), shape(1, 2, 1000), ctx)?.pick,
    ).toEqual({ gpus: [1, 2], milli: 1000 });
    expect(randomPolicy().score(node({ gpus: [0, 1000] }), shape(1, 2, 1000), ctx)).toBe(undefined);
  });
});
