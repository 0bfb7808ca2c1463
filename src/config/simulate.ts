/**
 * Settings of `phalanx simulate`: gang simulations (the embedded default, a workload file, or the
 * openb trace with the synthetic gang overlay) and the openb trace replay.
 */
import { DEFAULT_LIVE_POLICY } from '../scheduling/planner.ts';
import { isPolicyName, POLICY_NAMES, type PolicyName } from '../scheduling/policies/index.ts';
import { FlagError, type FlagTable } from './flags.ts';

/** The schedulers a gang simulation can compare. */
export const GANG_SCHEDULER_NAMES = ['phalanx', 'fifo-first-fit'] as const;
export type GangSchedulerFlag = (typeof GANG_SCHEDULER_NAMES)[number];

export const SIMULATE_FLAGS = {
  workload: {
    type: 'string',
    env: 'PHALANX_SIMULATE_WORKLOAD',
    default: '',
    description:
      'Gang workload file (YAML or JSON; docs/simulator-workloads.md): cluster, queues, gangs. With no --workload, --nodes or --pods, the embedded default workload runs.',
  },
  nodes: {
    type: 'string',
    env: 'PHALANX_SIMULATE_NODES',
    default: '',
    description:
      'Node list CSV (openb format: sn, cpu_milli, memory_mib, gpu, model), with --pods: replay the openb trace, or with --overlay run it as gangs.',
  },
  pods: {
    type: 'string',
    env: 'PHALANX_SIMULATE_PODS',
    default: '',
    description:
      'Pod list CSV (openb format: name, cpu_milli, memory_mib, num_gpu, gpu_milli[, gpu_spec, creation_time, deletion_time]), with --nodes.',
  },
  overlay: {
    type: 'boolean',
    env: 'PHALANX_SIMULATE_OVERLAY',
    default: false,
    description:
      'With --nodes and --pods: group the trace pods into gangs with the seeded synthetic gang overlay (docs/simulator-workloads.md) and compare the gang schedulers instead of replaying single pods.',
  },
  'overlay-load': {
    type: 'number',
    env: 'PHALANX_SIMULATE_OVERLAY_LOAD',
    default: 1,
    min: 0.01,
    max: 100,
    description:
      "Overlay: GPU load offered inside the compressed arrival window, as a fraction of the cluster's GPUs (arrival times are scaled to reach it).",
  },
  'overlay-demand': {
    type: 'number',
    env: 'PHALANX_SIMULATE_OVERLAY_DEMAND',
    default: 1.3,
    min: 0,
    max: 100,
    description:
      "Overlay: GPUs requested by all pods as a multiple of the cluster's GPUs; the trace is tuned up by seeded redraws as the published protocol does (0: as is).",
  },
  scheduler: {
    type: 'string',
    env: 'PHALANX_SIMULATE_SCHEDULER',
    default: GANG_SCHEDULER_NAMES.join(','),
    description: `Gang runs: the schedulers to compare on the same workload, comma-separated. One or more of: ${GANG_SCHEDULER_NAMES.join(', ')}.`,
  },
  'gang-policy': {
    type: 'string',
    env: 'PHALANX_SIMULATE_GANG_POLICY',
    default: DEFAULT_LIVE_POLICY,
    choices: POLICY_NAMES,
    description:
      "Gang runs: the placement policy phalanx places each gang's pods with (the live planner's default).",
  },
  policy: {
    type: 'string',
    env: 'PHALANX_SIMULATE_POLICY',
    default: 'phalanx',
    description: `Trace replay: placement policy to replay with: a published baseline or ours (phalanx); a comma list or all replays each with the same seed. One of: ${POLICY_NAMES.join(', ')}, or all.`,
  },
  seed: {
    type: 'number',
    env: 'PHALANX_SIMULATE_SEED',
    default: 42,
    min: 0,
    description:
      "Seed of the pod shuffle, the workload sampling, the node order and random choices; for gang runs, of the overlay and the schedulers' random choices (a workload file's generators use the file's seed).",
  },
  'tune-ratio': {
    type: 'number',
    env: 'PHALANX_SIMULATE_TUNE_RATIO',
    default: 1.3,
    min: 0,
    max: 100,
    description:
      "Trace replay: arriving GPU demand as a multiple of the cluster's GPU capacity (1.3 = 130%); 0 replays the shuffled trace untuned.",
  },
  out: {
    type: 'string',
    env: 'PHALANX_SIMULATE_OUT',
    default: '',
    description:
      'Directory for per-run files: trace replays write <policy>-seed<n>-ratio<r>.csv and .json (the per-1% series), gang runs <workload>-<scheduler>-seed<n>.json (every metric and gang); empty writes none.',
  },
  report: {
    type: 'string',
    env: 'PHALANX_SIMULATE_REPORT',
    default: '',
    description:
      'HTML report to write (one self-contained file with inline SVG charts: for trace replays allocation and fragmentation per policy against the published numbers; for gang runs queueing delay, locality, share per queue, utilisation; occupancy maps); empty writes none.',
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

/** The gang schedulers named by --scheduler, in the order given, repeats dropped. */
export function parseSchedulers(text: string): GangSchedulerFlag[] {
  const out: GangSchedulerFlag[] = [];
  for (const name of text.split(',').map((n) => n.trim())) {
    if (name === '') continue;
    const known = GANG_SCHEDULER_NAMES.find((n) => n === name);
    if (known === undefined) {
      throw new FlagError(
        `--scheduler: "${name}" is not allowed; use one or more of ${GANG_SCHEDULER_NAMES.join(', ')}`,
      );
    }
    if (!out.includes(known)) out.push(known);
  }
  if (out.length === 0) {
    throw new FlagError(`--scheduler: name a scheduler; use ${GANG_SCHEDULER_NAMES.join(', ')}`);
  }
  return out;
}
