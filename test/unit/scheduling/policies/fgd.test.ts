import { describe, expect, it } from 'vitest';
import { fgdPolicy, fgdScore } from '../../../../src/scheduling/policies/fgd.ts';
import type { ShapeMix } from '../../../../src/scheduling/policy.ts';
import { context, node, shape } from './fixture.ts';

// Half the pods want half a GPU, half want one whole GPU.
const MIX: ShapeMix = {
  shapes: [
    { shape: shape(1000, 1, 500), weight: 0.5 },
    { shape: shape(1000, 1, 1000), weight: 0.5 },
  ],
};

function prepared(name?: string) {
  const policy = fgdPolicy(name);
  policy.prepare?.(MIX, context());
  return policy;
}

describe('FGD policy', () => {
  it('maps the change in fragmentation through a sigmoid onto 0..100', () => {
    expect(fgdScore(350, 350)).toBe(50);
    // sigmoid(0.05) = 0.5125 → 51; sigmoid(−0.3) = 0.4256 → 42
    expect(fgdScore(350, 300)).toBe(51);
    expect(fgdScore(350, 650)).toBe(42);
  });

  it('puts a share on the used GPU, keeping the idle GPU whole', () => {
    // Node [1000, 700], fragmentation 0.5 × 0 + 0.5 × 700 = 350.
    // Share 400 on GPU 0 → [600, 700]: no idle GPU left, 0.5 × 1300 = 650 (score 42).
    // Share 400 on GPU 1 → [1000, 300]: 0.5 × 300 + 0.5 × 300 = 300 (score 51).
    const n = node({ cpuFree: 4000, gpus: [1000, 700] });
    expect(prepared().score(n, shape(1000, 1, 400), context())).toEqual({
      score: 51,
      pick: { gpus: [1], milli: 400 },
    });
  });

  it('scores whole-GPU and CPU-only pods by the state they leave', () => {
    const n = node({ cpuFree: 4000, gpus: [1000, 700] });
    // Whole GPU → [0, 700]: 0.5 × 0 + 0.5 × 700 = 350, unchanged: 50, on the idle GPU 0.
    expect(prepared().score(n, shape(1000, 1, 1000), context())).toEqual({
      score: 50,
      pick: { gpus: [0], milli: 1000 },
    });
    // Taking all CPU leaves nothing usable: 1700 fragmented, sigmoid(−1.35) = 0.206 → 20.
    expect(prepared().score(n, shape(4000, 0, 0), context())).toEqual({
      score: 20,
      pick: { gpus: [], milli: 0 },
    });
  });

  it('breaks GPU ties toward the lower index and refuses nodes that cannot take the pod', () => {
    const policy = prepared();
    expect(
      policy.score(node({ gpus: [1000, 1000] }), shape(1000, 1, 300), context())?.pick,
    ).toEqual({ gpus: [0], milli: 300 });
    expect(policy.score(node({ gpus: [1000, 200] }), shape(1000, 2, 1000), context())).toBe(
      undefined,
    );
  });

  it('recomputes when the node changes and not before', () => {
    const policy = prepared();
    const n = node({ cpuFree: 4000, gpus: [1000, 700] });
    const share = shape(1000, 1, 400);
    const first = policy.score(n, share, context());
    expect(policy.score(n, share, context())).toBe(first);
    n.take(0, [1], 400);
    // Now [1000, 300]: putting 400 on GPU 0 is the only choice.
    expect(policy.score(n, share, context())?.pick.gpus).toEqual([0]);
  });

  it('needs the shape mix before scoring and keeps a derived name', () => {
    expect(() => fgdPolicy().score(node({ gpus: [1000] }), shape(1, 1, 500), context())).toThrow(
      'policy fgd needs the workload',
    );
    expect(prepared('phalanx').name).toBe('phalanx');
  });
});
