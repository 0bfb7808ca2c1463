/** Settings of `phalanx simulate`, the trace replay. */
import { isPolicyName, POLICY_NAMES, type PolicyName } from '../scheduling/policies/index.ts';
import { FlagError, type FlagTable } from './flags.ts';

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
    description: `Placement policy to replay with: a published baseline or ours (phalanx); a comma list or all replays each with the same seed. One of: ${POLICY_NAMES.join(', ')}, or all.`,
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
  report: {
    type: 'string',
    env: 'PHALANX_SIMULATE_REPORT',
    default: '',
    description:
      'HTML report to write (one self-contained file with inline SVG charts: allocation and fragmentation per policy against the published numbers, occupancy maps); empty writes none.',
  },
} as const satisfies FlagTable;

/**
 * The policies named by --policy: one name, a comma list (in the order given, repeats dropped),
 * or `all` (every policy, baselines first).
 */
export function parsePolicies(text: string): PolicyName[] {
  const names = text
    .split(',')
    .map((n) => n.trim())
    .filter((n) => n !== '');
  if (names.length === 0) {
    throw new FlagError(`--policy: name a policy; use one of ${POLICY_NAMES.join(', ')}, or all`);
  }
  if (names.includes('all')) return [...POLICY_NAMES];
  const out: PolicyName[] = [];
  for (const name of names) {
    if (!isPolicyName(name)) {
      throw new FlagError(
        `--policy: "${name}" is not allowed; use one of ${POLICY_NAMES.join(', ')}, or all`,
      );
    }
    if (!out.includes(name)) out.push(name);
  }
  return out;
}
