import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { claimRefOf } from '../../../bench/lib/claim-names.ts';
import { PHASE } from '../../../bench/lib/plugin-rig.ts';
import {
  DEFAULT_TOPOLOGY,
  type PluginUnderTest,
  startPluginUnderTest,
  TOPOLOGIES,
  takeTopologyFlag,
} from '../../../bench/lib/plugin-topology.ts';
import { uidOf } from '../../helpers/claims.ts';

const run = promisify(execFile);
const SCRIPT = join(import.meta.dirname, '..', '..', '..', 'bench', 'plugin-prepare.ts');

/** True while a process with this id exists. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('takeTopologyFlag', () => {
  it('defaults to the separate plugin process and passes other flags through', () => {
    expect(DEFAULT_TOPOLOGY).toBe('process');
    expect(takeTopologyFlag(['--iterations', '5', '--no-record'])).toEqual({
      topology: 'process',
      rest: ['--iterations', '5', '--no-record'],
    });
  });

  it('reads both forms, the last one winning', () => {
    expect(takeTopologyFlag(['--topology', 'inline', '--warmup', '0'])).toEqual({
      topology: 'inline',
      rest: ['--warmup', '0'],
    });
    expect(takeTopologyFlag(['--topology=inline', '--topology=process']).topology).toBe('process');
  });

  it('refuses unknown and missing values, naming the accepted ones', () => {
    expect(() => takeTopologyFlag(['--topology', 'thread'])).toThrow(
      '--topology "thread" is not known; use process or inline',
    );
    expect(() => takeTopologyFlag(['--topology'])).toThrow(
      '--topology needs a value: process or inline',
    );
    expect(() => takeTopologyFlag(['--topology', '--no-record'])).toThrow(
      '--topology needs a value: process or inline',
    );
  });
});

describe.each(TOPOLOGIES)('plugin under test, topology %s', (topology) => {
  let root: string;
  let plugin: PluginUnderTest | undefined;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'bench-topology-'));
  });
  afterEach(async () => {
    await plugin?.close();
    plugin = undefined;
    rmSync(root, { recursive: true, force: true });
  });

  it('prepares claims through the kubelet client and reports phases and writes at boundaries', async () => {
    plugin = await startPluginUnderTest({
      topology,
      root,
      nodeName: 'node-x',
      profile: 'sxm8-80g',
      execArgv: [],
    });
    expect(plugin.topology).toBe(topology);
    if (topology === 'process') expect(plugin.pluginPid).not.toBe(process.pid);
    else expect(plugin.pluginPid).toBe(process.pid);

    const warm = claimRefOf('bench', { n: 1, request: 'gpu', devices: ['gpu-0'] });
    await plugin.client.prepare([warm]);
    await plugin.client.unprepare([warm]);
    await plugin.resetStats();

    const devices = ['gpu-0', 'gpu-1', 'gpu-2'];
    for (let n = 2; n <= 4; n++) {
      const ref = claimRefOf('bench', { n, request: 'gpus', devices });
      const answer = await plugin.client.prepare([ref]);
      expect(answer.claims[uidOf(n)]?.devices?.map((d) => d.device_name)).toEqual(devices);
      if (n === 4) {
        const sizes = await plugin.fileSizes(ref.uid);
        expect(sizes.cdiSpec).toBeGreaterThan(1000);
        expect(sizes.checkpoint).toBeGreaterThan(0);
      }
      await plugin.client.unprepare([ref]);
    }
    const stats = await plugin.collectStats();
    expect(stats.checkpointWrites).toBe(9);
    expect(stats.phases[PHASE.prepareHandler]).toHaveLength(3);
    expect(stats.phases[PHASE.unprepareHandler]).toHaveLength(3);
    for (const { start, end } of stats.phases[PHASE.cdiWrite] ?? [])
      expect(end).toBeGreaterThanOrEqual(start);
  });

  it('closes: the sockets go away and a plugin process exits', async () => {
    plugin = await startPluginUnderTest({
      topology,
      root,
      nodeName: 'node-x',
      profile: 'sxm8-80g',
      execArgv: [],
    });
    const { pluginPid } = plugin;
    await plugin.close();
    plugin = undefined;
    if (topology === 'process') expect(alive(pluginPid)).toBe(false);
    expect(
      readdirSync(join(root, 'kubelet'), { recursive: true }).filter((f) =>
        String(f).endsWith('.sock'),
      ),
    ).toEqual([]);
  });
});

describe('npm run bench:plugin, end to end', () => {
  let out: string;
  beforeEach(() => {
    out = mkdtempSync(join(tmpdir(), 'bench-e2e-'));
  });
  afterEach(() => {
    rmSync(out, { recursive: true, force: true });
  });

  it('runs every scenario against a plugin process and records the topology', async () => {
    const { stdout } = await run(process.execPath, [
      SCRIPT,
      '--iterations',
      '6',
      '--warmup',
      '2',
      '--concurrency',
      '3',
      '--out',
      out,
    ]);
    expect(stdout).toMatch(/^Topology process \(plugin process \d+\): /m);
    expect(stdout).toMatch(/^p99 8-device: [\d.]+ ms \(target < 5 ms\): (met|missed)$/m);
    const files = readdirSync(out).filter((f) => f.endsWith('.json'));
    expect(files).toHaveLength(1);
    const result = JSON.parse(readFileSync(join(out, files[0] ?? ''), 'utf8')) as {
      topology: { mode: string };
      input: { parameters: { topology: string }; sha256: string };
      scenarios: { id: string; prepare: { n: number }; checkpointWritesPerCycle: number }[];
      baselines: { grpcNoClaims: { n: number } };
    };
    expect(result.topology.mode).toBe('process');
    expect(result.input.parameters.topology).toBe('process');
    expect(result.scenarios.map((s) => [s.id, s.prepare.n])).toEqual([
      ['seq-1', 6],
      ['seq-8', 6],
      ['conc', 6],
    ]);
    expect(result.scenarios[0]?.checkpointWritesPerCycle).toBe(3);
    expect(result.baselines.grpcNoClaims.n).toBe(6);
    expect(readFileSync(join(out, 'README.md'), 'utf8')).toContain('| topology process: prepare');
  });
});
