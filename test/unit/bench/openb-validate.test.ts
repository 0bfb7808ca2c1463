import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  dataDir,
  meanSd,
  PROJECT_ROOT,
  PUBLISHED,
  parseSeeds,
  policyRow,
  verdict,
} from '../../../bench/openb-validate.ts';
import type { SimulationRun } from '../../../src/simulator/run.ts';

function run(at130: number, at100: number, wallMs = 1000): SimulationRun {
  const point = (arrivedPct: number, allocationPct: number) => ({
    arrivedPct,
    allocationPct,
    fragmentationPct: 10,
    records: 1,
  });
  return {
    policy: 'best-fit',
    seed: 42,
    ratio: 1.3,
    inputs: {
      nodes: { path: 'n', sha256: '', count: 0 },
      pods: { path: 'p', sha256: '', count: 0 },
    },
    tune: {
      tracePods: 0,
      traceMilli: 0,
      capacityMilli: 0,
      targetMilli: 0,
      plannedMilli: 0,
      added: 0,
      removed: 0,
    },
    summary: {
      policy: 'best-fit',
      pods: 0,
      placed: 0,
      rejected: 0,
      arrivedMilli: 0,
      allocatedMilli: 0,
      capacityMilli: 0,
      wallMs,
    },
    series: [point(50, 50), point(80, 80), point(90, 90), point(100, at100), point(130, at130)],
  };
}

describe('openb validation bench', () => {
  it('computes the mean and the sample standard deviation', () => {
    expect(meanSd([1, 2, 3, 4])).toEqual({ mean: 2.5, sd: Math.sqrt(5 / 3) });
    expect(meanSd([7])).toEqual({ mean: 7, sd: 0 });
  });

  it('passes within one point of the published mean, inclusive', () => {
    expect(verdict(94.08, 93.08)).toBe('PASS');
    expect(verdict(92.07, 93.08)).toBe('FAIL');
  });

  it('parses seed ranges', () => {
    expect(parseSeeds('42-51')).toEqual([42, 43, 44, 45, 46, 47, 48, 49, 50, 51]);
    expect(parseSeeds('7')).toEqual([7]);
    expect(() => parseSeeds('51-42')).toThrow('runs backwards');
    expect(() => parseSeeds('many')).toThrow('is not a range');
  });

  it('finds the data from the flag, then the env var, then the default, from the project root', () => {
    expect(dataDir('/data/openb', {})).toBe('/data/openb');
    expect(dataDir(undefined, { PHALANX_OPENB_DIR: 'x' })).toBe(resolve(PROJECT_ROOT, 'x'));
    expect(dataDir(undefined, {})).toBe(resolve(PROJECT_ROOT, '../shared/traces/openb'));
  });

  it('rows a policy with ours next to the published numbers and a verdict', () => {
    const published = PUBLISHED.default['best-fit'];
    const row = policyRow('best-fit', [run(93, 92.8), run(93.4, 93)], published);
    expect(row.pass).toBe(true);
    expect(row.cells.slice(0, 5)).toEqual(['best-fit', '93.20 ± 0.28', '93.08', '0.12', 'PASS']);
    expect(row.cells[8]).toBe('10.8 / 8.3 / 7.4');
    const failing = policyRow('best-fit', [run(91, 91)], published);
    expect(failing.pass).toBe(false);
    expect(failing.cells[4]).toBe('FAIL');
  });
});
