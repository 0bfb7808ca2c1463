/**
 * The memory benchmark's stand-in API server: its slice text is exactly what the slice builder
 * gives for each node, and it fills the scheduler's caches with every node and slice.
 */
import { describe, expect, it } from 'vitest';
import { ClusterFeed, sliceTexts } from '../../../bench/lib/cluster-feed.ts';
import { syntheticNodeSlices } from '../../../bench/lib/synthetic-cluster.ts';
import { ClusterInformers } from '../../../src/kube/informer.ts';
import { silentLogger } from '../../../src/observability/logger.ts';

const spec = {
  nodes: 20,
  profile: 'sxm8-80g',
  nodesPerRack: 4,
  racksPerBlock: 2,
  serverMinor: 36,
  slicePageSize: 7,
  nodePageSize: 3,
};

describe('ClusterFeed', () => {
  it("gives each node the slice builder's own text", () => {
    const ofNode = sliceTexts(spec);
    for (const i of [0, 1, 17]) {
      expect(ofNode(i)).toEqual(syntheticNodeSlices(spec, i).map((s) => JSON.stringify(s)));
    }
  });

  it('streams every node and slice into ClusterInformers in batches', async () => {
    const feed = new ClusterFeed(spec);
    const ci = new ClusterInformers(undefined, {
      logger: silentLogger(),
      source: (r) => feed.source(r),
    });
    ci.start();
    await ci.waitForSync(2000);
    await feed.done;
    expect(ci.nodes.list()).toHaveLength(20);
    expect(feed.slicesSent).toBe(80);
    expect(ci.slices.list()).toHaveLength(80);
    expect(ci.nodes.get('gpu-node-00005')?.metadata.labels?.['topology.phalanx.dev/rack']).toBe(
      'rack-1',
    );
    expect(ci.pods.list()).toHaveLength(0);
    await ci.stop();
  });
});
