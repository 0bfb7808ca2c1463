/**
 * kubectl's plain output: upper-case headers, left-aligned columns three spaces apart, `<none>`
 * for an empty cell, and ages like `45s`, `12m`, `3h`, `5d`. Pure.
 */

export const NONE = '<none>';

export function printTable(
  headers: readonly string[],
  rows: readonly (readonly string[])[],
): string {
  const cells = rows.map((r) =>
    headers.map((_, i) => (r[i] === undefined || r[i] === '' ? NONE : r[i])),
  );
  const widths = headers.map((h, i) =>
    Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)),
  );
  const line = (r: readonly string[]): string =>
    r
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('   ')
      .trimEnd();
  return `${[line(headers), ...cells.map(line)].join('\n')}\n`;
}

/** kubectl's short age: seconds under 2 minutes, then minutes, hours, days. */
export function age(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return NONE;
  const s = Math.floor(ms / 1000);
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 120) return `${m}m`;
  const h = Math.floor(m / 60);
  return h < 48 ? `${h}h` : `${Math.floor(h / 24)}d`;
}

/** A number with at most `digits` decimals, without trailing zeros. */
export function decimal(value: number, digits = 2): string {
  return String(Math.round(value * 10 ** digits) / 10 ** digits);
}

export function json(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/** `key: value` lines, keys padded to one width (kubectl describe style); empty values dropped. */
export function fields(
  pairs: readonly (readonly [string, string | undefined])[],
  indent = '',
): string[] {
  const shown = pairs.filter(([, v]) => v !== undefined && v !== '');
  const width = Math.max(0, ...shown.map(([k]) => k.length + 1));
  return shown.map(([k, v]) => `${indent}${`${k}:`.padEnd(width)}  ${v ?? ''}`);
}
