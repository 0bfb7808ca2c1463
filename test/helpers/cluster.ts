/**
 * Access to the local real cluster from integration tests: kubectl as admin, the REST client,
 * the supervisor that owns the processes, and small polling helpers.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, inject } from 'vitest';
import type { ResourceSlice } from '../../src/api/resource/v1.ts';
import { KubeClient } from '../../src/kube/rest.ts';
import {
  type ClusterState,
  DEFAULT_STATE_DIR,
  destroyCluster,
  kubeBinDir,
  LocalCluster,
  loadClusterState,
  type NodeState,
} from '../cluster/cluster.ts';
import { Supervisor, waitFor } from '../cluster/processes.ts';

export { waitFor };

/** The fake-GPU node kinds the tests place work on. */
export type NodeRole = 'sxm' | 'rack' | 'pcie';

export interface TestCluster {
  readonly state: ClusterState;
  /**
   * True on the local harness (processes we own, fake CRI records, plugin metrics ports); false
   * when PHALANX_KUBECONFIG points the suite at another cluster, where those checks are skipped.
   */
  readonly local: boolean;
  readonly supervisor: Supervisor;
  /** The local harness; throws on an external cluster. */
  harness(): LocalCluster;
  /** Node name of a role: the local harness's profiles, or PHALANX_NODE_ROLES=sxm=a,rack=b,pcie=c. */
  role(role: NodeRole): string;
  readonly kube: KubeClient;
  kubectl(args: readonly string[], input?: string): string;
  node(name: string): NodeState;
  slices(nodeName: string): Promise<ResourceSlice[]>;
  /** Lines of the fake CRI's call record of a node. */
  criCalls(nodeName: string): CriCall[];
  /** Scrapes the plugin's /metrics of a node. */
  pluginMetrics(nodeName: string): Promise<string>;
}

export interface CriCall {
  readonly call: string;
  readonly pod?: { name: string; namespace: string; uid: string };
  readonly container?: string;
  readonly cdiDevices?: string[];
  readonly env?: Record<string, string>;
  readonly [key: string]: unknown;
}

function clusterAlive(stateDir: string): boolean {
  if (!existsSync(join(stateDir, 'cluster.json'))) return false;
  const supervisor = new Supervisor(stateDir);
  return ['etcd', 'kube-apiserver'].every((name) => supervisor.alive(name));
}

/**
 * The local real cluster for this test run: reused when one is running, otherwise started now
 * (once per run; concurrent callers wait on a lock directory) and owned by this run.
 */
export async function ensureCluster(): Promise<TestCluster> {
  const external = process.env.PHALANX_KUBECONFIG;
  if (external !== undefined && external !== '') return externalCluster(external);
  const stateDir = process.env.PHALANX_CLUSTER_DIR ?? DEFAULT_STATE_DIR;
  const lock = `${stateDir}.lock`;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      await sleep(500);
    }
  }
  try {
    if (!clusterAlive(stateDir)) {
      await destroyCluster(stateDir);
      const cluster = new LocalCluster({ stateDir });
      try {
        await cluster.up();
      } catch (error) {
        const supervisor = new Supervisor(stateDir);
        for (const record of supervisor.records()) {
          process.stderr.write(`==== ${record.name}\n${supervisor.tail(record.name, 30)}\n`);
        }
        await destroyCluster(stateDir);
        throw error;
      }
      writeFileSync(join(stateDir, 'owner'), inject('phalanxRunId'));
    }
  } finally {
    rmdirSync(lock);
  }
  return connectCluster();
}

const PROFILE_ROLES: Readonly<Record<string, NodeRole>> = {
  'sxm8-80g': 'sxm',
  'nvl4-rack': 'rack',
  'pcie4-48g': 'pcie',
};

function rolesFromEnv(): Partial<Record<NodeRole, string>> {
  const roles: Partial<Record<NodeRole, string>> = {};
  for (const pair of (process.env.PHALANX_NODE_ROLES ?? '').split(',')) {
    const [role, node] = pair.split('=');
    if ((role === 'sxm' || role === 'rack' || role === 'pcie') && node) roles[role] = node;
  }
  return roles;
}

function roleLookup(roles: Partial<Record<NodeRole, string>>): (role: NodeRole) => string {
  return (role) => {
    const node = roles[role];
    if (node === undefined) {
      throw new Error(
        `no node for role ${role}: set PHALANX_NODE_ROLES=sxm=<node>,rack=<node>,pcie=<node>`,
      );
    }
    return node;
  };
}

/** The suite against any kubeconfig: API-level checks only. */
async function externalCluster(kubeconfig: string): Promise<TestCluster> {
  const kube = KubeClient.fromOptions({ kubeconfig });
  const version = await kube.serverVersion();
  const nodes = await kube.request<{ items: { metadata: { name: string } }[] }>(
    'GET',
    '/api/v1/nodes',
    {
      query: { labelSelector: 'phalanx.dev/gpu-node=true' },
    },
  );
  const binDir = process.env.KUBE_BIN_DIR ?? kubeBinDir();
  const state: ClusterState = {
    stateDir: '',
    binDir,
    version: version.gitVersion,
    minor: version.minor,
    server: kube.server.toString(),
    kubeconfig,
    caCert: '',
    featureGates: process.env.PHALANX_FEATURE_GATES ?? '',
    nodes: nodes.items.map(
      (n) => ({ name: n.metadata.name, fakeGpus: { profile: 'unknown' } }) as NodeState,
    ),
  };
  return clusterAccess(state, kube, false, roleLookup(rolesFromEnv()));
}

export function connectCluster(): TestCluster {
  const state = loadClusterState();
  const kube = KubeClient.fromOptions({ kubeconfig: state.kubeconfig });
  const roles: Partial<Record<NodeRole, string>> = {};
  for (const node of state.nodes) {
    const role = PROFILE_ROLES[node.fakeGpus.profile];
    if (role !== undefined) roles[role] ??= node.name;
  }
  return clusterAccess(state, kube, true, roleLookup({ ...roles, ...rolesFromEnv() }));
}

function clusterAccess(
  state: ClusterState,
  kube: KubeClient,
  local: boolean,
  role: (role: NodeRole) => string,
): TestCluster {
  const supervisor = new Supervisor(
    local ? state.stateDir : join('/tmp', 'phalanx-no-local-cluster'),
  );
  let cluster: LocalCluster | undefined;
  return {
    state,
    local,
    supervisor,
    harness: () => {
      if (!local)
        throw new Error(
          'this check needs the local harness (make cluster-up), not PHALANX_KUBECONFIG',
        );
      cluster ??= new LocalCluster({ stateDir: state.stateDir, binDir: state.binDir });
      return cluster;
    },
    role,
    kube,
    kubectl: (args, input) =>
      execFileSync(join(state.binDir, 'kubectl'), ['--kubeconfig', state.kubeconfig, ...args], {
        encoding: 'utf8',
        input,
        stdio: ['pipe', 'pipe', 'pipe'],
      }),
    node: (name) => {
      const node = state.nodes.find((n) => n.name === name);
      if (node === undefined) throw new Error(`no node ${name} in the test cluster`);
      return node;
    },
    slices: async (nodeName) => {
      const list = await kube.request<{ items: ResourceSlice[] }>(
        'GET',
        '/apis/resource.k8s.io/v1/resourceslices',
        {
          query: { fieldSelector: `spec.nodeName=${nodeName}` },
        },
      );
      return list.items;
    },
    criCalls: (nodeName) => {
      const file = state.nodes.find((n) => n.name === nodeName)?.criRecord ?? '';
      if (!existsSync(file)) return [];
      return readFileSync(file, 'utf8')
        .split('\n')
        .filter((line) => line.trim() !== '')
        .map((line) => JSON.parse(line) as CriCall);
    },
    pluginMetrics: async (nodeName) => {
      const node = state.nodes.find((n) => n.name === nodeName);
      const res = await fetch(`http://127.0.0.1:${node?.pluginMetricsPort ?? 0}/metrics`);
      return res.text();
    },
  };
}

/** Value of a metric sample line (`name{labels} value`), or undefined. */
export function metricValue(text: string, sample: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
  return line === undefined ? undefined : Number(line.slice(sample.length + 1));
}

/**
 * After a failed test, prints what a person debugging it needs: the namespace's pods and events
 * and the last lines of the control plane, kubelet and plugin logs.
 */
export function dumpOnFailure(c: TestCluster, namespace: string): void {
  afterEach((context) => {
    if (context.task.result?.state !== 'fail') return;
    const safe = (args: readonly string[]): string => {
      try {
        return c.kubectl(args);
      } catch (error) {
        return String(error);
      }
    };
    const out: string[] = [`==== diagnostics for "${context.task.name}"`];
    out.push(safe(['get', 'pods', '-n', namespace, '-o', 'wide']));
    out.push(safe(['get', 'events', '-n', namespace, '--sort-by=.lastTimestamp']));
    out.push(safe(['get', 'resourceclaims', '-n', namespace]));
    for (const record of c.supervisor.records()) {
      if (!/^(kube-scheduler|kubelet-|plugin-)/.test(record.name)) continue;
      out.push(`---- ${record.name}\n${c.supervisor.tail(record.name, 15)}`);
    }
    process.stderr.write(`${out.join('\n')}\n`);
  });
}
