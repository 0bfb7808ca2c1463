import { describe, expect, it } from 'vitest';
import type { CounterSet, Device, ResourceSlice } from '../../../src/api/resource/v1.ts';
import {
  formatBytes,
  parseQuantity,
  qualifiedNameProblem,
  validateSlices,
} from '../../../src/driver/slice-validation.ts';

const SET: CounterSet = { name: 'gpu-0-counters', counters: { memory: { value: '80Gi' } } };

function device(name: string, extra: Partial<Device> = {}): Device {
  return { name, attributes: { type: { string: 'gpu' } }, ...extra };
}

function consumer(name: string, set = 'gpu-0-counters', counter = 'memory'): Device {
  return device(name, {
    consumesCounters: [{ counterSet: set, counters: { [counter]: { value: '10Gi' } } }],
  });
}

function slice(name: string, spec: Partial<ResourceSlice['spec']> = {}, count = 1): ResourceSlice {
  return {
    metadata: { name },
    spec: {
      driver: 'gpu.phalanx.dev',
      pool: { name: 'node-a', generation: 1, resourceSliceCount: count },
      nodeName: 'node-a',
      ...spec,
    },
  };
}

function many(n: number, make: (i: number) => Device): Device[] {
  return Array.from({ length: n }, (_, i) => make(i));
}

describe('validateSlices', () => {
  it('accepts a minimal valid pool on every version', () => {
    for (const minor of [34, 35, 36, 37]) {
      expect(validateSlices([slice('s0', { devices: [device('gpu-0')] })], minor)).toEqual([]);
    }
  });

  it('catches a 65-device slice with counters on 1.35+, but not on 1.34', () => {
    const devices = many(65, (i) => consumer(`gpu-${i}`));
    const pool = [
      slice(
        's0',
        { sharedCounters: [{ name: 'gpu-0-counters', counters: { memory: { value: '1Ti' } } }] },
        2,
      ),
      slice('s1', { devices }, 2),
    ];
    expect(validateSlices(pool, 35)).toContain(
      'slice s1: has 65 devices; at most 64 per slice when devices use taints or counters',
    );
    const plain = [slice('s0', { devices: many(65, (i) => device(`gpu-${i}`)) })];
    expect(validateSlices(plain, 35)).toEqual([]);
    expect(
      validateSlices([slice('s0', { devices: many(129, (i) => device(`gpu-${i}`)) })], 34),
    ).toContain('slice s0: has 129 devices; at most 128 per slice');
  });

  it('catches a 33-character attribute name and other name formats', () => {
    const long = 'a'.repeat(33);
    const v = validateSlices(
      [
        slice('s0', {
          devices: [device('gpu-0', { attributes: { [long]: { int: 1 } } }), device('GPU_1')],
        }),
      ],
      35,
    );
    expect(v).toContain(
      `slice s0: device "gpu-0": attribute name "${long}" is longer than 32 characters`,
    );
    expect(v).toContain('slice s0: device name "GPU_1" is not a DNS label');
    expect(qualifiedNameProblem('resource.kubernetes.io/pcieRoot')).toBeUndefined();
    expect(qualifiedNameProblem('Bad_Domain/x')).toMatch(/not a DNS subdomain/);
    expect(qualifiedNameProblem('1abc')).toMatch(/not a C identifier/);
  });

  it('catches a 1.35 slice with both devices and counters (allowed on 1.34)', () => {
    const both = [slice('s0', { devices: [consumer('gpu-0')], sharedCounters: [SET] })];
    expect(validateSlices(both, 35)).toContain(
      'slice s0: has both devices and sharedCounters; since 1.35 a slice holds only one of them',
    );
    expect(validateSlices(both, 34)).toEqual([]);
  });

  it('catches consumption of an unknown counter set or counter', () => {
    const pool = [
      slice('s0', { sharedCounters: [SET] }, 2),
      slice(
        's1',
        {
          devices: [
            consumer('gpu-0', 'gpu-9-counters'),
            consumer('gpu-1', 'gpu-0-counters', 'cores'),
          ],
        },
        2,
      ),
    ];
    const v = validateSlices(pool, 36);
    expect(v).toContain(
      'pool gpu.phalanx.dev/node-a: slice s1: device "gpu-0" consumes unknown counter set "gpu-9-counters" (not in the pool)',
    );
    expect(v).toContain(
      'pool gpu.phalanx.dev/node-a: slice s1: device "gpu-1" consumes counter "cores" that set "gpu-0-counters" lacks',
    );
  });

  it('on 1.34 requires the consumed counter set in the same slice', () => {
    const pool = [
      slice('s0', { sharedCounters: [SET] }, 2),
      slice('s1', { devices: [consumer('gpu-0')] }, 2),
    ];
    expect(validateSlices(pool, 34)).toEqual([
      'pool gpu.phalanx.dev/node-a: slice s1: device "gpu-0" consumes unknown counter set "gpu-0-counters" (not in the same slice, as 1.34 requires)',
    ]);
  });

  it('catches consumptions larger than the counter', () => {
    const big = device('gpu-0', {
      consumesCounters: [{ counterSet: 'gpu-0-counters', counters: { memory: { value: '81Gi' } } }],
    });
    expect(validateSlices([slice('s0', { devices: [big], sharedCounters: [SET] })], 34)[0]).toMatch(
      /consumes 81Gi of "gpu-0-counters\/memory", more than its 80Gi/,
    );
  });

  it('enforces counter-set limits by version', () => {
    const sets = Array.from({ length: 9 }, (_, i) => ({
      name: `set-${i}`,
      counters: { a: { value: '1' } },
    }));
    expect(validateSlices([slice('s0', { sharedCounters: sets })], 35)).toContain(
      'slice s0: has 9 counter sets; at most 8 per slice',
    );
    const wide: CounterSet = {
      name: 'wide',
      counters: Object.fromEntries(
        Array.from({ length: 33 }, (_, i) => [`c-${i}`, { value: '1' }]),
      ),
    };
    expect(validateSlices([slice('s0', { sharedCounters: [wide] })], 36)).toContain(
      'slice s0: counter set "wide" has 33 counters; at most 32',
    );
    expect(validateSlices([slice('s0', { sharedCounters: [wide] })], 34)).toContain(
      'slice s0: has 33 shared counters; 1.34 allows at most 32 per slice',
    );
  });

  it('enforces consumption limits by version', () => {
    const three = device('gpu-0', {
      consumesCounters: ['a', 'b', 'c'].map((n) => ({
        counterSet: n,
        counters: { x: { value: '1' } },
      })),
    });
    const sets = ['a', 'b', 'c'].map((n) => ({ name: n, counters: { x: { value: '1' } } }));
    const pool = [slice('s0', { sharedCounters: sets }, 2), slice('s1', { devices: [three] }, 2)];
    expect(validateSlices(pool, 35)).toContain(
      'slice s1: device "gpu-0" has 3 consumesCounters entries; at most 2',
    );
    // 1.34: 1024 counters consumed per slice.
    const set: CounterSet = {
      name: 's',
      counters: Object.fromEntries(
        Array.from({ length: 16 }, (_, i) => [`c-${i}`, { value: '100' }]),
      ),
    };
    const hungry = many(65, (i) =>
      device(`d-${i}`, { consumesCounters: [{ counterSet: 's', counters: set.counters }] }),
    );
    expect(validateSlices([slice('s0', { devices: hungry, sharedCounters: [set] })], 34)).toContain(
      'slice s0: devices consume 1040 counters in total; 1.34 allows 1024 per slice',
    );
  });

  it('enforces taint count and effects by version', () => {
    const taints = Array.from({ length: 5 }, (_, i) => ({
      key: `gpu.phalanx.dev/t${i}`,
      effect: 'NoSchedule' as const,
    }));
    const d = device('gpu-0', { taints });
    expect(validateSlices([slice('s0', { devices: [d] })], 34)).toContain(
      'slice s0: device "gpu-0" has 5 taints; at most 4',
    );
    expect(validateSlices([slice('s0', { devices: [d] })], 35)).toEqual([]);
    const none = device('gpu-0', { taints: [{ key: 'k', effect: 'None', value: 'bad value' }] });
    const v34 = validateSlices([slice('s0', { devices: [none] })], 34);
    expect(v34).toContain(
      'slice s0: device "gpu-0": taint "k" effect "None" must be one of NoSchedule, NoExecute',
    );
    expect(v34).toContain(
      'slice s0: device "gpu-0": taint "k" value "bad value" is not a label value',
    );
  });

  it('checks attribute values: one member, length, semver', () => {
    const d = device('gpu-0', {
      attributes: {
        long: { string: 'x'.repeat(65) },
        v: { version: '570.124.06' },
        two: { int: 1, bool: true },
      },
    });
    const v = validateSlices([slice('s0', { devices: [d] })], 35);
    expect(v).toContain(
      'slice s0: device "gpu-0": attribute "long" is 65 characters long; at most 64',
    );
    expect(v).toContain(
      'slice s0: device "gpu-0": attribute "v" version "570.124.06" is not semantic version 2.0',
    );
    expect(v).toContain(
      'slice s0: device "gpu-0": attribute "two" must set exactly one value, has 2',
    );
  });

  it('counts attributes and capacities together', () => {
    const attributes = Object.fromEntries(
      Array.from({ length: 30 }, (_, i) => [`a${i}`, { int: i }]),
    );
    const d = device('gpu-0', {
      attributes,
      capacity: { m: { value: '1Gi' }, n: { value: '1' }, o: { value: 'x' } },
    });
    const v = validateSlices([slice('s0', { devices: [d] })], 35);
    expect(v).toContain('slice s0: device "gpu-0" has 33 attributes and capacities; at most 32');
    expect(v).toContain('slice s0: device "gpu-0": capacity "o" value "x" is not a quantity');
  });

  it('checks pool-wide uniqueness and generations', () => {
    const pool = [
      slice('s0', { devices: [device('gpu-0')], sharedCounters: [SET] }, 2),
      slice('s1', { devices: [device('gpu-0')], sharedCounters: [SET] }, 2),
    ];
    const v35 = validateSlices(pool, 34);
    expect(v35).toContain('pool gpu.phalanx.dev/node-a: device "gpu-0" appears in s0 and s1');
    expect(v35.some((x) => x.includes('counter set "gpu-0-counters" is defined in'))).toBe(false);
    const split = [
      slice('s0', { sharedCounters: [SET] }, 2),
      slice('s1', { sharedCounters: [SET] }, 2),
    ];
    expect(validateSlices(split, 35)).toContain(
      'pool gpu.phalanx.dev/node-a: counter set "gpu-0-counters" is defined in s0 and s1',
    );
    const gens = [
      slice('s0', {}, 2),
      {
        ...slice('s1', {}, 2),
        spec: {
          ...slice('s1', {}, 2).spec,
          pool: { name: 'node-a', generation: 2, resourceSliceCount: 2 },
        },
      },
    ];
    expect(validateSlices(gens, 35)).toContain(
      'pool gpu.phalanx.dev/node-a: slices carry different generations 1, 2',
    );
    expect(validateSlices([slice('s0', {}, 3)], 35)).toContain(
      'pool gpu.phalanx.dev/node-a: resourceSliceCount is 3 but the pool has 1 slices',
    );
  });

  it('checks driver, pool, node selection and object name formats', () => {
    const bad: ResourceSlice = {
      metadata: { name: 'Bad_Name' },
      spec: {
        driver: 'GPU.example',
        pool: { name: 'a//b', generation: -1, resourceSliceCount: 0 },
        nodeName: 'node-a',
        allNodes: true,
      },
    };
    const v = validateSlices([bad], 35);
    expect(v).toContain(
      'slice Bad_Name: name "Bad_Name" is not a DNS subdomain of at most 253 characters',
    );
    expect(v).toContain(
      'slice Bad_Name: driver "GPU.example" is not a lower-case DNS subdomain of at most 63 characters',
    );
    expect(v).toContain(
      'slice Bad_Name: pool name "a//b" must be DNS subdomains joined by "/", at most 253 characters',
    );
    expect(v).toContain('slice Bad_Name: pool generation -1 must be a non-negative integer');
    expect(v).toContain('slice Bad_Name: pool resourceSliceCount 0 must be at least 1');
    expect(v).toContain('slice Bad_Name: sets both nodeName and allNodes; set exactly one');
  });
});

describe('quantities', () => {
  it('parses Kubernetes quantity forms', () => {
    expect(parseQuantity('80Gi')).toBe(80 * 1024 ** 3);
    expect(parseQuantity('1k')).toBe(1000);
    expect(parseQuantity('1E')).toBe(1e18);
    expect(parseQuantity('1e3')).toBe(1000);
    expect(parseQuantity('500m')).toBe(0.5);
    expect(parseQuantity('7')).toBe(7);
    expect(parseQuantity('1.5Gi')).toBe(1.5 * 1024 ** 3);
    for (const bad of ['', 'Gi', '1 Gi', '1gi', '1e', 'x'])
      expect(parseQuantity(bad)).toBeUndefined();
  });

  it('formats bytes in canonical binary form', () => {
    expect(formatBytes(80 * 1024 ** 3)).toBe('80Gi');
    expect(formatBytes((186 * 1024 ** 3) / 8)).toBe('23808Mi');
    expect(formatBytes(1024 ** 4)).toBe('1Ti');
    expect(formatBytes(1000)).toBe('1000');
    expect(formatBytes(0)).toBe('0');
    expect(() => formatBytes(-1)).toThrow(RangeError);
  });
});
