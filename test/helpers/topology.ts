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
import {
  type ApiOnlyNode,
  apiOnlyNodeSlices,
  LABEL_BLOCK,
  LABEL_RACK,
  postApiOnlyNodes,
} from './api-only-nodes.ts';
import { type TestCluster, waitFor } from './cluster.ts';

// The node shapes and objects live in api-only-nodes.ts (no test-runner imports), so benchmarks
// outside vitest build the same nodes; they are re-exported here for the tests.
export {
  API_ONLY_NODE_TOLERATIONS,
  type ApiOnlyNode,
  LABEL_BLOCK,
  LABEL_RACK,
  pluginLayout,
  topologyNodes,
} from './api-only-nodes.ts';

/** Where an API-only node sits: its block and rack label values. */
export interface NodePlace {
  readonly block: string;
  readonly rack: string;
}

/** The block and rack labels {@link topologyNodes} gave a node; undefined for other nodes. */
export function placeOf(nodes: readonly ApiOnlyNode[], name: string): NodePlace | undefined {
  const labels = nodes.find((n) => n.name === name)?.labels;
  if (labels === undefined) return undefined;
  return { block: labels[LABEL_BLOCK] ?? '', rack: labels[LABEL_RACK] ?? '' };
}

/** The slices our plugin would publish for the node, owned by the Node object. */
export function apiOnlySlices(
  c: TestCluster,
  node: { name: string; uid: string },
  profile: string,
): ResourceSlice[] {
  return apiOnlyNodeSlices(c.state, node, profile);
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
  return postApiOnlyNodes(c.kube, c.state, nodes, profile);
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
