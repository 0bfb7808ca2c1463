/**
 * The small pieces every chart is built from: text escaping, number formatting for coordinates,
 * linear scales, "nice" axis ticks, polyline paths and the accessible <svg> wrapper.
 *
 * Written by hand on purpose: a report must be one file that opens anywhere with no script and no
 * download, and the handful of primitives below is all the charts need.
 *
 * Pure: no I/O.
 */

/** Characters XML 1.0 does not allow at all (tab, newline and carriage return are allowed). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: these are exactly the characters to drop
const XML_FORBIDDEN = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g;

const ENTITIES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/**
 * Text safe inside an element or a quoted attribute, in HTML and in XML alike: markup characters
 * become references, characters XML forbids (and lone surrogates) become U+FFFD.
 */
export function escapeXml(text: string): string {
  return text
    .toWellFormed()
    .replace(XML_FORBIDDEN, '\uFFFD')
    .replace(/[&<>"']/g, (c) => ENTITIES[c] ?? c);
}

/** A coordinate or length: at most two decimals, no trailing zeros, never `-0`. */
export function num(value: number): string {
  if (!Number.isFinite(value)) return '0';
  const rounded = Math.round(value * 100) / 100;
  return rounded === 0 ? '0' : String(rounded);
}

/** Attributes from a record; undefined values are left out, values are escaped. */
export function attrs(values: Readonly<Record<string, string | number | undefined>>): string {
  let out = '';
  for (const [name, value] of Object.entries(values)) {
    if (value === undefined) continue;
    out += ` ${name}="${typeof value === 'number' ? num(value) : escapeXml(value)}"`;
  }
  return out;
}

/** One element: `<name a="b">children</name>`, or self-closed without children. */
export function el(
  name: string,
  attributes: Readonly<Record<string, string | number | undefined>>,
  ...children: readonly string[]
): string {
  const inner = children.join('');
  return inner === ''
    ? `<${name}${attrs(attributes)}/>`
    : `<${name}${attrs(attributes)}>${inner}</${name}>`;
}

/** A <text> element; the content is escaped here. */
export function text(
  x: number,
  y: number,
  content: string,
  extra: Readonly<Record<string, string | number | undefined>> = {},
): string {
  return el('text', { x, y, ...extra }, escapeXml(content));
}

export type Scale = (value: number) => number;

/** Maps [d0, d1] linearly onto [r0, r1]; a zero-width domain maps everything to the middle. */
export function linearScale(
  domain: readonly [number, number],
  range: readonly [number, number],
): Scale {
  const [d0, d1] = domain;
  const [r0, r1] = range;
  if (d1 === d0) return () => (r0 + r1) / 2;
  const k = (r1 - r0) / (d1 - d0);
  return (value) => r0 + (value - d0) * k;
}

/** The step of 1, 2 or 5 × 10^k that cuts `span` into at most `maxTicks` − 1 parts. */
export function niceStep(span: number, maxTicks: number): number {
  if (!(span > 0) || !Number.isFinite(span)) return 1;
  const raw = span / Math.max(1, maxTicks - 1);
  const power = 10 ** Math.floor(Math.log10(raw));
  if (!(power > 0) || !Number.isFinite(power)) return raw > 0 ? raw : 1;
  for (const m of [1, 2, 5, 10]) {
    if (m * power >= raw * (1 - 1e-9)) return m * power;
  }
  return 10 * power;
}

function decimalsOf(step: number): number {
  return Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
}

/** Drops the binary noise of a multiple of a step (0.30000000000000004 → 0.3). */
function clean(value: number): number {
  const v = Number(value.toPrecision(12));
  return v === 0 ? 0 : v;
}

/** Round multiples of a nice step inside [min, max], at most `maxTicks` of them. */
export function niceTicks(min: number, max: number, maxTicks = 6): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [];
  if (max < min) return niceTicks(max, min, maxTicks);
  if (max === min) return [min];
  const step = niceStep(max - min, maxTicks);
  const first = Math.ceil(min / step - 1e-9);
  const last = Math.floor(max / step + 1e-9);
  const ticks: number[] = [];
  for (let i = first; i <= last; i++) ticks.push(clean(i * step));
  // With maxTicks below 4 the step may exceed the span and leave no multiple inside: keep the ends.
  return ticks.length > 0 ? ticks : [clean(min), clean(max)];
}

/** [min, max] widened outward to multiples of the nice step, so the ends carry ticks. */
export function niceDomain(min: number, max: number, maxTicks = 6): [number, number] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [0, 1];
  if (max === min) return min === 0 ? [0, 1] : niceDomain(Math.min(0, min), Math.max(0, max));
  const lo = Math.min(min, max);
  const hi = Math.max(min, max);
  const step = niceStep(hi - lo, maxTicks);
  const from = Math.floor(lo / step) * step;
  const to = Math.ceil(hi / step) * step;
  // Cleaning may round a hair inward; the domain must still hold the data.
  return [clean(from) <= lo ? clean(from) : from, clean(to) >= hi ? clean(to) : to];
}

/** A tick label: as many decimals as the tick step needs, at most 3. */
export function tickLabel(value: number, ticks: readonly number[]): string {
  const first = ticks[0];
  const second = ticks[1];
  const step = first !== undefined && second !== undefined ? Math.abs(second - first) : 1;
  return value.toFixed(Math.min(3, step > 0 ? decimalsOf(step) : 0));
}

export interface Point {
  readonly x: number;
  readonly y: number;
}

/**
 * An SVG path through the points in order. A point with a non-finite coordinate breaks the line:
 * the next finite point starts a new sub-path. Empty when no point is finite.
 */
export function linePath(points: readonly Point[], sx: Scale, sy: Scale): string {
  const parts: string[] = [];
  let pen = false;
  for (const p of points) {
    if (!Number.isFinite(p.x) || !Number.isFinite(p.y)) {
      pen = false;
      continue;
    }
    parts.push(`${pen ? 'L' : 'M'}${num(sx(p.x))} ${num(sy(p.y))}`);
    pen = true;
  }
  return parts.join('');
}

/** Rough width of a label in the charts' 12px sans-serif, for layout only. */
export function textWidth(label: string, fontSize = 12): number {
  return label.length * fontSize * 0.58;
}

/** A string usable as an XML id (and as a CSS selector fragment). */
export function idFragment(value: string): string {
  const cleaned = value.replace(/[^A-Za-z0-9_-]+/g, '-').replace(/^-+|-+$/g, '');
  return /^[A-Za-z]/.test(cleaned) ? cleaned : `c-${cleaned}`;
}

export interface SvgFrame {
  /** Document-unique id; the title and description get `<id>-title` and `<id>-desc`. */
  readonly id: string;
  readonly title: string;
  readonly description: string;
  readonly width: number;
  readonly height: number;
  /** Kind of chart, as `data-chart` (line, bars, stacked, heat). */
  readonly kind: string;
}

/** The accessible <svg> root: role img, labelled by its <title> and described by its <desc>. */
export function svgRoot(frame: SvgFrame, body: string): string {
  const id = idFragment(frame.id);
  return el(
    'svg',
    {
      xmlns: 'http://www.w3.org/2000/svg',
      id,
      viewBox: `0 0 ${num(frame.width)} ${num(frame.height)}`,
      width: frame.width,
      height: frame.height,
      role: 'img',
      'aria-labelledby': `${id}-title ${id}-desc`,
      'data-chart': frame.kind,
      'font-family': 'system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif',
      'font-size': 12,
    },
    el('title', { id: `${id}-title` }, escapeXml(frame.title)),
    el('desc', { id: `${id}-desc` }, escapeXml(frame.description)),
    body,
  );
}
