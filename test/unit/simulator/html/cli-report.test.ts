/**
 * `phalanx simulate --policy <list|all> --report <file>` as a person runs it, on a small synthetic
 * trace.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { POLICY_NAMES } from '../../../../src/scheduling/policies/index.ts';
import { commandLine } from '../../../../src/simulator/html/write.ts';
import { svgParts, xmlProblems } from './xml.ts';

const CLI = join(import.meta.dirname, '..', '..', '..', '..', 'src', 'cmd', 'phalanx.ts');
const dir = mkdtempSync(join(tmpdir(), 'phalanx-report-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const nodes = join(dir, 'nodes.csv');
const pods = join(dir, 'pods.csv');
writeFileSync(
  nodes,
  'sn,cpu_milli,memory_mib,gpu,model\nn0,32000,131072,2,T4\nn1,32000,131072,4,T4\nn2,16000,65536,1,P100\n',
);
writeFileSync(
  pods,
  [
    'name,cpu_milli,memory_mib,num_gpu,gpu_milli',
    'p0,4000,8192,1,500',
    'p1,4000,8192,2,1000',
    'p2,2000,4096,0,0',
    'p3,4000,8192,1,250',
    'p4,1000,2048,1,1000',
    '',
  ].join('\n'),
);

function run(args: string[], env: Record<string, string> = {}) {
  const result = spawnSync(
    process.execPath,
    [CLI, 'simulate', '--nodes', nodes, '--pods', pods, ...args],
    {
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '', HOME: tmpdir(), ...env },
      timeout: 20_000,
    },
  );
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function tableRows(stdout: string): string[] {
  return stdout
    .trim()
    .split('\n')
    .slice(2)
    .map((l) => l.split(/\s+/)[0] ?? '');
}

describe('phalanx simulate --report', () => {
  it('replays a comma list of policies with one seed and writes one report', () => {
    const report = join(dir, 'out', 'two.html');
    const { status, stdout, stderr } = run([
      '--policy',
      'best-fit, random',
      '--seed',
      '3',
      '--report',
      report,
    ]);
    expect(stderr).toContain(`wrote ${report}`);
    expect(status).toBe(0);
    expect(tableRows(stdout)).toEqual(['best-fit', 'random']);
    expect(stdout).toMatch(/^best-fit\s+3\s+1\.3\s/m);
    expect(stdout).toMatch(/^random\s+3\s+1\.3\s/m);
    const html = readFileSync(report, 'utf8');
    expect(html).toContain('<dt>policies</dt><dd>best-fit, random</dd>');
    expect(html).toContain('<dt>seed</dt><dd>3</dd>');
    expect(html).toContain('--policy &#39;best-fit, random&#39;');
    expect(html).toContain('not one of the published openb traces');
    const svgs = svgParts(html);
    expect(svgs.map((s) => /data-chart="(\w+)"/.exec(s)?.[1])).toEqual([
      'line',
      'line',
      'line',
      'heat',
      'heat',
    ]);
    for (const svg of svgs) expect(xmlProblems(svg)).toEqual([]);
    expect(html).toContain('data-node="n1"');
    expect(readdirSync(join(dir, 'out'))).toEqual(['two.html']);
  });

  it('replays every policy with all, and takes the report path from the env twin', () => {
    const report = join(dir, 'all.html');
    const { status, stdout } = run(['--policy', 'all', '--out', join(dir, 'files')], {
      PHALANX_SIMULATE_REPORT: report,
    });
    expect(status).toBe(0);
    expect(tableRows(stdout)).toEqual([...POLICY_NAMES]);
    expect(existsSync(report)).toBe(true);
    expect(readdirSync(join(dir, 'files'))).toHaveLength(2 * POLICY_NAMES.length);
  });

  it('still replays one policy without writing a report', () => {
    const { status, stdout, stderr } = run(['--policy', 'fgd']);
    expect(status).toBe(0);
    expect(tableRows(stdout)).toEqual(['fgd']);
    expect(stderr).not.toContain('wrote');
  });

  it.each([
    [['--policy', 'best-fit,magic'], '--policy: "magic" is not allowed; use one of random'],
    [['--policy', ' , '], '--policy: name a policy; use one of random'],
  ])('%j fails with one sentence before reading the trace', (args, message) => {
    const { status, stderr } = run(args);
    expect(status).toBe(2);
    expect(stderr).toContain(message);
    expect(stderr).not.toMatch(/\n\s+at /);
  });
});

describe('commandLine', () => {
  it('quotes only the arguments that need it', () => {
    expect(commandLine(['--policy', 'a,b', '--report', "/tmp/my report's.html"])).toBe(
      "--policy a,b --report '/tmp/my report'\\''s.html'",
    );
  });
});
