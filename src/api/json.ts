/**
 * Reading untyped JSON (admission requests, hand-written documents, API objects): the plain-object
 * check and how a value reads inside an error sentence.
 *
 * Pure: no I/O.
 */

export type Fields = Record<string, unknown>;

/** A JSON object (not null, not a list). */
export const isRecord = (value: unknown): value is Fields =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** How a value reads in an error message: `nothing`, `null`, `a list`, a quoted string cut at `maxChars`… */
export function describeValue(value: unknown, maxChars = 80): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') {
    return JSON.stringify(value.length > maxChars ? `${value.slice(0, maxChars - 3)}...` : value);
  }
  return String(value);
}
