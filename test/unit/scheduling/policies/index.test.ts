import { describe, expect, it } from 'vitest';
import {
  BASELINE_POLICY_NAMES,
  POLICY_NAMES,
  policyByName,
} from '../../../../src/scheduling/policies/index.ts';

describe('policy registry', () => {
  it('lists the published baselines and ours', () => {
    expect(POLICY_NAMES).toEqual([
      'random',
      'dot-product',
      'gpu-clustering',
      'gpu-packing',
      'best-fit',
      'fgd',
      'phalanx',
    ]);
    expect(BASELINE_POLICY_NAMES).not.toContain('phalanx');
  });

  it('returns a fresh policy carrying its name', () => {
    for (const name of POLICY_NAMES) {
      const policy = policyByName(name);
      expect(policy.name).toBe(name);
      expect(policyByName(name)).not.toBe(policy);
    }
  });

  it('names the choices for an unknown policy', () => {
    expect(() => policyByName('tetris')).toThrow(
      'policy "tetris" is unknown; use one of random, dot-product',
    );
  });
});
