import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { claimRefOf } from '../../../bench/lib/claim-names.ts';
import { PHASE, type PluginRig, startPluginRig } from '../../../bench/lib/plugin-rig.ts';
import { uidOf } from '../../helpers/claims.ts';

describe('plugin rig', () => {
  let root: string;
  let rig: PluginRig | undefined;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'bench-rig-'));
  });
  afterEach(async () => {
    await rig?.close();
    rig = undefined;
    rmSync(root, { recursive: true, force: true });
  });

  it('prepares and unprepares a claim over the real socket, timing every durable step', async () => {
    rig = await startPluginRig({ root, nodeName: 'node-x', profile: 'sxm8-80g' });
    const devices = ['gpu-0', 'gpu-7'];
    const ref = claimRefOf('bench', { n: 1, request: 'gpus', devices });

    const prepared = await rig.client.prepare([ref]);
    expect(prepared.claims[uidOf(1)]?.devices?.map((d) => d.device_name)).toEqual(devices);
    expect(existsSync(rig.cdi.specPath(uidOf(1)))).toBe(true);
    expect(rig.checkpoint.get(uidOf(1))?.state).toBe('PrepareCompleted');

    const unprepared = await rig.client.unprepare([ref]);
    expect(unprepared.claims[uidOf(1)]?.error ?? '').toBe('');
    expect(Object.keys(unprepared.claims)).toEqual([uidOf(1)]);
    expect(readdirSync(rig.cdiDir)).toEqual([]);
    expect(rig.checkpoint.get(uidOf(1))).toBeUndefined();

    const counts = Object.fromEntries(rig.phases.summaries().map((p) => [p.phase, p.summary.n]));
    expect(counts).toEqual({
      [PHASE.prepareHandler]: 1,
      [PHASE.claimGet]: 1,
      [PHASE.checkpointStarted]: 1,
      [PHASE.cdiWrite]: 1,
      [PHASE.checkpointCompleted]: 1,
      [PHASE.unprepareHandler]: 1,
      [PHASE.cdiRemove]: 1,
      [PHASE.checkpointRemove]: 1,
    });
  });

  it('counts phases and checkpoint writes from the last reset, and sizes a prepared claim', async () => {
    rig = await startPluginRig({ root, nodeName: 'node-x', profile: 'sxm8-80g' });
    const warm = claimRefOf('bench', { n: 1, request: 'gpu', devices: ['gpu-0'] });
    await rig.client.prepare([warm]);
    await rig.client.unprepare([warm]);
    rig.resetStats();
    expect(rig.stats()).toEqual({ phases: {}, checkpointWrites: 0 });

    const ref = claimRefOf('bench', { n: 2, request: 'gpu', devices: ['gpu-1'] });
    await rig.client.prepare([ref]);
    const sizes = await rig.fileSizes(ref.uid);
    expect(sizes.cdiSpec).toBeGreaterThan(0);
    expect(sizes.checkpoint).toBeGreaterThan(0);
    await rig.client.unprepare([ref]);
    const stats = rig.stats();
    expect(stats.checkpointWrites).toBe(3); // PrepareStarted, PrepareCompleted, removal
    expect(stats.phases[PHASE.prepareHandler]).toHaveLength(1);
    expect(stats.phases[PHASE.claimGet]).toHaveLength(1);
  });

  it('answers a claim whose name carries no allocation with a per-claim error', async () => {
    rig = await startPluginRig({ root, nodeName: 'node-x', profile: 'sxm8-80g' });
    const answer = await rig.client.prepare([{ namespace: 'bench', name: 'gone', uid: uidOf(2) }]);
    expect(answer.claims[uidOf(2)]?.error).toBe(
      'claim bench/gone not found; it may have been deleted',
    );
  });
});
