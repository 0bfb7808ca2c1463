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
