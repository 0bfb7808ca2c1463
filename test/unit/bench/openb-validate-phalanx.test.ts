import { describe, expect, it } from 'vitest';
import {
  bestPublished,
  PUBLISHED,
  phalanxRow,
  phalanxVerdict,
} from '../../../bench/openb-validate.ts';
import type { SimulationRun } from '../../../src/simulator/run.ts';

function run(at130: number, frag90: number): SimulationRun {
  const point = (arrivedPct: number, allocationPct: number, fragmentationPct: number) => ({
    arrivedPct,
    allocationPct,
    fragmentationPct,
    records: 1,
  });
  const files = { path: 'p', sha256: '', count: 0 };
  return {
    policy: 'phalanx',
    seed: 0,
    ratio: 1.3,
    inputs: { nodes: files, pods: files },
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
      policy: 'phalanx',
      pods: 0,
      placed: 0,
      rejected: 0,
      arrivedMilli: 0,
      allocatedMilli: 0,
      capacityMilli: 0,
      wallMs: 2000,
    },
    series: [point(50, 50, 8), point(80, 80, 6), point(90, 90, frag90), point(130, at130, 4)],
  };
}

describe('openb validation bench: phalanx against the best published policy', () => {
  it('finds the best published policy of each trace', () => {
    expect(bestPublished('default')).toEqual({ policy: 'fgd', published: PUBLISHED.default.fgd });
    expect(bestPublished('multigpu50').policy).toBe('fgd');
  });

  it('passes only above the best allocation and, where published, below its fragmentation', () => {
    const fgd = bestPublished('default').published;
    expect(phalanxVerdict({ at130: 96.2, frag90: 4.6 }, fgd)).toBe('PASS');
    expect(phalanxVerdict({ at130: 95.39, frag90: 4.6 }, fgd)).toBe('FAIL');
    expect(phalanxVerdict({ at130: 96.2, frag90: 5.0 }, fgd)).toBe('FAIL');
    // multigpu50 publishes no fragmentation: allocation alone decides.
    const multi = bestPublished('multigpu50').published;
    expect(phalanxVerdict({ at130: 97.5, frag90: 9 }, multi)).toBe('PASS');
  });

  it('rows phalanx next to the best published numbers with the margin and the verdict', () => {
    const row = phalanxRow([run(96.1, 4.5), run(96.3, 4.7)], 'default');
    expect(row.pass).toBe(true);
    expect(row.cells).toEqual([
      'phalanx',
      '96.20 ± 0.14',
      '95.39 (fgd)',
      '0.81',
      '8.0 / 6.0 / 4.6',
      '8.9 / 6.0 / 5.0',
      'PASS',
      '2.00',
    ]);
    const failing = phalanxRow([run(97.0, 3.0)], 'multigpu50');
    expect(failing.pass).toBe(false);
    expect(failing.cells.slice(2, 7)).toEqual([
      '97.18 (fgd)',
      '-0.18',
      '8.0 / 6.0 / 3.0',
      '-',
      'FAIL',
    ]);
  });
});
