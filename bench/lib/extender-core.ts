/**
 * The production extender decider (CoreDecider over the scheduling core) for the extender
 * benchmark: a synthetic sxm8-80g cluster with the benchmark's node names, and a pod mix that
 * exercises both hot paths kube-scheduler sends: a planned gang member (checked against its plan)
 * and a GPU pod outside any gang (checked against every node's free GPUs and the reservations).
 */
import { CoreDecider } from '../../src/extender/core-decider.ts';
import type { ExtenderDecider } from '../../src/extender/decider.ts';
import * as core from '../../src/scheduling/extender-decisions.ts';
import type { ClusterObjects } from '../../src/scheduling/round-types.ts';
import { benchNodeName, benchPod } from '../extender.ts';
import { syntheticCluster } from './synthetic-cluster.ts';

const EIGHT_GPUS = {
  metadata: { name: 'eight-gpus', namespace: 'ml' },
  spec: {
    spec: {
      devices: {
        requests: [{ name: 'gpus', exactly: { deviceClassName: 'gpu.phalanx.dev', count: 8 } }],
      },
    },
  },
};

export function coreDeciderFor(nodeNames: readonly string[]): ExtenderDecider {
  const base = syntheticCluster({
    nodes: nodeNames.length,
    profile: 'sxm8-80g',
    nodesPerRack: 40,
    racksPerBlock: 8,
    serverMinor: 36,
    name: (i) => nodeNames[i] ?? benchNodeName(i),
  });
  const objects: ClusterObjects = { ...base, templates: [EIGHT_GPUS] };
  return new CoreDecider({ core, objects: () => objects, synced: () => true, settings: {} });
}

/**
 * Even calls: an 8-GPU pod outside any gang (every candidate node checked); odd calls: a planned
 * member of an 8-pod gang (its plan names one node of the cluster).
 */
export function corePod(i: number): unknown {
  {
    const pod = benchPod(i) as {
      metadata: { labels: Record<string, string>; annotations: Record<string, string> };
    };
    if (i % 2 === 0) {
      const {
        'phalanx.dev/gang': _g,
        'phalanx.dev/gang-size': _s,
        'phalanx.dev/queue': _q,
        ...labels
      } = pod.metadata.labels;
      return { ...pod, metadata: { ...pod.metadata, labels } };
    }
    // A node present in every scenario (the first 500 names).
    const node = benchNodeName((i * 7919) % 500);
    const plan = JSON.stringify({
      gang: `ml/train-${Math.floor(i / 8)}`,
      plan: 'p1',
      node,
      level: 'rack',
      domain: 'r00',
      expires: '2030-01-01T00:00:00Z',
    });
    return {
      ...pod,
      metadata: {
        ...pod.metadata,
        annotations: { ...pod.metadata.annotations, 'phalanx.dev/plan': plan },
      },
    };
  }
}
