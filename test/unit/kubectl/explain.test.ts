import { describe, expect, it } from 'vitest';
import type { ExplainReport } from '../../../src/kubectl/explain.ts';
import { BIG_REASON, cli, NEXT_EVENT } from './fixture.ts';

async function report(pod: string): Promise<ExplainReport> {
  const { code, stdout } = await cli(['explain', pod, '-o', 'json']);
  expect(code).toBe(0);
  return JSON.parse(stdout) as ExplainReport;
}

describe('kubectl phalanx explain', () => {
  it('explains a placed pod: node, decoded plan, devices and the rest of its gang', async () => {
    const { stdout } = await cli(['explain', 'train-0']);
    expect(stdout).toContain(
      'Why:     pod ml/train-0 is bound to node-a, where gang ml/train planned it (plan train-p1, node node-a)',
    );
    expect(stdout).toContain(
      'Plan:\n  Gang:     ml/train\n  Plan:     train-p1\n  Node:     node-a\n  Domain:   node node-a\n',
    );
    expect(stdout).toContain('Claims:\n  gpu (train-0-gpu): allocated\n    gpu: node-a/gpu-0\n');
    expect(stdout).toContain('  Members:\n    train-0  node-a\n    train-1  node-a\n');
    const r = await report('train-0');
    expect(r).toMatchObject({
      situation: 'Bound',
      node: 'node-a',
      plan: { level: 'node', domain: 'node-a' },
    });
    expect(r.core.filter).toBeUndefined();
  });

  it("explains a waiting gang pod: the planner's reason, gates, queue and the extender's verdict now", async () => {
    const { stdout } = await cli(['explain', 'big-1', '-n', 'ml']);
    expect(stdout).toContain(
      `Why:             pod ml/big-1 waits behind gate phalanx.dev/gang-planner: ${BIG_REASON}\n`,
    );
    expect(stdout).toContain(`Waiting reason:  ${BIG_REASON}\n`);
    expect(stdout).toContain('Gates:           phalanx.dev/gang-planner\n');
    expect(stdout).toContain('Queue: team-a (2 gangs admitted, 1 pending)\n');
    expect(stdout).toContain('  Extender filter passes: no node\n');
    expect(stdout).toMatch(
      /other nodes: phalanx: pod of gang ml\/big has no plan; it must be admitted by the planner/,
    );
    const r = await report('big-1');
    expect(r.situation).toBe('Gated');
    expect(r.gang).toMatchObject({ key: 'ml/big', state: 'Waiting', pods: { gated: 3 } });
    expect(r.core.phase).toBe('Waiting');
    expect(r.core.reason).toMatch(/^queue team-a: /);
  });

  it("explains a planned, unbound pod with kube-scheduler's FailedScheduling message", async () => {
    const r = await report('next-0');
    expect(r.situation).toBe('Planned');
    expect(r.summary).toBe(
      `pod ml/next-0 is planned on node-b (gang ml/next, node node-b); kube-scheduler says: ${NEXT_EVENT.message}`,
    );
    expect(r.events).toEqual([
      {
        type: 'Warning',
        reason: 'FailedScheduling',
        message: NEXT_EVENT.message,
        count: 2,
        last: '2025-06-01T11:59:00Z',
      },
    ]);
    expect(r.core.filter).toEqual({
      feasible: ['node-b'],
      failed: {},
      others: 'phalanx: gang ml/next planned this pod on node-b',
    });
  });

  it('explains a pod outside gangs and queues', async () => {
    const r = await report('tiny');
    expect(r.summary).toMatch(/^pod ml\/tiny is bound to node-b; no Phalanx plan placed it/);
    expect(r.gang).toBeUndefined();
    expect(r.queue).toBeUndefined();
    expect(r.claims).toEqual([
      {
        name: 'gpu',
        claim: 'tiny-gpu',
        allocated: true,
        devices: [{ request: 'gpu', pool: 'node-b', device: 'gpu-7-1g-10gb-0' }],
      },
    ]);
  });

  it('says which pod is missing', async () => {
    expect(await cli(['explain', 'x', '-n', 'ml'])).toEqual({
      code: 1,
      stdout: '',
      stderr: 'error: pod ml/x not found\n',
    });
    expect((await cli(['explain', 'train-0', '-n', 'default'])).stderr).toBe(
      'error: pod default/train-0 not found\n',
    );
  });
});
