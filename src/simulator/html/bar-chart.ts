/**
 * Bar charts: grouped bars (one band per category, one bar per series, e.g. waiting time per
 * queue and policy) and stacked bars (one bar per category split into ordered parts, e.g. gangs
 * by the narrowest topology level that held them). Every bar carries a <title> with its exact
 * value, so a reader can hover for the number.
 *
 * Pure: no I/O.
 */
import { axisTitles, bandAxis, bottom, type PlotBox, yAxis } from './axes.ts';
import { type LegendEntry, legend, legendHeight } from './legend.ts';
import { INK, seriesColour } from './palette.ts';
import {
  el,
  escapeXml,
  linearScale,
  niceDomain,
  niceTicks,
  type Scale,
  svgRoot,
  text,
  textWidth,
} from './svg.ts';

export interface BarSeries {
  readonly label: string;
  /** One value per category, in category order; undefined draws no bar. */
  readonly values: readonly (number | undefined)[];
  readonly colour?: string;
}

interface BarFrame {
  readonly id: string;
  readonly title: string;
  readonly description: string;
  readonly categories: readonly string[];
  readonly xLabel?: string;
  readonly yLabel: string;
  readonly yUnit?: string;
  /** Decimals of the value labels and tooltips (default 1). */
  readonly decimals?: number;
  readonly width?: number;
  readonly height?: number;
}

export interface GroupedBarSpec extends BarFrame {
  readonly series: readonly BarSeries[];
  /** Value labels above the bars (default: when there are at most 24 bars). */
  readonly showValues?: boolean;
  readonly yDomain?: readonly [number, number];
}

export interface StackedBarSpec extends BarFrame {
  /** The parts of every bar, bottom first; values are in category order. */
  readonly stacks: readonly BarSeries[];
  /** Scale every bar to 100% (the parts become shares of the bar's total). */
  readonly normalise?: boolean;
}

const MARGIN = { left: 64, right: 24, top: 20, bottom: 52 } as const;

interface Layout {
  readonly box: PlotBox;
  readonly width: number;
  readonly height: number;
  readonly legendTop: number;
  readonly band: number;
  readonly centres: readonly number[];
}

function layout(frame: BarFrame, entries: readonly LegendEntry[]): Layout {
  const width = frame.width ?? 720;
  const box: PlotBox = {
    left: MARGIN.left,
    top: MARGIN.top,
    width: width - MARGIN.left - MARGIN.right,
    height: (frame.height ?? 340) - MARGIN.top - MARGIN.bottom,
  };
  const band = box.width / Math.max(1, frame.categories.length);
  const centres = frame.categories.map((_, i) => box.left + band * (i + 0.5));
  const legendTop = bottom(box) + MARGIN.bottom;
  const height = legendTop + legendHeight(entries, box.width) + 4;
  return { box, width, height, legendTop, band, centres };
}

function swatches(series: readonly BarSeries[]): LegendEntry[] {
  return series.map((s, i) => ({
    label: s.label,
    colour: s.colour ?? seriesColour(i),
    key: 'swatch',
  }));
}

function format(value: number, frame: BarFrame): string {
  return `${value.toFixed(frame.decimals ?? 1)}${frame.yUnit ?? ''}`;
}

/** Category labels, shortened with an ellipsis when wider than their band. */
function fitLabels(categories: readonly string[], band: number): string[] {
  return categories.map((c) => {
    if (textWidth(c) <= band - 4) return c;
    const keep = Math.max(1, Math.floor((band - 4) / textWidth('m')) - 1);
    return `${c.slice(0, keep)}…`;
  });
}

function frameParts(frame: BarFrame, l: Layout, sy: Scale, ticks: readonly number[]): string {
  return [
    yAxis(ticks, sy, l.box, frame.yUnit ?? ''),
    bandAxis(fitLabels(frame.categories, l.band), l.centres, l.box),
    axisTitles(l.box, frame.xLabel ?? '', frame.yLabel),
  ].join('');
}

function groupedDomain(spec: GroupedBarSpec): readonly [number, number] {
  if (spec.yDomain !== undefined) return spec.yDomain;
  const values = spec.series.flatMap((s) => s.values).filter((v) => v !== undefined);
  const finite = values.filter(Number.isFinite);
  return niceDomain(Math.min(0, ...finite), Math.max(0, ...finite));
}

function groupedBars(spec: GroupedBarSpec, l: Layout, sy: Scale, showValues: boolean): string {
  const inner = l.band * 0.8;
  const barWidth = inner / Math.max(1, spec.series.length);
  const zero = sy(0);
  return spec.series
    .map((s, si) => {
      const colour = s.colour ?? seriesColour(si);
      const bars = spec.categories.map((category, ci) => {
        const value = s.values[ci];
        if (value === undefined || !Number.isFinite(value)) return '';
        const x = (l.centres[ci] ?? 0) - inner / 2 + si * barWidth;
        const y = Math.min(zero, sy(value));
        const h = Math.abs(sy(value) - zero);
        const tip = `${category}, ${s.label}: ${format(value, spec)}`;
        const rect = el(
          'rect',
          {
            class: 'bar',
            'data-series': s.label,
            'data-category': category,
            x: x + 1,
            y,
            width: Math.max(1, barWidth - 2),
            height: h,
            fill: colour,
          },
          el('title', {}, escapeXml(tip)),
        );
        const label = showValues
          ? text(x + barWidth / 2, y - 4, format(value, spec), {
              'text-anchor': 'middle',
              'font-size': 10,
              fill: INK.muted,
            })
          : '';
        return rect + label;
      });
      return el('g', { class: 'bar-series', 'data-series': s.label }, ...bars);
    })
    .join('');
}

/** Grouped bars as an <svg> element. */
export function groupedBarChart(spec: GroupedBarSpec): string {
  const entries = swatches(spec.series);
  const l = layout(spec, entries);
  const domain = groupedDomain(spec);
  const sy = linearScale(domain, [bottom(l.box), l.box.top]);
  const barCount = spec.series.length * spec.categories.length;
  const showValues = spec.showValues ?? barCount <= 24;
  const body = [
    frameParts(spec, l, sy, niceTicks(domain[0], domain[1])),
    el('g', { class: 'plot' }, groupedBars(spec, l, sy, showValues)),
    legend(entries, l.box.left, l.legendTop, l.box.width),
  ].join('');
  const description = `${spec.description} ${describeBars(spec.categories, spec.series, spec)}`;
  return svgRoot(
    { id: spec.id, title: spec.title, description, width: l.width, height: l.height, kind: 'bars' },
    body,
  );
}

/** Totals of each category (bar) over the stacks. */
export function stackTotals(spec: StackedBarSpec): number[] {
  return spec.categories.map((_, ci) =>
    spec.stacks.reduce((sum, s) => sum + Math.max(0, s.values[ci] ?? 0), 0),
  );
}

function stackedSegments(spec: StackedBarSpec, l: Layout, sy: Scale): string {
  const totals = stackTotals(spec);
  const barWidth = Math.min(l.band * 0.6, 96);
  const base = spec.categories.map(() => 0);
  return spec.stacks
    .map((s, si) => {
      const colour = s.colour ?? seriesColour(si);
      const parts = spec.categories.map((category, ci) => {
        const raw = Math.max(0, s.values[ci] ?? 0);
        const total = totals[ci] ?? 0;
        const value = spec.normalise === true ? (total > 0 ? (100 * raw) / total : 0) : raw;
        const from = base[ci] ?? 0;
        base[ci] = from + value;
        if (raw === 0) return '';
        const y0 = sy(from);
        const y1 = sy(from + value);
        const x = (l.centres[ci] ?? 0) - barWidth / 2;
        const share = total > 0 ? ` (${((100 * raw) / total).toFixed(1)}%)` : '';
        const rect = el(
          'rect',
          {
            class: 'segment',
            'data-stack': s.label,
            'data-category': category,
            x,
            y: y1,
            width: barWidth,
            height: Math.max(0, y0 - y1),
            fill: colour,
            stroke: '#ffffff',
            'stroke-width': 0.5,
          },
          el('title', {}, escapeXml(`${category}, ${s.label}: ${raw}${share}`)),
        );
        return rect;
      });
      return el('g', { class: 'stack', 'data-stack': s.label }, ...parts);
    })
    .join('');
}

/** Stacked bars as an <svg> element. */
export function stackedBarChart(spec: StackedBarSpec): string {
  const entries = swatches(spec.stacks);
  const l = layout(spec, entries);
  const totals = stackTotals(spec);
  const domain: readonly [number, number] =
    spec.normalise === true ? [0, 100] : niceDomain(0, Math.max(0, ...totals));
  const sy = linearScale(domain, [bottom(l.box), l.box.top]);
  // Normalised bars are shares: the axis reads in % unless the caller chose a unit.
  const axisFrame =
    spec.normalise === true && spec.yUnit === undefined ? { ...spec, yUnit: '%' } : spec;
  const body = [
    frameParts(axisFrame, l, sy, niceTicks(domain[0], domain[1])),
    el('g', { class: 'plot' }, stackedSegments(spec, l, sy)),
    legend(entries, l.box.left, l.legendTop, l.box.width),
  ].join('');
  const description = `${spec.description} ${describeBars(spec.categories, spec.stacks, spec)}`;
  return svgRoot(
    {
      id: spec.id,
      title: spec.title,
      description,
      width: l.width,
      height: l.height,
      kind: 'stacked',
    },
    body,
  );
}

/** One sentence per category for the chart's <desc>. */
export function describeBars(
  categories: readonly string[],
  series: readonly BarSeries[],
  frame: BarFrame,
): string {
  return categories
    .map((c, ci) => {
      const values = series
        .map((s) => {
          const v = s.values[ci];
          return v === undefined || !Number.isFinite(v)
            ? undefined
            : `${s.label} ${format(v, frame)}`;
        })
        .filter((v) => v !== undefined);
      return `${c}: ${values.length === 0 ? 'no data' : values.join(', ')}.`;
    })
    .join(' ');
}
