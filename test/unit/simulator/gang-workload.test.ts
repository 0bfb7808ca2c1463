import { describe, expect, it } from 'vitest';
import type { NodeSpec } from '../../../src/scheduling/cluster.ts';
import { ClusterModel } from '../../../src/scheduling/cluster.ts';
import { TopologyTree } from '../../../src/scheduling/topology.ts';
import { DEFAULT_WORKLOAD_PATH, loadWorkload } from '../../../src/simulator/gang-run.ts';
import {
  DEFAULT_POD_CPU_MILLI,
  DEFAULT_POD_MEMORY_BYTES,
  parseWorkload,
  WorkloadError,
} from '../../../src/simulator/gang-workload.ts';

const GiB = 2 ** 30;
const noNodes = () => {
  throw new Error('no node list in this test');
};

const EXAMPLE = `
name: two-teams
seed: 3
cluster:
  groups:
    - name: h100
      zone: z1
      blocks: 2
      racksPerBlock: 2
      nodesPerRack: 2
      node: sxm8-80g
    - name: gb
      nodesPerRack: 2
      node: nvl4-rack
    - name: cpu
      node: { cpu: 96, memory: 768Gi, gpus: 0 }
queues:
  - name: team-a
    weight: 2
    cohort: lab
    quotas: [{ resource: gpu.phalanx.dev, nominal: 48, borrowingLimit: 16 }]
  - name: team-b
    cohort: lab
    quotas: [{ resource: gpu.phalanx.dev, nominal: 48 }]
gangs:
  - name: llm
    queue: team-a
    priority: 10
    arrival: 600
    runtime: 7200
    pods: 4
    gpusPerPod: 8
    cpu: 96
    memory: 1Ti
    gpuModels: [Phalanx Fake H100 SXM 80GB]
    topology: { required: block, preferred: rack }
  - name: early
    runtime: 60
    pods: 1
    gpuMilli: 250
generators:
  - name: nb
    count: 50
    queue: { team-a: 1, team-b: 3 }
    arrival: { start: 0, every: 45 }
    runtime: { min: 600, max: 3600 }
    pods: { 1: 7, 2: 1, 4: 2 }
    gpusPerPod: 1
    cpu: 500m
`;

function parse(text: string, seed?: number) {
  return parseWorkload(text, 'test.yaml', {
    readNodes: noNodes,
    ...(seed === undefined ? {} : { seed }),
  });
}

function errorsOf(text: string): readonly string[] {
  try {
    parse(text);
  } catch (error) {
    if (error instanceof WorkloadError) return error.errors;
    throw error;
  }
  throw new Error('expected the workload to be refused');
}

const MINIMAL = `
cluster: { groups: [{ name: a, node: sxm8-80g }] }
gangs: [{ name: g, runtime: 1, pods: 1 }]
`;

describe('workload files', () => {
  it('reads a full example: cluster, queues, gangs and generators', () => {
    const w = parse(EXAMPLE);
    expect(w.name).toBe('two-teams');
    expect(w.seed).toBe(3);
    // 2 blocks x 2 racks x 2 nodes + 2 rack nodes + 1 CPU node
    expect(w.nodes).toHaveLength(11);
    const first = w.nodes[0] as NodeSpec;
    expect(first.name).toBe('h100-b0-r0-n0');
    expect(first.labels).toEqual({
      'topology.phalanx.dev/zone': 'z1',
      'topology.phalanx.dev/block': 'h100-b0',
      'topology.phalanx.dev/rack': 'h100-b0-r0',
    });
    expect(first.gpus).toHaveLength(8);
    expect(first.gpus[0]).toEqual({ model: 'Phalanx Fake H100 SXM 80GB', shareable: true });
    const gb = w.nodes.find((n) => n.name === 'gb-b0-r0-n1');
    expect(gb?.labels?.['topology.phalanx.dev/nvlink-domain']).toBe('gb-b0-r0-nvl');
    expect(w.nodes.at(-1)).toMatchObject({ cpuMilli: 96_000, memoryBytes: 768 * GiB, gpus: [] });
    expect(w.queues.map((q) => [q.metadata.name, q.spec.weight, q.spec.cohort])).toEqual([
      ['team-a', 2, 'lab'],
      ['team-b', 1, 'lab'],
    ]);
    expect(w.gangs).toHaveLength(52);
    const llm = w.gangs.find((g) => g.id === 'llm');
    expect(llm).toMatchObject({
      queue: 'team-a',
      priority: 10,
      arrival: 600,
      runtime: 7200,
      pods: 4,
      required: 'block',
      preferred: 'rack',
      shape: { cpuMilli: 96_000, memoryBytes: 1024 * GiB, gpuCount: 8, gpuMilli: 1000 },
    });
    expect(w.gangs.find((g) => g.id === 'early')?.shape).toEqual({
      cpuMilli: DEFAULT_POD_CPU_MILLI,
      memoryBytes: DEFAULT_POD_MEMORY_BYTES,
      gpuCount: 1,
      gpuMilli: 250,
      gpuModels: [],
    });
  });

  it('labels nodes so the core sees zones, blocks and racks', () => {
    const w = parse(EXAMPLE);
    const tree = new TopologyTree(ClusterModel.fromNodes(w.nodes).nodes);
    const rack = tree.depthOf('rack') ?? -1;
    const block = tree.depthOf('block') ?? -1;
    expect(tree.domainsAt(block).length).toBe(4); // h100-b0, h100-b1, gb-b0, cpu-b0
    expect(tree.domainsAt(rack).length).toBe(6);
  });

  it('expands generators deterministically from the seed, in arrival order', () => {
    const a = parse(EXAMPLE);
    const b = parse(EXAMPLE);
    const c = parse(EXAMPLE, 99);
    expect(a.gangs).toEqual(b.gangs);
    expect(c.gangs).not.toEqual(a.gangs);
    const nb = a.gangs.filter((g) => g.id.startsWith('nb-'));
    expect(nb).toHaveLength(50);
    expect(nb[0]?.arrival).toBe(0);
    for (const g of nb) {
      expect(g.runtime).toBeGreaterThanOrEqual(600);
      expect(g.runtime).toBeLessThanOrEqual(3600);
      expect([1, 2, 4]).toContain(g.pods);
      expect(['team-a', 'team-b']).toContain(g.queue);
      expect(g.shape.cpuMilli).toBe(500);
    }
    const arrivals = a.gangs.map((g) => g.arrival);
    expect(arrivals).toEqual([...arrivals].sort((x, y) => x - y));
    // Weighted choices follow their weights roughly (3:1 for team-b over 50 draws).
    expect(nb.filter((g) => g.queue === 'team-b').length).toBeGreaterThan(25);
  });

  it('applies defaults for a minimal file', () => {
    const w = parse(MINIMAL);
    expect(w.name).toBe('workload');
    expect(w.seed).toBe(1);
    expect(w.queues).toEqual([]);
    expect(w.gangs[0]).toMatchObject({ queue: undefined, priority: 0, arrival: 0, pods: 1 });
    expect(w.nodes[0]).toMatchObject({ name: 'a-b0-r0-n0', cpuMilli: 128_000 });
  });

  it('reads JSON as well as YAML', () => {
    const json = JSON.stringify({
      cluster: { groups: [{ name: 'a', node: 'pcie4-48g' }] },
      gangs: [{ name: 'g', runtime: 5, pods: 2, gpusPerPod: 2 }],
    });
    const w = parse(json);
    expect(w.gangs[0]).toMatchObject({ pods: 2, shape: { gpuCount: 2 } });
  });

  it('builds the cluster from an openb node list, grouped into racks and blocks', () => {
    const nodes: NodeSpec[] = Array.from({ length: 10 }, (_, i) => ({
      name: `n${i}`,
      cpuMilli: 8000,
      memoryBytes: GiB,
      gpus: [{ model: 'T4' }],
    }));
    const w = parseWorkload(
      'cluster: { openb: nodes.csv, nodesPerRack: 4, racksPerBlock: 2 }\ngangs: [{ name: g, runtime: 1, pods: 1 }]',
      'x.yaml',
      { readNodes: (p) => (p === 'nodes.csv' ? nodes : []) },
    );
    expect(w.nodes.map((n) => n.labels?.['topology.phalanx.dev/rack'])).toEqual([
      'rack-0000',
      'rack-0000',
      'rack-0000',
      'rack-0000',
      'rack-0001',
      'rack-0001',
      'rack-0001',
      'rack-0001',
      'rack-0002',
      'rack-0002',
    ]);
    expect(w.nodes[9]?.labels?.['topology.phalanx.dev/block']).toBe('block-001');
  });

  it('reports every problem with its path', () => {
    const errors = errorsOf(`
cluster:
  groups: [{ name: a, blocks: 0, node: magic }]
queues:
  - { name: q, weight: -1 }
  - { name: q }
gangs:
  - { name: a, runtime: 1, pods: 1 }
  - { name: b, runtime: 1, pods: 1, queue: nope }
  - { name: c, runtime: 0, pods: 1 }
  - { name: d, runtime: 1, pods: 0 }
  - { name: e, runtime: 1, pods: 1, gpusPerPod: 2, gpuMilli: 500 }
  - { name: f, runtime: 1, pods: 1, topology: { required: shelf } }
  - { name: g, runtime: 1, pods: 1, colour: red }
generators:
  - { name: x, count: 0, runtime: 1, pods: 1 }
`);
    expect(errors).toEqual(
      expect.arrayContaining([
        'cluster.groups[0].blocks: must be a positive integer, got 0',
        expect.stringMatching(/^cluster\.groups\[0\]\.node: must name a node profile \(sxm8-80g, /),
        'queues[0].weight: must be a number greater than 0, got -1',
        'queues[1].name: queue q is listed twice',
        'gangs[1].queue: queue "nope" is not defined under queues',
        'gangs[2].runtime: must be a number greater than 0, got 0',
        'gangs[3].pods: must be a positive integer, got 0',
        'gangs[4].gpuMilli: a share of a GPU (500, below 1000) needs gpusPerPod 1',
        expect.stringMatching(/^gangs\[5\]\.topology\.required: must be a topology level \(zone, /),
        expect.stringMatching(/^gangs\[6\]\.colour: unknown field/),
        'generators[0].count: must be a positive integer, got 0',
      ]),
    );
  });

  it('refuses duplicate gang names, an empty workload and text that is not YAML', () => {
    const twice = `${MINIMAL}generators: [{ name: h, count: 1, runtime: 1, pods: 1 }]\n`.replace(
      'gangs: [{ name: g, runtime: 1, pods: 1 }]',
      'gangs: [{ name: g, runtime: 1, pods: 1 }, { name: g, runtime: 2, pods: 1 }]',
    );
    expect(errorsOf(twice)).toContain('gangs: gang name g is used twice; names must be unique');
    expect(errorsOf('cluster: { groups: [{ name: a, node: sxm8-80g }] }')).toContain(
      'gangs: the workload has no gangs; list gangs or generators',
    );
    expect(errorsOf('cluster: [')).toEqual([expect.stringMatching(/^not valid YAML or JSON/)]);
    expect(errorsOf('- 1')).toEqual(['must be a mapping at the top, got a list']);
  });

  it('names the file and counts the problems in the error message', () => {
    expect(() => parse('gangs: []')).toThrow(
      /^test\.yaml: 2 problems:\n {2}cluster: must be an object/,
    );
  });

  it('ships an embedded default that parses', () => {
    const { workload, sha256 } = loadWorkload(DEFAULT_WORKLOAD_PATH);
    expect(sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(workload.nodes).toHaveLength(32);
    expect(workload.queues.map((q) => q.spec.weight)).toEqual([3, 2, 1]);
    expect(workload.gangs.some((g) => g.pods * g.shape.gpuCount >= 128)).toBe(true);
    expect(workload.gangs.length).toBeGreaterThan(300);
  });
});
