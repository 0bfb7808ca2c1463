import { describe, expect, it } from 'vitest';
import {
  describeBars,
  type GroupedBarSpec,
  groupedBarChart,
  type StackedBarSpec,
  stackedBarChart,
  stackTotals,
} from '../../../../src/simulator/html/bar-chart.ts';
import { seriesColour } from '../../../../src/simulator/html/palette.ts';
import { xmlProblems } from './xml.ts';

interface Rect {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
  readonly fill: string;
  readonly attrs: Readonly<Record<string, string>>;
}

function rects(svg: string, cls: string): Rect[] {
  return [...svg.matchAll(/<rect\b([^>]*)>/g)]
    .map((m) =>
      Object.fromEntries(
        [...(m[1] ?? '').matchAll(/([\w:-]+)="([^"]*)"/g)].map((a) => [a[1], a[2]]),
      ),
    )
    .filter((a) => a.class === cls)
    .map((a) => ({
      x: Number(a.x),
      y: Number(a.y),
      width: Number(a.width),
      height: Number(a.height),
      fill: a.fill ?? '',
      attrs: a,
    }));
}

// Plot box 200 high from y = 20 to 220 (height 20 + 200 + 52).
const GROUPED: GroupedBarSpec = {
  id: 'wait',
  title: 'Waiting time per queue',
  description: 'Test.',
  categories: ['team-a', 'team-b'],
  yLabel: 'waiting (s)',
  yUnit: ' s',
  height: 272,
  yDomain: [0, 100],
  series: [
    { label: 'p50', values: [10, 50] },
    { label: 'p95', values: [40, undefined] },
  ],
};

describe('groupedBarChart', () => {
  it('draws one bar per value, heights proportional to the values', () => {
    const bars = rects(groupedBarChart(GROUPED), 'bar');
    expect(bars).toHaveLength(3);
    const [a50, b50, a95] = bars;
    expect(a50?.height).toBe(20);
    expect(a50?.y).toBe(200);
    expect(b50?.height).toBe(100);
    expect(a95?.height).toBe(80);
    expect(a50?.fill).toBe(seriesColour(0));
    expect(a95?.fill).toBe(seriesColour(1));
    expect(a50?.attrs['data-category']).toBe('team-a');
    expect(a95?.attrs['data-series']).toBe('p95');
  });

  it('places the series side by side inside each category band', () => {
    const [a50, b50, a95] = rects(groupedBarChart(GROUPED), 'bar');
    expect((a95?.x ?? 0) > (a50?.x ?? 0)).toBe(true);
    expect((b50?.x ?? 0) > (a95?.x ?? 0)).toBe(true);
  });

  it('gives every bar a tooltip and value label with its unit', () => {
    const svg = groupedBarChart(GROUPED);
    expect(svg).toContain('<title>team-a, p50: 10.0 s</title>');
    expect(svg).toContain('>40.0 s</text>');
    expect(groupedBarChart({ ...GROUPED, showValues: false })).not.toContain('>40.0 s</text>');
  });

  it('shows category names, axis title and legend as text', () => {
    const svg = groupedBarChart(GROUPED);
    expect(svg).toContain('>team-a</text>');
    expect(svg).toContain('>waiting (s)</text>');
    expect(svg).toContain('>p95</text>');
    expect(svg).toContain('data-chart="bars"');
    expect(xmlProblems(svg)).toEqual([]);
  });

  it('fits the y domain from zero when none is given', () => {
    const { yDomain: _d, ...rest } = GROUPED;
    const svg = groupedBarChart({ ...rest, series: [{ label: 'x', values: [3, 7.5] }] });
    expect(svg).toContain('>8 s</text>');
    expect(svg).toContain('>0 s</text>');
  });

  it('shortens category names wider than their band', () => {
    const svg = groupedBarChart({
      ...GROUPED,
      width: 200,
      categories: ['a-very-long-queue-name-indeed', 'b'],
    });
    const shown = />(a-[\w-]*)…<\/text>/.exec(svg)?.[1] ?? '';
    expect(shown.length).toBeGreaterThan(0);
    expect('a-very-long-queue-name-indeed'.startsWith(shown)).toBe(true);
    expect(shown.length).toBeLessThan(10);
    expect(svg).toContain('data-category="a-very-long-queue-name-indeed"');
  });
});

const STACKED: StackedBarSpec = {
  id: 'locality',
  title: 'Locality',
  description: 'Test.',
  categories: ['fgd', 'best-fit'],
  yLabel: 'gangs',
  height: 272,
  stacks: [
    { label: 'node', values: [6, 1] },
    { label: 'rack', values: [2, 1] },
    { label: 'block', values: [0, 2] },
  ],
};

describe('stackedBarChart', () => {
  it('stacks the parts bottom first with heights proportional to the values', () => {
    const segments = rects(stackedBarChart({ ...STACKED, normalise: true }), 'segment');
    expect(segments).toHaveLength(5);
    const fgdNode = segments.find(
      (s) => s.attrs['data-category'] === 'fgd' && s.attrs['data-stack'] === 'node',
    );
    const fgdRack = segments.find(
      (s) => s.attrs['data-category'] === 'fgd' && s.attrs['data-stack'] === 'rack',
    );
    expect(fgdNode?.height).toBe(150);
    expect(fgdNode?.y).toBe(70);
    expect(fgdRack?.height).toBe(50);
    expect(fgdRack?.y).toBe(20);
  });

  it('normalised bars each fill the plot, on a percentage axis', () => {
    const svg = stackedBarChart({ ...STACKED, normalise: true });
    expect(svg).toContain('>100%</text>');
    const segments = rects(svg, 'segment');
    for (const category of STACKED.categories) {
      const total = segments
        .filter((s) => s.attrs['data-category'] === category)
        .reduce((sum, s) => sum + s.height, 0);
      expect(total).toBeCloseTo(200, 1);
    }
  });

  it('unnormalised bars rise to their totals', () => {
    expect(stackTotals(STACKED)).toEqual([8, 4]);
    const segments = rects(stackedBarChart(STACKED), 'segment');
    const best = segments.filter((s) => s.attrs['data-category'] === 'best-fit');
    expect(best.reduce((sum, s) => sum + s.height, 0)).toBeCloseTo(100, 1);
  });

  it('tooltips give the count and share, and the legend names the parts', () => {
    const svg = stackedBarChart(STACKED);
    expect(svg).toContain('<title>fgd, node: 6 (75.0%)</title>');
    expect(svg).toContain('>block</text>');
    expect(svg).toContain('data-chart="stacked"');
    expect(xmlProblems(svg)).toEqual([]);
  });

  it('describes every category', () => {
    expect(describeBars(['q'], [{ label: 's', values: [undefined] }], { ...STACKED })).toBe(
      'q: no data.',
    );
    expect(describeBars(['q'], [{ label: 's', values: [2] }], { ...STACKED, decimals: 0 })).toBe(
      'q: s 2.',
    );
  });
});
