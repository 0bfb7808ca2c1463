import { describe, expect, it } from 'vitest';
import {
  checkApiVersionKind,
  decodeGpuConfig,
  defaultGpuConfig,
  type GpuConfig,
  GpuConfigError,
  normalizeGpuConfig,
  resolveSharing,
  sharingFromParameters,
  validateGpuConfig,
} from '../../../src/api/gpu/v1alpha1/gpu-config.ts';

const base = { apiVersion: 'gpu.phalanx.dev/v1alpha1', kind: 'GpuConfig' } as const;

function errorOf(fn: () => unknown): GpuConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof GpuConfigError) return err;
    throw err;
  }
  throw new Error('expected a GpuConfigError');
}

describe('decodeGpuConfig', () => {
  it('accepts a minimal config and each strategy', () => {
    expect(decodeGpuConfig({ ...base })).toEqual(base);
    const ts = { ...base, sharing: { strategy: 'TimeSlicing', timeSlicing: { interval: 'Long' } } };
    expect(decodeGpuConfig(ts)).toEqual(ts);
    const sp = {
      ...base,
      sharing: { strategy: 'SpacePartitioning', spacePartitioning: { partitionCount: 4 } },
    };
    expect(decodeGpuConfig(sp)).toEqual(sp);
  });

  it('rejects unknown fields and names their path', () => {
    const err = errorOf(() =>
      decodeGpuConfig({ ...base, sharing: { strategy: 'Exclusive', replicas: 2 } }),
    );
    expect(err.message).toMatch(/^GpuConfig: unknown field sharing\.replicas; remove it/);
    expect(err.path).toBe('sharing');
    const top = errorOf(() => decodeGpuConfig({ ...base, sharng: {} }));
    expect(top.message).toContain('unknown field sharng');
    const deep = errorOf(() =>
      decodeGpuConfig({
        ...base,
        sharing: { strategy: 'TimeSlicing', timeSlicing: { interval: 'Short', quantum: 5 } },
      }),
    );
    expect(deep.message).toContain('unknown field sharing.timeSlicing.quantum');
  });

  it('lists the allowed values of an enum field', () => {
    const err = errorOf(() => decodeGpuConfig({ ...base, sharing: { strategy: 'MPS' } }));
    expect(err.message).toBe(
      'GpuConfig: sharing.strategy must be one of Exclusive, TimeSlicing, SpacePartitioning, got "MPS"',
    );
    const interval = errorOf(() =>
      decodeGpuConfig({
        ...base,
        sharing: { strategy: 'TimeSlicing', timeSlicing: { interval: 1 } },
      }),
    );
    expect(interval.message).toContain('sharing.timeSlicing.interval must be one of Default');
  });

  it('reports a missing strategy', () => {
    const err = errorOf(() => decodeGpuConfig({ ...base, sharing: {} }));
    expect(err.message).toBe('GpuConfig: sharing.strategy is required');
  });

  it('reports partitionCount out of range with both bounds', () => {
    const err = errorOf(() =>
      decodeGpuConfig({
        ...base,
        sharing: { strategy: 'SpacePartitioning', spacePartitioning: { partitionCount: 40 } },
      }),
    );
    expect(err.message).toBe(
      'GpuConfig: sharing.spacePartitioning.partitionCount must be between 1 and 16, got 40',
    );
    const zero = errorOf(() =>
      decodeGpuConfig({
        ...base,
        sharing: { strategy: 'SpacePartitioning', spacePartitioning: { partitionCount: 0 } },
      }),
    );
    expect(zero.message).toContain('must be between 1 and 16, got 0');
    const frac = errorOf(() =>
      decodeGpuConfig({
        ...base,
        sharing: { strategy: 'SpacePartitioning', spacePartitioning: { partitionCount: 2.5 } },
      }),
    );
    expect(frac.message).toContain('partitionCount must be of type integer, got 2.5');
  });
});

describe('checkApiVersionKind', () => {
  it('rejects parameters of another API with a clear message', () => {
    expect(
      errorOf(() =>
        checkApiVersionKind({ apiVersion: 'gpu.nvidia.com/v1beta1', kind: 'GpuConfig' }),
      ).message,
    ).toBe(
      'GpuConfig: apiVersion "gpu.nvidia.com/v1beta1" is not supported; set apiVersion to gpu.phalanx.dev/v1alpha1',
    );
    expect(
      errorOf(() =>
        checkApiVersionKind({ apiVersion: 'gpu.phalanx.dev/v1alpha1', kind: 'MigConfig' }),
      ).message,
    ).toContain(
      'kind "MigConfig" is not supported by gpu.phalanx.dev/v1alpha1; set kind to GpuConfig',
    );
    expect(errorOf(() => checkApiVersionKind({ kind: 'GpuConfig' })).message).toContain(
      'no apiVersion is not supported',
    );
    expect(errorOf(() => checkApiVersionKind('text')).message).toContain(
      'parameters must be an object',
    );
    expect(errorOf(() => checkApiVersionKind(null)).message).toContain('must be an object');
    expect(() => checkApiVersionKind({ ...base })).not.toThrow();
  });

  it('is applied before the schema', () => {
    expect(errorOf(() => decodeGpuConfig({ apiVersion: 'v1', kind: 'Pod' })).path).toBe(
      'apiVersion',
    );
  });
});

describe('normalize and validate', () => {
  it('defaults to Exclusive', () => {
    expect(defaultGpuConfig().sharing).toEqual({ strategy: 'Exclusive' });
    expect(normalizeGpuConfig({ ...base }).sharing).toEqual({ strategy: 'Exclusive' });
    expect(validateGpuConfig(normalizeGpuConfig({ ...base }))).toEqual({ strategy: 'Exclusive' });
  });

  it('gives TimeSlicing the Default interval and SpacePartitioning one partition', () => {
    const ts: GpuConfig = { ...base, sharing: { strategy: 'TimeSlicing' } };
    expect(normalizeGpuConfig(ts).sharing).toEqual({
      strategy: 'TimeSlicing',
      timeSlicing: { interval: 'Default' },
    });
    const sp: GpuConfig = { ...base, sharing: { strategy: 'SpacePartitioning' } };
    expect(validateGpuConfig(normalizeGpuConfig(sp))).toEqual({
      strategy: 'SpacePartitioning',
      partitionCount: 1,
    });
  });

  it('drops other blocks for Exclusive', () => {
    const cfg: GpuConfig = {
      ...base,
      sharing: {
        strategy: 'Exclusive',
        timeSlicing: { interval: 'Short' },
        spacePartitioning: { partitionCount: 3 },
      },
    };
    expect(normalizeGpuConfig(cfg).sharing).toEqual({ strategy: 'Exclusive' });
  });

  it('rejects a block that does not match the strategy', () => {
    const mixed: GpuConfig = {
      ...base,
      sharing: { strategy: 'TimeSlicing', spacePartitioning: { partitionCount: 2 } },
    };
    const err = errorOf(() => validateGpuConfig(normalizeGpuConfig(mixed)));
    expect(err.message).toBe(
      'GpuConfig: sharing.spacePartitioning must not be set with strategy TimeSlicing; remove it or set strategy to SpacePartitioning',
    );
    expect(err.path).toBe('sharing.spacePartitioning');
    const other: GpuConfig = {
      ...base,
      sharing: { strategy: 'SpacePartitioning', timeSlicing: { interval: 'Short' } },
    };
    expect(errorOf(() => validateGpuConfig(other)).message).toContain(
      'sharing.timeSlicing must not be set with strategy SpacePartitioning',
    );
  });

  it('validates partitionCount for configs built in code', () => {
    const cfg: GpuConfig = {
      ...base,
      sharing: { strategy: 'SpacePartitioning', spacePartitioning: { partitionCount: 17 } },
    };
    expect(errorOf(() => validateGpuConfig(cfg)).message).toBe(
      'GpuConfig: sharing.spacePartitioning.partitionCount must be between 1 and 16, got 17',
    );
  });

  it('sharingFromParameters runs the whole pipeline', () => {
    expect(sharingFromParameters({ ...base, sharing: { strategy: 'TimeSlicing' } })).toEqual({
      strategy: 'TimeSlicing',
      interval: 'Default',
    });
  });
});

describe('resolveSharing', () => {
  const ts: GpuConfig = {
    ...base,
    sharing: { strategy: 'TimeSlicing', timeSlicing: { interval: 'Medium' } },
  };
  const sp: GpuConfig = {
    ...base,
    sharing: { strategy: 'SpacePartitioning', spacePartitioning: { partitionCount: 8 } },
  };
  it('returns Exclusive when nothing applies', () => {
    expect(resolveSharing([])).toEqual({ strategy: 'Exclusive' });
  });
  it('lets the last config win as a whole', () => {
    expect(resolveSharing([ts, sp])).toEqual({ strategy: 'SpacePartitioning', partitionCount: 8 });
    expect(resolveSharing([sp, ts])).toEqual({ strategy: 'TimeSlicing', interval: 'Medium' });
    expect(resolveSharing([sp, { ...base }])).toEqual({ strategy: 'Exclusive' });
  });
});
