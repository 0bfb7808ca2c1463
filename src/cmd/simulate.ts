/**
 * `phalanx simulate`: replay a GPU trace through the scheduling core with one placement policy
 * and print the GPU allocation and fragmentation it reaches.
 */
import { FlagError, parseCommandLine, usage } from '../config/flags.ts';
import { SIMULATE_FLAGS } from '../config/simulate.ts';
import { progressReporter } from '../simulator/progress.ts';
import { summaryTable, writeRunFiles } from '../simulator/report.ts';
import { loadTrace, simulate } from '../simulator/run.ts';

const SUMMARY =
  'Replay a GPU trace (openb CSVs) through the scheduling core with one placement policy; print GPU allocation and fragmentation per arrived demand.';

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
  const trace = loadTrace(values.nodes, values.pods);
  const progress = progressReporter(process.stderr, `simulate ${values.policy}`);
  const run = simulate(trace, {
    policy: values.policy,
    seed: values.seed,
    ratio: values['tune-ratio'],
    onProgress: progress.update,
  });
  progress.done(run.summary.wallMs);
  process.stdout.write(summaryTable([run]));
  if (values.out !== '') {
    for (const file of writeRunFiles(values.out, run)) process.stderr.write(`wrote ${file}\n`);
  }
  return 0;
}
