/**
 * How a simulation run is shown and stored: a summary table for people, and per-run CSV and
 * JSON files of the per-1% series for tools.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pointAt, type SeriesPoint } from './metrics.ts';
import type { SimulationRun } from './run.ts';

/** Arrived-demand steps (%) at which the summary shows the GPU allocation ratio. */
export const ALLOCATION_STEPS = [100, 130] as const;
/** Arrived-demand steps (%) at which the summary shows the fragmented GPU capacity. */
export const FRAGMENTATION_STEPS = [50, 80, 90] as const;

function percent(value: number | undefined): string {
  return value === undefined ? '-' : value.toFixed(2);
}

/** The summary cells of one run, in the order of SUMMARY_HEADERS. */
export function summaryCells(run: SimulationRun): string[] {
  const alloc = ALLOCATION_STEPS.map((s) => percent(pointAt(run.series, s)?.allocationPct));
  const frag = FRAGMENTATION_STEPS.map((s) => percent(pointAt(run.series, s)?.fragmentationPct));
  return [
    run.policy,
    String(run.seed),
    String(run.ratio),
    ...alloc,
    ...frag,
    String(run.summary.placed),
    String(run.summary.rejected),
    (run.summary.wallMs / 1000).toFixed(1),
  ];
}

export const SUMMARY_HEADERS: readonly string[] = [
  'policy',
  'seed',
  'ratio',
  ...ALLOCATION_STEPS.map((s) => `alloc%@${s}`),
  ...FRAGMENTATION_STEPS.map((s) => `frag%@${s}`),
  'placed',
  'rejected',
  'wall s',
];

/** Columns padded to their widest cell; the first column left-aligned, the rest right-aligned. */
export function formatTable(
  headers: readonly string[],
  rows: readonly (readonly string[])[],
): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return `${[line(headers), rule, ...rows.map(line)].join('\n')}\n`;
}

/** The summary table of some runs. */
export function summaryTable(runs: readonly SimulationRun[]): string {
  return formatTable(SUMMARY_HEADERS, runs.map(summaryCells));
}

/** The per-1% series as CSV. */
export function seriesCsv(series: readonly SeriesPoint[]): string {
  const lines = ['arrived_pct,allocation_pct,fragmentation_pct,records'];
  for (const p of series) {
    lines.push(
      `${p.arrivedPct},${p.allocationPct.toFixed(4)},${p.fragmentationPct.toFixed(4)},${p.records}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/** File name stem of a run: `<policy>-seed<seed>-ratio<ratio>`. */
export function runStem(run: SimulationRun): string {
  return `${run.policy}-seed${run.seed}-ratio${run.ratio}`;
}

/** Writes `<stem>.csv` (the series) and `<stem>.json` (inputs, tuning, summary, series). */
export function writeRunFiles(dir: string, run: SimulationRun): string[] {
  mkdirSync(dir, { recursive: true });
  const stem = join(dir, runStem(run));
  writeFileSync(`${stem}.csv`, seriesCsv(run.series));
  writeFileSync(`${stem}.json`, `${JSON.stringify(run, null, 2)}\n`);
  return [`${stem}.csv`, `${stem}.json`];
}
