/**
 * Access to the local real cluster from integration tests: kubectl as admin, the REST client,
 * the supervisor that owns the processes, and small polling helpers.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ResourceSlice } from '../../src/api/resource/v1.ts';
import { KubeClient } from '../../src/kube/rest.ts';
import {
  type ClusterState,
  LocalCluster,
  loadClusterState,
  type NodeState,
} from '../cluster/cluster.ts';
import { Supervisor, waitFor } from '../cluster/processes.ts';

export { waitFor };

export interface TestCluster {
  readonly state: ClusterState;
  readonly supervisor: Supervisor;
  readonly cluster: LocalCluster;
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

export function connectCluster(): TestCluster {
  const state = loadClusterState();
  const supervisor = new Supervisor(state.stateDir);
  const cluster = new LocalCluster({ stateDir: state.stateDir, binDir: state.binDir });
  const kube = KubeClient.fromOptions({ kubeconfig: state.kubeconfig });
  return {
    state,
    supervisor,
    cluster,
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
