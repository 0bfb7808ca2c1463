import { describe, expect, it } from 'vitest';
import type { ResourceSlice } from '../../../src/api/resource/v1.ts';
import { droppedFeatures } from '../../../src/driver/publisher.ts';

function slice(spec: Partial<ResourceSlice['spec']>): ResourceSlice {
  return {
    metadata: { name: 's' },
    spec: {
      driver: 'gpu.phalanx.dev',
      pool: { name: 'n', generation: 1, resourceSliceCount: 1 },
      nodeName: 'n',
      ...spec,
    },
  };
}

const consumer = {
  name: 'gpu-0',
  consumesCounters: [{ counterSet: 'gpu-0-counters', counters: { memory: { value: '80Gi' } } }],
};

describe('droppedFeatures', () => {
  it('finds nothing when the server stored what was sent', () => {
    const sent = slice({ devices: [consumer] });
    expect(droppedFeatures(sent, structuredClone(sent))).toEqual([]);
  });

  it('names DRAPartitionableDevices when counter consumption disappeared', () => {
    const sent = slice({ devices: [consumer] });
    const stored = slice({ devices: [{ name: 'gpu-0' }] });
    expect(droppedFeatures(sent, stored).map((d) => d.gate)).toEqual(['DRAPartitionableDevices']);
  });

  it('names DRAPartitionableDevices when a counter-only slice came back empty', () => {
    const sent = slice({
      sharedCounters: [{ name: 'gpu-0-counters', counters: { memory: { value: '80Gi' } } }],
    });
    expect(droppedFeatures(sent, slice({})).map((d) => d.gate)).toEqual([
      'DRAPartitionableDevices',
    ]);
  });

  it('names DRADeviceTaints when taints disappeared', () => {
    const sent = slice({
      devices: [{ name: 'gpu-1', taints: [{ key: 'gpu.phalanx.dev/lost', effect: 'NoExecute' }] }],
    });
    const stored = slice({ devices: [{ name: 'gpu-1' }] });
    expect(droppedFeatures(sent, stored).map((d) => d.gate)).toEqual(['DRADeviceTaints']);
  });
});
