/**
 * API-only GPU nodes, without the test runner: Node objects with topology labels, allocatable
 * CPU/memory/pods and a Ready condition but no kubelet, and the ResourceSlices our kubelet plugin
 * would publish for them (the fake backend's inventory through the driver's own slice builder).
 * The integration tests reach these through `topology.ts`; benchmarks that run outside vitest
 * (bench/throughput.ts) import this module directly.
 */
import type { ResourceSlice } from '../../src/api/resource/v1.ts';
import { FakeGpuBackend } from '../../src/devices/fake/backend.ts';
import {
  buildPoolSlices,
  layoutForServerVersion,
  type SliceLayout,
} from '../../src/driver/slices.ts';
import type { KubeClient } from '../../src/kube/rest.ts';
import type { ClusterState } from '../cluster/cluster.ts';

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

/** What the slice layout depends on: the API server's minor version and the feature gates. */
export type LayoutInputs = Pick<ClusterState, 'minor' | 'featureGates'>;

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

/**
 * The slice layout our plugin publishes on this cluster: by the API server's minor version, and
 * whole GPUs only when partitionable devices are switched off (the harness's feature gates).
 */
export function pluginLayout(state: LayoutInputs): SliceLayout {
  const partitionsOn =
    state.minor >= 36 || state.featureGates.includes('DRAPartitionableDevices=true');
  return partitionsOn ? layoutForServerVersion(1, state.minor) : 'whole-gpus';
}

/** The v1.Node object of an API-only node, Ready as of `now` (RFC 3339 without fractions). */
export function apiOnlyNodeObject(node: ApiOnlyNode, now: string): object {
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

/**
 * The slices our plugin would publish for the node, owned by the Node object: in the plugin's
 * default layout for this cluster, or in `layout` (the plugin's --slice-layout).
 */
export function apiOnlyNodeSlices(
  state: LayoutInputs,
  node: { name: string; uid: string },
  profile: string,
  layout: SliceLayout = pluginLayout(state),
): ResourceSlice[] {
  const backend = new FakeGpuBackend(node.name, { profile });
  return buildPoolSlices(backend.inventory(), {
    driverName: 'gpu.phalanx.dev',
    nodeName: node.name,
    nodeUid: node.uid,
    layout,
    taintUnhealthy: true,
    serverMinor: state.minor,
  });
}

/**
 * POSTs each node and then its slices (`profile` of the fake backend, the plugin's default layout
 * unless `layout` is given), `concurrency` nodes at a time. Returns how many slices were created.
 * The nodes must not exist yet.
 */
export async function postApiOnlyNodes(
  kube: KubeClient,
  state: LayoutInputs,
  nodes: readonly ApiOnlyNode[],
  profile: string,
  options: { readonly concurrency?: number; readonly layout?: SliceLayout } = {},
): Promise<number> {
  const layout = options.layout ?? pluginLayout(state);
  const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  let slices = 0;
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let node = nodes[next++]; node !== undefined; node = nodes[next++]) {
      const created = await kube.request<{ metadata: { uid: string } }>('POST', '/api/v1/nodes', {
        body: apiOnlyNodeObject(node, now),
      });
      const uid = created.metadata.uid;
      for (const slice of apiOnlyNodeSlices(state, { name: node.name, uid }, profile, layout)) {
        await kube.request('POST', '/apis/resource.k8s.io/v1/resourceslices', { body: slice });
        slices++;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? 1) }, worker));
  return slices;
}
