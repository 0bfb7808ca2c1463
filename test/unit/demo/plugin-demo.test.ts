import { describe, expect, it } from 'vitest';
import { runPluginDemo } from '../../../src/demo/plugin-demo.ts';
import { FAKE_PROFILE_NAMES } from '../../../src/devices/fake/profiles.ts';

describe('phalanx demo', () => {
  it.each(FAKE_PROFILE_NAMES)(
    'runs end to end on profile %s and leaves nothing behind',
    async (profile) => {
      let text = '';
      const summary = await runPluginDemo({ profile, keep: false, write: (t) => (text += t) });
      expect(summary.prepared).toBeGreaterThanOrEqual(2);
      expect(summary.failed).toBe(1);
      expect(summary.leftoverCdiSpecs).toBe(0);
      expect(text).toContain('limits: all respected');
      expect(text).toContain(
        'versions=v1.DRAPlugin, v1beta1.DRAPlugin, v1.DRAResourceHealth, v1alpha1.DRAResourceHealth',
      );
      expect(text).toContain('partitionCount must be between 1 and 16, got 40');
      expect(text).toContain('gpu.phalanx.dev/lost');
      expect(text).toMatch(/\d+ answers, 0 errors; CDI specs left: 0; checkpointed claims left: 0/);
    },
  );
});
