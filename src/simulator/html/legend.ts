/**
 * Chart legends: entries flow left to right and wrap to new rows within the chart's width. Each
 * entry is a key (a line sample, dashed or with a marker, or a filled swatch) and real <text>.
 *
 * Pure: no I/O.
 */
import { INK } from './palette.ts';
import { el, text, textWidth } from './svg.ts';

export interface LegendEntry {
  readonly label: string;
  readonly colour: string;
  /** `line` for series drawn as lines, `swatch` for bars and cells. */
  readonly key: 'line' | 'swatch';
  readonly dashed?: boolean;
  readonly marker?: boolean;
  /** Swatch outline (light swatches need one to be seen). */
  readonly outline?: string;
}

export const LEGEND_ROW = 20;
const KEY_WIDTH = 24;
const GAP = 18;

/** Dash pattern of dashed series and reference lines. */
export const DASH = '6 4';

function keyMark(entry: LegendEntry, x: number, y: number): string {
  if (entry.key === 'swatch') {
    return el('rect', {
      x,
      y: y - 6,
      width: 14,
      height: 12,
      fill: entry.colour,
      stroke: entry.outline ?? INK.axis,
      'stroke-width': 0.5,
    });
  }
  const line = el('line', {
    x1: x,
    y1: y,
    x2: x + KEY_WIDTH - 4,
    y2: y,
    stroke: entry.colour,
    'stroke-width': 2,
    'stroke-dasharray': entry.dashed === true ? DASH : undefined,
  });
  const marker =
    entry.marker === true
      ? el('circle', {
          cx: x + (KEY_WIDTH - 4) / 2,
          cy: y,
          r: 3.5,
          fill: '#ffffff',
          stroke: entry.colour,
          'stroke-width': 1.5,
        })
      : '';
  return line + marker;
}

/** Height a legend of these entries takes at this width. */
export function legendHeight(entries: readonly LegendEntry[], width: number): number {
  return legendLayout(entries, width).rows * LEGEND_ROW;
}

function legendLayout(
  entries: readonly LegendEntry[],
  width: number,
): { rows: number; at: { x: number; row: number }[] } {
  const at: { x: number; row: number }[] = [];
  let x = 0;
  let row = 0;
  for (const entry of entries) {
    const w = KEY_WIDTH + textWidth(entry.label);
    if (x > 0 && x + w > width) {
      row++;
      x = 0;
    }
    at.push({ x, row });
    x += w + GAP;
  }
  return { rows: entries.length === 0 ? 0 : row + 1, at };
}

/** The legend as a <g class="legend">, its top-left corner at (left, top). */
export function legend(
  entries: readonly LegendEntry[],
  left: number,
  top: number,
  width: number,
): string {
  const { at } = legendLayout(entries, width);
  const items = entries.map((entry, i) => {
    const pos = at[i] ?? { x: 0, row: 0 };
    const x = left + pos.x;
    const y = top + pos.row * LEGEND_ROW + LEGEND_ROW / 2;
    return el(
      'g',
      { class: 'legend-item' },
      keyMark(entry, x, y),
      text(x + KEY_WIDTH, y + 4, entry.label, { fill: INK.text }),
    );
  });
  return el('g', { class: 'legend' }, ...items);
}
