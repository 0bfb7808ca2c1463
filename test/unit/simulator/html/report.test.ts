import { describe, expect, it } from 'vitest';
import {
  presentSections,
  type ReportInput,
  renderReport,
  renderTable,
} from '../../../../src/simulator/html/report.ts';
import { svgParts, xmlProblems } from './xml.ts';

const LINE = {
  kind: 'line',
  id: 'chart',
  title: 'Allocation',
  description: 'd',
  xLabel: 'x',
  yLabel: 'y',
  series: [{ label: 'fgd', points: [{ x: 0, y: 1 }] }],
} as const;

const GANG: ReportInput = {
  title: 'Gang run <test>',
  run: {
    workload: 'gang workload replay',
    trace: {
      name: 'openb_pod_list_default',
      files: [{ role: 'pods', path: '/data/pods.csv', sha256: 'ab12', rows: 10 }],
    },
    policies: ['phalanx', 'fifo'],
    seeds: [7],
    overlay: { description: '20% of GPU pods in gangs of 2–8', seed: 3 },
    facts: [{ label: 'queues', value: 'a, b' }],
    command: 'phalanx simulate --gangs',
  },
  summary: {
    headers: ['queue', 'wait s'],
    rows: [
      ['a', '12.5'],
      ['b', '-'],
    ],
  },
  waiting: {
    title: 'Waiting time',
    text: ['Per queue.'],
    charts: [
      {
        kind: 'bars',
        id: 'wait',
        title: 'Waiting per queue',
        description: 'd',
        categories: ['a', 'b'],
        yLabel: 's',
        series: [{ label: 'p50', values: [1, 2] }],
      },
    ],
  },
  locality: {
    title: 'Topology locality',
    charts: [
      {
        kind: 'stacked',
        id: 'loc',
        title: 'Locality',
        description: 'd',
        categories: ['phalanx'],
        yLabel: 'gangs',
        normalise: true,
        stacks: [{ label: 'rack', values: [3] }],
      },
    ],
  },
  share: {
    title: 'Share vs weight',
    charts: [
      {
        kind: 'bars',
        id: 'share',
        title: 'Share',
        description: 'd',
        categories: ['a'],
        yLabel: '%',
        series: [
          { label: 'weight', values: [50] },
          { label: 'share', values: [48] },
        ],
      },
    ],
  },
  occupancy: {
    title: 'Cluster occupancy',
    charts: [
      {
        kind: 'heat',
        id: 'occ',
        title: 'End of run',
        description: 'd',
        groups: [{ label: 'r1', cells: [{ id: 'n1', value: 0.5 }] }],
      },
    ],
  },
  credits: ['Data: someone.'],
};

describe('renderReport', () => {
  const html = renderReport(GANG);

  it('is one HTML document with inline CSS and no script', () => {
    expect(html.startsWith('<!doctype html>\n<html lang="en">')).toBe(true);
    expect(html.trimEnd().endsWith('</html>')).toBe(true);
    expect(html).toContain('<style>');
    expect(html).not.toMatch(/<script|<link|<img|<iframe|@import/i);
  });

  it('refers to nothing outside itself', () => {
    const urls = [
      ...html.matchAll(/\b(?:https?|file|ftp):\/\/[^\s"'<)]*|\bdata:[a-z]+\/[^\s"'<)]*/gi),
    ].map((m) => m[0]);
    expect(urls.every((u) => u === 'http://www.w3.org/2000/svg')).toBe(true);
    const refs = [...html.matchAll(/(?:href|src)="([^"]*)"/g)].map((m) => m[1] ?? '');
    expect(refs.length).toBeGreaterThan(0);
    expect(refs.every((r) => r.startsWith('#'))).toBe(true);
    for (const m of html.matchAll(/url\(([^)]*)\)/g)) expect(m[1]?.startsWith('#')).toBe(true);
  });

  it('has the header facts, the overlay label and the escaped title', () => {
    expect(html).toContain('<title>Gang run &lt;test&gt;</title>');
    expect(html).toContain(
      '<span class="badge">synthetic gang overlay</span> 20% of GPU pods in gangs of 2–8 (overlay seed 3)',
    );
    expect(html).toContain('<code>sha256 ab12</code>');
    expect(html).toContain('<dt>policies</dt><dd>phalanx, fifo</dd>');
    expect(html).toContain('<dt>seed</dt><dd>7</dd>');
    expect(html).toContain('<dt>queues</dt><dd>a, b</dd>');
    expect(html).not.toContain('tune ratio');
    expect(html).not.toContain('<dt>generated</dt>');
    expect(html).toContain('<p>Data: someone.</p>');
  });

  it('renders the sections present, in order, and a link to each', () => {
    const order = ['summary', 'waiting', 'locality', 'share', 'occupancy'].map((id) =>
      html.indexOf(`<section id="${id}">`),
    );
    expect(order.every((i) => i > 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(html).not.toContain('id="allocation"');
    expect(html).not.toContain('id="fragmentation"');
    for (const id of ['summary', 'waiting', 'locality', 'share', 'occupancy']) {
      expect(html).toContain(`<a href="#${id}">`);
    }
    expect(presentSections(GANG).map((s) => s.id)).toEqual([
      'waiting',
      'locality',
      'share',
      'occupancy',
    ]);
  });

  it('has one chart per spec, each with a caption, and every SVG is well-formed XML', () => {
    const svgs = svgParts(html);
    expect(svgs.map((s) => /data-chart="(\w+)"/.exec(s)?.[1])).toEqual([
      'bars',
      'stacked',
      'bars',
      'heat',
    ]);
    for (const svg of svgs) expect(xmlProblems(svg)).toEqual([]);
    expect(html).toContain('<figcaption>Waiting per queue</figcaption>');
  });

  it('keeps chart ids unique in the page', () => {
    const twice = renderReport({
      ...GANG,
      allocation: { title: 'A', charts: [LINE, LINE] },
      extra: [{ title: 'More', charts: [LINE] }],
    });
    const ids = [...twice.matchAll(/<svg[^>]* id="([^"]+)"/g)].map((m) => m[1]);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toContain('chart-2');
    expect(ids).toContain('chart-3');
    expect(twice).toContain('<section id="extra-1">');
  });

  it('renders a minimal input with only the summary', () => {
    const html = renderReport({
      title: 't',
      run: {
        workload: 'w',
        policies: ['p'],
        seeds: [1, 2],
        tuneRatio: 1.3,
        generatedAt: '2030-01-01T00:00:00Z',
      },
      summary: { headers: ['h'], rows: [] },
    });
    expect(svgParts(html)).toEqual([]);
    expect(html).toContain('<dt>seeds</dt><dd>1, 2</dd>');
    expect(html).toContain('1.3 (arriving GPU demand 130% of capacity)');
    expect(html).toContain('<dt>generated</dt><dd>2030-01-01T00:00:00Z</dd>');
  });
});

describe('renderTable', () => {
  it('right-aligns numeric columns and escapes cells', () => {
    const t = renderTable({
      headers: ['policy', 'alloc'],
      rows: [
        ['<fgd>', '95.4'],
        ['x', '-'],
      ],
      caption: 'c & d',
    });
    expect(t).toContain('<p class="caption">c &amp; d</p>');
    expect(t).toContain('<th scope="col">policy</th><th scope="col" class="num">alloc</th>');
    expect(t).toContain('<tr><td>&lt;fgd&gt;</td><td class="num">95.4</td></tr>');
    expect(t).toContain('<tr><td>x</td><td class="num">-</td></tr>');
  });
});
