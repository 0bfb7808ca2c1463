import { describe, expect, it } from 'vitest';
import { compileMix, fragmentedMilli } from '../../../../src/scheduling/policies/fragmentation.ts';
import {
  cpuPerGpuMilli,
  gapWasteTable,
  PHALANX_DEFAULTS,
  PhalanxMeasure,
  strandedMilli,
} from '../../../../src/scheduling/policies/phalanx-measure.ts';
import type { ShapeMix } from '../../../../src/scheduling/policy.ts';
import { shape } from './fixture.ts';

const share = (gpuMilli: number, weight: number, cpuMilli = 1000, models: string[] = []) => ({
  cpuMilli,
  gpuMilli,
  weight,
  models,
});

describe('gap waste table', () => {
  it('counts a gap in full when no share fits it, and idle GPUs and full GPUs as no gap', () => {
    const table = gapWasteTable([share(500, 0.5)], 2);
    expect(table).toHaveLength(1001);
    expect(table[0]).toBe(0);
    expect(table[1000]).toBe(0);
    expect(table[300]).toBe(300);
    expect(table[499]).toBe(499);
  });

  it('follows a gap through the shares that fill it, one after another', () => {
    // π = min(1, 2 × 0.5) = 1: a 500 gap is surely closed; 999 takes one 500 and keeps 499.
    const sure = gapWasteTable([share(500, 0.5)], 2);
    expect(sure[500]).toBe(0);
    expect(sure[999]).toBe(499);
    // π = 0.5: half the time the gap stays as it is.
    const half = gapWasteTable([share(500, 0.5)], 1);
    expect(half[500]).toBe(250);
    expect(half[999]).toBeCloseTo(0.5 * 999 + 0.5 * 499, 9);
  });

  it('draws the filling share in proportion to the frequencies of the shares that fit', () => {
    const table = gapWasteTable([share(300, 0.3), share(200, 0.1)], 100);
    expect(table[200]).toBe(0); // only 200 fits and closes it
    expect(table[300]).toBeCloseTo(0.75 * 0 + 0.25 * 100, 9); // 300 closes it, 200 leaves 100
    expect(table[500]).toBeCloseTo(0.75 * (table[200] ?? 0) + 0.25 * (table[300] ?? 0), 9);
  });
});

describe('CPU stranding', () => {
  it('measures the mix CPU per milli-GPU over GPU shapes only', () => {
    const mix: ShapeMix = {
      shapes: [
        { shape: shape(4000, 1, 1000), weight: 0.4 },
        { shape: shape(1000, 1, 500), weight: 0.4 },
        { shape: shape(30_000, 0, 0), weight: 0.2 },
      ],
    };
    expect(cpuPerGpuMilli(mix)).toBeCloseTo((0.4 * 4000 + 0.4 * 1000) / (0.4 * 1000 + 0.4 * 500));
    expect(cpuPerGpuMilli({ shapes: [{ shape: shape(8000, 0, 0), weight: 1 }] })).toBe(0);
  });

  it('counts the free milli-GPU that free CPU cannot feed', () => {
    expect(strandedMilli(2000, 4000, 4)).toBe(1000);
    expect(strandedMilli(2000, 10_000, 4)).toBe(0);
    expect(strandedMilli(2000, -50, 4)).toBe(2000);
    expect(strandedMilli(2000, 0, 0)).toBe(0);
  });
});

describe('phalanx measure', () => {
  const MIX: ShapeMix = {
    shapes: [
      { shape: shape(4000, 1, 1000), weight: 0.5 },
      { shape: shape(2000, 1, 600), weight: 0.25 },
      { shape: shape(6000, 1, 400, ['G2']), weight: 0.25 },
    ],
  };
  const state = (cpuFree: number, gpuFree: number[], model = 'G2') => ({
    cpuFree,
    gpuFree,
    gpuCount: gpuFree.length,
    gpuModel: () => model,
  });

  it('is FGD fragmentation when both extra weights are zero', () => {
    const m = new PhalanxMeasure(MIX, { strandWeight: 0, gapWeight: 0, gapFillRate: 50 });
    const s = state(9000, [1000, 400, 600]);
    expect(m.measure(s)).toBe(fragmentedMilli(9000, s.gpuFree, 3, s.gpuModel, compileMix(MIX)));
  });

  it('adds the stranded milli-GPU with its weight', () => {
    const m = new PhalanxMeasure(MIX, { strandWeight: 2, gapWeight: 0, gapFillRate: 50 });
    const s = state(3000, [1000, 1000]);
    const r = (0.5 * 4000 + 0.25 * 2000 + 0.25 * 6000) / (0.5 * 1000 + 0.25 * 600 + 0.25 * 400);
    expect(m.cpuPerMilli).toBeCloseTo(r, 12);
    const frag = fragmentedMilli(3000, s.gpuFree, 2, s.gpuModel, m.frag);
    expect(m.measure(s)).toBeCloseTo(frag + 2 * (2000 - 3000 / r), 9);
  });

  it('values a gap by the shares whose CPU and GPU model fit the node', () => {
    const m = new PhalanxMeasure(MIX, PHALANX_DEFAULTS);
    // With 9000 mCPU both shares fit: a 400 gap is closed by the 400 share (π = 1).
    expect(m.gapWaste(state(9000, [400]))).toBe(0);
    // With 3000 mCPU only the 600 share (2000 mCPU) fits, and not into 400.
    expect(m.gapWaste(state(3000, [400]))).toBe(400);
    // The 400 share accepts only G2: on a T4 the gap is waste in full.
    expect(m.gapWaste(state(9000, [400], 'T4'))).toBe(400);
    // Below the smallest share CPU every gap is waste; idle and full GPUs are no gaps.
    expect(m.gapWaste(state(1000, [1000, 0, 250]))).toBe(250);
  });
});
