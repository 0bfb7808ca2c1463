import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { SeriesPoint } from '../../../src/simulator/metrics.ts';
import { progressReporter } from '../../../src/simulator/progress.ts';
import {
  formatTable,
  runStem,
  seriesCsv,
  summaryCells,
  summaryTable,
  writeRunFiles,
} from '../../../src/simulator/report.ts';
import type { SimulationRun } from '../../../src/simulator/run.ts';

const dir = mkdtempSync(join(tmpdir(), 'phalanx-report-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const point = (
  arrivedPct: number,
  allocationPct: number,
  fragmentationPct: number,
): SeriesPoint => ({
  arrivedPct,
  allocationPct,
  fragmentationPct,
  records: 3,
});

const RUN: SimulationRun = {
  policy: 'best-fit',
  seed: 42,
  ratio: 1.3,
  inputs: {
    nodes: { path: 'n.csv', sha256: 'aa', count: 2 },
    pods: { path: 'p.csv', sha256: 'bb', count: 5 },
  },
  tune: {
    tracePods: 5,
    traceMilli: 3000,
    capacityMilli: 4000,
    targetMilli: 5200,
    plannedMilli: 5000,
    added: 2,
    removed: 0,
  },
  summary: {
    policy: 'best-fit',
    pods: 7,
    placed: 6,
    rejected: 1,
    arrivedMilli: 5000,
    allocatedMilli: 3900,
    capacityMilli: 4000,
    wallMs: 1234,
  },
  series: [point(50, 49.5, 10.25), point(80, 79, 8), point(90, 88.125, 7.5), point(100, 92, 7)],
};

describe('simulation report', () => {
  it('summarises allocation at 100/130% and fragmentation at 50/80/90%', () => {
    // 130% was not reached in this series: shown as '-'.
    expect(summaryCells(RUN)).toEqual([
      'best-fit',
      '42',
      '1.3',
      '92.00',
      '-',
      '10.25',
      '8.00',
      '7.50',
      '6',
      '1',
      '1.2',
    ]);
    const table = summaryTable([RUN]).split('\n');
    expect(table[0]).toMatch(/^policy\s+seed\s+ratio\s+alloc%@100\s+alloc%@130\s+frag%@50/);
    expect(table[1]).toMatch(/^-+ {2}-+/);
    expect(table[2]).toMatch(/^best-fit\s+42\s+1\.3\s+92\.00\s+-\s+10\.25/);
  });

  it('pads the first column left and the others right', () => {
    expect(formatTable(['a', 'bb'], [['xyz', '1']])).toBe('a    bb\n---  --\nxyz   1\n');
  });

  it('writes the series as CSV and the whole run as JSON', () => {
    expect(seriesCsv(RUN.series).split('\n').slice(0, 2)).toEqual([
      'arrived_pct,allocation_pct,fragmentation_pct,records',
      '50,49.5000,10.2500,3',
    ]);
    const files = writeRunFiles(join(dir, 'out'), RUN);
    expect(files).toEqual([
      join(dir, 'out', `${runStem(RUN)}.csv`),
      join(dir, 'out', `${runStem(RUN)}.json`),
    ]);
    expect(runStem(RUN)).toBe('best-fit-seed42-ratio1.3');
    const json = JSON.parse(readFileSync(files[1] ?? '', 'utf8')) as SimulationRun;
    expect(json.inputs.pods.sha256).toBe('bb');
    expect(json.series).toHaveLength(4);
    expect(readFileSync(files[0] ?? '', 'utf8')).toBe(seriesCsv(RUN.series));
  });
});

describe('progress on stderr', () => {
  it('prints every 5% on a terminal and a final line', () => {
    const lines: string[] = [];
    const progress = progressReporter({ isTTY: true, write: (t) => lines.push(t) }, 'sim');
    for (let i = 1; i <= 40; i++) progress.update(i, 40);
    progress.done(2500);
    expect(lines).toHaveLength(21);
    expect(lines[0]).toBe('sim: 5% (2/40 pods)\n');
    expect(lines.at(-2)).toBe('sim: 100% (40/40 pods)\n');
    expect(lines.at(-1)).toBe('sim: 40 pods replayed in 2.5 s\n');
  });

  it('prints only the final line elsewhere', () => {
    const lines: string[] = [];
    const progress = progressReporter({ isTTY: false, write: (t) => lines.push(t) }, 'sim');
    for (let i = 1; i <= 40; i++) progress.update(i, 40);
    progress.done(100);
    expect(lines).toEqual(['sim: 40 pods replayed in 0.1 s\n']);
  });
});
