/**
 * Heat grid: the cluster occupancy map. One square per node, coloured by the share of its GPUs in
 * use (binned, see palette.ts), nodes grouped into labelled blocks (rack, block, GPU model…).
 * Blocks flow left to right and wrap, so many small racks and a few large pools both fit. Every
 * cell carries a <title> with its node and detail for hovering.
 *
 * Pure: no I/O.
 */
import { type LegendEntry, legend, legendHeight } from './legend.ts';
import { HEAT_BINS, HEAT_NONE, type HeatBin, heatColour, INK } from './palette.ts';
import { el, escapeXml, svgRoot, text, textWidth } from './svg.ts';

export interface HeatCell {
  /** Node name (shown in the tooltip, and as data-node). */
  readonly id: string;
  /** Share in use, 0..1; undefined for a node without GPUs. */
  readonly value: number | undefined;
  /** Tooltip detail, e.g. `5 of 8 GPUs in use`. */
  readonly detail?: string;
}

export interface HeatGroup {
  readonly label: string;
  readonly cells: readonly HeatCell[];
}

export interface HeatGridSpec {
  readonly id: string;
  readonly title: string;
  readonly description: string;
  readonly groups: readonly HeatGroup[];
  /** What the colour shows, written above the legend (default `GPU in use`). */
  readonly valueLabel?: string;
  readonly bins?: readonly HeatBin[];
  readonly width?: number;
  /** Side of a cell (default 10). */
  readonly cellSize?: number;
}

const PAD = 12;
const LABEL_ROW = 16;
const BLOCK_GAP = 14;
const MAX_LABEL = 320;

interface Block {
  readonly group: HeatGroup;
  readonly label: string;
  readonly cols: number;
  readonly width: number;
  readonly height: number;
  x: number;
  y: number;
}

function clipLabel(label: string, room: number): string {
  if (textWidth(label) <= room) return label;
  const keep = Math.max(1, Math.floor(room / textWidth('m')) - 1);
  return `${label.slice(0, keep)}…`;
}

function makeBlock(group: HeatGroup, inner: number, pitch: number, cell: number): Block {
  const n = group.cells.length;
  const maxCols = Math.max(1, Math.floor((inner + pitch - cell) / pitch));
  const cols = Math.max(1, Math.min(n, maxCols));
  const rows = Math.ceil(n / cols);
  const cellsWidth = cols * pitch - (pitch - cell);
  const labelRoom = Math.min(inner, Math.max(cellsWidth, MAX_LABEL));
  const label = clipLabel(group.label, labelRoom);
  const width = Math.min(inner, Math.max(cellsWidth, textWidth(label)));
  return { group, label, cols, width, height: LABEL_ROW + rows * pitch, x: 0, y: 0 };
}

/** Places the blocks left to right, wrapping; returns the height they take. */
function flow(blocks: Block[], inner: number): number {
  let x = 0;
  let y = 0;
  let rowHeight = 0;
  for (const b of blocks) {
    if (x > 0 && x + b.width > inner) {
      x = 0;
      y += rowHeight + BLOCK_GAP;
      rowHeight = 0;
    }
    b.x = x;
    b.y = y;
    x += b.width + BLOCK_GAP;
    rowHeight = Math.max(rowHeight, b.height);
  }
  return blocks.length === 0 ? 0 : y + rowHeight;
}

function cellRect(
  c: HeatCell,
  x: number,
  y: number,
  size: number,
  bins: readonly HeatBin[],
): string {
  const tip = c.detail === undefined ? c.id : `${c.id}: ${c.detail}`;
  return el(
    'rect',
    {
      class: 'cell',
      'data-node': c.id,
      x,
      y,
      width: size,
      height: size,
      fill: heatColour(c.value, bins),
    },
    el('title', {}, escapeXml(tip)),
  );
}

function blockSvg(
  b: Block,
  left: number,
  top: number,
  pitch: number,
  cell: number,
  bins: readonly HeatBin[],
): string {
  const x0 = left + b.x;
  const y0 = top + b.y;
  const cells = b.group.cells.map((c, i) =>
    cellRect(
      c,
      x0 + (i % b.cols) * pitch,
      y0 + LABEL_ROW + Math.floor(i / b.cols) * pitch,
      cell,
      bins,
    ),
  );
  return el(
    'g',
    { class: 'group', 'data-group': b.group.label },
    text(x0, y0 + 11, b.label, { fill: INK.text, 'font-size': 11 }),
    el('g', { stroke: INK.grid, 'stroke-width': 0.5 }, ...cells),
  );
}

/** Legend entries of the bins, then the no-GPU swatch. */
export function heatLegend(bins: readonly HeatBin[] = HEAT_BINS): LegendEntry[] {
  return [
    ...bins.map((b): LegendEntry => ({ label: b.label, colour: b.colour, key: 'swatch' })),
    { label: HEAT_NONE.label, colour: HEAT_NONE.colour, key: 'swatch', outline: INK.grid },
  ];
}

/** Count of cells per bin label (and no GPU), for the description. */
export function binCounts(
  groups: readonly HeatGroup[],
  bins: readonly HeatBin[] = HEAT_BINS,
): Map<string, number> {
  const counts = new Map<string, number>();
  for (const b of heatLegend(bins)) counts.set(b.label, 0);
  const byColour = new Map(heatLegend(bins).map((e) => [e.colour, e.label]));
  for (const g of groups) {
    for (const c of g.cells) {
      const label = byColour.get(heatColour(c.value, bins)) ?? HEAT_NONE.label;
      counts.set(label, (counts.get(label) ?? 0) + 1);
    }
  }
  return counts;
}

/** The occupancy map as an <svg> element. */
export function heatGrid(spec: HeatGridSpec): string {
  const width = spec.width ?? 960;
  const cell = spec.cellSize ?? 10;
  const pitch = cell + 2;
  const inner = width - 2 * PAD;
  const bins = spec.bins ?? HEAT_BINS;
  const blocks = spec.groups.map((g) => makeBlock(g, inner, pitch, cell));
  const gridHeight = flow(blocks, inner);
  const entries = heatLegend(bins);
  const legendTitleTop = PAD + gridHeight + 24;
  const legendTop = legendTitleTop + 8;
  const height = legendTop + legendHeight(entries, inner) + PAD / 2;
  const total = spec.groups.reduce((n, g) => n + g.cells.length, 0);
  const counts = [...binCounts(spec.groups, bins)].map(([label, n]) => `${label} ${n}`).join(', ');
  const description = `${spec.description} ${total} nodes in ${spec.groups.length} groups: ${counts}.`;
  const body = [
    el('g', { class: 'plot' }, ...blocks.map((b) => blockSvg(b, PAD, PAD, pitch, cell, bins))),
    text(PAD, legendTitleTop, spec.valueLabel ?? 'GPU in use', {
      fill: INK.muted,
      'font-size': 11,
      class: 'legend-title',
    }),
    legend(entries, PAD, legendTop, inner),
  ].join('');
  return svgRoot(
    { id: spec.id, title: spec.title, description, width, height, kind: 'heat' },
    body,
  );
}
