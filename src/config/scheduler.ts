/**
 * Settings of `phalanx scheduler`: the scheduler extender (HTTP, on every replica) and the
 * leader-elected gang planner, in one process. The flag table is the single source of the
 * defaults; the chart sets the env twins.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { DEFAULT_LIVE_POLICY } from '../scheduling/planner.ts';
import { POLICY_NAMES } from '../scheduling/policies/index.ts';
import { type TopologyLevel, TopologyTree } from '../scheduling/topology.ts';
import { type FlagTable, type FlagValues, VERBOSITY_FLAG } from './flags.ts';

export const SCHEDULER_FLAGS = {
  kubeconfig: {
    type: 'string',
    env: 'KUBECONFIG',
    default: '',
    description: 'Kubeconfig file; empty uses the in-cluster service account (or ~/.kube/config).',
  },
  'extender-address': {
    type: 'string',
    env: 'PHALANX_EXTENDER_ADDRESS',
    default: '127.0.0.1:8888',
    description:
      'host:port the extender listens on; kube-scheduler calls it at the urlPrefix of its extender entry.',
  },
  'url-prefix': {
    type: 'string',
    env: 'PHALANX_EXTENDER_URL_PREFIX',
    default: '/scheduler',
    description:
      'Path under which the verbs are served (POST <prefix>/filter, /prioritize, /preempt).',
  },
  'tls-cert-file': {
    type: 'string',
    env: 'PHALANX_EXTENDER_TLS_CERT_FILE',
    default: '',
    description:
      'PEM certificate for HTTPS (enableHTTPS: true in the extender entry); empty serves plain HTTP.',
  },
  'tls-key-file': {
    type: 'string',
    env: 'PHALANX_EXTENDER_TLS_KEY_FILE',
    default: '',
    description: 'PEM private key of --tls-cert-file.',
  },
  'metrics-address': {
    type: 'string',
    env: 'PHALANX_METRICS_ADDRESS',
    default: ':9402',
    description: 'host:port for Prometheus /metrics; empty disables.',
  },
  policy: {
    type: 'string',
    env: 'PHALANX_POLICY',
    default: DEFAULT_LIVE_POLICY,
    choices: POLICY_NAMES,
    description: 'Placement policy that picks nodes inside the chosen topology domain.',
  },
  'plan-ttl': {
    type: 'number',
    env: 'PHALANX_PLAN_TTL_SECONDS',
    default: 300,
    min: 10,
    description:
      'Seconds a planned pod may stay unbound; then its gang is stale and its pods are recreated to plan again.',
  },
  'topology-levels': {
    type: 'string',
    env: 'PHALANX_TOPOLOGY_LEVELS',
    default: '',
    description:
      'Topology levels, widest first, as a JSON array of {name, labels, unlabelled?} or the path of a JSON/YAML file holding one; empty uses the built-in zone, block, rack, nvlink levels.',
  },
  'extender-max-staleness': {
    type: 'number',
    env: 'PHALANX_EXTENDER_MAX_STALENESS_MS',
    default: 1000,
    min: 0,
    max: 10000,
    description:
      'Milliseconds the extender may decide on cluster objects that only pods binding elsewhere changed, while no plan reserves capacity; 0 decides on the current objects every time.',
  },
  'round-period': {
    type: 'number',
    env: 'PHALANX_ROUND_PERIOD_SECONDS',
    default: 10,
    min: 1,
    max: 600,
    description:
      'Seconds between planning rounds when nothing changes (rounds also follow every change).',
  },
  'leader-elect': {
    type: 'boolean',
    env: 'PHALANX_LEADER_ELECT',
    default: true,
    description:
      'Plan only while holding the lease, so replicas never plan at once; every replica serves the extender.',
  },
  'leader-elect-namespace': {
    type: 'string',
    env: 'PHALANX_LEADER_ELECT_NAMESPACE',
    default: 'phalanx-system',
    description: 'Namespace of the planner Lease.',
  },
  'leader-elect-name': {
    type: 'string',
    env: 'PHALANX_LEADER_ELECT_NAME',
    default: 'phalanx-planner',
    description: 'Name of the planner Lease.',
  },
  'sync-timeout': {
    type: 'number',
    env: 'PHALANX_SYNC_TIMEOUT_SECONDS',
    default: 120,
    min: 1,
    description:
      'Seconds to wait at startup for the API server caches to list; the process exits after that.',
  },
  v: VERBOSITY_FLAG,
} as const satisfies FlagTable;

export type SchedulerFlags = FlagValues<typeof SCHEDULER_FLAGS>;

function fail(source: string, why: string): never {
  throw new Error(`--topology-levels (${source}): ${why}`);
}

function level(source: string, raw: unknown, i: number): TopologyLevel {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    fail(source, `entry ${i} must be an object with name and labels`);
  }
  const { name, labels, unlabelled } = raw as Record<string, unknown>;
  if (typeof name !== 'string') fail(source, `entry ${i}: name must be a string`);
  if (!Array.isArray(labels) || labels.some((l) => typeof l !== 'string' || l === '')) {
    fail(source, `level "${name}": labels must be a list of node label keys`);
  }
  if (unlabelled !== undefined && unlabelled !== 'shared' && unlabelled !== 'own') {
    fail(source, `level "${name}": unlabelled must be "shared" or "own"`);
  }
  const out: TopologyLevel = { name, labels: labels as string[] };
  return unlabelled === undefined ? out : { ...out, unlabelled };
}

/**
 * The levels of `--topology-levels`: inline JSON (starts with `[`) or a JSON/YAML file; undefined
 * for the built-in levels. Throws one sentence naming what to fix.
 */
export function loadTopologyLevels(value: string): TopologyLevel[] | undefined {
  const text = value.trim();
  if (text === '') return undefined;
  let source = 'inline JSON';
  let raw: unknown;
  try {
    if (text.startsWith('[')) raw = JSON.parse(text);
    else {
      source = text;
      raw = parseYaml(readFileSync(text, 'utf8'));
    }
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    fail(source, `cannot be read (${why.split('\n')[0] ?? why})`);
  }
  if (!Array.isArray(raw) || raw.length === 0) {
    fail(source, 'must be a non-empty list of levels, widest first');
  }
  const levels = raw.map((r, i) => level(source, r, i));
  try {
    new TopologyTree([], levels);
  } catch (error) {
    fail(source, error instanceof Error ? error.message : String(error));
  }
  return levels;
}

/**
 * How `phalanx scheduler` is started (the chart's container command and env): its caches hold
 * every Node and ResourceSlice of the cluster, and these keep the process's resident memory
 * close to what it uses (5,000 nodes × 8 GPUs with partitions: see bench/scheduler-memory.ts).
 * - `--max-semi-space-size=1`: a 1 MiB young generation instead of up to 16 MiB per semi-space;
 *   the caches are long-lived, so a large nursery only holds garbage between collections.
 * - `--optimize-for-size`: slower old-space growth and more eager release of pooled pages.
 * - `MALLOC_ARENA_MAX=2`: glibc otherwise keeps one malloc arena per thread (libuv's pool,
 *   V8's workers), each holding freed memory.
 */
export const SCHEDULER_RUNTIME = {
  nodeFlags: ['--max-semi-space-size=1', '--optimize-for-size'],
  env: { MALLOC_ARENA_MAX: '2' },
} as const;
