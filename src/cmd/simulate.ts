/**
 * `phalanx simulate`: with no flags, the embedded default gang workload, phalanx against
 * fifo-first-fit; `--workload FILE` a workload of your own; `--overlay --nodes --pods` the openb
 * trace as gangs; `--nodes --pods` alone the openb trace replay with placement policies.
 */
import { FlagError, parseCommandLine, usage } from '../config/flags.ts';
import { parsePolicies, parseSchedulers, SIMULATE_FLAGS } from '../config/simulate.ts';
import { runGangCommand } from '../simulator/gang-command.ts';
import { commandLine, writeOpenbReport } from '../simulator/html/write.ts';
import { progressReporter } from '../simulator/progress.ts';
import { summaryTable, writeRunFiles } from '../simulator/report.ts';
import { loadTrace, simulate } from '../simulator/run.ts';

const SUMMARY =
  'Simulate gang scheduling through the scheduling core: with no flags an embedded default workload (phalanx vs fifo-first-fit), --workload FILE your own, --overlay --nodes --pods the openb trace as gangs. --nodes --pods alone replay the openb trace pod by pod with placement policies (GPU allocation and fragmentation per arrived demand).';

export async function main(argv: readonly string[]): Promise<number> {
  const { values, help } = parseCommandLine('simulate', SIMULATE_FLAGS, argv, process.env);
  if (help) {
    process.stdout.write(usage('simulate', SUMMARY, SIMULATE_FLAGS));
    return 0;
  }
  if (!Number.isSafeInteger(values.seed)) {
    throw new FlagError(`--seed: expected a whole number, got ${values.seed}`);
  }
  const trace = values.nodes !== '' || values.pods !== '';
  if (trace && (values.nodes === '' || values.pods === '')) {
    throw new FlagError(
      'phalanx simulate: a trace needs both --nodes <node list csv> and --pods <pod list csv>; e.g. --nodes ../shared/traces/openb/openb_node_list_gpu_node.csv --pods ../shared/traces/openb/openb_pod_list_default.csv',
    );
  }
  if (values.workload !== '' && trace) {
    throw new FlagError('phalanx simulate: pass either --workload or --nodes and --pods, not both');
  }
  if (!trace || values.overlay) {
    return runGangCommand({
      workload: values.workload,
      nodes: values.nodes,
      pods: values.pods,
      overlayLoad: values['overlay-load'],
      overlayDemand: values['overlay-demand'],
      schedulers: parseSchedulers(values.scheduler),
      policy: values['gang-policy'],
      seed: values.seed,
      out: values.out,
      report: values.report,
      argv,
    });
  }
  return replayTrace(values, argv);
}

function replayTrace(
  values: ReturnType<typeof parseCommandLine<typeof SIMULATE_FLAGS>>['values'],
  argv: readonly string[],
): number {
  const policies = parsePolicies(values.policy);
  const data = loadTrace(values.nodes, values.pods);
  const runs = policies.map((policy) => {
    const progress = progressReporter(process.stderr, `simulate ${policy}`);
    const run = simulate(data, {
      policy,
      seed: values.seed,
      ratio: values['tune-ratio'],
      onProgress: progress.update,
      occupancy: values.report !== '',
    });
    progress.done(run.summary.wallMs);
    return run;
  });
  process.stdout.write(summaryTable(runs));
  if (values.out !== '') {
    for (const run of runs) {
      for (const file of writeRunFiles(values.out, run)) process.stderr.write(`wrote ${file}\n`);
    }
  }
  if (values.report !== '') {
    const file = writeOpenbReport(values.report, runs, {
      command: `phalanx simulate ${commandLine(argv)}`,
      generatedAt: new Date().toISOString(),
    });
    process.stderr.write(`wrote ${file}\n`);
  }
  return 0;
}
