import { describe, expect, it } from 'vitest';
import { ANNOTATION_WAITING_REASON } from '../../../src/api/scheduling/labels.ts';
import type { GangRow } from '../../../src/kubectl/gangs.ts';
import type { PodObject } from '../../../src/scheduling/workload.ts';
import { BIG_REASON, cli, fixtureObjects, fixtureSource, tableRows } from './fixture.ts';

describe('kubectl phalanx gangs', () => {
  it("prints each gang's pods, state, planned domain and waiting reason", async () => {
    const { code, stdout } = await cli(['gangs']);
    expect(code).toBe(0);
    expect(tableRows(stdout)).toEqual([
      [
        'NAME',
        'SOURCE',
        'SIZE',
        'BOUND',
        'GATED',
        'PENDING',
        'QUEUE',
        'STATE',
        'PLANNED',
        'AGE',
        'REASON',
      ],
      ['big', 'labels', '3', '0', '3', '0', 'team-a', 'Waiting', '<none>', '60m', BIG_REASON],
      ['next', 'labels', '1', '0', '0', '1', 'team-a', 'Planned', 'node node-b', '60m', '<none>'],
      ['train', 'labels', '2', '2', '0', '0', 'team-a', 'Running', 'node node-a', '60m', '<none>'],
    ]);
  });

  it('adds the namespace with -A and the plan id with -o wide', async () => {
    const rows = tableRows((await cli(['gangs', '-A', '-o', 'wide'])).stdout);
    expect(rows[0]?.[0]).toBe('NAMESPACE');
    expect(rows[0]?.at(-2)).toBe('PLAN');
    expect(rows[3]?.slice(0, 2)).toEqual(['ml', 'train']);
    expect(rows[3]?.at(-2)).toBe('train-p1');
  });

  it('filters by namespace and says when nothing is there', async () => {
    const { code, stdout, stderr } = await cli(['gangs', '-n', 'other']);
    expect(code).toBe(0);
    expect(stdout).toBe('');
    expect(stderr).toBe('No gangs found in other namespace.\n');
  });

  it('prints rows as JSON', async () => {
    const { stdout } = await cli(['gangs', '-o', 'json']);
    const { gangs } = JSON.parse(stdout) as { gangs: GangRow[] };
    expect(gangs.map((g) => g.name)).toEqual(['big', 'next', 'train']);
    expect(gangs[0]).toMatchObject({
      namespace: 'ml',
      source: 'labels',
      size: 3,
      pods: { present: 3, bound: 0, gated: 3, pending: 0 },
      state: 'Waiting',
      reason: BIG_REASON,
      createdAt: '2025-06-01T11:00:00.000Z',
    });
  });

  it('calls a gang Partial when a member is bound while another has no plan', async () => {
    const objects = fixtureObjects();
    const pods = objects.pods.map(
      (p): PodObject =>
        p.metadata.name === 'train-1'
          ? {
              ...p,
              metadata: { ...p.metadata, annotations: {} },
              spec: { ...p.spec, nodeName: '' },
              status: { phase: 'Pending' },
            }
          : p,
    );
    const { stdout } = await cli(['gangs', '-o', 'json'], fixtureSource({ ...objects, pods }));
    const train = (JSON.parse(stdout) as { gangs: GangRow[] }).gangs.find(
      (g) => g.name === 'train',
    );
    expect(train).toMatchObject({ state: 'Partial', pods: { bound: 1, pending: 1 } });
  });

  it("shows the core's reason when the planner has written none yet", async () => {
    const objects = fixtureObjects();
    const pods = objects.pods.map((p): PodObject => {
      const annotations = { ...p.metadata.annotations };
      delete annotations[ANNOTATION_WAITING_REASON];
      return { ...p, metadata: { ...p.metadata, annotations } };
    });
    const { stdout } = await cli(['gangs', '-o', 'json'], fixtureSource({ ...objects, pods }));
    const big = (JSON.parse(stdout) as { gangs: GangRow[] }).gangs.find((g) => g.name === 'big');
    expect(big?.reason).toMatch(/^queue team-a: gpu.phalanx.dev quota 8, in use 3, gang needs 24/);
  });
});
