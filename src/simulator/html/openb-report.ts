/**
 * Maps openb replays (one or more policies, one or more seeds) to the report: the summary table
 * with the published number beside ours, GPU allocation and fragmented capacity against arrived
 * demand with the published means drawn dashed, and the occupancy map at the end of each run.
 *
 * Pure: no I/O.
 */
import type { SeriesPoint } from '../metrics.ts';
import { SUMMARY_HEADERS, summaryCells } from '../report.ts';
import type { SimulationRun } from '../run.ts';
import type { LegendEntry } from './legend.ts';
import type { LineSeries } from './line-chart.ts';
import { occupancyGroups } from './occupancy.ts';
import { INK, seriesColour } from './palette.ts';
import {
  OPENB_CREDITS,
  OPENB_POD_FILES,
  type OpenbMatch,
  openbTraceOf,
  PUBLISHED_FRAG_STEPS,
  PUBLISHED_OPENB,
  PUBLISHED_RATIO,
  type PublishedOpenb,
} from './published.ts';
import type { ChartSpec, ReportInput, ReportSection, RunHeader, TableData } from './report.ts';

/** Fixed colours per policy, so a policy looks the same in every report. */
export const POLICY_COLOURS: Readonly<Record<string, string>> = {
  random: '#7F7F7F',
  'dot-product': '#56B4E9',
  'gpu-clustering': '#CC79A7',
  'gpu-packing': '#E69F00',
  'best-fit': '#D55E00',
  fgd: '#009E73',
  phalanx: '#0072B2',
};

/** Size of the line charts (the page scales them down on narrow screens). */
const CHART_SIZE = { width: 960, height: 400 } as const;

export interface OpenbReportOptions {
  /** The command line, shown in the header. */
  readonly command?: string;
  /** ISO time, shown in the header. */
  readonly generatedAt?: string;
  /** Left edge (%) of the zoomed allocation chart (default 70). */
  readonly zoomFrom?: number;
}

/** Colour of a policy: its fixed colour, else the palette's by position. */
export function policyColour(policy: string, index: number): string {
  return POLICY_COLOURS[policy] ?? seriesColour(index);
}

function unique<T>(values: readonly T[]): T[] {
  return [...new Set(values)];
}

/** Series label of a run: the policy, with the seed when several seeds of it are shown. */
function runLabel(run: SimulationRun, runs: readonly SimulationRun[]): string {
  const seeds = unique(runs.filter((r) => r.policy === run.policy).map((r) => r.seed));
  return seeds.length > 1 ? `${run.policy} (seed ${run.seed})` : run.policy;
}

function colourOf(run: SimulationRun, runs: readonly SimulationRun[]): string {
  return policyColour(run.policy, unique(runs.map((r) => r.policy)).indexOf(run.policy));
}

interface Context {
  readonly runs: readonly SimulationRun[];
  readonly match: OpenbMatch | undefined;
  readonly published: Readonly<Record<string, PublishedOpenb>>;
}

function publishedFor(match: OpenbMatch | undefined): Readonly<Record<string, PublishedOpenb>> {
  return match === undefined ? {} : PUBLISHED_OPENB[match.name];
}

function runSeries(
  ctx: Context,
  value: (p: SeriesPoint) => number,
  from = Number.NEGATIVE_INFINITY,
): LineSeries[] {
  return ctx.runs.map((run) => ({
    label: runLabel(run, ctx.runs),
    colour: colourOf(run, ctx.runs),
    points: run.series
      .filter((p) => p.arrivedPct >= from)
      .map((p) => ({ x: p.arrivedPct, y: value(p) })),
  }));
}

/** Dashed marker series of the published means, one per policy shown that has them. */
function publishedSeries(
  ctx: Context,
  points: (p: PublishedOpenb) => readonly { x: number; y: number }[],
): LineSeries[] {
  const policies = unique(ctx.runs.map((r) => r.policy));
  return policies.flatMap((policy, i) => {
    const published = ctx.published[policy];
    if (published === undefined) return [];
    const pts = points(published);
    if (pts.length === 0) return [];
    return [
      {
        label: `${policy} (published)`,
        colour: policyColour(policy, i),
        points: pts,
        dashed: true,
        markers: true,
        inLegend: false,
      },
    ];
  });
}

function legendOf(series: readonly LineSeries[], withPublished: boolean): LegendEntry[] {
  const entries: LegendEntry[] = series
    .filter((s) => s.inLegend !== false)
    .map((s) => ({ label: s.label, colour: s.colour ?? INK.text, key: 'line' }));
  if (withPublished) {
    entries.push({
      label: 'published mean, seeds 42–51 (dashed)',
      colour: INK.muted,
      key: 'line',
      dashed: true,
      marker: true,
    });
  }
  return entries;
}

function maxArrived(runs: readonly SimulationRun[]): number {
  return Math.max(100, ...runs.flatMap((r) => r.series.map((p) => p.arrivedPct)));
}

function allocationPoints(p: PublishedOpenb): { x: number; y: number }[] {
  return [...(p.at100 === undefined ? [] : [{ x: 100, y: p.at100 }]), { x: 130, y: p.at130 }];
}

function fragPoints(p: PublishedOpenb): { x: number; y: number }[] {
  const frag = p.frag;
  if (frag === undefined) return [];
  return PUBLISHED_FRAG_STEPS.map((x, i) => ({ x, y: frag[i] ?? Number.NaN }));
}

function publishedNote(ctx: Context): string {
  if (ctx.match === undefined) {
    return 'The pod file is not one of the published openb traces, so no published numbers are drawn.';
  }
  const ratios = unique(ctx.runs.map((r) => r.ratio));
  const name = OPENB_POD_FILES[ctx.match.name].file;
  const parts = [
    `Dashed lines with hollow markers are the published means (seeds 42–51) for ${name}.`,
  ];
  if (!ctx.match.exact)
    parts.push('The pod file has that name but a different sha256; compare with care.');
  if (ratios.some((r) => r !== PUBLISHED_RATIO)) {
    parts.push(
      `They were measured at tune ratio ${PUBLISHED_RATIO}; this run used ${ratios.join(', ')}.`,
    );
  }
  return parts.join(' ');
}

function allocationSection(ctx: Context, zoomFrom: number): ReportSection {
  const xMax = Math.ceil(maxArrived(ctx.runs) / 10) * 10;
  const published = publishedSeries(ctx, allocationPoints);
  const full = runSeries(ctx, (p) => p.allocationPct);
  const legend = legendOf(full, published.length > 0);
  const zoomed = runSeries(ctx, (p) => p.allocationPct, zoomFrom - 1);
  const charts: ChartSpec[] = [
    {
      kind: 'line',
      id: 'allocation-full',
      ...CHART_SIZE,
      title: 'GPU allocation ratio vs arrived GPU demand',
      description:
        'Allocated milli-GPU as a percentage of the cluster, per 1% of arrived demand, one line per policy.',
      xLabel: 'arrived GPU demand (% of cluster GPU capacity)',
      yLabel: 'GPU allocation (%)',
      xUnit: '%',
      yUnit: '%',
      series: [...full, ...published],
      references: [{ axis: 'y', value: 100, label: 'cluster full' }],
      legend,
      xDomain: [0, xMax],
      yDomain: [0, 100],
    },
    {
      kind: 'line',
      id: 'allocation-zoom',
      ...CHART_SIZE,
      title: `GPU allocation ratio, ${zoomFrom}–${xMax}% arrived (zoomed)`,
      description:
        'The same lines from the point where the cluster saturates, with the y axis fitted to the data.',
      xLabel: 'arrived GPU demand (% of cluster GPU capacity)',
      yLabel: 'GPU allocation (%)',
      xUnit: '%',
      yUnit: '%',
      series: [...zoomed, ...published],
      references: [{ axis: 'x', value: 100, label: 'demand = capacity' }],
      legend,
      xDomain: [zoomFrom, xMax],
    },
  ];
  return {
    title: 'GPU allocation',
    text: [
      'The figure of merit of the published protocol is the allocation ratio at 130% arrived demand: how much of the cluster the policy manages to fill once more work has arrived than fits.',
      publishedNote(ctx),
    ],
    charts,
  };
}

function fragmentationSection(ctx: Context): ReportSection {
  const xMax = Math.ceil(maxArrived(ctx.runs) / 10) * 10;
  const published = publishedSeries(ctx, fragPoints);
  const series = runSeries(ctx, (p) => p.fragmentationPct);
  return {
    title: 'GPU fragmentation',
    text: [
      'Fragmented GPU capacity: free milli-GPU that the workload’s typical pods cannot use, as a percentage of the cluster, per 1% of arrived demand (lower is better).',
      publishedNote(ctx),
    ],
    charts: [
      {
        kind: 'line',
        id: 'fragmentation',
        ...CHART_SIZE,
        title: 'Fragmented GPU capacity vs arrived GPU demand',
        description: 'Fragmented milli-GPU as a percentage of the cluster, one line per policy.',
        xLabel: 'arrived GPU demand (% of cluster GPU capacity)',
        yLabel: 'fragmented GPU capacity (%)',
        xUnit: '%',
        yUnit: '%',
        series: [...series, ...published],
        legend: legendOf(series, published.length > 0),
        xDomain: [0, xMax],
      },
    ],
  };
}

function occupancySection(ctx: Context): ReportSection | undefined {
  const charts: ChartSpec[] = ctx.runs.flatMap((run): ChartSpec[] => {
    if (run.occupancy === undefined) return [];
    const label = runLabel(run, ctx.runs);
    return [
      {
        kind: 'heat',
        id: `occupancy-${label}`,
        title: `Cluster occupancy at the end of the run: ${label}`,
        description: `Each square is a node, grouped by GPU model, coloured by the share of its GPU capacity in use after the last pod (${label}, seed ${run.seed}).`,
        groups: occupancyGroups(run.occupancy),
      },
    ];
  });
  if (charts.length === 0) return undefined;
  return {
    title: 'Cluster occupancy',
    text: [
      'One map per run. Nodes are grouped by GPU model (openb has no rack or block labels); hover a square for the node and its GPUs in use.',
    ],
    charts,
  };
}

function summaryTableOf(ctx: Context): TableData {
  const rows = ctx.runs.map((run) => {
    const published = ctx.published[run.policy];
    const ours = run.series.find((p) => p.arrivedPct === 130)?.allocationPct;
    const diff =
      published === undefined || ours === undefined ? '-' : (ours - published.at130).toFixed(2);
    return [...summaryCells(run), published?.at130.toFixed(2) ?? '-', diff];
  });
  return {
    headers: [...SUMMARY_HEADERS, 'published@130', 'diff@130'],
    rows,
    caption:
      'Allocation and fragmentation in % of the cluster’s GPU capacity at the given % of arrived demand; published@130 is the paper’s mean allocation at 130% over seeds 42–51, diff@130 ours minus it.',
  };
}

function header(ctx: Context, options: OpenbReportOptions): RunHeader {
  const first = ctx.runs[0];
  const ratios = unique(ctx.runs.map((r) => r.ratio));
  const files =
    first === undefined
      ? []
      : [
          { role: 'nodes', ...first.inputs.nodes, rows: first.inputs.nodes.count },
          { role: 'pods', ...first.inputs.pods, rows: first.inputs.pods.count },
        ].map(({ role, path, sha256, rows }) => ({ role, path, sha256, rows }));
  const traceName =
    ctx.match === undefined
      ? (first?.inputs.pods.path ?? 'unknown')
      : OPENB_POD_FILES[ctx.match.name].title;
  const facts =
    first === undefined
      ? []
      : [
          {
            label: 'cluster',
            value: `${first.inputs.nodes.count} nodes, ${first.summary.capacityMilli / 1000} GPUs`,
          },
          { label: 'arriving pods', value: `${first.summary.pods} per run (after tuning)` },
        ];
  return {
    workload: 'openb trace replay (pods arrive in shuffled order and never leave)',
    trace: { name: traceName, files },
    policies: unique(ctx.runs.map((r) => r.policy)),
    seeds: unique(ctx.runs.map((r) => r.seed)),
    ...(ratios.length === 1 && ratios[0] !== undefined ? { tuneRatio: ratios[0] } : {}),
    facts:
      ratios.length > 1 ? [...facts, { label: 'tune ratios', value: ratios.join(', ') }] : facts,
    ...(options.command === undefined ? {} : { command: options.command }),
    ...(options.generatedAt === undefined ? {} : { generatedAt: options.generatedAt }),
  };
}

/** The report of openb replays. */
export function openbReportInput(
  runs: readonly SimulationRun[],
  options: OpenbReportOptions = {},
): ReportInput {
  const first = runs[0];
  const match = first === undefined ? undefined : openbTraceOf(first.inputs.pods);
  const ctx: Context = { runs, match, published: publishedFor(match) };
  const occupancy = occupancySection(ctx);
  return {
    title: 'Phalanx simulation report: openb replay',
    run: header(ctx, options),
    summary: summaryTableOf(ctx),
    allocation: allocationSection(ctx, options.zoomFrom ?? 70),
    fragmentation: fragmentationSection(ctx),
    ...(occupancy === undefined ? {} : { occupancy }),
    credits: match === undefined ? [] : OPENB_CREDITS,
  };
}
