import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CapacityError, ClusterModel, type NodeState } from '../../../src/scheduling/cluster.ts';
import type { PodShape } from '../../../src/scheduling/node-view.ts';

const GiB = 2 ** 30;
const shape = (gpuCount: number, gpuMilli: number, models: string[] = []): PodShape => ({
  cpuMilli: 1000,
  memoryBytes: GiB,
  gpuCount,
  gpuMilli,
  gpuModels: models,
});

function model() {
  return ClusterModel.fromNodes([
    {
      name: 'a',
      cpuMilli: 8000,
      memoryBytes: 64 * GiB,
      gpus: [{ model: 'V100' }, { model: 'V100' }],
    },
    {
      name: 'b',
      cpuMilli: 4000,
      memoryBytes: 16 * GiB,
      gpus: [{ model: 'T4', shareable: false }],
    },
  ]);
}

describe('ClusterModel', () => {
  it('shares a GPU between pods and refuses a whole-GPU pod on a shared GPU', () => {
    const m = model();
    const a = m.node('a');
    if (a === undefined) throw new Error('node a missing');
    m.allocate(a, shape(1, 600), { gpus: [0], milli: 600 }, 'p1');
    expect(a.gpuFreeMilli(0)).toBe(400);
    expect(a.gpusFor(shape(1, 400))).toEqual([0, 1]);
    expect(a.gpusFor(shape(1, 500))).toEqual([1]);
    expect(a.gpusFor(shape(1, 1000))).toEqual([1]);
    expect(() => m.allocate(a, shape(1, 1000), { gpus: [0], milli: 1000 }, 'p2')).toThrow(
      CapacityError,
    );
    expect(m.gpuMilliAllocated()).toBe(600);
  });

  it('honours GPU model constraints and exclusive GPUs', () => {
    const m = model();
    const b = m.node('b');
    if (b === undefined) throw new Error('node b missing');
    expect(b.canHold(shape(1, 500))).toBe(false); // T4 here is not shareable
    expect(b.canHold(shape(1, 1000, ['V100']))).toBe(false);
    expect(b.canHold(shape(1, 1000, ['T4']))).toBe(true);
    const id = m.allocate(b, shape(1, 1000), { gpus: [0], milli: 1000 }, 'p');
    expect(b.gpusIdle).toBe(0);
    expect(b.canHold(shape(1, 1000))).toBe(false);
    m.release(id);
    expect(b.gpusIdle).toBe(1);
    expect(b.cpuMilliFree).toBe(4000);
  });

  it('rejects a pick that names the wrong number of GPUs', () => {
    const m = model();
    const a = m.node('a');
    if (a === undefined) throw new Error('node a missing');
    expect(() => m.allocate(a, shape(2, 1000), { gpus: [0], milli: 1000 }, 'p')).toThrow(
      /needs 2 distinct GPUs/,
    );
    expect(() => m.allocate(a, shape(2, 1000), { gpus: [0, 0], milli: 1000 }, 'p')).toThrow(
      /distinct/,
    );
  });

  it('never overcommits and release restores every counter (property)', () => {
    const op = fc.record({
      gpuCount: fc.integer({ min: 0, max: 3 }),
      milli: fc.integer({ min: 1, max: 1000 }),
      gpu: fc.integer({ min: 0, max: 1 }),
      release: fc.boolean(),
    });
    fc.assert(fc.property(fc.array(op, { maxLength: 40 }), runOps));
  });
});

interface Op {
  gpuCount: number;
  milli: number;
  gpu: number;
  release: boolean;
}

function tryAllocate(m: ClusterModel, node: NodeState, o: Op): number | undefined {
  const count = o.gpuCount === 0 ? 0 : o.milli < 1000 ? 1 : o.gpuCount;
  const s = shape(count, o.milli);
  const gpus = count === 0 ? [] : s.gpuMilli < 1000 ? [o.gpu] : [0, 1].slice(0, count);
  try {
    return m.allocate(node, s, { gpus, milli: s.gpuMilli }, 'x');
  } catch (e) {
    if (!(e instanceof CapacityError)) throw e;
    return undefined;
  }
}

function checkBounds(m: ClusterModel, a: NodeState): void {
  for (let g = 0; g < 2; g++) {
    expect(a.gpuFreeMilli(g)).toBeGreaterThanOrEqual(0);
    expect(a.gpuFreeMilli(g)).toBeLessThanOrEqual(1000);
  }
  expect(a.cpuMilliFree).toBeGreaterThanOrEqual(0);
  expect(m.gpuMilliAllocated()).toBe(2000 - a.gpuFreeMilliTotal);
}

function runOps(ops: Op[]): void {
  const m = model();
  const a = m.node('a');
  if (a === undefined) throw new Error('node a missing');
  const held: number[] = [];
  for (const o of ops) {
    const last = held.at(-1);
    if (o.release && last !== undefined) {
      m.release(last);
      held.pop();
    }
    const id = tryAllocate(m, a, o);
    if (id !== undefined) held.push(id);
    checkBounds(m, a);
  }
  for (const id of held) m.release(id);
  expect(a.gpuFreeMilliTotal).toBe(2000);
  expect(a.cpuMilliFree).toBe(8000);
  expect(m.gpuMilliAllocated()).toBe(0);
}
