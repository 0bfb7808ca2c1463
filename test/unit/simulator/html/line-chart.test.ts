import { describe, expect, it } from 'vitest';
import {
  describeSeries,
  type LineChartSpec,
  lineChart,
  lineDomains,
  lineLegend,
} from '../../../../src/simulator/html/line-chart.ts';
import { seriesColour } from '../../../../src/simulator/html/palette.ts';
import { xmlProblems } from './xml.ts';

/** Attributes of the first element `name` whose attributes contain `marker`. */
function attrsOf(svg: string, name: string, marker: string): Record<string, string> {
  const tag = [...svg.matchAll(new RegExp(`<${name}\\b([^>]*)>`, 'g'))].find((m) =>
    (m[1] ?? '').includes(marker),
  );
  if (tag === undefined) throw new Error(`no <${name}> with ${marker}`);
  return Object.fromEntries(
    [...(tag[1] ?? '').matchAll(/([\w:-]+)="([^"]*)"/g)].map((m) => [m[1], m[2]]),
  );
}

// A plot box of exactly 100 × 100 at (64, 16): width 64 + 100 + 24, height 16 + 100 + 48.
const BASE: LineChartSpec = {
  id: 'alloc',
  title: 'Allocation',
  description: 'Test chart.',
  xLabel: 'arrived (%)',
  yLabel: 'allocated (%)',
  width: 188,
  height: 164,
  xDomain: [0, 100],
  yDomain: [0, 100],
  series: [
    {
      label: 'best-fit',
      points: [
        { x: 0, y: 0 },
        { x: 50, y: 50 },
        { x: 100, y: 100 },
      ],
    },
    { label: 'fgd', points: [{ x: 100, y: 40 }], dashed: true, markers: true },
  ],
};

describe('lineChart', () => {
  it('draws each series through its scaled points', () => {
    const svg = lineChart(BASE);
    const bestFit = attrsOf(svg, 'path', 'data-series="best-fit"');
    expect(bestFit.d).toBe('M64 116L114 66L164 16');
    expect(bestFit.stroke).toBe(seriesColour(0));
    expect(bestFit['stroke-dasharray']).toBeUndefined();
    const fgd = attrsOf(svg, 'path', 'data-series="fgd"');
    expect(fgd.d).toBe('M164 76');
    expect(fgd['stroke-dasharray']).toBe('6 4');
    expect(fgd.stroke).toBe(seriesColour(1));
  });

  it('marks the points of a series with markers, with a tooltip', () => {
    const svg = lineChart(BASE);
    const circle = attrsOf(svg, 'circle', 'cx="164" cy="76"');
    expect(circle.fill).toBe('#ffffff');
    expect(svg).toContain('<title>fgd: 40 at 100</title>');
  });

  it('labels the axes with ticks, titles and units', () => {
    const svg = lineChart({ ...BASE, xUnit: '%', yUnit: '%' });
    for (const t of ['0%', '20%', '40%', '60%', '80%', '100%'])
      expect(svg).toContain(`>${t}</text>`);
    expect(svg).toContain('>arrived (%)</text>');
    expect(svg).toMatch(/transform="rotate\(-90 14 66\)"[^>]*>allocated \(%\)<\/text>/);
  });

  it('has a legend with the series names as text', () => {
    const svg = lineChart(BASE);
    const legend = svg.slice(svg.indexOf('class="legend"'));
    expect(legend).toContain('>best-fit</text>');
    expect(legend).toContain('>fgd</text>');
    expect(lineLegend(BASE)).toEqual([
      { label: 'best-fit', colour: seriesColour(0), key: 'line' },
      { label: 'fgd', colour: seriesColour(1), key: 'line', dashed: true, marker: true },
    ]);
  });

  it('leaves series with inLegend false out of the legend, and takes a given legend', () => {
    const hidden = lineChart({
      ...BASE,
      series: [
        BASE.series[0] ?? { label: '', points: [] },
        { label: 'ref', points: [], inLegend: false },
      ],
    });
    expect(hidden).not.toContain('>ref</text>');
    const given = lineChart({
      ...BASE,
      legend: [{ label: 'published', colour: '#000000', key: 'line' }],
    });
    expect(given).toContain('>published</text>');
    expect(given.slice(given.indexOf('class="legend"'))).not.toContain('>best-fit</text>');
  });

  it('draws reference lines dashed across the plot with their label', () => {
    const svg = lineChart({
      ...BASE,
      references: [
        { axis: 'y', value: 25, label: 'published 25' },
        { axis: 'x', value: 50, label: 'half' },
      ],
    });
    const yRef = svg.slice(svg.indexOf('data-reference="published 25"'));
    expect(yRef).toMatch(/^data-reference="published 25"><line x1="64" y1="91" x2="164" y2="91"/);
    expect(yRef).toContain('stroke-dasharray="6 4"');
    expect(yRef).toContain('>published 25</text>');
    expect(svg).toContain('data-reference="half"><line x1="114" y1="16" x2="114" y2="116"');
  });

  it('fits the domains to the data when none is given', () => {
    const { xDomain: _x, yDomain: _y, ...rest } = BASE;
    const domains = lineDomains({
      ...rest,
      series: [
        {
          label: 'a',
          points: [
            { x: 3, y: 84.2 },
            { x: 97, y: 95.6 },
          ],
        },
      ],
      references: [{ axis: 'y', value: 97.2, label: 'published' }],
    });
    expect(domains.x).toEqual([0, 100]);
    expect(domains.y).toEqual([80, 100]);
  });

  it('clips the series to the plot', () => {
    const svg = lineChart(BASE);
    expect(svg).toContain('<clipPath id="alloc-clip">');
    expect(svg).toContain('clip-path="url(#alloc-clip)"');
  });

  it('describes the series in <desc> and is well-formed XML even with markup in labels', () => {
    const svg = lineChart({
      ...BASE,
      title: 'a < b & "c"',
      series: [{ label: '<script>x</script>', points: [{ x: 1, y: 2 }] }],
    });
    expect(xmlProblems(svg)).toEqual([]);
    expect(svg).not.toContain('<script>');
    expect(svg).toContain('&lt;script&gt;x&lt;/script&gt;');
    expect(describeSeries([{ label: 's', points: [] }])).toBe('s: no data.');
    expect(
      describeSeries(
        [
          {
            label: 's',
            points: [
              { x: 0, y: 1 },
              { x: 130, y: 95.371 },
            ],
          },
        ],
        '%',
      ),
    ).toBe('s: 2 points from x=0 to x=130, last y=95.37%.');
  });

  it('draws no path for a series without finite points', () => {
    const svg = lineChart({
      ...BASE,
      series: [{ label: 'empty', points: [{ x: 1, y: Number.NaN }] }],
    });
    expect(svg).not.toContain('data-series="empty" d=');
    expect(svg).toContain('empty: no data.');
  });
});
