import { describe, expect, it } from 'vitest';
import type { NodesReport } from '../../../src/kubectl/nodes.ts';
import { cli, fixtureObjects, fixtureSource, tableRows } from './fixture.ts';

describe('kubectl phalanx nodes', () => {
  it('prints nodes in topology order with GPU, partition, reservation and queue columns', async () => {
    const { code, stdout, stderr } = await cli(['nodes']);
    expect(code).toBe(0);
    expect(stderr).toBe('');
    expect(tableRows(stdout)).toEqual([
      [
        'ZONE',
        'BLOCK',
        'RACK',
        'NVLINK',
        'NODE',
        'GPUS',
        'FREE',
        'ALLOCATED',
        'PARTITIONS',
        'USED',
        'RESERVED',
        'QUEUES',
      ],
      [
        'zone-1',
        '(unlabelled)',
        'r1',
        'node-a',
        'node-a',
        '8',
        '6',
        '2',
        '0/144',
        '2',
        '0',
        'team-a',
      ],
      // One GPU reserved for ml/next, one 1g.10gb partition (1/8 of a GPU's memory) allocated.
      [
        'zone-1',
        '(unlabelled)',
        'r1',
        'node-b',
        'node-b',
        '8',
        '6',
        '0',
        '1/144',
        '1.13',
        '1',
        'team-a',
      ],
      [
        'zone-2',
        '(unlabelled)',
        '(unlabelled)',
        'node-c',
        'node-c',
        '4',
        '4',
        '0',
        '0/0',
        '0',
        '0',
        '<none>',
      ],
    ]);
  });

  it('adds model, CPU, memory and the gangs holding reservations with -o wide', async () => {
    const rows = tableRows((await cli(['nodes', '-o', 'wide'])).stdout);
    expect(rows[0]?.slice(-4)).toEqual(['MODEL', 'CPU FREE', 'MEMORY FREE', 'RESERVED FOR']);
    expect(rows[2]?.slice(-4)).toEqual([
      'Phalanx Fake H100 SXM 80GB',
      '62/64',
      '510Gi/512Gi',
      'ml/next',
    ]);
  });

  it('prints the report as JSON with per-GPU use', async () => {
    const { code, stdout } = await cli(['nodes', '-o', 'json']);
    expect(code).toBe(0);
    const report = JSON.parse(stdout) as NodesReport;
    expect(report.levels).toEqual(['zone', 'block', 'rack', 'nvlink']);
    const b = report.nodes.find((n) => n.name === 'node-b');
    expect(b).toMatchObject({
      topology: { zone: 'zone-1', rack: 'r1' },
      gpus: 8,
      gpusReserved: 1,
      reservedFor: ['ml/next'],
      partitions: { allocated: 1, total: 144 },
    });
    // gpu-0 is the reservation's GPU (whole), gpu-7 holds the partition (10 of 80 GiB).
    expect(b?.gpuDetail.map((g) => g.usedMilli)).toEqual([1000, 0, 0, 0, 0, 0, 0, 125]);
  });

  it('warns on stderr about what the core could not read', async () => {
    const objects = fixtureObjects();
    const slices = objects.slices.slice(1);
    const { code, stderr } = await cli(['nodes'], fixtureSource({ ...objects, slices }));
    expect(code).toBe(0);
    expect(stderr).toMatch(
      /^warning: pool node-a: \d+ of \d+ slices present; its GPUs are not planned until it is complete\n/,
    );
  });
});
