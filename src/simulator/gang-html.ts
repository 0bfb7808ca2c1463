/**
 * The HTML report of gang simulations, built from their results for the report renderer
 * (html/report.ts): queueing delay per queue, topology locality of multi-node gangs, share per
 * queue against its weight, GPU utilisation over time and the cluster at its busiest moment.
 *
 * Pure: no I/O (html/write.ts writes the file).
 */

import { comparisonData } from './gang-report.ts';
import type { GangRunResult } from './gang-run.ts';
import { occupancyGroups } from './html/occupancy.ts';
import { seriesColour } from './html/palette.ts';
import type { InputFile, ReportInput, ReportSection, TableData } from './html/report.ts';

export interface GangReportOptions {
  readonly command?: string;
  readonly generatedAt?: string;
  /** The files the run read (workload, trace), with their hashes. */
  readonly files?: readonly InputFile[];
  /** The trace the overlay was laid over, by name. */
  readonly trace?: string;
}

const CHART = { width: 900, height: 340 } as const;
/** The weight share's bars: grey, so the schedulers keep their colours in every chart. */
const WEIGHT_COLOUR = '#7F7F7F';

/** A scheduler's colour, the same in every chart of the report. */
function colourOf(runs: readonly GangRunResult[], run: GangRunResult): string {
  return seriesColour(runs.indexOf(run));
}

function summaryOf(runs: readonly GangRunResult[]): TableData {
  const { headers, rows } = comparisonData(runs);
  return {
    headers: ['measure', ...headers.slice(1)],
    rows: rows.map(([label, ...cells]) => [(label ?? '').trim(), ...cells]),
    caption: 'Each column is one scheduler on the same workload and seed.',
  };
}

function waitingSection(runs: readonly GangRunResult[]): ReportSection {
  const queues = runs[0]?.metrics.queues.map((q) => q.name) ?? [];
  const categories = [...queues, 'all gangs'];
  return {
    title: 'Queueing delay',
    text: [
      'Mean time from a gang’s arrival to the moment all its pods run, per queue. Gangs that never started are left out.',
    ],
    charts: [
      {
        kind: 'bars',
        id: 'waiting-mean',
        ...CHART,
        title: 'Mean queueing delay per queue',
        description: 'Mean seconds from arrival to start, one bar per scheduler.',
        categories,
        yLabel: 'mean queueing delay (s)',
        series: runs.map((r) => ({
          label: r.scheduler,
          colour: colourOf(runs, r),
          values: [...r.metrics.queues.map((q) => q.delay.meanS), r.metrics.delay.meanS],
        })),
        decimals: 0,
      },
    ],
  };
}

function localitySection(runs: readonly GangRunResult[]): ReportSection {
  const parts = [
    ['one rack or narrower', (r: GangRunResult) => r.metrics.locality.withinRack],
    ['one block', (r: GangRunResult) => r.metrics.locality.withinBlock],
    ['wider', (r: GangRunResult) => r.metrics.locality.wider],
  ] as const;
  return {
    title: 'Topology locality',
    text: [
      'Gangs placed on more than one node, by the narrowest topology level holding all their pods. "When a rack had room": of the gangs for which some rack could hold every pod at the moment they were admitted, the share kept within one rack.',
    ],
    charts: [
      {
        kind: 'stacked',
        id: 'locality-levels',
        ...CHART,
        title: 'Multi-node gangs by the narrowest level holding them',
        description: 'Share of multi-node gangs within one rack, one block, or wider.',
        categories: runs.map((r) => r.scheduler),
        yLabel: 'multi-node gangs (%)',
        yUnit: '%',
        normalise: true,
        stacks: parts.map(([label, value]) => ({ label, values: runs.map(value) })),
      },
    ],
    table: {
      headers: [
        'scheduler',
        'multi-node gangs',
        'in one rack',
        'when a rack had room',
        'room not reserved',
      ],
      rows: runs.map((r) => {
        const l = r.metrics.locality;
        const ratio = (a: number, b: number) =>
          b > 0 ? `${((100 * a) / b).toFixed(1)}% (${a}/${b})` : '-';
        return [
          r.scheduler,
          String(l.multiNodeGangs),
          String(l.withinRack),
          ratio(l.rackRoomWithinRack, l.rackRoom),
          ratio(l.rackOpenWithinRack, l.rackOpen),
        ];
      }),
    },
  };
}

function shareSection(runs: readonly GangRunResult[]): ReportSection | undefined {
  const first = runs[0];
  if (first === undefined || first.metrics.queues.length === 0) return undefined;
  return {
    title: 'Share per queue',
    text: [
      'The share of the GPUs each queue held while every queue had gangs waiting, next to the share its weight asks for.',
    ],
    charts: [
      {
        kind: 'bars',
        id: 'share-contended',
        ...CHART,
        title: 'GPU share while all queues waited, against the weight share',
        description: 'One group per queue: its weight share and the share each scheduler gave it.',
        categories: first.metrics.queues.map((q) => q.name),
        yLabel: 'share of GPUs (%)',
        yUnit: '%',
        series: [
          {
            label: 'weight share',
            colour: WEIGHT_COLOUR,
            values: first.metrics.queues.map((q) => 100 * q.weightShare),
          },
          ...runs.map((r) => ({
            label: r.scheduler,
            colour: colourOf(runs, r),
            values: r.metrics.queues.map((q) =>
              Number.isFinite(q.contendedShare) ? 100 * q.contendedShare : undefined,
            ),
          })),
        ],
      },
    ],
  };
}

function utilisationSection(runs: readonly GangRunResult[]): ReportSection {
  return {
    title: 'GPU utilisation over time',
    charts: [
      {
        kind: 'line',
        id: 'utilisation',
        ...CHART,
        title: 'GPUs in use over time',
        description:
          'Share of the cluster’s GPU capacity allocated, time-weighted over equal slices of the run.',
        xLabel: 'time since the first arrival (h)',
        yLabel: 'GPU capacity in use (%)',
        yUnit: '%',
        series: runs.map((r) => ({
          label: r.scheduler,
          colour: colourOf(runs, r),
          points: r.metrics.utilisation.map((p) => ({ x: p.t / 3600, y: p.pct })),
        })),
        yDomain: [0, 100],
      },
    ],
  };
}

function occupancySection(runs: readonly GangRunResult[]): ReportSection {
  return {
    title: 'Cluster occupancy at its busiest',
    text: [
      'One map per scheduler, at the first moment of its highest GPU utilisation; nodes grouped by block and rack.',
    ],
    charts: runs.map((r) => ({
      kind: 'heat' as const,
      id: `occupancy-${r.scheduler}`,
      title: `${r.scheduler}: ${r.metrics.peak.pct.toFixed(1)}% of GPUs in use at ${(r.metrics.peak.t / 3600).toFixed(2)} h`,
      description: 'Each square is a node, coloured by the share of its GPUs in use.',
      groups: occupancyGroups(r.metrics.peak.nodes),
    })),
  };
}

/** The report input of gang runs (one workload, one seed, several schedulers). */
export function gangReportInput(
  runs: readonly GangRunResult[],
  options: GangReportOptions = {},
): ReportInput {
  const first = runs[0];
  const w = first?.workload;
  const share = shareSection(runs);
  const trace = options.trace;
  return {
    title: `Phalanx simulation report: ${w?.name ?? 'gang workload'}`,
    run: {
      workload: 'gang workload replay (gangs arrive, run for their run time, and leave)',
      ...(trace === undefined ? {} : { trace: { name: trace, files: options.files ?? [] } }),
      policies: runs.map((r) => r.scheduler),
      seeds: [...new Set(runs.map((r) => r.seed))],
      ...(w?.synthetic === undefined
        ? {}
        : { overlay: { description: w.description, seed: w.seed } }),
      facts:
        w === undefined
          ? []
          : [
              { label: 'cluster', value: `${w.nodes} nodes, ${w.gpus} GPUs` },
              { label: 'gangs', value: `${w.gangs} gangs, ${w.pods} pods` },
              {
                label: 'queues',
                value: w.queues.map((q) => `${q.name} (weight ${q.weight})`).join(', ') || 'none',
              },
              ...(trace === undefined
                ? (options.files ?? []).map((f) => ({
                    label: f.role,
                    value: `${f.path} (sha256 ${f.sha256.slice(0, 12)})`,
                  }))
                : []),
            ],
      ...(options.command === undefined ? {} : { command: options.command }),
      ...(options.generatedAt === undefined ? {} : { generatedAt: options.generatedAt }),
    },
    summary: summaryOf(runs),
    waiting: waitingSection(runs),
    locality: localitySection(runs),
    ...(share === undefined ? {} : { share }),
    occupancy: occupancySection(runs),
    extra: [utilisationSection(runs)],
  };
}
