/**
 * `phalanx demo`: the kubelet plugin on fake GPUs, end to end, with no cluster.
 */
import { type FlagTable, parseCommandLine, usage } from '../config/flags.ts';
import { runPluginDemo } from '../demo/plugin-demo.ts';
import { FAKE_PROFILE_NAMES } from '../devices/fake/profiles.ts';

export const DEMO_FLAGS = {
  profile: {
    type: 'string',
    env: 'PHALANX_DEMO_PROFILE',
    default: 'sxm8-80g',
    choices: FAKE_PROFILE_NAMES,
    description: 'Fake GPU node profile to run the demo on.',
  },
  keep: {
    type: 'boolean',
    env: 'PHALANX_DEMO_KEEP',
    default: false,
    description: 'Keep the temporary kubelet root (sockets, CDI specs, checkpoint) for inspection.',
  },
} as const satisfies FlagTable;

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
