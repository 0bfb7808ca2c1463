/** Settings of `phalanx demo`. */
import { FAKE_PROFILE_NAMES } from '../devices/fake/profiles.ts';
import type { FlagTable } from './flags.ts';

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
