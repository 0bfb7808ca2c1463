/**
 * Multi-series line chart: numeric x and y axes with nice ticks and grid lines, one <path> per
 * series (solid or dashed, optionally with hollow point markers), optional reference lines across
 * the plot (e.g. a published number), and a legend below.
 *
 * Pure: no I/O.
 */
import { axisTitles, type PlotBox, right, xAxis, yAxis } from './axes.ts';
import { DASH, type LegendEntry, legend, legendHeight } from './legend.ts';
import { INK, seriesColour } from './palette.ts';
import {
  el,
  escapeXml,
  idFragment,
  linearScale,
  linePath,
  niceDomain,
  niceTicks,
  type Point,
  type Scale,
  svgRoot,
  text,
} from './svg.ts';

export interface LineSeries {
  readonly label: string;
  readonly points: readonly Point[];
  /** Default: the palette colour of the series' position. */
  readonly colour?: string;
  readonly dashed?: boolean;
  /** Hollow circles at every point (for sparse series such as published values). */
  readonly markers?: boolean;
  /** false leaves the series out of the automatic legend. */
  readonly inLegend?: boolean;
}

/** A dashed line across the plot at x = value (vertical) or y = value (horizontal). */
export interface ReferenceLine {
  readonly axis: 'x' | 'y';
  readonly value: number;
  readonly label: string;
  readonly colour?: string;
}

export interface LineChartSpec {
  readonly id: string;
  readonly title: string;
  readonly description: string;
  readonly xLabel: string;
  readonly yLabel: string;
  /** Appended to tick labels, e.g. `%`. */
  readonly xUnit?: string;
  readonly yUnit?: string;
  readonly series: readonly LineSeries[];
  readonly references?: readonly ReferenceLine[];
  /** Replaces the automatic legend (one entry per series). */
  readonly legend?: readonly LegendEntry[];
  /** Default: the data's extent widened to nice ticks. */
  readonly xDomain?: readonly [number, number];
  readonly yDomain?: readonly [number, number];
  readonly width?: number;
  readonly height?: number;
}

const MARGIN = { left: 64, right: 24, top: 16, bottom: 48 } as const;
const LEGEND_GAP = 8;

function extent(values: readonly number[]): [number, number] | undefined {
  const finite = values.filter(Number.isFinite);
  if (finite.length === 0) return undefined;
  return [Math.min(...finite), Math.max(...finite)];
}

/** The x and y domains: given ones, else the extent of the data and reference lines, made nice. */
export function lineDomains(spec: LineChartSpec): {
  x: readonly [number, number];
  y: readonly [number, number];
} {
  const points = spec.series.flatMap((s) => s.points);
  const refs = spec.references ?? [];
  const xs = [...points.map((p) => p.x), ...refs.filter((r) => r.axis === 'x').map((r) => r.value)];
  const ys = [...points.map((p) => p.y), ...refs.filter((r) => r.axis === 'y').map((r) => r.value)];
  const xe = extent(xs) ?? [0, 1];
  const ye = extent(ys) ?? [0, 1];
  return {
    x: spec.xDomain ?? niceDomain(xe[0], xe[1]),
    y: spec.yDomain ?? niceDomain(ye[0], ye[1]),
  };
}

function seriesColourOf(spec: LineChartSpec, i: number): string {
  return spec.series[i]?.colour ?? seriesColour(i);
}

/** The automatic legend: one entry per series that has inLegend !== false. */
export function lineLegend(spec: LineChartSpec): LegendEntry[] {
  const entries: LegendEntry[] = [];
  spec.series.forEach((s, i) => {
    if (s.inLegend === false) return;
    entries.push({
      label: s.label,
      colour: seriesColourOf(spec, i),
      key: 'line',
      ...(s.dashed === true ? { dashed: true } : {}),
      ...(s.markers === true ? { marker: true } : {}),
    });
  });
  return entries;
}

function referenceLine(ref: ReferenceLine, sx: Scale, sy: Scale, box: PlotBox): string {
  const colour = ref.colour ?? INK.reference;
  const common = { stroke: colour, 'stroke-width': 1.25, 'stroke-dasharray': DASH };
  if (ref.axis === 'y') {
    const y = sy(ref.value);
    return el(
      'g',
      { class: 'reference', 'data-reference': ref.label },
      el('line', { x1: box.left, y1: y, x2: right(box), y2: y, ...common }),
      text(right(box) - 4, y - 4, ref.label, { 'text-anchor': 'end', fill: colour }),
    );
  }
  const x = sx(ref.value);
  return el(
    'g',
    { class: 'reference', 'data-reference': ref.label },
    el('line', { x1: x, y1: box.top, x2: x, y2: box.top + box.height, ...common }),
    text(x + 4, box.top + 12, ref.label, { fill: colour }),
  );
}

const round2 = (v: number): number => Math.round(v * 100) / 100;

function markers(series: LineSeries, colour: string, sx: Scale, sy: Scale): string {
  const dots = series.points
    .filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y))
    .map((p) =>
      el(
        'circle',
        { cx: sx(p.x), cy: sy(p.y), r: 3.5, fill: '#ffffff', stroke: colour, 'stroke-width': 1.5 },
        el('title', {}, escapeXml(`${series.label}: ${round2(p.y)} at ${round2(p.x)}`)),
      ),
    );
  return el('g', { class: 'markers', 'data-series': series.label }, ...dots);
}

function seriesPaths(spec: LineChartSpec, sx: Scale, sy: Scale, clipId: string): string {
  return spec.series
    .map((s, i) => {
      const colour = seriesColourOf(spec, i);
      const d = linePath(s.points, sx, sy);
      const path =
        d === ''
          ? ''
          : el('path', {
              class: 'series',
              'data-series': s.label,
              d,
              fill: 'none',
              stroke: colour,
              'stroke-width': 2,
              'stroke-linejoin': 'round',
              'stroke-linecap': 'round',
              'stroke-dasharray': s.dashed === true ? DASH : undefined,
            });
      const dots = s.markers === true ? markers(s, colour, sx, sy) : '';
      return el('g', { 'clip-path': `url(#${clipId})` }, path, dots);
    })
    .join('');
}

/** One sentence per series for the chart's <desc>: points, x range and the last value. */
export function describeSeries(series: readonly LineSeries[], yUnit = ''): string {
  return series
    .map((s) => {
      const pts = s.points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));
      const first = pts[0];
      const last = pts[pts.length - 1];
      if (first === undefined || last === undefined) return `${s.label}: no data.`;
      return `${s.label}: ${pts.length} points from x=${first.x} to x=${last.x}, last y=${last.y.toFixed(2)}${yUnit}.`;
    })
    .join(' ');
}

/** The chart as an <svg> element. */
export function lineChart(spec: LineChartSpec): string {
  const width = spec.width ?? 720;
  const plotHeight = (spec.height ?? 360) - MARGIN.top - MARGIN.bottom;
  const box: PlotBox = {
    left: MARGIN.left,
    top: MARGIN.top,
    width: width - MARGIN.left - MARGIN.right,
    height: plotHeight,
  };
  const entries = spec.legend ?? lineLegend(spec);
  const legendTop = box.top + box.height + MARGIN.bottom + LEGEND_GAP;
  const height = legendTop + legendHeight(entries, box.width) + (entries.length > 0 ? 4 : 0);
  const domains = lineDomains(spec);
  const sx = linearScale(domains.x, [box.left, right(box)]);
  const sy = linearScale(domains.y, [box.top + box.height, box.top]);
  const clipId = `${idFragment(spec.id)}-clip`;
  const body = [
    el(
      'defs',
      {},
      el(
        'clipPath',
        { id: clipId },
        el('rect', { x: box.left, y: box.top - 4, width: box.width + 4, height: box.height + 8 }),
      ),
    ),
    yAxis(niceTicks(domains.y[0], domains.y[1]), sy, box, spec.yUnit ?? ''),
    xAxis(niceTicks(domains.x[0], domains.x[1], 10), sx, box, spec.xUnit ?? ''),
    axisTitles(box, spec.xLabel, spec.yLabel),
    ...(spec.references ?? []).map((r) => referenceLine(r, sx, sy, box)),
    el('g', { class: 'plot' }, seriesPaths(spec, sx, sy, clipId)),
    legend(entries, box.left, legendTop, box.width),
  ].join('');
  const description = `${spec.description} ${describeSeries(spec.series, spec.yUnit ?? '')}`.trim();
  return svgRoot(
    { id: spec.id, title: spec.title, description, width, height, kind: 'line' },
    body,
  );
}
