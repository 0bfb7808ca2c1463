/**
 * The gang side of `phalanx simulate`: which workload runs (the embedded default, a workload file,
 * or an openb trace under the synthetic gang overlay), running it with each scheduler, and what is
 * printed and written. Kept out of cmd/simulate.ts so the entrypoint stays a dispatcher.
 */
import { basename, relative } from 'node:path';
import { gangReportInput } from './gang-html.ts';
import { gangSummary, type SummaryContext, writeGangRunFiles } from './gang-report.ts';
import {
  DEFAULT_WORKLOAD_PATH,
  type GangRunResult,
  type GangSchedulerName,
  type LoadedWorkload,
  loadWorkload,
  runGangSimulation,
} from './gang-run.ts';
import type { GangWorkload } from './gang-workload.ts';
import { commandLine, writeReport } from './html/write.ts';
import { readNodeCsv, readPodCsv } from './openb.ts';
import { gangOverlay, OVERLAY_LABEL, type OverlayStats } from './overlay.ts';
import { progressReporter } from './progress.ts';

export const OPENB_HINT =
  'phalanx simulate --overlay --nodes ../shared/traces/openb/openb_node_list_gpu_node.csv --pods ../shared/traces/openb/openb_pod_list_default.csv';

export interface GangCommandSettings {
  readonly workload: string;
  readonly nodes: string;
  readonly pods: string;
  readonly overlayLoad: number;
  readonly overlayDemand: number;
  readonly schedulers: readonly GangSchedulerName[];
  readonly policy: string;
  readonly seed: number;
  readonly out: string;
  readonly report: string;
  readonly argv: readonly string[];
}

interface Prepared {
  readonly workload: GangWorkload;
  readonly context: SummaryContext;
  readonly files: { role: string; path: string; sha256: string; rows?: number }[];
  readonly trace?: string;
  readonly overlay?: OverlayStats;
}

function shown(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel.startsWith('..') || rel === '' ? path : rel;
}

function fromFile(loaded: LoadedWorkload, isDefault: boolean): Prepared {
  const files = [{ role: 'workload', path: shown(loaded.path), sha256: loaded.sha256 }];
  if (isDefault) {
    return {
      workload: loaded.workload,
      files,
      context: {
        what: `This is the embedded default: a small made-up cluster and workload of our own (${shown(loaded.path)}), no trace and no download; phalanx against fifo-first-fit.`,
        next: `Run the openb production trace instead (gangs made up by the ${OVERLAY_LABEL}): ${OPENB_HINT}; or your own workload: phalanx simulate --workload FILE.`,
      },
    };
  }
  return {
    workload: loaded.workload,
    files,
    context: {
      what: `Workload file ${shown(loaded.path)} (sha256 ${loaded.sha256.slice(0, 12)}).`,
    },
  };
}

function fromOverlay(s: GangCommandSettings): Prepared {
  const nodes = readNodeCsv(s.nodes);
  const pods = readPodCsv(s.pods);
  const trace = basename(s.pods).replace(/\.csv$/, '');
  const { workload, stats } = gangOverlay(nodes.rows, pods.rows, {
    seed: s.seed,
    trace,
    load: s.overlayLoad,
    demand: s.overlayDemand,
  });
  return {
    workload,
    trace: `${trace} (${OVERLAY_LABEL})`,
    overlay: stats,
    files: [
      { role: 'nodes', path: shown(nodes.path), sha256: nodes.sha256, rows: nodes.rows.length },
      { role: 'pods', path: shown(pods.path), sha256: pods.sha256, rows: pods.rows.length },
    ],
    context: {
      what: `${trace} [${OVERLAY_LABEL}, seed ${s.seed}]: the trace's pods (Alibaba cluster-trace-gpu-v2023, Weng et al. ATC'23) grouped into gangs of Philly-sized jobs (Jeon et al. ATC'19), ${stats.gangs} gangs of which ${stats.multiPodGangs} have several pods; arrivals compressed ${stats.compression.toFixed(0)}x into ${(stats.windowS / 60).toFixed(1)} min.`,
    },
  };
}

function prepare(s: GangCommandSettings): Prepared {
  if (s.workload !== '') return fromFile(loadWorkload(s.workload), false);
  if (s.nodes !== '' && s.pods !== '') return fromOverlay(s);
  return fromFile(loadWorkload(DEFAULT_WORKLOAD_PATH), true);
}

function runAll(prepared: Prepared, s: GangCommandSettings): GangRunResult[] {
  return s.schedulers.map((scheduler) => {
    const progress = progressReporter(process.stderr, `simulate ${scheduler}`, {
      noun: 'gangs',
      verb: 'run',
    });
    const run = runGangSimulation(prepared.workload, {
      scheduler,
      policy: s.policy,
      seed: s.seed,
      onProgress: progress.update,
    });
    progress.done(run.wallMs);
    return run;
  });
}

/** Runs the gang simulation the settings name, prints the summary, writes files; exit status. */
export function runGangCommand(s: GangCommandSettings): number {
  const prepared = prepare(s);
  const runs = runAll(prepared, s);
  process.stdout.write(gangSummary(runs, prepared.context));
  if (s.out !== '') {
    const inputs = { files: prepared.files, overlay: prepared.overlay };
    for (const file of writeGangRunFiles(s.out, runs, inputs))
      process.stderr.write(`wrote ${file}\n`);
  }
  if (s.report !== '') {
    const file = writeReport(
      s.report,
      gangReportInput(runs, {
        command: `phalanx simulate ${commandLine(s.argv)}`,
        generatedAt: new Date().toISOString(),
        files: prepared.files,
        ...(prepared.trace === undefined ? {} : { trace: prepared.trace }),
      }),
    );
    process.stderr.write(`wrote ${file}\n`);
  }
  return 0;
}
