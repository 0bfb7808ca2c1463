/**
 * Reading a hand-written document (YAML or JSON) field by field, collecting every problem as one
 * sentence that names the field's path (`gangs[3].pods: must be a positive integer, got 0`), so a
 * person sees all mistakes of a workload file at once. Pure: no I/O.
 */
import { describeValue, type Fields, isRecord } from '../api/json.ts';
import { parseQuantity } from '../api/resource/quantity.ts';

export { type Fields, isRecord };

/** How a value reads in an error message (strings cut at 60 characters). */
export const got = (value: unknown): string => describeValue(value, 60);

/** `a.b`, or `a["odd key"]` for keys that are not plain words. */
export function child(path: string, key: string): string {
  if (/^[A-Za-z_$][\w$-]*$/.test(key)) return path === '' ? key : `${path}.${key}`;
  return `${path}[${JSON.stringify(key)}]`;
}

export interface NumberRule {
  readonly min?: number;
  readonly max?: number;
  /** Whole numbers only. */
  readonly integer?: boolean;
  /** The minimum itself is not allowed (`> min`). */
  readonly exclusiveMin?: boolean;
}

/** The rule's lower bound in words: `a positive integer`, `a number at least 2`. */
function ruleText(rule: NumberRule): string {
  const integer = rule.integer === true;
  if (rule.min === 0 && rule.exclusiveMin === true) {
    return integer ? 'a positive integer' : 'a number greater than 0';
  }
  if (rule.min === 0) return integer ? 'a non-negative integer' : 'a non-negative number';
  const kind = integer ? 'an integer' : 'a number';
  if (rule.min === undefined) return kind;
  return `${kind} ${rule.exclusiveMin === true ? 'greater than' : 'at least'} ${rule.min}`;
}

function numberOk(value: number, rule: NumberRule): boolean {
  // Checked in order: finite, whole when asked, lower bound, upper bound.
  if (!Number.isFinite(value)) return false;
  if (rule.integer === true && !Number.isSafeInteger(value)) return false;
  if (rule.min !== undefined && (rule.exclusiveMin === true ? value <= rule.min : value < rule.min))
    return false;
  return rule.max === undefined || value <= rule.max;
}

/** Collects problems; each reader returns undefined (and records why) when the value is wrong. */
export class FieldReader {
  readonly errors: string[] = [];

  add(path: string, message: string): void {
    this.errors.push(`${path}: ${message}`);
  }

  /** Reports keys of `obj` outside `known`. */
  unknown(path: string, obj: Fields, known: readonly string[]): void {
    for (const key of Object.keys(obj)) {
      if (known.includes(key)) continue;
      this.add(
        child(path, key),
        `unknown field; remove it or fix its spelling (known: ${known.join(', ')})`,
      );
    }
  }

  object(path: string, value: unknown): Fields | undefined {
    if (isRecord(value)) return value;
    this.add(path, `must be an object, got ${got(value)}`);
    return undefined;
  }

  list(path: string, value: unknown): unknown[] | undefined {
    if (Array.isArray(value)) return value;
    this.add(path, `must be a list, got ${got(value)}`);
    return undefined;
  }

  string(path: string, value: unknown, pattern?: RegExp, what?: string): string | undefined {
    if (typeof value === 'string' && value !== '' && (pattern === undefined || pattern.test(value)))
      return value;
    this.add(path, `must be ${what ?? 'a non-empty string'}, got ${got(value)}`);
    return undefined;
  }

  number(path: string, value: unknown, rule: NumberRule = {}): number | undefined {
    if (typeof value === 'number' && numberOk(value, rule)) return value;
    const tooBig = typeof value === 'number' && rule.max !== undefined && value > rule.max;
    this.add(path, `must be ${tooBig ? `at most ${rule.max}` : ruleText(rule)}, got ${got(value)}`);
    return undefined;
  }

  /** A number, or a Kubernetes quantity string (`500m`, `64Gi`), scaled by `unit`. */
  quantity(path: string, value: unknown, example: string): number | undefined {
    const parsed =
      typeof value === 'number' ? value : typeof value === 'string' ? parseQuantity(value) : NaN;
    if (parsed !== undefined && Number.isFinite(parsed) && parsed >= 0) return parsed;
    this.add(
      path,
      `must be a non-negative number or quantity such as ${example}, got ${got(value)}`,
    );
    return undefined;
  }

  /** An optional field: undefined stays undefined without an error. */
  optional<T>(value: unknown, read: (v: unknown) => T | undefined): T | undefined {
    return value === undefined ? undefined : read(value);
  }
}
