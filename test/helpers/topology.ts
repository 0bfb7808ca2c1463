/**
 * API-only GPU nodes for scheduling tests on the real control plane: Node objects with topology
 * labels, allocatable CPU/memory/pods and a Ready condition, but no kubelet, plus the
 * ResourceSlices our kubelet plugin would publish for them (the fake backend's inventory through
 * the driver's own slice builder). kube-scheduler and its DRA allocator treat them like any node:
 * pods bind to them (spec.nodeName) and claims are allocated from their slices; the pods then stay
 * in phase Pending because no kubelet runs them.
 *
 * Without a kubelet the node lifecycle controller soon marks such a node not ready or unreachable
 * and taints it; pods meant for these nodes carry {@link API_ONLY_NODE_TOLERATIONS}.
 */
import type { ResourceSlice } from '../../src/api/resource/v1.ts';
import { FakeGpuBackend } from '../../src/devices/fake/backend.ts';
import {
  buildPoolSlices,
  layoutForServerVersion,
  type SliceLayout,
} from '../../src/driver/slices.ts';
import type { ClusterState } from '../cluster/cluster.ts';
import { type TestCluster, waitFor } from './cluster.ts';

export const LABEL_BLOCK = 'topology.phalanx.dev/block';
export const LABEL_RACK = 'topology.phalanx.dev/rack';

/** Taints the node lifecycle controller puts on nodes whose kubelet never reports. */
export const API_ONLY_NODE_TOLERATIONS = [
  { key: 'node.kubernetes.io/not-ready', operator: 'Exists' },
  { key: 'node.kubernetes.io/unreachable', operator: 'Exists' },
] as const;

export interface ApiOnlyNode {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
}

/** Where an API-only node sits: its block and rack label values. */
export interface NodePlace {
  readonly block: string;
  readonly rack: string;
}

/**
 * `<prefix>-b<i>-r<j>-n<k>` nodes, `blocks × racks × nodes`, labelled with their block
 * (`b<i>`) and a rack name unique in the cluster (`b<i>-r<j>`), plus the given extra labels.
 */
export function topologyNodes(
  prefix: string,
  shape: { blocks: number; racksPerBlock: number; nodesPerRack: number },
  extraLabels: Readonly<Record<string, string>>,
): ApiOnlyNode[] {
  const out: ApiOnlyNode[] = [];
  for (let b = 0; b < shape.blocks; b++) {
    for (let r = 0; r < shape.racksPerBlock; r++) {
      for (let n = 0; n < shape.nodesPerRack; n++) {
        const name = `${prefix}-b${b}-r${r}-n${n}`;
        out.push({
          name,
          labels: {
            'kubernetes.io/hostname': name,
            [LABEL_BLOCK]: `b${b}`,
            [LABEL_RACK]: `b${b}-r${r}`,
            ...extraLabels,
          },
        });
      }
    }
  }
  return out;
}

/** The block and rack labels {@link topologyNodes} gave a node; undefined for other nodes. */
export function placeOf(nodes: readonly ApiOnlyNode[], name: string): NodePlace | undefined {
  const labels = nodes.find((n) => n.name === name)?.labels;
  if (labels === undefined) return undefined;
  return { block: labels[LABEL_BLOCK] ?? '', rack: labels[LABEL_RACK] ?? '' };
}

/**
 * The slice layout our plugin publishes on this cluster: by the API server's minor version, and
 * whole GPUs only when partitionable devices are switched off (the harness's feature gates).
 */
export function pluginLayout(state: Pick<ClusterState, 'minor' | 'featureGates'>): SliceLayout {
  const partitionsOn =
    state.minor >= 36 || state.featureGates.includes('DRAPartitionableDevices=true');
  return partitionsOn ? layoutForServerVersion(1, state.minor) : 'whole-gpus';
}

function nodeObject(node: ApiOnlyNode, now: string): object {
  const capacity = { cpu: '64', memory: '512Gi', pods: '110' };
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: node.name, labels: node.labels },
    spec: {},
    status: {
      capacity,
      allocatable: capacity,
      conditions: [
        {
          type: 'Ready',
          status: 'True',
          reason: 'KubeletReady',
          message: 'API-only test node: no kubelet runs here',
          lastHeartbeatTime: now,
          lastTransitionTime: now,
        },
      ],
    },
  };
}

/** The slices our plugin would publish for the node, owned by the Node object. */
export function apiOnlySlices(
  c: TestCluster,
  node: { name: string; uid: string },
  profile: string,
): ResourceSlice[] {
  const backend = new FakeGpuBackend(node.name, { profile });
  return buildPoolSlices(backend.inventory(), {
    driverName: 'gpu.phalanx.dev',
    nodeName: node.name,
    nodeUid: node.uid,
    layout: pluginLayout(c.state),
    taintUnhealthy: true,
    serverMinor: c.state.minor,
  });
}

/**
 * Creates the nodes and their slices (`profile` of the fake backend). Returns how many slices
 * were created. Leftovers of an earlier run are removed first.
 */
export async function createApiOnlyNodes(
  c: TestCluster,
  nodes: readonly ApiOnlyNode[],
  profile: string,
): Promise<number> {
  await deleteApiOnlyNodes(c, nodes);
  const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  let slices = 0;
  for (const node of nodes) {
    const created = await c.kube.request<{ metadata: { uid: string } }>('POST', '/api/v1/nodes', {
      body: nodeObject(node, now),
    });
    for (const slice of apiOnlySlices(c, { name: node.name, uid: created.metadata.uid }, profile)) {
      await c.kube.request('POST', '/apis/resource.k8s.io/v1/resourceslices', { body: slice });
      slices++;
    }
  }
  return slices;
}

/** Deletes the nodes and their slices and waits until both are gone. */
export async function deleteApiOnlyNodes(
  c: TestCluster,
  nodes: readonly ApiOnlyNode[],
): Promise<void> {
  const names = new Set(nodes.map((n) => n.name));
  for (const name of names) {
    c.kubectl(['delete', 'node', name, '--ignore-not-found', '--wait=false']);
    c.kubectl([
      'delete',
      'resourceslices',
      '--field-selector',
      `spec.nodeName=${name}`,
      '--ignore-not-found',
      '--wait=false',
    ]);
  }
  await waitFor(
    `API-only nodes ${[...names].join(', ')} and their ResourceSlices gone`,
    async () => {
      const list = await c.kube.request<{ items: { metadata: { name: string } }[] }>(
        'GET',
        '/api/v1/nodes',
      );
      const slices = await c.kube.request<{ items: ResourceSlice[] }>(
        'GET',
        '/apis/resource.k8s.io/v1/resourceslices',
      );
      return (
        !list.items.some((n) => names.has(n.metadata.name)) &&
        !slices.items.some((s) => names.has(s.spec.nodeName ?? ''))
      );
    },
    60_000,
    250,
  );
}
