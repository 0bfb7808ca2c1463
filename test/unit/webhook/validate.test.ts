import { describe, expect, it } from 'vitest';
import {
  gpuConfigEntries,
  gpuConfigProblems,
  isGpuConfigCarrier,
  isQueueKind,
  validateGpuConfigCarrier,
  validateQueueObject,
} from '../../../src/webhook/validate.ts';

const params = (sharing: unknown) => ({
  apiVersion: 'gpu.phalanx.dev/v1alpha1',
  kind: 'GpuConfig',
  sharing,
});

const claimWith = (config: unknown) => ({ spec: { devices: { config } } });

describe('carrier kinds', () => {
  it('knows the three carriers of resource.k8s.io and the Queue', () => {
    expect(isGpuConfigCarrier('resource.k8s.io', 'ResourceClaim')).toBe(true);
    expect(isGpuConfigCarrier('resource.k8s.io', 'ResourceClaimTemplate')).toBe(true);
    expect(isGpuConfigCarrier('resource.k8s.io', 'DeviceClass')).toBe(true);
    expect(isGpuConfigCarrier('resource.k8s.io', 'ResourceSlice')).toBe(false);
    expect(isGpuConfigCarrier('example.com', 'ResourceClaim')).toBe(false);
    expect(isGpuConfigCarrier('resource.k8s.io', 'toString')).toBe(false);
    expect(isQueueKind('scheduling.phalanx.dev', 'Queue')).toBe(true);
    expect(isQueueKind('kueue.x-k8s.io', 'Queue')).toBe(false);
  });
});

describe('gpuConfigProblems', () => {
  it('checks space partitioning limits through the shared validator', () => {
    const problems = gpuConfigProblems(
      'ResourceClaim',
      claimWith([
        {
          opaque: {
            driver: 'gpu.phalanx.dev',
            parameters: params({
              strategy: 'SpacePartitioning',
              spacePartitioning: { partitionCount: 17 },
            }),
          },
        },
      ]),
    );
    expect(problems).toEqual([
      'spec.devices.config[0].opaque.parameters: GpuConfig: sharing.spacePartitioning.partitionCount must be between 1 and 16, got 17',
    ]);
  });

  it('reports missing parameters and unknown fields', () => {
    const problems = gpuConfigProblems('DeviceClass', {
      spec: {
        config: [
          { opaque: { driver: 'gpu.phalanx.dev' } },
          {
            opaque: {
              driver: 'gpu.phalanx.dev',
              parameters: { ...params({ strategy: 'Exclusive' }), color: 'red' },
            },
          },
        ],
      },
    });
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(
      /^spec\.config\[0\]\.opaque\.parameters: GpuConfig: parameters must be an object/,
    );
    expect(problems[1]).toMatch(
      /^spec\.config\[1\]\.opaque\.parameters: GpuConfig: unknown field color/,
    );
  });

  it('skips entries without opaque config and odd shapes', () => {
    expect(gpuConfigProblems('ResourceClaim', claimWith([{ requests: ['a'] }, 'x', null]))).toEqual(
      [],
    );
    expect(gpuConfigProblems('ResourceClaim', claimWith('not a list'))).toEqual([]);
    expect(gpuConfigProblems('ResourceClaimTemplate', null)).toEqual([]);
    expect(
      gpuConfigEntries('ResourceClaimTemplate', { spec: { spec: { devices: { config: [1] } } } }),
    ).toEqual([1]);
  });
});

describe('validateGpuConfigCarrier', () => {
  const bad = claimWith([
    { opaque: { driver: 'gpu.phalanx.dev', parameters: params({ strategy: 'Sometimes' }) } },
  ]);

  it('denies on CREATE', () => {
    const verdict = validateGpuConfigCarrier('ResourceClaim', bad);
    expect(verdict.deny).toContain(
      'sharing.strategy must be one of Exclusive, TimeSlicing, SpacePartitioning',
    );
    expect(verdict.warnings).toEqual([]);
  });

  it('admits an UPDATE with the same config list, with a warning', () => {
    const verdict = validateGpuConfigCarrier('ResourceClaim', bad, bad);
    expect(verdict.deny).toBeUndefined();
    expect(verdict.warnings).toHaveLength(1);
  });
});

describe('validateQueueObject', () => {
  it('joins every problem with "; "', () => {
    const verdict = validateQueueObject({
      apiVersion: 'scheduling.phalanx.dev/v1alpha1',
      kind: 'Queue',
      metadata: { name: 'Bad_Name' },
      spec: { weight: -1 },
    });
    expect(verdict.deny?.split('; ').map((m) => m.split(':')[0])).toEqual([
      'metadata.name',
      'spec.weight',
    ]);
  });

  it('admits a valid Queue', () => {
    expect(
      validateQueueObject({
        apiVersion: 'scheduling.phalanx.dev/v1alpha1',
        kind: 'Queue',
        metadata: { name: 'team-a' },
      }),
    ).toEqual({ warnings: [] });
  });
});
