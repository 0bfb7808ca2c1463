/**
 * Kubernetes resource quantities (`80Gi`, `500m`, `1e3`) as numbers, and the canonical binary
 * form the API server stores for byte counts. Pure.
 */

const QUANTITY_RE = /^([+-]?(?:\d+(?:\.\d*)?|\.\d+))(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?\d+)?$/;

const SUFFIX_FACTORS: Readonly<Record<string, number>> = {
  Ki: 1024,
  Mi: 1024 ** 2,
  Gi: 1024 ** 3,
  Ti: 1024 ** 4,
  Pi: 1024 ** 5,
  Ei: 1024 ** 6,
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
};

/** Numeric value of a Kubernetes quantity string; undefined when it is not one. */
export function parseQuantity(text: string): number | undefined {
  const m = QUANTITY_RE.exec(text);
  if (m === null) return undefined;
  const base = Number(m[1]);
  const suffix = m[2];
  if (suffix === undefined) return base;
  if (suffix.startsWith('e') || suffix.startsWith('E')) {
    if (suffix.length > 1) return base * 10 ** Number(suffix.slice(1));
  }
  const factor = SUFFIX_FACTORS[suffix];
  return factor === undefined ? undefined : base * factor;
}

const BINARY_SUFFIXES = ['Ei', 'Pi', 'Ti', 'Gi', 'Mi', 'Ki'] as const;

/**
 * Formats a byte count the way the API server prints it back (canonical form), so that the
 * stored object compares equal with what was sent: the largest binary suffix that divides it
 * exactly, otherwise a plain integer.
 */
export function formatBytes(bytes: number): string {
  if (!Number.isSafeInteger(bytes) || bytes < 0)
    throw new RangeError(`invalid byte count ${bytes}`);
  for (const suffix of BINARY_SUFFIXES) {
    const factor = SUFFIX_FACTORS[suffix] ?? 1;
    if (bytes >= factor && bytes % factor === 0) return `${bytes / factor}${suffix}`;
  }
  return String(bytes);
}
