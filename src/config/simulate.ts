/** Settings of `phalanx simulate`, the trace replay. */
import { POLICY_NAMES } from '../scheduling/policies/index.ts';
import type { FlagTable } from './flags.ts';

export const SIMULATE_FLAGS = {
  nodes: {
    type: 'string',
    env: 'PHALANX_SIMULATE_NODES',
    default: '',
    description:
      'Node list CSV (openb format: sn, cpu_milli, memory_mib, gpu, model). Required for now.',
  },
  pods: {
    type: 'string',
    env: 'PHALANX_SIMULATE_PODS',
    default: '',
    description:
      'Pod list CSV (openb format: name, cpu_milli, memory_mib, num_gpu, gpu_milli[, gpu_spec]). Required for now.',
  },
  policy: {
    type: 'string',
    env: 'PHALANX_SIMULATE_POLICY',
    default: 'phalanx',
    choices: POLICY_NAMES,
    description: 'Placement policy to replay with: a published baseline or ours (phalanx).',
  },
  seed: {
    type: 'number',
    env: 'PHALANX_SIMULATE_SEED',
    default: 42,
    min: 0,
    description:
      'Seed of the pod shuffle, the workload sampling, the node order and random choices.',
  },
  'tune-ratio': {
    type: 'number',
    env: 'PHALANX_SIMULATE_TUNE_RATIO',
    default: 1.3,
    min: 0,
    max: 100,
    description:
      "Arriving GPU demand as a multiple of the cluster's GPU capacity (1.3 = 130%); 0 replays the shuffled trace untuned.",
  },
  out: {
    type: 'string',
    env: 'PHALANX_SIMULATE_OUT',
    default: '',
    description:
      'Directory for per-run files (<policy>-seed<n>-ratio<r>.csv and .json with the per-1% series); empty writes none.',
  },
} as const satisfies FlagTable;
