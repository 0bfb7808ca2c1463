/**
 * `phalanx demo`: the kubelet plugin on fake GPUs, end to end, with no cluster.
 */
import { DEMO_FLAGS } from '../config/demo.ts';
import { parseCommandLine, usage } from '../config/flags.ts';
import { runPluginDemo } from '../demo/plugin-demo.ts';

export async function main(argv: readonly string[]): Promise<number> {
  const { values, help } = parseCommandLine('demo', DEMO_FLAGS, argv, process.env);
  if (help) {
    process.stdout.write(
      usage(
        'demo',
        'Walk the kubelet plugin through register, publish, prepare, faults and unprepare on fake GPUs.',
        DEMO_FLAGS,
      ),
    );
    return 0;
  }
  const summary = await runPluginDemo({
    profile: values.profile,
    keep: values.keep,
    write: (t) => process.stdout.write(t),
  });
  return summary.leftoverCdiSpecs === 0 ? 0 : 1;
}
