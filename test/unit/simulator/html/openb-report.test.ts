import { describe, expect, it } from 'vitest';
import { openbReportInput, POLICY_COLOURS } from '../../../../src/simulator/html/openb-report.ts';
import {
  OPENB_POD_FILES,
  openbTraceOf,
  PUBLISHED_OPENB,
} from '../../../../src/simulator/html/published.ts';
import type { ChartSpec } from '../../../../src/simulator/html/report.ts';
import { renderReport } from '../../../../src/simulator/html/report.ts';
import type { SeriesPoint } from '../../../../src/simulator/metrics.ts';
import type { SimulationRun } from '../../../../src/simulator/run.ts';
import { svgParts, xmlProblems } from './xml.ts';

const DEFAULT_SHA = OPENB_POD_FILES.default.sha256;

function series(top: number): SeriesPoint[] {
  return Array.from({ length: 131 }, (_, k) => ({
    arrivedPct: k,
    allocationPct: Math.min(k, top),
    fragmentationPct: 15 - k / 20,
    records: 1,
  }));
}

function run(policy: string, seed = 42, extra: Partial<SimulationRun> = {}): SimulationRun {
  return {
    policy,
    seed,
    ratio: 1.3,
    inputs: {
      nodes: { path: '/t/openb_node_list_gpu_node.csv', sha256: 'aa', count: 2 },
      pods: { path: '/t/openb_pod_list_default.csv', sha256: DEFAULT_SHA, count: 5 },
    },
    tune: {
      tracePods: 5,
      traceMilli: 5000,
      capacityMilli: 4000,
      targetMilli: 5200,
      plannedMilli: 5200,
      added: 1,
      removed: 0,
    },
    summary: {
      policy,
      pods: 6,
      placed: 5,
      rejected: 1,
      arrivedMilli: 5200,
      allocatedMilli: 3800,
      capacityMilli: 4000,
      wallMs: 12,
    },
    series: series(policy === 'fgd' ? 95 : 90),
    ...extra,
  };
}

function line(charts: readonly ChartSpec[] | undefined, id: string) {
  const chart = charts?.find((c) => c.id === id);
  if (chart?.kind !== 'line') throw new Error(`no line chart ${id}`);
  return chart;
}

describe('openbTraceOf', () => {
  it('knows the published pod files by hash first, then by name', () => {
    expect(openbTraceOf({ path: 'x.csv', sha256: DEFAULT_SHA.toUpperCase() })).toEqual({
      name: 'default',
      exact: true,
    });
    expect(openbTraceOf({ path: '/a/openb_pod_list_multigpu50.csv', sha256: 'ff' })).toEqual({
      name: 'multigpu50',
      exact: false,
    });
    expect(openbTraceOf({ path: 'pods.csv', sha256: 'ff' })).toBeUndefined();
  });
});

describe('openbReportInput', () => {
  const input = openbReportInput([run('best-fit'), run('fgd'), run('phalanx')], {
    command: 'phalanx simulate --policy best-fit,fgd,phalanx',
  });

  it('describes the run in the header', () => {
    expect(input.run.trace?.name).toBe(OPENB_POD_FILES.default.title);
    expect(input.run.trace?.files.map((f) => [f.role, f.sha256, f.rows])).toEqual([
      ['nodes', 'aa', 2],
      ['pods', DEFAULT_SHA, 5],
    ]);
    expect(input.run.policies).toEqual(['best-fit', 'fgd', 'phalanx']);
    expect(input.run.seeds).toEqual([42]);
    expect(input.run.tuneRatio).toBe(1.3);
    expect(input.run.overlay).toBeUndefined();
    expect(input.run.facts).toContainEqual({ label: 'cluster', value: '2 nodes, 4 GPUs' });
    expect(input.credits?.length).toBeGreaterThan(0);
  });

  it('puts the published number and our difference in the summary', () => {
    expect(input.summary.headers.slice(-2)).toEqual(['published@130', 'diff@130']);
    const fgd = input.summary.rows.find((r) => r[0] === 'fgd');
    expect(fgd?.slice(-2)).toEqual(['95.39', (95 - 95.39).toFixed(2)]);
    expect(input.summary.rows.find((r) => r[0] === 'phalanx')?.slice(-2)).toEqual(['-', '-']);
  });

  it('draws allocation per policy with the published means dashed in the policy colour', () => {
    const full = line(input.allocation?.charts, 'allocation-full');
    const ours = full.series.find((s) => s.label === 'fgd');
    expect(ours?.points).toHaveLength(131);
    expect(ours?.colour).toBe(POLICY_COLOURS.fgd);
    const published = full.series.find((s) => s.label === 'fgd (published)');
    expect(published).toMatchObject({
      dashed: true,
      markers: true,
      inLegend: false,
      colour: POLICY_COLOURS.fgd,
    });
    expect(published?.points).toEqual([
      { x: 100, y: PUBLISHED_OPENB.default.fgd?.at100 },
      { x: 130, y: 95.39 },
    ]);
    expect(full.series.some((s) => s.label === 'phalanx (published)')).toBe(false);
    expect(full.legend?.map((e) => e.label)).toEqual([
      'best-fit',
      'fgd',
      'phalanx',
      'published mean, seeds 42–51 (dashed)',
    ]);
    expect(full.yDomain).toEqual([0, 100]);
    expect(full.xDomain).toEqual([0, 130]);
  });

  it('zooms into the saturated part of the curve', () => {
    const zoom = line(input.allocation?.charts, 'allocation-zoom');
    expect(zoom.xDomain).toEqual([70, 130]);
    const ours = zoom.series.find((s) => s.label === 'best-fit');
    expect(ours?.points[0]?.x).toBe(69);
    expect(zoom.yDomain).toBeUndefined();
  });

  it('draws fragmentation with the published 50/80/90% values', () => {
    const frag = line(input.fragmentation?.charts, 'fragmentation');
    expect(frag.series.find((s) => s.label === 'best-fit (published)')?.points).toEqual([
      { x: 50, y: 10.8 },
      { x: 80, y: 8.3 },
      { x: 90, y: 7.4 },
    ]);
    expect(frag.series.find((s) => s.label === 'best-fit')?.points[100]).toEqual({ x: 100, y: 10 });
  });

  it('leaves the occupancy out when no run kept it, and maps each run that did', () => {
    expect(input.occupancy).toBeUndefined();
    const withMap = openbReportInput([
      run('fgd', 42, { occupancy: [{ name: 'n1', model: 'T4', gpus: 2, gpuMilliUsed: 1500 }] }),
      run('random'),
    ]);
    expect(withMap.occupancy?.charts).toHaveLength(1);
    const chart = withMap.occupancy?.charts[0];
    expect(chart?.kind).toBe('heat');
    if (chart?.kind === 'heat') {
      expect(chart.groups[0]?.cells[0]).toMatchObject({ id: 'n1', value: 0.75 });
    }
  });

  it('labels runs by seed when a policy ran with several seeds', () => {
    const seeds = openbReportInput([run('fgd', 1), run('fgd', 2)]);
    expect(line(seeds.allocation?.charts, 'allocation-full').series.map((s) => s.label)).toEqual([
      'fgd (seed 1)',
      'fgd (seed 2)',
      'fgd (published)',
    ]);
    expect(seeds.run.seeds).toEqual([1, 2]);
  });

  it('draws no published numbers for an unknown trace and says so', () => {
    const other = run('fgd', 42, {
      inputs: {
        nodes: { path: 'n.csv', sha256: 'aa', count: 2 },
        pods: { path: 'mine.csv', sha256: 'bb', count: 5 },
      },
    });
    const unknown = openbReportInput([other]);
    expect(line(unknown.allocation?.charts, 'allocation-full').series.map((s) => s.label)).toEqual([
      'fgd',
    ]);
    expect(unknown.allocation?.text?.join(' ')).toContain('not one of the published openb traces');
    expect(unknown.summary.rows[0]?.slice(-2)).toEqual(['-', '-']);
    expect(unknown.credits).toEqual([]);
    expect(unknown.run.trace?.name).toBe('mine.csv');
  });

  it('warns when only the file name matches, or the ratio differs from the published one', () => {
    const renamed = run('fgd', 42, {
      ratio: 1.1,
      inputs: {
        nodes: { path: 'n.csv', sha256: 'aa', count: 2 },
        pods: { path: 'openb_pod_list_default.csv', sha256: 'bb', count: 5 },
      },
    });
    const text = openbReportInput([renamed]).allocation?.text?.join(' ') ?? '';
    expect(text).toContain('different sha256');
    expect(text).toContain('this run used 1.1');
  });

  it('renders to a page whose charts are all well-formed SVG', () => {
    const html = renderReport(
      openbReportInput([
        run('fgd', 42, { occupancy: [{ name: 'n1', model: 'T4', gpus: 2, gpuMilliUsed: 1500 }] }),
        run('best-fit'),
      ]),
    );
    const svgs = svgParts(html);
    expect(svgs).toHaveLength(4);
    for (const svg of svgs) expect(xmlProblems(svg)).toEqual([]);
    for (const id of ['summary', 'allocation', 'fragmentation', 'occupancy']) {
      expect(html).toContain(`<section id="${id}">`);
    }
  });
});
