/**
 * How gang simulations are shown and stored: a side-by-side summary of the schedulers for people
 * (what ran, gangs started, partial gangs, queueing delay, makespan, utilisation, locality, share
 * per queue against its weight), and one JSON file per run with everything a report needs.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { GangRunResult } from './gang-run.ts';
import { formatTable } from './report.ts';

/** `45s`, `12m`, `3.8h`, `2.1d`. */
export function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '-';
  if (seconds < 90) return `${Math.round(seconds)}s`;
  if (seconds < 90 * 60) return `${Math.round(seconds / 60)}m`;
  if (seconds < 48 * 3600) return `${(seconds / 3600).toFixed(1)}h`;
  return `${(seconds / 86_400).toFixed(1)}d`;
}

const pct = (x: number, digits = 1): string =>
  Number.isFinite(x) ? `${(100 * x).toFixed(digits)}%` : '-';
const count = (n: number): string => n.toLocaleString('en-US');

function ratioCell(part: number, whole: number): string {
  return whole > 0 ? `${pct(part / whole, 0)} (${part}/${whole})` : '- (none)';
}

function partialCell(r: GangRunResult): string {
  const m = r.metrics;
  return m.partialGangsSeen === 0
    ? '0'
    : `${count(m.partialGangsSeen)} (max ${m.maxPartialAtOnce} at once)`;
}

function startedCell(r: GangRunResult): string {
  const m = r.metrics;
  const never = m.neverStarted > 0 ? `; ${count(m.neverStarted)} never started` : '';
  return `${count(m.started)} of ${count(m.gangs)}${never}`;
}

const ROWS: readonly (readonly [string, (r: GangRunResult) => string])[] = [
  ['placement', (r) => r.policy],
  ['gangs started', startedCell],
  ['partial gangs seen', partialCell],
  ['GPU-hours held by waiting pods', (r) => (r.metrics.partialHeldGpuSeconds / 3600).toFixed(0)],
  [
    'queueing delay mean / p50 / p95',
    (r) =>
      [r.metrics.delay.meanS, r.metrics.delay.p50S, r.metrics.delay.p95S].map(duration).join(' / '),
  ],
  ['makespan', (r) => duration(r.metrics.makespanS)],
  ['GPU utilisation (mean)', (r) => pct(r.metrics.meanUtilisationPct / 100)],
  [
    'multi-node gangs in one rack',
    (r) => `${r.metrics.locality.withinRack} of ${r.metrics.locality.multiNodeGangs}`,
  ],
  [
    '  ...when a rack had room',
    (r) => ratioCell(r.metrics.locality.rackRoomWithinRack, r.metrics.locality.rackRoom),
  ],
  [
    '  ...room not reserved',
    (r) => ratioCell(r.metrics.locality.rackOpenWithinRack, r.metrics.locality.rackOpen),
  ],
  ['gangs preempted (reclaim)', (r) => count(r.metrics.preemptions)],
];

/** The schedulers side by side: a row per measure, a column per scheduler. */
export function comparisonData(runs: readonly GangRunResult[]): {
  headers: string[];
  rows: string[][];
} {
  return {
    headers: ['', ...runs.map((r) => r.scheduler)],
    rows: ROWS.map(([label, cell]) => [label, ...runs.map(cell)]),
  };
}

export function comparisonTable(runs: readonly GangRunResult[]): string {
  const { headers, rows } = comparisonData(runs);
  return formatTable(headers, rows);
}

/** Per queue: weight share, the share of GPUs held while every queue waited, mean delay. */
export function queueTable(runs: readonly GangRunResult[]): string {
  const first = runs[0];
  if (first === undefined || first.workload.queues.length === 0) return '';
  const headers = [
    'queue',
    'weight',
    ...runs.flatMap((r) => [`${r.scheduler} share`, 'mean delay']),
  ];
  const rows = first.metrics.queues.map((q, i) => [
    q.name,
    `${q.weight} (${pct(q.weightShare, 0)})`,
    ...runs.flatMap((r) => {
      const mine = r.metrics.queues[i];
      return mine === undefined
        ? ['-', '-']
        : [pct(mine.contendedShare), duration(mine.delay.meanS)];
    }),
  ]);
  return formatTable(headers, rows);
}

const SCHEDULER_TEXT: Readonly<Record<GangRunResult['scheduler'], string>> = {
  phalanx:
    'phalanx: whole gangs admitted in queue order (quota, weighted fair share, head-of-line reservation), each placed in the narrowest topology domain that holds it, or not at all.',
  'fifo-first-fit':
    'fifo-first-fit: a stock scheduler stand-in; pods placed one by one in arrival order on the first node that fits; a gang runs once all its pods are placed, and placed pods hold their GPUs while they wait.',
};

export interface SummaryContext {
  /** One line saying what ran: the default, a file, or a trace with the overlay. */
  readonly what: string;
  /** One line on how to run something else (printed last). */
  readonly next?: string;
}

function contendedLine(runs: readonly GangRunResult[]): string {
  const parts = runs.map((r) => `${r.scheduler} ${duration(r.metrics.contendedS)}`);
  return `Share = share of the GPUs a queue held while every queue had gangs waiting (${parts.join(', ')}); a weighted fair scheduler gives each its weight's share.`;
}

/** The whole text a person sees after a gang simulation. */
export function gangSummary(runs: readonly GangRunResult[], context: SummaryContext): string {
  const first = runs[0];
  if (first === undefined) return '';
  const w = first.workload;
  const synthetic =
    w.synthetic === undefined || w.name.includes(w.synthetic) ? '' : ` [${w.synthetic}]`;
  const lines = [
    context.what,
    `Workload ${w.name}${synthetic}: ${count(w.nodes)} nodes, ${count(w.gpus)} GPUs, ${count(w.gangs)} gangs (${count(w.pods)} pods), ${w.queues.length} queues.`,
  ];
  if (w.description !== '') lines.push(w.description);
  lines.push('', comparisonTable(runs));
  const queues = queueTable(runs);
  if (queues !== '') lines.push(queues, contendedLine(runs));
  lines.push(
    '',
    ...runs.map((r) => SCHEDULER_TEXT[r.scheduler]),
    `Invariants checked after every step (${runs.map((r) => `${r.scheduler} ${count(r.invariantChecks)}`).join(', ')}): no double allocation in the ledger; under phalanx also no partial gang and every queue's usage equal to its admitted gangs.`,
  );
  if (context.next !== undefined) lines.push(context.next);
  return `${lines.join('\n')}\n`;
}

/** File name stem of a run: `<workload>-<scheduler>-seed<seed>`, safe for any file system. */
export function gangRunStem(run: GangRunResult): string {
  const name = run.workload.name.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '');
  return `${name}-${run.scheduler}-seed${run.seed}`;
}

/** Writes `<stem>.json` per run (workload, settings, metrics, per-gang records, utilisation). */
export function writeGangRunFiles(
  dir: string,
  runs: readonly GangRunResult[],
  inputs: unknown,
): string[] {
  mkdirSync(dir, { recursive: true });
  return runs.map((run) => {
    const file = join(dir, `${gangRunStem(run)}.json`);
    const doc = { kind: 'phalanx-gang-simulation', version: 1, inputs, ...run };
    writeFileSync(file, `${JSON.stringify(doc, null, 2)}\n`);
    return file;
  });
}
