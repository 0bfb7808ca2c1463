import { describe, expect, it } from 'vitest';
import { binCounts, heatGrid, heatLegend } from '../../../../src/simulator/html/heat-grid.ts';
import { HEAT_BINS, HEAT_NONE, heatColour } from '../../../../src/simulator/html/palette.ts';
import { escapeXml } from '../../../../src/simulator/html/svg.ts';
import { xmlProblems } from './xml.ts';

function cells(svg: string): Record<string, string>[] {
  return [...svg.matchAll(/<rect\b([^>]*)>/g)]
    .map((m) =>
      Object.fromEntries(
        [...(m[1] ?? '').matchAll(/([\w:-]+)="([^"]*)"/g)].map((a) => [a[1], a[2]]),
      ),
    )
    .filter((a) => a.class === 'cell');
}

const GROUPS = [
  {
    label: 'rack r1',
    cells: [
      { id: 'n1', value: 0, detail: '0 of 8 GPUs in use' },
      { id: 'n2', value: 0.5 },
      { id: 'n3', value: 1 },
    ],
  },
  { label: 'rack r2', cells: [{ id: 'n4', value: undefined, detail: 'no GPU' }] },
];

describe('heatColour', () => {
  it('puts values into the bins, idle and full apart', () => {
    expect(heatColour(0)).toBe(HEAT_BINS[0]?.colour);
    expect(heatColour(0.1)).toBe(HEAT_BINS[1]?.colour);
    expect(heatColour(0.25)).toBe(HEAT_BINS[1]?.colour);
    expect(heatColour(0.5)).toBe(HEAT_BINS[2]?.colour);
    expect(heatColour(0.9)).toBe(HEAT_BINS[4]?.colour);
    expect(heatColour(1)).toBe(HEAT_BINS[5]?.colour);
    expect(heatColour(7)).toBe(HEAT_BINS[5]?.colour);
    expect(heatColour(undefined)).toBe(HEAT_NONE.colour);
    expect(new Set(HEAT_BINS.map((b) => b.colour)).size).toBe(HEAT_BINS.length);
  });
});

describe('heatGrid', () => {
  it('draws one coloured cell per node with its tooltip', () => {
    const svg = heatGrid({ id: 'occ', title: 'Occupancy', description: 'Test.', groups: GROUPS });
    const all = cells(svg);
    expect(all.map((c) => c['data-node'])).toEqual(['n1', 'n2', 'n3', 'n4']);
    expect(all.map((c) => c.fill)).toEqual([
      heatColour(0),
      heatColour(0.5),
      heatColour(1),
      HEAT_NONE.colour,
    ]);
    expect(svg).toContain('<title>n1: 0 of 8 GPUs in use</title>');
    expect(svg).toContain('<title>n2</title>');
  });

  it('lays the cells of a group in rows of the cell pitch', () => {
    const svg = heatGrid({
      id: 'occ',
      title: 'O',
      description: 'T.',
      groups: GROUPS,
      cellSize: 10,
    });
    const [a, b, c] = cells(svg);
    expect(Number(b?.x) - Number(a?.x)).toBe(12);
    expect(Number(c?.x) - Number(b?.x)).toBe(12);
    expect(b?.y).toBe(a?.y);
  });

  it('wraps a large group into several rows within the width', () => {
    const many = Array.from({ length: 100 }, (_, i) => ({ id: `n${i}`, value: i / 100 }));
    const svg = heatGrid({
      id: 'o',
      title: 'O',
      description: 'T.',
      groups: [{ label: 'g', cells: many }],
      width: 264,
    });
    const ys = new Set(cells(svg).map((c) => c.y));
    const xs = cells(svg).map((c) => Number(c.x) + 10);
    expect(ys.size).toBe(5);
    expect(Math.max(...xs)).toBeLessThanOrEqual(264 - 12);
  });

  it('labels groups and shows the legend with every bin as text', () => {
    const svg = heatGrid({ id: 'occ', title: 'Occupancy', description: 'Test.', groups: GROUPS });
    expect(svg).toContain('>rack r1</text>');
    expect(svg).toContain('data-group="rack r2"');
    for (const entry of heatLegend()) expect(svg).toContain(`>${escapeXml(entry.label)}</text>`);
    expect(svg).toContain('>GPU in use</text>');
    expect(svg).toContain('data-chart="heat"');
  });

  it('counts the cells per bin in the description', () => {
    const counts = binCounts(GROUPS);
    expect(counts.get('idle')).toBe(1);
    expect(counts.get('≤ 50%')).toBe(1);
    expect(counts.get('full')).toBe(1);
    expect(counts.get('no GPU')).toBe(1);
    const svg = heatGrid({ id: 'occ', title: 'O', description: 'End of run.', groups: GROUPS });
    expect(svg).toMatch(/<desc[^>]*>End of run\. 4 nodes in 2 groups: idle 1, ≤ 25% 0, ≤ 50% 1/);
  });

  it('escapes node and group names and stays well-formed XML', () => {
    const svg = heatGrid({
      id: 'occ',
      title: 'O',
      description: 'T.',
      groups: [{ label: 'r<1>&', cells: [{ id: 'n"1"', value: 0.3, detail: '<b>' }] }],
    });
    expect(xmlProblems(svg)).toEqual([]);
    expect(svg).toContain('data-node="n&quot;1&quot;"');
    expect(svg).toContain('>r&lt;1&gt;&amp;</text>');
  });
});
