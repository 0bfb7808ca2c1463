/**
 * Axes shared by the line and bar charts: a y axis with horizontal grid lines and tick labels, a
 * numeric or categorical x axis, and the two axis titles.
 *
 * Pure: no I/O.
 */
import { INK } from './palette.ts';
import { el, num, type Scale, text, tickLabel } from './svg.ts';

/** The plotting area inside a chart, in SVG units. */
export interface PlotBox {
  readonly left: number;
  readonly top: number;
  readonly width: number;
  readonly height: number;
}

export function bottom(box: PlotBox): number {
  return box.top + box.height;
}

export function right(box: PlotBox): number {
  return box.left + box.width;
}

/** Horizontal grid lines and labelled ticks on the left edge. */
export function yAxis(ticks: readonly number[], sy: Scale, box: PlotBox, unit = ''): string {
  const parts = ticks.map((t) => {
    const y = sy(t);
    return (
      el('line', { x1: box.left, y1: y, x2: right(box), y2: y, stroke: INK.grid }) +
      text(box.left - 6, y + 4, `${tickLabel(t, ticks)}${unit}`, {
        'text-anchor': 'end',
        fill: INK.muted,
      })
    );
  });
  const spine = el('line', {
    x1: box.left,
    y1: box.top,
    x2: box.left,
    y2: bottom(box),
    stroke: INK.axis,
  });
  return el('g', { class: 'axis axis-y' }, ...parts, spine);
}

/** Labelled ticks along the bottom edge for a numeric x scale. */
export function xAxis(ticks: readonly number[], sx: Scale, box: PlotBox, unit = ''): string {
  const y = bottom(box);
  const parts = ticks.map((t) => {
    const x = sx(t);
    return (
      el('line', { x1: x, y1: y, x2: x, y2: y + 5, stroke: INK.axis }) +
      text(x, y + 18, `${tickLabel(t, ticks)}${unit}`, { 'text-anchor': 'middle', fill: INK.muted })
    );
  });
  const spine = el('line', { x1: box.left, y1: y, x2: right(box), y2: y, stroke: INK.axis });
  return el('g', { class: 'axis axis-x' }, spine, ...parts);
}

/** Category names centred under their bands along the bottom edge. */
export function bandAxis(
  labels: readonly string[],
  centres: readonly number[],
  box: PlotBox,
): string {
  const y = bottom(box);
  const parts = labels.map((label, i) =>
    text(centres[i] ?? box.left, y + 18, label, { 'text-anchor': 'middle', fill: INK.text }),
  );
  const spine = el('line', { x1: box.left, y1: y, x2: right(box), y2: y, stroke: INK.axis });
  return el('g', { class: 'axis axis-x' }, spine, ...parts);
}

/** The x title under the tick labels and the y title rotated along the left edge. */
export function axisTitles(box: PlotBox, xTitle: string, yTitle: string): string {
  const xt =
    xTitle === ''
      ? ''
      : text(box.left + box.width / 2, bottom(box) + 36, xTitle, {
          'text-anchor': 'middle',
          fill: INK.text,
          class: 'axis-title',
        });
  const cy = box.top + box.height / 2;
  const yt =
    yTitle === ''
      ? ''
      : text(14, cy, yTitle, {
          'text-anchor': 'middle',
          fill: INK.text,
          transform: `rotate(-90 14 ${num(cy)})`,
          class: 'axis-title',
        });
  return xt + yt;
}
