/**
 * `phalanx simulate`: replay a GPU trace through the scheduling core with one placement policy
 * and print the GPU allocation and fragmentation it reaches.
 */
import { FlagError, parseCommandLine, usage } from '../config/flags.ts';
import { parsePolicies, SIMULATE_FLAGS } from '../config/simulate.ts';
import { commandLine, writeOpenbReport } from '../simulator/html/write.ts';
import { progressReporter } from '../simulator/progress.ts';
import { summaryTable, writeRunFiles } from '../simulator/report.ts';
import { loadTrace, simulate } from '../simulator/run.ts';

const SUMMARY =
  'Replay a GPU trace (openb CSVs) through the scheduling core with one or more placement policies; print GPU allocation and fragmentation per arrived demand, optionally as an HTML report.';

export async function main(argv: readonly string[]): Promise<number> {
  const { values, help } = parseCommandLine('simulate', SIMULATE_FLAGS, argv, process.env);
  if (help) {
    process.stdout.write(usage('simulate', SUMMARY, SIMULATE_FLAGS));
    return 0;
  }
  if (values.nodes === '' || values.pods === '') {
    throw new FlagError(
      'phalanx simulate: pass the trace with --nodes <node list csv> and --pods <pod list csv> (no default workload is built in yet); e.g. --nodes ../shared/traces/openb/openb_node_list_gpu_node.csv --pods ../shared/traces/openb/openb_pod_list_default.csv',
    );
  }
  if (!Number.isSafeInteger(values.seed)) {
    throw new FlagError(`--seed: expected a whole number, got ${values.seed}`);
  }
  const policies = parsePolicies(values.policy);
  const trace = loadTrace(values.nodes, values.pods);
  const runs = policies.map((policy) => {
    const progress = progressReporter(process.stderr, `simulate ${policy}`);
    const run = simulate(trace, {
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
