/**
 * Colours of the report charts. Series colours are the Okabe–Ito set (distinguishable with the
 * common colour-vision deficiencies), darkened where the original is too light on white; the
 * occupancy map uses a light-to-dark sequential ramp in bins, so a reader can match a cell to the
 * legend exactly.
 *
 * Pure: no I/O.
 */

/** Series colours, in the order charts hand them out. */
export const SERIES_COLOURS: readonly string[] = [
  '#0072B2', // blue
  '#D55E00', // vermillion
  '#009E73', // bluish green
  '#CC79A7', // reddish purple
  '#E69F00', // orange
  '#56B4E9', // sky blue
  '#000000', // black
  '#8C6D1F', // dark yellow (Okabe–Ito yellow is unreadable on white)
  '#7F7F7F', // grey
];

/** The colour of series `i`, cycling through SERIES_COLOURS. */
export function seriesColour(i: number): string {
  const n = SERIES_COLOURS.length;
  return SERIES_COLOURS[((i % n) + n) % n] ?? '#000000';
}

/** Axis, grid and reference-line greys. */
export const INK = {
  text: '#1f2328',
  muted: '#57606a',
  axis: '#57606a',
  grid: '#d8dee4',
  reference: '#57606a',
  empty: '#eaeef2',
} as const;

/** One bin of the occupancy ramp: values up to `upTo` (inclusive, 0..1) take `colour`. */
export interface HeatBin {
  readonly upTo: number;
  readonly colour: string;
  readonly label: string;
}

/** GPU use of a node, in bins: idle, up to a quarter, half, three quarters, partly full, full. */
export const HEAT_BINS: readonly HeatBin[] = [
  { upTo: 0, colour: '#f7fbff', label: 'idle' },
  { upTo: 0.25, colour: '#c6dbef', label: '≤ 25%' },
  { upTo: 0.5, colour: '#6baed6', label: '≤ 50%' },
  { upTo: 0.75, colour: '#3182bd', label: '≤ 75%' },
  { upTo: 0.999_999, colour: '#08519c', label: '< 100%' },
  { upTo: 1, colour: '#08182f', label: 'full' },
];

/** Colour of a cell without GPUs (or without a value). */
export const HEAT_NONE = { colour: '#d0d7de', label: 'no GPU' } as const;

/** The bin of a value in 0..1 (values outside are clamped); undefined takes HEAT_NONE. */
export function heatColour(
  value: number | undefined,
  bins: readonly HeatBin[] = HEAT_BINS,
): string {
  if (value === undefined || !Number.isFinite(value)) return HEAT_NONE.colour;
  const v = Math.min(1, Math.max(0, value));
  for (const bin of bins) if (v <= bin.upTo) return bin.colour;
  return bins[bins.length - 1]?.colour ?? HEAT_NONE.colour;
}
