import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PHASE, type PluginRig, startPluginRig } from '../../../bench/lib/plugin-rig.ts';
import { makeClaim, refOf, uidOf } from '../../helpers/claims.ts';

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
    const claim = makeClaim({
      name: 'c',
      uid: uidOf(1),
      namespace: 'bench',
      pool: 'node-x',
      results: devices.map((device) => ({ request: 'gpus', device })),
    });
    rig.claims.put(claim);
    const ref = refOf(claim);

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

  it('answers a claim the getter does not hold with a per-claim error', async () => {
    rig = await startPluginRig({ root, nodeName: 'node-x', profile: 'sxm8-80g' });
    const answer = await rig.client.prepare([{ namespace: 'bench', name: 'gone', uid: uidOf(2) }]);
    expect(answer.claims[uidOf(2)]?.error).toBe(
      'claim bench/gone not found; it may have been deleted',
    );
    expect(rig.claims.size).toBe(0);
  });
});
