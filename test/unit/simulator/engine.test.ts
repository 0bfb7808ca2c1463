import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ClusterModel, type NodeSpec } from '../../../src/scheduling/cluster.ts';
import { MILLI_PER_GPU, shapeMilli } from '../../../src/scheduling/node-view.ts';
import { policyContext } from '../../../src/scheduling/place.ts';
import { POLICY_NAMES, policyByName } from '../../../src/scheduling/policies/index.ts';
import { type ReplayStep, runReplay } from '../../../src/simulator/engine.ts';
import type { TracePod } from '../../../src/simulator/openb.ts';
import { planReplay } from '../../../src/simulator/tune.ts';

const GiB = 2 ** 30;

/** Every invariant of the ledger after a step, and that a rejected pod really fitted nowhere. */
function checkStep(step: ReplayStep): void {
  const { model } = step;
  let allocated = 0;
  for (const n of model.nodes) {
    expect(n.cpuMilliFree).toBeGreaterThanOrEqual(0);
    expect(n.memoryBytesFree).toBeGreaterThanOrEqual(0);
    for (let g = 0; g < n.gpuCount; g++) {
      const free = n.gpuFreeMilli(g);
      expect(free).toBeGreaterThanOrEqual(0);
      expect(free).toBeLessThanOrEqual(MILLI_PER_GPU);
      allocated += MILLI_PER_GPU - free;
    }
  }
  expect(model.gpuMilliAllocated()).toBe(allocated);
  expect(allocated).toBeLessThanOrEqual(model.gpuMilliTotal);
  if (step.placed === undefined) {
    expect(step.reason).toMatch(/^no node has /);
    expect(model.nodes.some((n) => model.canHold(n, step.pod.shape))).toBe(false);
  }
}

const nodeArb = fc.record({
  cpu: fc.integer({ min: 4, max: 32 }),
  gpus: fc.constantFrom(0, 1, 2, 4, 8),
  model: fc.constantFrom('T4', 'V100'),
});
const podArb = fc.oneof(
  fc.record({ cpu: fc.integer({ min: 1, max: 8 }), count: fc.constant(0), milli: fc.constant(0) }),
  fc.record({
    cpu: fc.integer({ min: 1, max: 8 }),
    count: fc.constant(1),
    milli: fc.integer({ min: 1, max: 999 }),
  }),
  fc.record({
    cpu: fc.integer({ min: 1, max: 8 }),
    count: fc.constantFrom(1, 2, 4, 8),
    milli: fc.constant(1000),
  }),
);

function toNodes(specs: { cpu: number; gpus: number; model: string }[]): NodeSpec[] {
  return specs.map((s, i) => ({
    name: `node-${i}`,
    cpuMilli: s.cpu * 1000,
    memoryBytes: 64 * GiB,
    gpus: Array.from({ length: s.gpus }, () => ({ model: s.model })),
  }));
}

function toPods(specs: { cpu: number; count: number; milli: number }[]): TracePod[] {
  return specs.map((s, i) => ({
    name: `pod-${i}`,
    line: i + 2,
    shape: {
      cpuMilli: s.cpu * 1000,
      memoryBytes: GiB,
      gpuCount: s.count,
      gpuMilli: s.milli,
      gpuModels: [],
    },
  }));
}

describe('replay engine', () => {
  it('keeps the ledger consistent and rejects only pods that fit nowhere, for every policy', () => {
    fc.assert(
      fc.property(
        fc.array(nodeArb, { minLength: 1, maxLength: 6 }),
        fc.array(podArb, { minLength: 1, maxLength: 40 }),
        fc.constantFrom(...POLICY_NAMES),
        fc.integer({ min: 0, max: 1000 }),
        (nodeSpecs, podSpecs, name, seed) => {
          const plan = planReplay(toNodes(nodeSpecs), toPods(podSpecs), { ratio: 1.5, seed });
          const { summary } = runReplay({ plan, policy: policyByName(name), onStep: checkStep });
          expect(summary.placed + summary.rejected).toBe(plan.pods.length);
          expect(summary.arrivedMilli).toBe(plan.stats.plannedMilli);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('replays identically for the same seed and reports what it placed', () => {
    const nodes = toNodes([
      { cpu: 16, gpus: 2, model: 'T4' },
      { cpu: 16, gpus: 4, model: 'T4' },
    ]);
    const pods = toPods([
      { cpu: 2, count: 1, milli: 500 },
      { cpu: 2, count: 2, milli: 1000 },
      { cpu: 1, count: 0, milli: 0 },
      { cpu: 2, count: 1, milli: 300 },
    ]);
    const run = () => {
      const steps: string[] = [];
      const result = runReplay({
        plan: planReplay(nodes, pods, { ratio: 1.3, seed: 4 }),
        policy: policyByName('fgd'),
        onStep: (s) => steps.push(`${s.pod.name}@${s.placed?.node.name ?? '-'}`),
        now: () => 0,
      });
      return { steps, result };
    };
    const a = run();
    expect(run()).toEqual(a);
    expect(a.result.summary.wallMs).toBe(0);
    expect(a.result.summary.policy).toBe('fgd');
    expect(a.result.summary.capacityMilli).toBe(6000);
    const arrived = a.result.summary.arrivedMilli;
    expect(arrived).toBe(
      planReplay(nodes, pods, { ratio: 1.3, seed: 4 }).pods.reduce(
        (s, p) => s + shapeMilli(p.shape),
        0,
      ),
    );
    expect(a.result.series.at(-1)?.arrivedPct).toBe(Math.round((100 * arrived) / 6000));
  });

  it('tells the policy about placements (GPU clustering keeps request classes apart)', () => {
    const nodes = toNodes([
      { cpu: 32, gpus: 2, model: 'T4' },
      { cpu: 32, gpus: 2, model: 'T4' },
    ]);
    // A whole GPU, then a share. Knowing the first node runs a 1-GPU pod, clustering scores it
    // 21 (other class) against 43 for the idle node; without that knowledge it would score 46.
    const pods = toPods([
      { cpu: 1, count: 1, milli: 1000 },
      { cpu: 1, count: 1, milli: 300 },
    ]);
    const placedOn: string[] = [];
    runReplay({
      plan: planReplay(nodes, pods, { ratio: 0, seed: 1 }),
      policy: policyByName('gpu-clustering'),
      onStep: (s) => placedOn.push(s.placed?.node.name ?? '-'),
    });
    expect(placedOn).toHaveLength(2);
    expect(placedOn[1]).not.toBe(placedOn[0]);
  });

  it('normalises by the largest node', () => {
    const plan = planReplay(
      toNodes([
        { cpu: 8, gpus: 8, model: 'T4' },
        { cpu: 96, gpus: 2, model: 'T4' },
      ]),
      [],
      { ratio: 0, seed: 1 },
    );
    const { summary } = runReplay({ plan, policy: policyByName('random') });
    expect(summary.pods).toBe(0);
    const ctx = policyContext(ClusterModel.fromNodes(plan.nodes), () => 0);
    expect(ctx).toMatchObject({ maxCpuMilli: 96_000, maxGpuCount: 8, maxMemoryBytes: 64 * GiB });
  });
});
