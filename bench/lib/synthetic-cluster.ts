/**
 * Synthetic clusters for scheduler benchmarks: N nodes of one fake GPU profile, labelled into
 * blocks and racks, with the ResourceSlices our driver publishes for them (built by the real slice
 * builder from the fake backend, so the model is fed exactly what a live cluster would hold).
 */
import type { ResourceSlice } from '../../src/api/resource/v1.ts';
import { FakeGpuBackend } from '../../src/devices/fake/backend.ts';
import { buildPoolSlices } from '../../src/driver/slices.ts';
import type { ClusterObjects, NodeObject } from '../../src/scheduling/round-types.ts';

export interface SyntheticClusterSpec {
  readonly nodes: number;
  readonly profile: string;
  readonly nodesPerRack: number;
  readonly racksPerBlock: number;
  /** Kubernetes minor the slices are laid out for (35+: counters in their own slice). */
  readonly serverMinor: number;
  /** Node names (default `gpu-node-NNNNN`). */
  readonly name?: (i: number) => string;
}

export function syntheticNodeName(i: number): string {
  return `gpu-node-${String(i).padStart(5, '0')}`;
}

/** Node `i` of the cluster: labelled into its block and rack, 192 CPUs and 2 TiB allocatable. */
export function syntheticNode(spec: SyntheticClusterSpec, i: number): NodeObject {
  const name = (spec.name ?? syntheticNodeName)(i);
  const rack = Math.floor(i / spec.nodesPerRack);
  const block = Math.floor(rack / spec.racksPerBlock);
  return {
    metadata: {
      name,
      uid: `uid-${name}`,
      labels: {
        'kubernetes.io/hostname': name,
        'topology.phalanx.dev/block': `block-${block}`,
        'topology.phalanx.dev/rack': `rack-${rack}`,
      },
    },
    status: { allocatable: { cpu: '192', memory: '2Ti', pods: '250' } },
  };
}

/** The ResourceSlices our driver publishes for node `i` (built by the real slice builder). */
export function syntheticNodeSlices(spec: SyntheticClusterSpec, i: number): ResourceSlice[] {
  const name = (spec.name ?? syntheticNodeName)(i);
  const backend = new FakeGpuBackend(name, { profile: spec.profile });
  return buildPoolSlices(backend.inventory(), {
    driverName: 'gpu.phalanx.dev',
    nodeName: name,
    nodeUid: `uid-${name}`,
    layout: spec.serverMinor >= 35 ? 'split' : 'combined',
    taintUnhealthy: true,
    serverMinor: spec.serverMinor,
  });
}

export function syntheticCluster(spec: SyntheticClusterSpec): ClusterObjects {
  const nodes: NodeObject[] = [];
  const slices: ResourceSlice[] = [];
  for (let i = 0; i < spec.nodes; i++) {
    nodes.push(syntheticNode(spec, i));
    for (const s of syntheticNodeSlices(spec, i)) slices.push(s);
  }
  return {
    nodes,
    slices,
    claims: [],
    templates: [],
    pods: [],
    namespaces: new Map(),
    podGroups: [],
    queues: [],
  };
}
