/**
 * `phalanx simulate` as a person runs it, on small synthetic trace files.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const CLI = join(import.meta.dirname, '..', '..', '..', 'src', 'cmd', 'phalanx.ts');
const dir = mkdtempSync(join(tmpdir(), 'phalanx-simulate-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const nodes = join(dir, 'nodes.csv');
const pods = join(dir, 'pods.csv');
writeFileSync(
  nodes,
  'sn,cpu_milli,memory_mib,gpu,model\nn0,32000,131072,2,T4\nn1,32000,131072,4,T4\n',
);
writeFileSync(
  pods,
  [
    'name,cpu_milli,memory_mib,num_gpu,gpu_milli',
    'p0,4000,8192,1,500',
    'p1,4000,8192,2,1000',
    'p2,2000,4096,0,0',
    'p3,4000,8192,1,250',
    '',
  ].join('\n'),
);

function run(args: string[], env: Record<string, string> = {}) {
  const result = spawnSync(process.execPath, [CLI, 'simulate', ...args], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', HOME: tmpdir(), ...env },
    timeout: 20_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('phalanx simulate', () => {
  it('replays a trace and prints the summary table', () => {
    const out = join(dir, 'out');
    const { status, stdout, stderr } = run(
      ['--nodes', nodes, '--pods', pods, '--policy', 'best-fit', '--seed', '7', '--out', out],
      { PHALANX_SIMULATE_TUNE_RATIO: '1.3' },
    );
    expect(stderr).toContain('simulate best-fit: ');
    expect(status).toBe(0);
    const lines = stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^policy\s+seed\s+ratio/);
    expect(lines[2]).toMatch(/^best-fit\s+7\s+1\.3\s/);
    expect(existsSync(join(out, 'best-fit-seed7-ratio1.3.csv'))).toBe(true);
    expect(existsSync(join(out, 'best-fit-seed7-ratio1.3.json'))).toBe(true);
  });

  it.each([
    [
      ['--nodes', 'x.csv'],
      2,
      'a trace needs both --nodes <node list csv> and --pods <pod list csv>',
    ],
    [
      ['--workload', 'w.yaml', '--nodes', 'x.csv', '--pods', 'y.csv'],
      2,
      'pass either --workload or --nodes and --pods',
    ],
    [
      ['--scheduler', 'slurm'],
      2,
      '--scheduler: "slurm" is not allowed; use one or more of phalanx, fifo-first-fit',
    ],
    [['--workload', join(dir, 'none.yaml')], 1, 'cannot read the file (ENOENT); check the path'],
    [['--nodes', 'x.csv', '--pods', 'y.csv', '--policy', 'magic'], 2, 'use one of random'],
    [
      ['--nodes', 'x.csv', '--pods', 'y.csv', '--seed', '1.5'],
      2,
      '--seed: expected a whole number',
    ],
    [['--nodes', join(dir, 'none.csv'), '--pods', 'y.csv'], 1, 'none.csv (ENOENT); check the path'],
  ])('%j fails with one sentence', (args, code, message) => {
    const { status, stderr } = run(args);
    expect(status).toBe(code);
    expect(stderr).toContain(message);
    expect(stderr).not.toMatch(/\n\s+at /);
  });

  it('runs the embedded default with no flags and prints a summary a newcomer can read', () => {
    const out = join(dir, 'gangs');
    const report = join(dir, 'gangs.html');
    const { status, stdout, stderr } = run(['--out', out, '--report', report]);
    expect(stderr).toContain('simulate phalanx: 422 gangs run in');
    expect(status).toBe(0);
    expect(stdout).toMatch(
      /^This is the embedded default: a small made-up cluster and workload of our own/,
    );
    for (const row of [
      'gangs started',
      'partial gangs seen',
      'queueing delay mean / p50 / p95',
      'makespan',
      'GPU utilisation (mean)',
      'multi-node gangs in one rack',
    ]) {
      expect(stdout).toMatch(new RegExp(`\\n${row.replace(/[()/]/g, '\\$&')}\\s`));
    }
    expect(stdout).toMatch(/\nresearch\s+3 \(50%\)/);
    expect(stdout).toMatch(/\npartial gangs seen\s+0\s+\d+ \(max \d+ at once\)/);
    expect(stdout).toContain('phalanx simulate --overlay --nodes');
    const json = JSON.parse(
      readFileSync(join(out, 'embedded-default-phalanx-seed42.json'), 'utf8'),
    ) as { kind: string; metrics: { partialGangsSeen: number; records: unknown[] } };
    expect(json.kind).toBe('phalanx-gang-simulation');
    expect(json.metrics.partialGangsSeen).toBe(0);
    expect(json.metrics.records).toHaveLength(422);
    expect(existsSync(join(out, 'embedded-default-fifo-first-fit-seed42.json'))).toBe(true);
    const html = readFileSync(report, 'utf8');
    expect(html).toContain('Queueing delay');
    expect(html).toContain('Topology locality');
  });

  it('names the workload file path of every problem', () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(
      bad,
      'cluster: { groups: [{ name: a, node: sxm8-80g }] }\ngangs: [{ name: g, runtime: 1, pods: 0 }]\n',
    );
    const { status, stderr } = run(['--workload', bad]);
    expect(status).toBe(1);
    expect(stderr).toContain(
      'bad.yaml: 1 problem:\n  gangs[0].pods: must be a positive integer, got 0',
    );
  });

  it('names the file and line of a bad row', () => {
    const bad = join(dir, 'bad.csv');
    writeFileSync(bad, 'name,cpu_milli,memory_mib,num_gpu,gpu_milli\np,1,1,x,1\n');
    const { status, stderr } = run(['--nodes', nodes, '--pods', bad]);
    expect(status).toBe(1);
    expect(stderr).toContain('bad.csv line 2: num_gpu "x" is not an integer');
  });
});
