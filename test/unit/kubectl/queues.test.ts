import { describe, expect, it } from 'vitest';
import type { QueueRow } from '../../../src/kubectl/queues.ts';
import { cli, fixtureObjects, fixtureSource, tableRows } from './fixture.ts';

describe('kubectl phalanx queues', () => {
  it("prints each queue's spec with the core's usage, fair share, gangs and conditions", async () => {
    const { code, stdout } = await cli(['queues']);
    expect(code).toBe(0);
    expect(tableRows(stdout)).toEqual([
      [
        'NAME',
        'COHORT',
        'PRIORITY',
        'WEIGHT',
        'QUOTA (USED/NOMINAL)',
        'BORROWED',
        'FAIR SHARE',
        'ADMITTED',
        'PENDING',
        'CONDITIONS',
      ],
      [
        'broken',
        '<none>',
        '<none>',
        '<none>',
        '<none>',
        '<none>',
        '<none>',
        '<none>',
        '<none>',
        'Invalid',
      ],
      // train (2 GPUs) and next (1) are admitted; 3 of 8 at weight 2.
      [
        'team-a',
        '<none>',
        '0',
        '2',
        'gpu.phalanx.dev 3/8',
        '0',
        '0.1875',
        '2',
        '1',
        'Active=True,QuotaExhausted=False,Borrowing=False',
      ],
    ]);
  });

  it('says why an invalid queue is unusable with -o wide', async () => {
    const rows = tableRows((await cli(['queues', '-o', 'wide'])).stdout);
    expect(rows[1]?.at(-1)).toBe(
      'Queue broken is invalid: spec.weight: must be a number greater than 0, got 0',
    );
  });

  it('shows borrowing in a cohort', async () => {
    const objects = fixtureObjects();
    const queue = (name: string, nominal: number) => ({
      apiVersion: 'scheduling.phalanx.dev/v1alpha1',
      kind: 'Queue',
      metadata: { name },
      spec: { cohort: 'lab', quotas: [{ resource: 'gpu.phalanx.dev', nominal }] },
    });
    const queues = [queue('team-a', 1), queue('team-b', 8)];
    const { stdout } = await cli(['queues', '-o', 'wide'], fixtureSource({ ...objects, queues }));
    const rows = tableRows(stdout);
    expect(rows[1]?.slice(0, 6)).toEqual([
      'team-a',
      'lab',
      '0',
      '1',
      'gpu.phalanx.dev 3/1',
      'gpu.phalanx.dev 2',
    ]);
    expect(rows[1]?.at(-1)).toBe('Borrowing: queue borrows 2 gpu.phalanx.dev from cohort lab');
  });

  it('prints spec, status now and the written status as JSON', async () => {
    const { stdout } = await cli(['queues', '-o', 'json']);
    const { queues } = JSON.parse(stdout) as { queues: QueueRow[] };
    const a = queues.find((q) => q.name === 'team-a');
    expect(a).toMatchObject({
      weight: 2,
      priority: 0,
      quotas: [{ resource: 'gpu.phalanx.dev', nominal: 8 }],
      status: {
        usage: [{ resource: 'gpu.phalanx.dev', admitted: 3, borrowed: 0 }],
        admittedGangs: 2,
        pendingGangs: 1,
      },
    });
    expect(a?.status?.conditions?.map((c) => c.type)).toEqual([
      'Active',
      'QuotaExhausted',
      'Borrowing',
    ]);
    expect(queues.find((q) => q.name === 'broken')?.error).toMatch(/spec.weight/);
  });

  it('says when there are no queues', async () => {
    const { code, stdout, stderr } = await cli(
      ['queues'],
      fixtureSource({ ...fixtureObjects(), queues: [] }),
    );
    expect([code, stdout, stderr]).toEqual([0, '', 'No queues found.\n']);
  });
});
