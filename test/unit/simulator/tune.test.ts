import { describe, expect, it } from 'vitest';
import type { NodeSpec } from '../../../src/scheduling/cluster.ts';
import { shapeMilli } from '../../../src/scheduling/node-view.ts';
import type { TracePod } from '../../../src/simulator/openb.ts';
import { seededRandom } from '../../../src/simulator/random.ts';
import { planReplay, shuffledNodes } from '../../../src/simulator/tune.ts';

const gpuNode = (name: string, gpus: number): NodeSpec => ({
  name,
  cpuMilli: 64_000,
  memoryBytes: 2 ** 38,
  gpus: Array.from({ length: gpus }, () => ({ model: 'T4' })),
});

const tracePod = (name: string, gpuCount: number, gpuMilli: number): TracePod => ({
  name,
  line: 0,
  shape: { cpuMilli: 1000, memoryBytes: 2 ** 30, gpuCount, gpuMilli, gpuModels: [] },
});

const NODES = [gpuNode('n-b', 2), gpuNode('n-a', 2)];
const TRACE = [tracePod('p2', 0, 0), tracePod('p0', 1, 500), tracePod('p1', 1, 1000)];
const milli = (pods: readonly TracePod[]) => pods.reduce((s, p) => s + shapeMilli(p.shape), 0);

describe('replay plan (workload tuning)', () => {
  it('shuffles the trace and appends draws until the next one would pass the target', () => {
    const plan = planReplay(NODES, TRACE, { ratio: 1, seed: 42 });
    const head = plan.pods.slice(0, 3).map((p) => p.name);
    expect([...head].sort()).toEqual(['p0', 'p1', 'p2']);
    const tail = plan.pods.slice(3);
    tail.forEach((p, i) => {
      expect(p.name).toMatch(/^p[012]-tuned-\d+$/);
      expect(Number(p.name.split('-tuned-')[1])).toBe(i);
    });
    // Target 4000: the planned total stays at or under it, and the stopping draw (≤ 1000 per GPU)
    // would have passed it.
    expect(plan.stats.targetMilli).toBe(4000);
    expect(plan.stats.plannedMilli).toBe(milli(plan.pods));
    expect(plan.stats.plannedMilli).toBeLessThanOrEqual(4000);
    expect(plan.stats.plannedMilli).toBeGreaterThan(3000);
    expect(plan.stats.added).toBe(plan.pods.length - 3);
  });

  it('compares one GPU of a multi-GPU draw with the target, as published, so it may overshoot', () => {
    const nodes = [gpuNode('n', 10)];
    // 8000 + one GPU (1000) ≤ 15000, so the draw is added: 16000; the next draw would pass.
    const plan = planReplay(nodes, [tracePod('big', 8, 1000)], { ratio: 1.5, seed: 1 });
    expect(plan.stats.plannedMilli).toBe(16_000);
    expect(plan.pods).toHaveLength(2);
  });

  it('removes random pods when the trace asks for more than the target', () => {
    const trace = ['a', 'b', 'c', 'd'].map((n) => tracePod(n, 1, 1000));
    const plan = planReplay(NODES, trace, { ratio: 0.5, seed: 3 });
    expect(plan.pods).toHaveLength(2);
    expect(plan.stats).toMatchObject({ plannedMilli: 2000, removed: 2, added: 0 });
  });

  it('replays the shuffled trace untuned at ratio 0, and stops tuning up without GPU pods', () => {
    expect(planReplay(NODES, TRACE, { ratio: 0, seed: 9 }).pods).toHaveLength(3);
    const cpuOnly = [tracePod('c', 0, 0)];
    expect(planReplay(NODES, cpuOnly, { ratio: 2, seed: 9 }).pods).toHaveLength(1);
  });

  it('is deterministic per seed, takes the mix from the trace, and orders nodes randomly', () => {
    const a = planReplay(NODES, TRACE, { ratio: 1.3, seed: 5 });
    const b = planReplay(NODES, TRACE, { ratio: 1.3, seed: 5 });
    expect(a.pods.map((p) => p.name)).toEqual(b.pods.map((p) => p.name));
    expect(a.nodes.map((n) => n.name)).toEqual(b.nodes.map((n) => n.name));
    expect(a.random.next()).toBe(b.random.next());
    expect(a.mix.shapes.reduce((s, x) => s + x.weight, 0)).toBeCloseTo(1, 12);
    const names = Array.from({ length: 30 }, (_, i) =>
      gpuNode(`n${String(i).padStart(2, '0')}`, 1),
    );
    const order = shuffledNodes(names, seededRandom(11)).map((n) => n.name);
    expect([...order].sort()).toEqual(names.map((n) => n.name));
    expect(order).not.toEqual(names.map((n) => n.name));
  });
});
