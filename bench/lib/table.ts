/**
 * Plain-text tables for benchmark output. Pure: no I/O.
 */

export type Align = 'left' | 'right';

export interface Column {
  readonly header: string;
  /** Default `left`; use `right` for numbers. */
  readonly align?: Align;
}

/**
 * Formats rows under a header with a dashed rule, columns padded to their widest cell and
 * separated by two spaces. Trailing spaces are trimmed.
 */
export function formatTable(
  columns: readonly Column[],
  rows: readonly (readonly string[])[],
): string {
  const widths = columns.map((c, i) =>
    Math.max(c.header.length, ...rows.map((r) => (r[i] ?? '').length)),
  );
  const line = (cells: readonly string[]): string =>
    columns
      .map((c, i) => {
        const cell = cells[i] ?? '';
        const width = widths[i] ?? 0;
        return c.align === 'right' ? cell.padStart(width) : cell.padEnd(width);
      })
      .join('  ')
      .trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(columns.map((c) => c.header)), rule, ...rows.map(line)].join('\n');
}

/** A millisecond value for a table cell: `0.412`, `12.35`, `1234`. */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return '-';
  if (ms < 10) return ms.toFixed(3);
  if (ms < 1000) return ms.toFixed(2);
  return ms.toFixed(0);
}

/** A rate for a table cell, whole numbers with thousands separators: `2,345`. */
export function formatRate(perSecond: number): string {
  if (!Number.isFinite(perSecond)) return '-';
  return Math.round(perSecond).toLocaleString('en-US');
}

/** The same table as GitHub Markdown: a header row, an alignment row, one row per line. */
export function markdownTable(
  columns: readonly Column[],
  rows: readonly (readonly string[])[],
): string {
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  return [
    line(columns.map((c) => c.header)),
    line(columns.map((c) => (c.align === 'right' ? '---:' : '---'))),
    ...rows.map((r) => line(columns.map((_, i) => r[i] ?? ''))),
  ].join('\n');
}
