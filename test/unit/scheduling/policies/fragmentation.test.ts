import { describe, expect, it } from 'vitest';
import {
  compileMix,
  fragmentedMilli,
  nodeFragmentedMilli,
} from '../../../../src/scheduling/policies/fragmentation.ts';
import type { ShapeMix } from '../../../../src/scheduling/policy.ts';
import { node, shape } from './fixture.ts';

const model = () => 'G2';

describe('GPU fragmentation against a shape mix', () => {
  it('counts only GPUs too small for a shape that fits, and everything when it does not fit', () => {
    const mix = compileMix({
      shapes: [
        { shape: shape(1000, 1, 500), weight: 0.5 },
        { shape: shape(1000, 1, 1000), weight: 0.5 },
      ],
    });
    // [1000, 700]: the share fits with nothing too small (0); the whole GPU fits, 700 too small.
    expect(fragmentedMilli(4000, [1000, 700], 2, model, mix)).toBe(350);
    // [600, 700]: the share fits (0); the whole GPU does not fit: all 1300 count.
    expect(fragmentedMilli(4000, [600, 700], 2, model, mix)).toBe(650);
    // Not enough CPU for either shape: everything is fragmented.
    expect(fragmentedMilli(500, [1000, 700], 2, model, mix)).toBe(1700);
    // Nothing free, nothing fragmented.
    expect(fragmentedMilli(4000, [0, 0], 2, model, mix)).toBe(0);
  });

  it('counts all free GPU milli for CPU-only shapes and for shapes of other GPU models', () => {
    const mix: ShapeMix = {
      shapes: [
        { shape: shape(1000, 0, 0), weight: 0.25 },
        { shape: shape(1000, 1, 500, ['T4']), weight: 0.75 },
      ],
    };
    expect(fragmentedMilli(4000, [1000, 1000], 2, model, compileMix(mix))).toBe(2000);
    expect(fragmentedMilli(4000, [1000, 1000], 2, () => 'T4', compileMix(mix))).toBe(500);
  });

  it('reads a node view', () => {
    const mix = compileMix({ shapes: [{ shape: shape(1000, 1, 1000), weight: 1 }] });
    expect(nodeFragmentedMilli(node({ gpus: [1000, 300, 0] }), mix)).toBe(300);
  });
});
