import { describe, expect, it } from 'vitest';
import { coveredLength, PhaseTimer } from '../../../bench/lib/phases.ts';

describe('PhaseTimer', () => {
  it('summarises recorded samples per phase in first-recorded order', () => {
    const t = new PhaseTimer();
    t.record('b', 2);
    t.record('a', 1);
    t.record('b', 4);
    expect(t.summaries().map((s) => [s.phase, s.summary.n, s.summary.max])).toEqual([
      ['b', 2, 4],
      ['a', 1, 1],
    ]);
  });

  it('times a step that resolves and one that rejects, passing results through', async () => {
    const t = new PhaseTimer();
    await expect(t.time('ok', async () => 42)).resolves.toBe(42);
    await expect(
      t.time('fail', async () => {
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(t.summaries().map((s) => s.phase)).toEqual(['ok', 'fail']);
    for (const s of t.summaries()) expect(s.summary.min).toBeGreaterThanOrEqual(0);
  });

  it('forgets everything on reset', () => {
    const t = new PhaseTimer();
    t.record('warm-up', 1);
    t.reset();
    expect(t.summaries()).toEqual([]);
    expect(t.coveredMs(['warm-up'])).toBe(0);
  });

  it('counts time covered by several phases once where they overlap', () => {
    const t = new PhaseTimer();
    t.recordInterval('started', 0, 2);
    t.recordInterval('cdi', 2, 5);
    t.recordInterval('completed', 2, 4);
    t.recordInterval('other', 100, 200);
    expect(t.coveredMs(['started', 'cdi', 'completed'])).toBe(5);
    expect(t.coveredMs(['cdi', 'completed'])).toBe(3);
    expect(t.coveredMs(['missing'])).toBe(0);
  });

  it('hands its intervals over as plain data and rebuilds the same timer from them', () => {
    const t = new PhaseTimer();
    t.recordInterval('started', 0, 2);
    t.recordInterval('cdi', 2, 5);
    t.recordInterval('started', 10, 11);
    const sent: unknown = structuredClone(t.intervals());
    expect(sent).toEqual({
      started: [
        { start: 0, end: 2 },
        { start: 10, end: 11 },
      ],
      cdi: [{ start: 2, end: 5 }],
    });
    const copy = PhaseTimer.from(t.intervals());
    expect(copy.summaries()).toEqual(t.summaries());
    expect(copy.coveredMs(['started', 'cdi'])).toBe(6);
  });

  it('gives a copy: later recordings and resets do not change intervals already taken', () => {
    const t = new PhaseTimer();
    t.recordInterval('a', 0, 1);
    const taken = t.intervals();
    t.recordInterval('a', 1, 3);
    t.reset();
    expect(taken).toEqual({ a: [{ start: 0, end: 1 }] });
  });
});

describe('coveredLength', () => {
  it('merges overlapping and nested intervals and adds disjoint ones', () => {
    expect(
      coveredLength([
        { start: 10, end: 12 },
        { start: 0, end: 3 },
        { start: 1, end: 2 },
        { start: 2, end: 5 },
        { start: 11, end: 11.5 },
      ]),
    ).toBe(7);
  });

  it('is zero for no intervals and for empty ones', () => {
    expect(coveredLength([])).toBe(0);
    expect(coveredLength([{ start: 3, end: 3 }])).toBe(0);
  });
});
