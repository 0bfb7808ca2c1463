import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ClusterModel, type NodeSpec, type NodeState } from '../../../src/scheduling/cluster.ts';
import { type GangPlan, GangPlanner, type GangWait } from '../../../src/scheduling/gang.ts';
import type { PodShape } from '../../../src/scheduling/node-view.ts';
import type { PlacementPolicy, PolicyContext } from '../../../src/scheduling/policy.ts';
import { TopologyTree } from '../../../src/scheduling/topology.ts';

const GiB = 2 ** 30;

/** Fills the fullest node first and, on it, the lowest free GPUs: a simple packing policy. */
const pack: PlacementPolicy = {
  name: 'test-pack',
  score(node, shape) {
    const gpus: number[] = [];
    for (let g = 0; g < node.gpuCount && gpus.length < shape.gpuCount; g++) {
      if (node.gpuFreeMilli(g) >= shape.gpuMilli) gpus.push(g);
    }
    return { score: -node.gpuFreeMilliTotal, pick: { gpus, milli: shape.gpuMilli } };
  },
};
const ctx: PolicyContext = { random: () => 0.5, maxCpuMilli: 1, maxMemoryBytes: 1, maxGpuCount: 8 };

/** 2 blocks x 2 racks x 4 nodes x 8 GPUs. */
function cluster(): NodeSpec[] {
  const nodes: NodeSpec[] = [];
  for (let b = 0; b < 2; b++) {
    for (let r = 0; r < 2; r++) {
      for (let n = 0; n < 4; n++) {
        nodes.push({
          name: `b${b}-r${r}-n${n}`,
          labels: { 'topology.phalanx.dev/block': `b${b}`, 'topology.phalanx.dev/rack': `r${r}` },
          cpuMilli: 64_000,
          memoryBytes: 512 * GiB,
          gpus: Array.from({ length: 8 }, () => ({ model: 'H100', shareable: false })),
        });
      }
    }
  }
  return nodes;
}

const gpuPod = (gpus: number): PodShape => ({
  cpuMilli: 4000,
  memoryBytes: 32 * GiB,
  gpuCount: gpus,
  gpuMilli: 1000,
  gpuModels: [],
});

function setup() {
  const model = ClusterModel.fromNodes(cluster());
  const tree = new TopologyTree(model.nodes);
  return { model, tree, planner: new GangPlanner(model, tree, pack, ctx) };
}

const members = (n: number, gpus: number, prefix = 'p') =>
  Array.from({ length: n }, (_, i) => ({ id: `${prefix}-${i}`, shape: gpuPod(gpus) }));

function planned(r: GangPlan | GangWait): GangPlan {
  if (r.kind !== 'planned') throw new Error(`expected a plan, got: ${r.reason}`);
  return r;
}

const nodesOf = (p: GangPlan) => new Set(p.placements.map((x) => x.node.name));

describe('TopologyTree', () => {
  it('keys domains by their full path and knows the levels', () => {
    const { tree, model } = setup();
    expect(tree.levelNames()).toEqual(['zone', 'block', 'rack', 'nvlink', 'node']);
    const rackDepth = tree.depthOf('rack') ?? -1;
    const racks = tree.domainsAt(rackDepth);
    expect(racks).toHaveLength(4); // r0 of b0 and r0 of b1 are distinct
    const n0 = model.node('b1-r0-n0');
    expect(n0 && tree.domainOf(n0.ordinal, rackDepth)?.key).toBe('rack:-/b1/r0');
  });
});

describe('GangPlanner', () => {
  it('places a gang that fits one node on one node', () => {
    const { planner } = setup();
    const plan = planned(planner.plan({ id: 'g', members: members(4, 2) }));
    expect(plan.level).toBe('node');
    expect(nodesOf(plan).size).toBe(1);
  });

  it('keeps a 16-GPU gang inside one rack and a 48-GPU gang inside one block', () => {
    const { planner, tree } = setup();
    const rack = planned(planner.plan({ id: 'r', members: members(4, 4) }));
    expect(['node', 'nvlink', 'rack']).toContain(rack.level);
    expect(tree.commonDepth(rack.placements.map((p) => p.node.ordinal))).toBeGreaterThanOrEqual(2);
    const block = planned(planner.plan({ id: 'b', members: members(6, 8, 'b') }));
    expect(block.level).toBe('block');
  });

  it('packs small gangs into a partly used rack before opening a fresh one', () => {
    const { planner, tree } = setup();
    const first = planned(planner.plan({ id: 'a', members: members(3, 8, 'a') }));
    const second = planned(planner.plan({ id: 'b', members: members(1, 8, 'b') }));
    const rackDepth = tree.depthOf('rack') ?? -1;
    const rackOf = (p: GangPlan) =>
      tree.domainOf(p.placements[0]?.node.ordinal ?? -1, rackDepth)?.key;
    expect(rackOf(second)).toBe(rackOf(first));
  });

  it('makes a rack-required gang wait rather than span racks, and reserves nothing', () => {
    const { planner, model } = setup();
    const result = planner.plan({ id: 'big', members: members(5, 8), required: 'rack' });
    expect(result.kind).toBe('waiting');
    if (result.kind === 'waiting') {
      expect(result.reason).toMatch(/gang big: no rack has room for all 5 pods/);
      expect(result.reason).toMatch(/best rack r\d has room for 4/);
    }
    expect(model.gpuMilliAllocated()).toBe(0);
  });

  it('falls back from a preferred block with a note', () => {
    const { planner } = setup();
    const plan = planned(planner.plan({ id: 'huge', members: members(9, 8), preferred: 'block' }));
    expect(plan.level).toBe('zone');
    expect(plan.note).toMatch(
      /no block has room for all 9 pods of gang huge; placed across zone \(unlabelled\)/,
    );
  });

  it('rejects an unknown level with the list of known ones', () => {
    const { planner } = setup();
    const r = planner.plan({ id: 'x', members: members(1, 1), required: 'row' });
    expect(r.kind === 'waiting' && r.reason).toMatch(
      /unknown topology level "row"; known levels: zone, block, rack, nvlink, node/,
    );
  });

  it('honours the allowed-node filter', () => {
    const { planner } = setup();
    const only = (n: NodeState) => n.name.startsWith('b1-r1');
    const plan = planned(planner.plan({ id: 'f', members: members(2, 8), allowed: only }));
    for (const p of plan.placements) expect(p.node.name.startsWith('b1-r1')).toBe(true);
  });

  it('places whole gangs or nothing, and never overcommits (property)', () => {
    const gang = fc.record({
      size: fc.integer({ min: 1, max: 12 }),
      gpus: fc.constantFrom(1, 2, 4, 8),
      required: fc.constantFrom(undefined, 'rack', 'block'),
    });
    fc.assert(
      fc.property(fc.array(gang, { minLength: 1, maxLength: 12 }), (gangs) => {
        const { planner, model } = setup();
        let expected = 0;
        gangs.forEach((g, i) => {
          const before = model.gpuMilliAllocated();
          const r = planner.plan({
            id: `g${i}`,
            members: members(g.size, g.gpus, `g${i}`),
            required: g.required,
          });
          const delta = model.gpuMilliAllocated() - before;
          if (r.kind === 'planned') {
            expect(r.placements).toHaveLength(g.size);
            expect(delta).toBe(g.size * g.gpus * 1000);
            expected += delta;
          } else {
            expect(delta).toBe(0);
          }
        });
        expect(model.gpuMilliAllocated()).toBe(expected);
        expect(expected).toBeLessThanOrEqual(model.gpuMilliTotal);
      }),
      { numRuns: 60 },
    );
  });
});
