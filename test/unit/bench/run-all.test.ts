import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  BENCHES,
  commandOf,
  INTEGRATION_LOCK,
  missingRow,
  newResultFile,
  summaryRows,
  summaryTable,
} from '../../../bench/run-all.ts';

const RESULTS = join(import.meta.dirname, '..', '..', '..', 'bench', 'results');
const recorded = (file: string) => readFileSync(join(RESULTS, file), 'utf8');

describe('newResultFile', () => {
  it('finds the file a benchmark added, ignoring older runs, other benchmarks and indexes', () => {
    const before = ['README.md', 'extender-2026-11-21-vm.json', 'planner-2026-11-21-vm.json'];
    const after = [
      ...before,
      'extender-2026-11-21-vm-2.json',
      'extender-2026-11-21-vm-2.md',
      'planner-2026-11-22-vm.json',
    ];
    expect(newResultFile('extender', before, after)).toBe('extender-2026-11-21-vm-2.json');
    expect(newResultFile('planner', before, after)).toBe('planner-2026-11-22-vm.json');
    expect(newResultFile('throughput', before, after)).toBeUndefined();
  });

  it('takes the newest of several same-day runs (-10 after -9)', () => {
    const after = ['gang-overlay-2026-11-21-vm-9.json', 'gang-overlay-2026-11-21-vm-10.json'];
    expect(newResultFile('gang-overlay', [], after)).toBe('gang-overlay-2026-11-21-vm-10.json');
  });

  it('does not mistake a benchmark for another whose name it starts', () => {
    expect(newResultFile('plugin', [], ['plugin-prepare-2026-11-21-vm.json'])).toBeUndefined();
  });
});

describe('summaryRows on recorded result files', () => {
  it('plugin-prepare: the 8-device p99 against 5 ms', () => {
    const [row] = summaryRows('plugin-prepare', recorded('plugin-prepare-2026-11-21-vm-7.json'));
    expect(row).toEqual({
      benchmark: 'plugin-prepare',
      figure: 'seq-8 prepare p99',
      value: '6.889 ms',
      target: '< 5 ms',
      verdict: 'missed',
    });
  });

  it('extender: per-pod p99 at 500 and 5,000 candidates against the issue targets', () => {
    const rows = summaryRows('extender', recorded('extender-2026-11-21-vm.json'));
    expect(rows.map((r) => [r.figure, r.value, r.target, r.verdict])).toEqual([
      ['cache-500 filter+prioritize per pod p99', '0.694 ms', '<= 1.5 ms', 'met'],
      ['cache-5000 filter+prioritize per pod p99', '6.159 ms', '<= 9 ms', 'met'],
    ]);
  });

  it('planner: the slower 64-pod gang p99 against 20 ms', () => {
    const [row] = summaryRows('planner', recorded('planner-2026-11-21-vm.json'));
    expect(row?.figure).toBe('64-pod gang plan p99, 5000 nodes');
    expect(row?.value).toBe('2.271 ms');
    expect(row?.verdict).toBe('met');
  });

  it('scheduler-memory: held RSS against 150 MB', () => {
    const [row] = summaryRows('scheduler-memory', recorded('scheduler-memory-2026-11-21-vm.json'));
    expect(row?.value).toBe('256 MB');
    expect(row?.target).toBe('<= 150 MB');
    expect(row?.verdict).toBe('missed');
  });
});

describe('summaryRows on result shapes', () => {
  it('throughput: the ratio with both rates, against the target', () => {
    const json = JSON.stringify({
      variants: { a: { meanPodsPerSecond: 80 }, b: { meanPodsPerSecond: 76 } },
      ratio: 0.95,
      target: { ratio: 0.9, met: true },
    });
    expect(summaryRows('throughput', json)).toEqual([
      {
        benchmark: 'throughput',
        figure: 'pods/s with extender / stock (76.0 / 80.0)',
        value: '0.950',
        target: '>= 0.9',
        verdict: 'met',
      },
    ]);
  });

  it('openb-validate: one row per policy, phalanx against the best published', () => {
    const json = JSON.stringify({
      rows: [
        { policy: 'random', 'ours @130': '87.10 ± 0.20', published: '87.47', result: 'PASS' },
        { policy: 'best-fit', 'ours @130': '91.00 ± 0.10', published: '93.08', result: 'FAIL' },
        {
          policy: 'phalanx',
          'ours @130': '96.20 ± 0.10',
          'best published': '95.39 (fgd)',
          result: 'PASS',
        },
      ],
    });
    expect(summaryRows('openb-validate', json).map((r) => [r.target, r.verdict])).toEqual([
      ['87.47 ± 1.0', 'met'],
      ['93.08 ± 1.0', 'missed'],
      ['> 95.39 (fgd)', 'met'],
    ]);
  });

  it('gang-overlay: how many acceptance checks pass', () => {
    const json = JSON.stringify({ checks: ['PASS  a', 'MISS  b', 'PASS  c'], pass: false });
    const [row] = summaryRows('gang-overlay', json);
    expect(row?.value).toBe('2/3 pass');
    expect(row?.verdict).toBe('missed');
  });

  it('says so when a result holds no figure, and refuses unknown benchmarks', () => {
    expect(summaryRows('extender', '{"scenarios":[]}')[0]?.verdict).toBe('no figure in result');
    expect(() => summaryRows('nope', '{}')).toThrow(/no summary reader/);
  });
});

describe('summaryTable and commands', () => {
  it('prints one line per row under a header', () => {
    const table = summaryTable([
      missingRow('openb-validate', 'skipped: no trace'),
      {
        benchmark: 'throughput',
        figure: 'ratio',
        value: '0.950',
        target: '>= 0.9',
        verdict: 'met',
      },
    ]);
    const lines = table.split('\n');
    expect(lines[0]).toMatch(/^benchmark\s+figure\s+value\s+target\s+verdict$/);
    expect(lines[2]).toContain('skipped: no trace');
    expect(lines[3]).toMatch(/^throughput\s+ratio\s+0\.950\s+>= 0\.9\s+met$/);
  });

  it('runs every benchmark the issue lists, throughput last and under the lock', () => {
    expect(BENCHES.map((b) => b.name)).toEqual([
      'plugin-prepare',
      'extender',
      'planner',
      'scheduler-memory',
      'openb-validate',
      'gang-overlay',
      'throughput',
    ]);
    const throughput = BENCHES.at(-1);
    if (throughput === undefined) throw new Error('no benchmarks');
    const locked = commandOf(throughput, '/tmp/x', true, true);
    expect(locked.command).toBe('flock');
    expect(locked.args[0]).toBe(INTEGRATION_LOCK);
    expect(locked.args.slice(-3)).toEqual(['--out', '/tmp/x', '--quick']);
    expect(commandOf(throughput, '/tmp/x', false, false).args).not.toContain('--quick');
  });
});
