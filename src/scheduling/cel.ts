/**
 * CEL device selectors, evaluated the way kube-scheduler's DRA allocator evaluates them.
 *
 * `DeviceClass.spec.selectors[].cel.expression` and the selectors of claim requests (and of
 * `firstAvailable` subrequests) run against every device of every ResourceSlice. The capacity
 * ledger must give the same answers, so this module runs them on a real CEL engine
 * (`@bufbuild/cel`) inside an environment shaped like the allocator's (k8s.io/dynamic-resource-
 * allocation/cel, Kubernetes 1.34–1.37 with consumable capacity on):
 *
 * - One variable, `device`, with `driver` (string), `attributes` and `capacity` (map from domain
 *   to map from short name to value), and `allowMultipleAllocations` (bool, false when unset).
 *   Slice names without a domain belong to the driver's domain; `domain/name` is split at the
 *   first slash. Looking up a domain the device has nothing in yields an empty map, not an error,
 *   so `"x" in device.attributes["other.dev"]` is false; looking up a missing short name IS an
 *   error (`no such key: x`), as upstream.
 * - Attribute values: int (int64), bool, string, and version (a `kubernetes.Semver`); capacity
 *   values are `kubernetes.Quantity`.
 * - The Kubernetes CEL libraries for quantities (`quantity`, `isQuantity`, the global `sign`, and
 *   the methods `compareTo`, `isGreaterThan`, `isLessThan`, `add`, `sub`, `asInteger`,
 *   `isInteger`, `asApproximateFloat`) and semantic versions (`semver` and `isSemver`, each with
 *   an optional normalize flag, and `major`, `minor`, `patch`, `compareTo`, `isGreaterThan`,
 *   `isLessThan`), the string extension library, and `cel.bind`. Quantities are exact (bigint)
 *   and reproduce apimachinery's parser, including its int64 fast path, which decides what
 *   `isInteger`/`asInteger` accept (`quantity("1.5Gi").isInteger()` is false upstream too).
 *
 * The engine has no type checker and no cost tracking, so compilation adds what it can:
 * - references to undeclared variables and functions, unknown `device` fields, calls in the
 *   wrong style (`q.sign()`), `==` between two different evident types (`1 == 1.0`,
 *   `semver("1.0.0") == "x"`) and list literals mixing evident types are compile errors;
 * - a result type that is evidently not bool (`device.driver`, `1 + 2`) is a compile error; one
 *   only known at run time (`device.attributes["d"].x`) is an evaluation error;
 * - `==` and `!=` follow upstream's runtime rules too: a Quantity or Semver on the left compares
 *   only with its own type, and upstream's quirk that `q == x.add(y)` (a sum on the right) fails
 *   with "no such overload" is reproduced;
 * - cost: expressions longer than 10 KiB are rejected (the API server's limit), and so are
 *   expressions whose worst-case step count, estimated from the AST, exceeds the allocator's
 *   per-expression limit of 1,000,000. Comprehension ranges that are not literals count as 64
 *   elements (a device has at most 32 attributes and capacities; strings at most 64 characters).
 *   This stands in for upstream's cost estimator and runtime cost limit.
 *
 * What the allocator does on a runtime error (a missing key, a failed conversion): it stops and
 * reports an error for the claim; it does NOT treat the device as unmatched. `matches` therefore
 * throws {@link CelEvalError}, naming the expression and the device, and callers must surface it.
 * Selectors of one request run in order (class selectors first) and stop at the first `false`,
 * so a later selector's error only counts when every earlier one matched.
 *
 * Known differences: a type error upstream's checker finds only through types this module cannot
 * see (e.g. `device.attributes["d"].x + "a"` where x is an int) is an evaluation error here, not
 * a compile error; field access on a Quantity or Semver value is not refused;
 * `has(device.attributes.dom)` is true upstream for any domain and here only for domains the
 * device has; quantities that need more than 4000 digits to add (`1e99999` plus `1`) fail here
 * instead of being computed. Libraries upstream has that are not offered (lists, regex `find`,
 * URLs, IP/CIDR, sets, optional types, named formats, two-variable comprehensions, list
 * attributes and `includes`) fail to compile with "undeclared reference".
 *
 * Pure: no I/O.
 */
import {
  type CelFunc,
  type CelInput,
  type CelMap,
  type CelObjectType,
  CelScalar,
  type CelValue,
  celEnv,
  celFunc,
  celMap,
  celMethod,
  celType,
  isCelError,
  objectType,
  parse,
  plan,
} from '@bufbuild/cel';
import { strings } from '@bufbuild/cel/ext';
import { create, createFileRegistry, type DescMessage } from '@bufbuild/protobuf';
import { isReflectMessage, type ReflectMessage, reflect } from '@bufbuild/protobuf/reflect';
import {
  FieldDescriptorProto_Label,
  FieldDescriptorProto_Type,
  FileDescriptorProtoSchema,
} from '@bufbuild/protobuf/wkt';
import type { Device, DeviceAttribute } from '../api/resource/v1.ts';

// ---------------------------------------------------------------------------------------------
// Public API

/** A device as a selector sees it: keys exactly as in the ResourceSlice device. */
export interface CelDevice {
  /** The device name; used only in error messages. */
  readonly name?: string;
  readonly driver: string;
  /** Unqualified (driver's domain) or qualified `domain/name` keys. */
  readonly attributes: Readonly<Record<string, DeviceAttribute>>;
  /** Quantity strings such as `80Gi`, keyed like attributes. */
  readonly capacity: Readonly<Record<string, string>>;
  readonly allowMultipleAllocations?: boolean;
}

export interface CompiledSelector {
  readonly expression: string;
  /** Whether the device matches; throws {@link CelEvalError} where the allocator would fail. */
  matches(device: CelDevice): boolean;
}

/** The selector does not compile (syntax, undeclared names, non-bool result, too expensive). */
export class CelCompileError extends Error {
  readonly expression: string;
  readonly detail: string;
  constructor(expression: string, detail: string) {
    super(`CEL selector ${shortExpression(expression)} is invalid: ${detail}`);
    this.name = 'CelCompileError';
    this.expression = expression;
    this.detail = detail;
  }
}

/** The selector failed at run time on one device (missing key, failed conversion, ...). */
export class CelEvalError extends Error {
  readonly expression: string;
  readonly device: string;
  readonly detail: string;
  constructor(expression: string, device: string, detail: string) {
    super(`CEL selector ${shortExpression(expression)} failed on device ${device}: ${detail}`);
    this.name = 'CelEvalError';
    this.expression = expression;
    this.device = device;
    this.detail = detail;
  }
}

/** The selector view of a ResourceSlice device of `driver`. */
export function celDevice(driver: string, device: Device): CelDevice {
  const capacity: Record<string, string> = {};
  for (const [name, c] of Object.entries(device.capacity ?? {})) capacity[name] = c.value;
  return { name: device.name, driver, attributes: device.attributes ?? {}, capacity };
}

/** The most compiled selectors kept; least recently used ones are dropped first. */
export const SELECTOR_CACHE_LIMIT = 1000;

const selectorCache = new Map<string, CompiledSelector | CelCompileError>();

/**
 * Compiles a selector expression, or returns the cached result for the same string (failures
 * are cached too). Throws {@link CelCompileError}.
 */
export function compileSelector(expression: string): CompiledSelector {
  let entry = selectorCache.get(expression);
  if (entry === undefined) {
    entry = compileOrError(expression);
    if (selectorCache.size >= SELECTOR_CACHE_LIMIT) {
      const oldest = selectorCache.keys().next();
      if (oldest.done !== true) selectorCache.delete(oldest.value);
    }
  } else {
    selectorCache.delete(expression);
  }
  selectorCache.set(expression, entry);
  if (entry instanceof CelCompileError) throw entry;
  return entry;
}

function shortExpression(expression: string): string {
  const flat = expression.replace(/\s+/g, ' ').trim();
  return `\`${flat.length > 120 ? `${flat.slice(0, 119)}…` : flat}\``;
}

// ---------------------------------------------------------------------------------------------
// Quantity: an exact model of apimachinery's resource.Quantity

/**
 * value = unscaled × 10^exp. `int64` mirrors upstream's two representations: true when upstream
 * holds the value as an int64 with a decimal scale (then `unscaled` fits int64 and `exp` is that
 * scale), false when it holds an arbitrary-precision decimal. Only the int64 form converts to an
 * integer (`isInteger`, `asInteger`).
 */
interface Quantity {
  readonly unscaled: bigint;
  readonly exp: number;
  readonly int64: boolean;
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const NANO_EXP = -9;
/**
 * Largest power of ten built to align two quantities. 10^4000 is far beyond any real quantity;
 * bigger ones take seconds to build and print, so such arithmetic is refused rather than stall.
 */
const MAX_DIGITS = 4000;

const SPLIT_RE = '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$';
const ERR_FORMAT = `quantities must match the regular expression '${SPLIT_RE}'`;
const ERR_NUMERIC = 'unable to parse numeric part of quantity';
const ERR_SUFFIX = "unable to parse quantity's suffix";
const ERR_RANGE = 'quantity is out of the supported range';

function fitsInt64(v: bigint): boolean {
  return v >= INT64_MIN && v <= INT64_MAX;
}

function pow10(n: number): bigint {
  if (n > MAX_DIGITS) throw new Error(ERR_RANGE);
  return 10n ** BigInt(n);
}

interface ScannedQuantity {
  readonly positive: boolean;
  /** The number as written (sign, digits, point), without the suffix. */
  readonly value: string;
  /** Integer digits without leading zeros ("0" when none). */
  readonly num: string;
  readonly denom: string;
  readonly suffix: string;
}

function digitsEnd(s: string, from: number): number {
  let i = from;
  while (i < s.length && s.charCodeAt(i) >= 48 && s.charCodeAt(i) <= 57) i++;
  return i;
}

/** Splits a quantity into sign, integer digits, fraction digits and suffix (upstream's scanner). */
function scanQuantity(str: string): ScannedQuantity {
  const positive = str[0] !== '-';
  let pos = str[0] === '-' || str[0] === '+' ? 1 : 0;
  while (pos < str.length && str[pos] === '0') pos++;
  if (pos >= str.length) return { positive, value: '0', num: '0', denom: '', suffix: '' };
  const numEnd = digitsEnd(str, pos);
  const num = numEnd > pos ? str.slice(pos, numEnd) : '0';
  pos = numEnd;
  let denom = '';
  if (str[pos] === '.') {
    const denomEnd = digitsEnd(str, pos + 1);
    denom = str.slice(pos + 1, denomEnd);
    pos = denomEnd;
  }
  const suffix = str.slice(pos);
  if (!/^[eEinumkKMGTP]*[-+]?[0-9]*$/.test(suffix)) throw new Error(ERR_FORMAT);
  return { positive, value: str.slice(0, pos), num, denom, suffix };
}

interface QuantitySuffix {
  readonly base: 2 | 10;
  readonly exponent: number;
  readonly binary: boolean;
}

const DECIMAL_SUFFIXES: Readonly<Record<string, number>> = {
  '': 0,
  n: -9,
  u: -6,
  m: -3,
  k: 3,
  M: 6,
  G: 9,
  T: 12,
  P: 15,
  E: 18,
};
const BINARY_SUFFIXES: Readonly<Record<string, number>> = {
  Ki: 10,
  Mi: 20,
  Gi: 30,
  Ti: 40,
  Pi: 50,
  Ei: 60,
};

function interpretSuffix(suffix: string): QuantitySuffix | undefined {
  const dec = DECIMAL_SUFFIXES[suffix];
  if (dec !== undefined && Object.hasOwn(DECIMAL_SUFFIXES, suffix)) {
    return { base: 10, exponent: dec, binary: false };
  }
  const bin = BINARY_SUFFIXES[suffix];
  if (bin !== undefined && Object.hasOwn(BINARY_SUFFIXES, suffix)) {
    return { base: 2, exponent: bin, binary: true };
  }
  if (suffix.length > 1 && (suffix[0] === 'e' || suffix[0] === 'E')) {
    const digits = suffix.slice(1);
    if (!/^[+-]?[0-9]+$/.test(digits)) return undefined;
    const parsed = BigInt(digits);
    // Upstream parses an int64 and keeps its low 32 bits.
    return fitsInt64(parsed)
      ? { base: 10, exponent: Number(BigInt.asIntN(32, parsed)), binary: false }
      : undefined;
  }
  return undefined;
}

/** The int64 fast path: small enough numbers, scale no finer than nano. */
function fastQuantity(s: ScannedQuantity, sfx: QuantitySuffix): Quantity | undefined {
  let precision: number;
  let scale = 0;
  let mantissa = 1n;
  if (sfx.binary) {
    if (sfx.exponent < 0 || s.denom.length > 0) return undefined;
    mantissa = 1n << BigInt(sfx.exponent);
    precision = 15 - s.num.length - Math.trunc((sfx.exponent * 3) / 10) - 1;
  } else {
    scale = sfx.exponent;
    precision = 18 - (s.num.length + s.denom.length);
  }
  if (precision < 0) return undefined;
  scale -= s.denom.length;
  if (scale < NANO_EXP) return undefined;
  const shifted = BigInt(s.num + s.denom);
  if (!fitsInt64(shifted)) throw new Error(ERR_NUMERIC);
  const result = shifted * mantissa;
  if (!fitsInt64(result)) return undefined;
  return { unscaled: s.positive ? result : -result, exp: scale, int64: true };
}

/** Rounds a non-negative value up (away from zero) to nano precision, as upstream does. */
function roundUpToNano(unscaled: bigint, exp: number): [bigint, number] {
  if (unscaled === 0n) return [unscaled, exp];
  // Upstream rescales to nano; beyond 400 digits that changes nothing a float or a comparison
  // can see, so huge values keep their exponent instead of materialising the digits.
  if (exp >= NANO_EXP) {
    return exp > 400 ? [unscaled, exp] : [unscaled * pow10(exp - NANO_EXP), NANO_EXP];
  }
  const drop = NANO_EXP - exp;
  if (drop > unscaled.toString().length) return [1n, NANO_EXP];
  const divisor = pow10(drop);
  const q = unscaled / divisor;
  return [unscaled % divisor === 0n ? q : q + 1n, NANO_EXP];
}

/** The arbitrary-precision path. */
function slowQuantity(s: ScannedQuantity, sfx: QuantitySuffix): Quantity {
  const m = /^[+-]?(\d*)(?:\.(\d*))?$/.exec(s.value);
  const intDigits = m?.[1] ?? '';
  const fracDigits = m?.[2] ?? '';
  if (m === null || intDigits.length + fracDigits.length === 0) throw new Error(ERR_NUMERIC);
  let abs = BigInt(intDigits + fracDigits);
  let exp = -fracDigits.length;
  if (sfx.base === 10) exp += sfx.exponent;
  else abs <<= BigInt(sfx.exponent);
  [abs, exp] = roundUpToNano(abs, exp);
  if (sfx.binary && compareParts(abs, exp, INT64_MAX, 0) > 0) [abs, exp] = [INT64_MAX, 0];
  return { unscaled: s.positive ? abs : -abs, exp, int64: false };
}

/** Parses a quantity string exactly as Kubernetes does (same accepted forms, same errors). */
function parseQuantity(str: string): Quantity {
  if (str === '') throw new Error(ERR_FORMAT);
  if (str === '0') return { unscaled: 0n, exp: 0, int64: true };
  const scanned = scanQuantity(str);
  const sfx = interpretSuffix(scanned.suffix);
  if (sfx === undefined) throw new Error(ERR_SUFFIX);
  return fastQuantity(scanned, sfx) ?? slowQuantity(scanned, sfx);
}

function signOf(v: bigint): -1 | 0 | 1 {
  if (v === 0n) return 0;
  return v > 0n ? 1 : -1;
}

function compareBig(x: bigint, y: bigint): -1 | 0 | 1 {
  if (x === y) return 0;
  return x > y ? 1 : -1;
}

function compareAligned(a: bigint, ae: number, b: bigint, be: number): -1 | 0 | 1 {
  const e = Math.min(ae, be);
  return compareBig(a * pow10(ae - e), b * pow10(be - e));
}

/** Compares a×10^ae with b×10^be exactly, without building huge numbers. */
function compareParts(a: bigint, ae: number, b: bigint, be: number): -1 | 0 | 1 {
  const sa = signOf(a);
  const sb = signOf(b);
  if (sa !== sb || sa === 0) return compareBig(BigInt(sa), BigInt(sb));
  if (Math.abs(ae - be) <= 18) return compareAligned(a, ae, b, be);
  // Same sign, far-apart exponents: the orders of magnitude usually decide.
  const order = (v: bigint, e: number): number => (v < 0n ? -v : v).toString().length + e;
  const oa = order(a, ae);
  const ob = order(b, be);
  if (oa !== ob) return oa > ob === sa > 0 ? 1 : -1;
  return compareAligned(a, ae, b, be);
}

function compareQuantity(a: Quantity, b: Quantity): -1 | 0 | 1 {
  return compareParts(a.unscaled, a.exp, b.unscaled, b.exp);
}

/** v × 10^scale when it fits int64 (scale ≥ 0). */
function scaleInt64(v: bigint, scale: number): bigint | undefined {
  if (v === 0n) return 0n;
  if (scale > 18) return undefined;
  const r = v * 10n ** BigInt(scale);
  return fitsInt64(r) ? r : undefined;
}

/** Upstream's int64 addition: keeps the finer scale; undefined on overflow. */
function addInt64Form(a: Quantity, b: Quantity): Quantity | undefined {
  if (b.unscaled === 0n) return a;
  if (a.unscaled === 0n) return b;
  const [hi, lo] = a.exp >= b.exp ? [a, b] : [b, a];
  const scaled = scaleInt64(hi.unscaled, hi.exp - lo.exp);
  if (scaled === undefined) return undefined;
  const sum = scaled + lo.unscaled;
  return fitsInt64(sum) ? { unscaled: sum, exp: lo.exp, int64: true } : undefined;
}

/** Exact sum at the finer of the two scales, as upstream's decimal addition. */
function addDecimal(a: Quantity, b: Quantity): Quantity {
  const exp = Math.min(a.exp, b.exp);
  if (Math.max(a.exp, b.exp) - exp > MAX_DIGITS) {
    // Too far apart to align; adding a zero needs no alignment (same value).
    if (a.unscaled === 0n) return { ...b, int64: false };
    if (b.unscaled === 0n) return { ...a, int64: false };
  }
  const sum = a.unscaled * pow10(a.exp - exp) + b.unscaled * pow10(b.exp - exp);
  return { unscaled: sum, exp, int64: false };
}

function addQuantity(a: Quantity, b: Quantity): Quantity {
  if (a.int64 && b.int64) {
    const r = addInt64Form(a, b);
    if (r !== undefined) return r;
  }
  return addDecimal(a, b);
}

function subQuantity(a: Quantity, b: Quantity): Quantity {
  if (a.int64 && b.int64) {
    // Upstream negates the int64 with wrap-around before adding.
    const r = addInt64Form(a, { ...b, unscaled: BigInt.asIntN(64, -b.unscaled) });
    if (r !== undefined) return r;
  }
  return addDecimal(a, { ...b, unscaled: -b.unscaled });
}

function quantityAsInt64(q: Quantity): bigint | undefined {
  if (!q.int64 || q.exp < 0) return undefined;
  return scaleInt64(q.unscaled, q.exp);
}

/** 10^n as Go's math.Pow10 computes it (two table factors), so floats match upstream's. */
function float10(n: number): number {
  if (n > 308) return Number.POSITIVE_INFINITY;
  if (n < -323) return 0;
  const big = Math.floor(Math.abs(n) / 32) * 32;
  const small = Math.abs(n) % 32;
  return n >= 0
    ? Number(`1e${big}`) * Number(`1e${small}`)
    : Number(`1e-${big}`) / Number(`1e${small}`);
}

function quantityAsFloat(q: Quantity): number {
  const base = Number(q.unscaled);
  return q.exp === 0 ? base : base * float10(q.exp);
}

/** A canonical text of the value: equal values, equal text (what CEL `==` compares). */
function quantityKey(q: Quantity): string {
  if (q.unscaled === 0n) return '0';
  const digits = q.unscaled.toString();
  const trimmed = digits.replace(/0+$/, '');
  return `${trimmed}e${q.exp + (digits.length - trimmed.length)}`;
}

function quantityFromKey(key: string): Quantity {
  const [mantissa = '0', exp = '0'] = key.split('e');
  return { unscaled: BigInt(mantissa), exp: Number(exp), int64: false };
}

// ---------------------------------------------------------------------------------------------
// Semver: an exact model of github.com/blang/semver/v4 as the Kubernetes CEL library uses it

interface Semver {
  readonly major: bigint;
  readonly minor: bigint;
  readonly patch: bigint;
  /** Pre-release identifiers; numeric ones as bigint. */
  readonly pre: readonly (bigint | string)[];
}

const UINT64_MAX = 2n ** 64n - 1n;

function parseUint64(s: string): bigint {
  if (!/^[0-9]+$/.test(s))
    throw new Error(`strconv.ParseUint: parsing ${JSON.stringify(s)}: invalid syntax`);
  const v = BigInt(s);
  if (v > UINT64_MAX) {
    throw new Error(`strconv.ParseUint: parsing ${JSON.stringify(s)}: value out of range`);
  }
  return v;
}

function versionNumber(s: string, what: string): bigint {
  const quoted = JSON.stringify(s);
  if (!/^[0-9]*$/.test(s))
    throw new Error(`Invalid character(s) found in ${what} number ${quoted}`);
  if (s.length > 1 && s[0] === '0') {
    const title = `${what.charAt(0).toUpperCase()}${what.slice(1)}`;
    throw new Error(`${title} number must not contain leading zeroes ${quoted}`);
  }
  return parseUint64(s);
}

function preReleaseId(s: string): bigint | string {
  if (s === '') throw new Error('Prerelease is empty');
  if (/^[0-9]+$/.test(s)) {
    if (s.length > 1 && s[0] === '0') {
      throw new Error(`Numeric PreRelease version must not contain leading zeroes "${s}"`);
    }
    return parseUint64(s);
  }
  if (!/^[0-9A-Za-z-]+$/.test(s))
    throw new Error(`Invalid character(s) found in prerelease "${s}"`);
  return s;
}

function checkBuild(build: string): void {
  for (const part of build.split('.')) {
    if (part === '') throw new Error('Build meta data is empty');
    if (!/^[0-9A-Za-z-]+$/.test(part)) {
      throw new Error(`Invalid character(s) found in build meta data "${part}"`);
    }
  }
}

function parseSemver(s: string): Semver {
  if (s === '') throw new Error('Version string empty');
  const first = s.indexOf('.');
  const second = first < 0 ? -1 : s.indexOf('.', first + 1);
  if (second < 0) throw new Error('No Major.Minor.Patch elements found');
  const major = versionNumber(s.slice(0, first), 'major');
  const minor = versionNumber(s.slice(first + 1, second), 'minor');
  let rest = s.slice(second + 1);
  let build: string | undefined;
  const plus = rest.indexOf('+');
  if (plus >= 0) [rest, build] = [rest.slice(0, plus), rest.slice(plus + 1)];
  let pre: string | undefined;
  const dash = rest.indexOf('-');
  if (dash >= 0) [rest, pre] = [rest.slice(0, dash), rest.slice(dash + 1)];
  const patch = versionNumber(rest, 'patch');
  const ids = pre === undefined ? [] : pre.split('.').map(preReleaseId);
  if (build !== undefined) checkBuild(build);
  return { major, minor, patch, pre: ids };
}

/** Splits at the first two dots, like Go's strings.SplitN(s, ".", 3). */
function splitThree(s: string): string[] {
  const a = s.indexOf('.');
  if (a < 0) return [s];
  const b = s.indexOf('.', a + 1);
  if (b < 0) return [s.slice(0, a), s.slice(a + 1)];
  return [s.slice(0, a), s.slice(a + 1, b), s.slice(b + 1)];
}

/** `semver(s, true)`: drops a leading "v", strips leading zeros, pads missing minor/patch. */
function parseSemverNormalized(text: string): Semver {
  const parts = splitThree(text.startsWith('v') ? text.slice(1) : text).map((p) => {
    if (p.length <= 1) return p;
    const t = p.replace(/^0+/, '');
    return /^[0-9]/.test(t) ? t : `0${t}`;
  });
  if (parts.length < 3) {
    if (/[+-]/.test(parts[parts.length - 1] ?? '')) {
      throw new Error('short version cannot contain PreRelease/Build meta data');
    }
    while (parts.length < 3) parts.push('0');
  }
  return parseSemver(parts.join('.'));
}

function comparePre(a: bigint | string, b: bigint | string): -1 | 0 | 1 {
  if (typeof a !== typeof b) return typeof a === 'bigint' ? -1 : 1;
  if (a === b) return 0;
  return a > b ? 1 : -1;
}

function compareSemver(a: Semver, b: Semver): -1 | 0 | 1 {
  for (const [x, y] of [
    [a.major, b.major],
    [a.minor, b.minor],
    [a.patch, b.patch],
  ] as const) {
    if (x !== y) return x > y ? 1 : -1;
  }
  if (a.pre.length === 0 || b.pre.length === 0) {
    return a.pre.length === b.pre.length ? 0 : a.pre.length === 0 ? 1 : -1;
  }
  const n = Math.min(a.pre.length, b.pre.length);
  for (let i = 0; i < n; i++) {
    const c = comparePre(a.pre[i] ?? '', b.pre[i] ?? '');
    if (c !== 0) return c;
  }
  if (a.pre.length === b.pre.length) return 0;
  return a.pre.length < b.pre.length ? -1 : 1;
}

/** Build metadata is left out: versions differing only in it are equal, as upstream. */
function semverKey(v: Semver): string {
  const core = `${v.major}.${v.minor}.${v.patch}`;
  return v.pre.length === 0 ? core : `${core}-${v.pre.join('.')}`;
}

// ---------------------------------------------------------------------------------------------
// Opaque CEL types
//
// The engine carries custom values only as protobuf messages, so Quantity and Semver are
// messages named as upstream names the types (`kubernetes.Quantity`, `kubernetes.Semver`), with
// one string field holding a canonical key: the engine's `==` compares messages field by field,
// which makes equal values equal. The full value rides beside the message in a WeakMap.

const TYPE_FILE = create(FileDescriptorProtoSchema, {
  name: 'phalanx/scheduling/cel.proto',
  package: 'kubernetes',
  syntax: 'proto3',
  messageType: ['Quantity', 'Semver'].map((name) => ({
    name,
    field: [
      {
        name: 'canonical',
        jsonName: 'canonical',
        number: 1,
        type: FieldDescriptorProto_Type.STRING,
        label: FieldDescriptorProto_Label.OPTIONAL,
      },
    ],
  })),
});
const TYPE_REGISTRY = createFileRegistry(TYPE_FILE, () => undefined);

interface OpaqueType<T> {
  readonly type: CelObjectType;
  wrap(value: T): ReflectMessage;
  unwrap(message: ReflectMessage): T;
  /** Whether a CEL value is of this type. */
  is(value: CelValue): value is ReflectMessage;
}

function opaqueType<T>(
  typeName: string,
  key: (value: T) => string,
  fromKey: (key: string) => T,
): OpaqueType<T> {
  const desc: DescMessage | undefined = TYPE_REGISTRY.getMessage(typeName);
  const field = desc?.fields[0];
  if (desc === undefined || field === undefined) throw new Error(`CEL type ${typeName} is missing`);
  const values = new WeakMap<object, T>();
  return {
    type: objectType(desc),
    wrap(value: T): ReflectMessage {
      const message = reflect(desc);
      message.set(field, key(value));
      values.set(message.message, value);
      return message;
    },
    unwrap(message: ReflectMessage): T {
      const known = values.get(message.message);
      if (known !== undefined) return known;
      const text = message.get(field);
      return fromKey(typeof text === 'string' ? text : '');
    },
    is(value: CelValue): value is ReflectMessage {
      return isReflectMessage(value) && value.desc.typeName === typeName;
    },
  };
}

const QUANTITY = opaqueType<Quantity>('kubernetes.Quantity', quantityKey, quantityFromKey);
const SEMVER = opaqueType<Semver>('kubernetes.Semver', semverKey, parseSemver);

/**
 * Slice values and selector literals repeat (`80Gi`, `570.124.6`); their CEL values are
 * immutable, so each distinct text is parsed once and shared (the table is cleared when large).
 */
function interner(parseWrap: (text: string) => ReflectMessage): (text: string) => ReflectMessage {
  const table = new Map<string, ReflectMessage>();
  return (text) => {
    let value = table.get(text);
    if (value === undefined) {
      value = parseWrap(text);
      if (table.size >= 4096) table.clear();
      table.set(text, value);
    }
    return value;
  };
}

const internedQuantity = interner((text) => QUANTITY.wrap(parseQuantity(text)));
const internedVersion = interner((text) => SEMVER.wrap(parseSemver(text)));

// ---------------------------------------------------------------------------------------------
// Environment

const { BOOL, DOUBLE, DYN, INT, STRING } = CelScalar;
const QT = QUANTITY.type;
const ST = SEMVER.type;

function succeeds(fn: () => unknown): boolean {
  try {
    fn();
    return true;
  } catch {
    return false;
  }
}

function quantityFuncs(): CelFunc[] {
  const q = (m: ReflectMessage): Quantity => QUANTITY.unwrap(m);
  const int = (v: bigint): Quantity => ({ unscaled: v, exp: 0, int64: true });
  const sum = (v: Quantity): ReflectMessage => {
    const m = QUANTITY.wrap(v);
    quantitySums.add(m.message);
    return m;
  };
  return [
    celFunc('quantity', [STRING], QT, (s) => internedQuantity(s)),
    celFunc('isQuantity', [STRING], BOOL, (s) => succeeds(() => parseQuantity(s))),
    celFunc('sign', [QT], INT, (a) => BigInt(signOf(q(a).unscaled))),
    celMethod('compareTo', QT, [QT], INT, function (b) {
      return BigInt(compareQuantity(q(this), q(b)));
    }),
    celMethod('isGreaterThan', QT, [QT], BOOL, function (b) {
      return compareQuantity(q(this), q(b)) > 0;
    }),
    celMethod('isLessThan', QT, [QT], BOOL, function (b) {
      return compareQuantity(q(this), q(b)) < 0;
    }),
    celMethod('add', QT, [QT], QT, function (b) {
      return sum(addQuantity(q(this), q(b)));
    }),
    celMethod('add', QT, [INT], QT, function (b) {
      return sum(addQuantity(q(this), int(b)));
    }),
    celMethod('sub', QT, [QT], QT, function (b) {
      return sum(subQuantity(q(this), q(b)));
    }),
    celMethod('sub', QT, [INT], QT, function (b) {
      return sum(subQuantity(q(this), int(b)));
    }),
    celMethod('isInteger', QT, [], BOOL, function () {
      return quantityAsInt64(q(this)) !== undefined;
    }),
    celMethod('asInteger', QT, [], INT, function () {
      const v = quantityAsInt64(q(this));
      if (v === undefined) throw new Error('cannot convert value to integer');
      return v;
    }),
    celMethod('asApproximateFloat', QT, [], DOUBLE, function () {
      return quantityAsFloat(q(this));
    }),
  ];
}

function semverFuncs(): CelFunc[] {
  const v = (m: ReflectMessage): Semver => SEMVER.unwrap(m);
  const parseWith = (s: string, normalize: boolean): Semver =>
    normalize ? parseSemverNormalized(s) : parseSemver(s);
  return [
    celFunc('semver', [STRING], ST, (s) => internedVersion(s)),
    celFunc('semver', [STRING, BOOL], ST, (s, n) => SEMVER.wrap(parseWith(s, n))),
    celFunc('isSemver', [STRING], BOOL, (s) => succeeds(() => parseSemver(s))),
    celFunc('isSemver', [STRING, BOOL], BOOL, (s, n) => succeeds(() => parseWith(s, n))),
    celMethod('major', ST, [], INT, function () {
      return BigInt.asIntN(64, v(this).major);
    }),
    celMethod('minor', ST, [], INT, function () {
      return BigInt.asIntN(64, v(this).minor);
    }),
    celMethod('patch', ST, [], INT, function () {
      return BigInt.asIntN(64, v(this).patch);
    }),
    celMethod('compareTo', ST, [ST], INT, function (b) {
      return BigInt(compareSemver(v(this), v(b)));
    }),
    celMethod('isGreaterThan', ST, [ST], BOOL, function (b) {
      return compareSemver(v(this), v(b)) > 0;
    }),
    celMethod('isLessThan', ST, [ST], BOOL, function (b) {
      return compareSemver(v(this), v(b)) < 0;
    }),
  ];
}

/**
 * Results of `add` and `sub`. Upstream returns them as pointers, and its Quantity equality only
 * accepts a non-pointer on the right: `q == x.add(y)` is an error there ("no such overload").
 */
const quantitySums = new WeakSet<object>();

const STD_EQUALS = celEnv().funcs.find('_==_');

/**
 * `==` as upstream evaluates it: null compares with anything; a Quantity or Semver on the left
 * only with a value of its own type on the right (otherwise "no such overload"), everything else
 * by CEL's standard equality.
 */
function upstreamEquals(a: CelValue, b: CelValue): boolean {
  const strict =
    a !== null &&
    b !== null &&
    ((QUANTITY.is(a) && (!QUANTITY.is(b) || quantitySums.has(b.message))) ||
      (SEMVER.is(a) && !SEMVER.is(b)));
  if (strict) throw new Error('no such overload');
  const result = STD_EQUALS?.call(0, undefined, [a, b]);
  if (typeof result !== 'boolean') throw result ?? new Error('no such overload');
  return result;
}

const ENV = celEnv({
  registry: TYPE_REGISTRY,
  funcs: [
    ...strings,
    ...quantityFuncs(),
    ...semverFuncs(),
    // Same signatures as the standard ones, so these replace them.
    celFunc('_==_', [DYN, DYN], BOOL, (a, b) => upstreamEquals(a, b)),
    celFunc('_!=_', [DYN, DYN], BOOL, (a, b) => !upstreamEquals(a, b)),
  ],
});

// ---------------------------------------------------------------------------------------------
// Compilation: parse, rewrite cel.bind, check, estimate cost, plan

type ParsedExpr = ReturnType<typeof parse>;
type Expr = ParsedExpr['expr'];
type ExprKind = Expr['exprKind'];
type KindValue<C extends ExprKind['case']> = Extract<ExprKind, { case: C }>['value'];
type Program = ReturnType<typeof plan>;

/** API server limit on the length of a selector expression (bytes). */
export const MAX_EXPRESSION_BYTES = 10 * 1024;
/** The allocator's per-expression cost limit. */
export const MAX_EXPRESSION_COST = 1_000_000;
/** Assumed size of a comprehension range that is not a literal. */
const UNKNOWN_RANGE_SIZE = 64;

const DEVICE_FIELDS: Readonly<Record<string, string>> = {
  driver: 'string',
  attributes: 'map',
  capacity: 'map',
  allowMultipleAllocations: 'bool',
};
const TYPE_IDENTS = new Set([
  'int',
  'uint',
  'double',
  'bool',
  'string',
  'bytes',
  'list',
  'map',
  'null_type',
  'type',
  'dyn',
  'google',
]);
/** Calls the planner handles itself rather than through the function table. */
const BUILTIN_CALLS = new Set([
  '_&&_',
  '_||_',
  '_?_:_',
  '_[_]',
  '_[?_]',
  '_?._',
  '@not_strictly_false',
  '__not_strictly_false__',
]);

class CompileIssue extends Error {
  readonly exprId: bigint;
  constructor(exprId: bigint, message: string) {
    super(message);
    this.exprId = exprId;
  }
}

function children(e: Expr): Expr[] {
  const k = e.exprKind;
  switch (k.case) {
    case 'selectExpr':
      return k.value.operand === undefined ? [] : [k.value.operand];
    case 'callExpr':
      return k.value.target === undefined ? k.value.args : [k.value.target, ...k.value.args];
    case 'listExpr':
      return k.value.elements;
    case 'structExpr':
      return k.value.entries.flatMap((en) => {
        const key = en.keyKind.case === 'mapKey' ? [en.keyKind.value] : [];
        return en.value === undefined ? key : [...key, en.value];
      });
    case 'comprehensionExpr': {
      const c = k.value;
      return [c.iterRange, c.accuInit, c.loopCondition, c.loopStep, c.result].filter(
        (x): x is Expr => x !== undefined,
      );
    }
    default:
      return [];
  }
}

function maxId(e: Expr): bigint {
  let max = e.id;
  for (const c of children(e)) {
    const m = maxId(c);
    if (m > max) max = m;
  }
  return max;
}

function node(id: bigint, exprKind: ExprKind): Expr {
  return { $typeName: 'cel.expr.Expr', id, exprKind };
}

function identName(e: Expr | undefined): string | undefined {
  return e?.exprKind.case === 'identExpr' ? e.exprKind.value.name : undefined;
}

/** `a.b.c` as a dotted name, when the expression is only identifiers and field selections. */
function qualifiedName(e: Expr | undefined): string | undefined {
  if (e === undefined) return undefined;
  if (e.exprKind.case === 'identExpr') return e.exprKind.value.name;
  if (e.exprKind.case !== 'selectExpr' || e.exprKind.value.testOnly) return undefined;
  const base = qualifiedName(e.exprKind.value.operand);
  return base === undefined ? undefined : `${base}.${e.exprKind.value.field}`;
}

/**
 * `cel.bind(v, init, body)` (the upstream Bindings extension) becomes the comprehension it
 * stands for: no iterations, accumulator `v` = `init`, result `body`.
 */
function rewriteBinds(root: Expr): void {
  let next = maxId(root);
  const newId = (): bigint => {
    next += 1n;
    return next;
  };
  const visit = (e: Expr): void => {
    for (const c of children(e)) visit(c);
    const k = e.exprKind;
    if (k.case !== 'callExpr' || k.value.function !== 'bind') return;
    if (identName(k.value.target) !== 'cel' || k.value.args.length !== 3) return;
    const [v, init, body] = k.value.args;
    const name = identName(v);
    if (name === undefined || init === undefined || body === undefined) {
      throw new CompileIssue(e.id, 'cel.bind() variable name must be a simple identifier');
    }
    const comprehension: KindValue<'comprehensionExpr'> = {
      $typeName: 'cel.expr.Expr.Comprehension',
      iterVar: '#unused',
      iterVar2: '',
      iterRange: node(newId(), {
        case: 'listExpr',
        value: { $typeName: 'cel.expr.Expr.CreateList', elements: [], optionalIndices: [] },
      }),
      accuVar: name,
      accuInit: init,
      loopCondition: node(newId(), {
        case: 'constExpr',
        value: {
          $typeName: 'cel.expr.Constant',
          constantKind: { case: 'boolValue', value: false },
        },
      }),
      loopStep: node(newId(), {
        case: 'identExpr',
        value: { $typeName: 'cel.expr.Expr.Ident', name },
      }),
      result: body,
    };
    e.exprKind = { case: 'comprehensionExpr', value: comprehension };
  };
  visit(root);
}

function overloads(name: string): readonly CelFunc[] {
  const group = ENV.funcs.find(name);
  return group === undefined ? [] : [...group];
}

/** The type checker refuses `==` between two different known types (`1 == 1.0` included). */
function checkEquality(e: Expr, args: readonly Expr[]): void {
  const [a, b] = args.map(exprType);
  if (a === undefined || b === undefined || a === b || a === 'null_type' || b === 'null_type') {
    return;
  }
  const fn = e.exprKind.case === 'callExpr' ? e.exprKind.value.function : '_==_';
  throw new CompileIssue(e.id, `found no matching overload for '${fn}' applied to '(${a}, ${b})'`);
}

function checkCall(e: Expr, call: KindValue<'callExpr'>, scope: ReadonlySet<string>): void {
  const fn = call.function;
  const namespaced = qualifiedName(call.target);
  if (
    namespaced !== undefined &&
    !scope.has(namespaced) &&
    overloads(`${namespaced}.${fn}`).length > 0
  ) {
    for (const a of call.args) checkExpr(a, scope);
    return;
  }
  if (fn === '_==_' || fn === '_!=_') checkEquality(e, call.args);
  if (!BUILTIN_CALLS.has(fn)) {
    const all = overloads(fn);
    if (all.length === 0) throw new CompileIssue(e.id, `undeclared reference to '${fn}'`);
    const method = call.target !== undefined;
    if (
      !all.some(
        (f) => (f.target !== undefined) === method && f.arguments.length === call.args.length,
      )
    ) {
      const style = method ? 'as a method' : 'as a function';
      throw new CompileIssue(
        e.id,
        `found no matching overload for '${fn}' called ${style} with ${call.args.length} argument(s)`,
      );
    }
  }
  for (const c of children(e)) checkExpr(c, scope);
}

function checkSelect(e: Expr, sel: KindValue<'selectExpr'>, scope: ReadonlySet<string>): void {
  if (identName(sel.operand) === 'device' && !scope.has('device')) {
    if (!Object.hasOwn(DEVICE_FIELDS, sel.field)) {
      throw new CompileIssue(e.id, `undefined field '${sel.field}'`);
    }
    return;
  }
  for (const c of children(e)) checkExpr(c, scope);
}

function checkComprehension(c: KindValue<'comprehensionExpr'>, scope: ReadonlySet<string>): void {
  for (const x of [c.iterRange, c.accuInit]) if (x !== undefined) checkExpr(x, scope);
  const inner = new Set([...scope, c.iterVar, c.iterVar2, c.accuVar]);
  for (const x of [c.loopCondition, c.loopStep, c.result]) if (x !== undefined) checkExpr(x, inner);
}

/** Upstream rejects list literals mixing element types (`[1, "a"]`); so do we, where evident. */
function checkHomogeneous(elements: readonly Expr[]): void {
  let first: string | undefined;
  for (const el of elements) {
    const type = exprType(el);
    if (type === undefined) continue;
    if (first === undefined) first = type;
    else if (type !== first) {
      throw new CompileIssue(el.id, `expected type '${first}' but found '${type}'`);
    }
  }
}

/** Undeclared names, unknown device fields and calls no overload could accept. */
function checkExpr(e: Expr, scope: ReadonlySet<string>): void {
  const k = e.exprKind;
  switch (k.case) {
    case 'identExpr':
      if (k.value.name !== 'device' && !scope.has(k.value.name) && !TYPE_IDENTS.has(k.value.name)) {
        throw new CompileIssue(e.id, `undeclared reference to '${k.value.name}'`);
      }
      return;
    case 'selectExpr':
      checkSelect(e, k.value, scope);
      return;
    case 'callExpr':
      checkCall(e, k.value, scope);
      return;
    case 'comprehensionExpr':
      checkComprehension(k.value, scope);
      return;
    case 'listExpr':
      checkHomogeneous(k.value.elements);
      for (const c of k.value.elements) checkExpr(c, scope);
      return;
    default:
      for (const c of children(e)) checkExpr(c, scope);
  }
}

const CONST_TYPES: Readonly<Record<string, string>> = {
  boolValue: 'bool',
  int64Value: 'int',
  uint64Value: 'uint',
  doubleValue: 'double',
  stringValue: 'string',
  bytesValue: 'bytes',
  nullValue: 'null_type',
};

/** Result type of a call from the declared overloads that fit; undefined when not evident. */
function callType(call: KindValue<'callExpr'>): string | undefined {
  const fn = call.function;
  if (fn === '_&&_' || fn === '_||_' || fn === '@not_strictly_false') return 'bool';
  if (fn === '_?_:_') {
    const [a, b] = [exprType(call.args[1]), exprType(call.args[2])];
    return a === b ? a : undefined;
  }
  if (BUILTIN_CALLS.has(fn)) return undefined;
  const target = call.target === undefined ? undefined : exprType(call.target);
  const args = call.args.map(exprType);
  const fits = (declared: string, actual: string | undefined): boolean =>
    declared === 'dyn' || actual === undefined || declared === actual;
  const results = new Set<string>();
  for (const f of overloads(fn)) {
    if ((f.target === undefined) !== (call.target === undefined)) continue;
    if (f.arguments.length !== args.length) continue;
    if (f.target !== undefined && !fits(f.target.name, target)) continue;
    if (!f.arguments.every((p, i) => fits(p.name, args[i]))) continue;
    results.add(f.result.name);
  }
  return results.size === 1 && !results.has('dyn') ? [...results][0] : undefined;
}

function selectType(sel: KindValue<'selectExpr'>): string | undefined {
  if (sel.testOnly) return 'bool';
  if (identName(sel.operand) === 'device') return DEVICE_FIELDS[sel.field];
  return undefined;
}

/** The static type of an expression where it is evident; undefined otherwise (dyn). */
function exprType(e: Expr | undefined): string | undefined {
  const k = e?.exprKind;
  switch (k?.case) {
    case 'constExpr':
      return CONST_TYPES[k.value.constantKind.case ?? ''];
    case 'identExpr':
      if (k.value.name === 'device') return 'kubernetes.DRADevice';
      return TYPE_IDENTS.has(k.value.name) ? 'type' : undefined;
    case 'selectExpr':
      return selectType(k.value);
    case 'callExpr':
      return callType(k.value);
    case 'listExpr':
      return 'list';
    case 'structExpr':
      return k.value.messageName === '' ? 'map' : k.value.messageName;
    case 'comprehensionExpr': {
      const c = k.value;
      return identName(c.result) === c.accuVar ? exprType(c.accuInit) : exprType(c.result);
    }
    default:
      return undefined;
  }
}

function rangeSize(e: Expr | undefined): number {
  const k = e?.exprKind;
  if (k?.case === 'listExpr') return k.value.elements.length;
  if (k?.case === 'structExpr') return k.value.entries.length;
  return UNKNOWN_RANGE_SIZE;
}

/** Worst-case evaluation steps; comprehension bodies count once per element. */
function estimateCost(e: Expr | undefined): number {
  if (e === undefined) return 0;
  if (e.exprKind.case !== 'comprehensionExpr') {
    return children(e).reduce((sum, c) => sum + estimateCost(c), 1);
  }
  const c = e.exprKind.value;
  const body = estimateCost(c.loopCondition) + estimateCost(c.loopStep);
  return (
    1 +
    estimateCost(c.iterRange) +
    estimateCost(c.accuInit) +
    rangeSize(c.iterRange) * body +
    estimateCost(c.result)
  );
}

/** `<input>:line:column: ` of an expression id, as the engine's own messages start. */
function location(source: string, parsed: ParsedExpr, id: bigint): string {
  const offset = parsed.sourceInfo?.positions[id.toString()];
  if (offset === undefined) return '';
  const before = source.slice(0, offset);
  const line = before.split('\n').length;
  const column = offset - before.lastIndexOf('\n');
  return `<input>:${line}:${column}: `;
}

function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function analyse(expression: string, parsed: ParsedExpr): void {
  try {
    rewriteBinds(parsed.expr);
    checkExpr(parsed.expr, new Set());
  } catch (e) {
    if (!(e instanceof CompileIssue)) throw e;
    throw new CelCompileError(expression, `${location(expression, parsed, e.exprId)}${e.message}`);
  }
  const type = exprType(parsed.expr);
  if (type !== undefined && type !== 'bool') {
    throw new CelCompileError(expression, `must evaluate to bool, not ${type}`);
  }
  const cost = estimateCost(parsed.expr);
  if (cost > MAX_EXPRESSION_COST) {
    throw new CelCompileError(
      expression,
      `estimated worst-case cost ${cost} exceeds the limit of ${MAX_EXPRESSION_COST}; use fewer or smaller nested comprehensions`,
    );
  }
}

function compile(expression: string): CompiledSelector {
  const bytes = new TextEncoder().encode(expression).length;
  if (bytes > MAX_EXPRESSION_BYTES) {
    throw new CelCompileError(
      expression,
      `expression is ${bytes} bytes long; the limit is ${MAX_EXPRESSION_BYTES}`,
    );
  }
  let parsed: ParsedExpr;
  try {
    parsed = parse(expression);
  } catch (e) {
    throw new CelCompileError(expression, `syntax error: ${errorMessage(e)}`);
  }
  analyse(expression, parsed);
  return new Selector(expression, plan(ENV, parsed));
}

function compileOrError(expression: string): CompiledSelector | CelCompileError {
  try {
    return compile(expression);
  } catch (e) {
    if (e instanceof CelCompileError) return e;
    return new CelCompileError(expression, errorMessage(e));
  }
}

// ---------------------------------------------------------------------------------------------
// Evaluation

/** The engine's runtime messages in upstream's words where they differ. */
function runtimeMessage(message: string): string {
  const key = /^field not found: (.*)$/.exec(message);
  return key === null ? message : `no such key: ${key[1]}`;
}

class Selector implements CompiledSelector {
  readonly expression: string;
  readonly #program: Program;

  constructor(expression: string, program: Program) {
    this.expression = expression;
    this.#program = program;
  }

  matches(device: CelDevice): boolean {
    const activation = activationFor(device);
    const label = device.name ?? '(unnamed)';
    if (activation.device === undefined) {
      throw new CelEvalError(this.expression, label, activation.error);
    }
    const result = this.#program({ device: activation.device });
    if (isCelError(result)) {
      throw new CelEvalError(this.expression, label, runtimeMessage(result.message));
    }
    if (typeof result !== 'boolean') {
      throw new CelEvalError(
        this.expression,
        label,
        `CEL result of type ${String(celType(result))} could not be converted to bool`,
      );
    }
    return result;
  }
}

type Activation =
  | { readonly device: CelMap }
  | { readonly device?: undefined; readonly error: string };

const activations = new WeakMap<CelDevice, Activation>();

function activationFor(device: CelDevice): Activation {
  let a = activations.get(device);
  if (a === undefined) {
    a = buildActivation(device);
    activations.set(device, a);
  }
  return a;
}

function attributeValue(attr: DeviceAttribute): CelInput {
  if (attr.int !== undefined) {
    if (!Number.isSafeInteger(attr.int)) throw new Error(`int value ${attr.int} is not an integer`);
    return BigInt(attr.int);
  }
  if (attr.bool !== undefined) return attr.bool;
  if (attr.string !== undefined) return attr.string;
  if (attr.version !== undefined) {
    try {
      return internedVersion(attr.version);
    } catch (e) {
      throw new Error(`parse semantic version: ${errorMessage(e)}`);
    }
  }
  throw new Error('unsupported attribute value');
}

/** Groups `name → value` by domain (unqualified names belong to `driver`). */
function byDomain<V>(
  entries: Readonly<Record<string, V>>,
  driver: string,
  what: string,
  convert: (v: V) => CelInput,
): CelMap {
  const domains = new Map<string, Map<string, CelInput>>();
  for (const [name, raw] of Object.entries(entries)) {
    const slash = name.indexOf('/');
    const domain = slash < 0 ? driver : name.slice(0, slash);
    const id = slash < 0 ? name : name.slice(slash + 1);
    let inner = domains.get(domain);
    if (inner === undefined) {
      inner = new Map();
      domains.set(domain, inner);
    }
    try {
      inner.set(id, convert(raw));
    } catch (e) {
      throw new Error(`${what} ${name}: ${errorMessage(e)}`);
    }
  }
  const outer = new Map<string, CelMap>();
  for (const [domain, inner] of domains) outer.set(domain, celMap(inner));
  return withEmptyDefault(outer);
}

const EMPTY_MAP = celMap(new Map());

/**
 * A map whose lookups of missing keys yield an empty map (upstream's attribute and capacity
 * maps), while `in`, `has()`, `size()` and iteration see only the real keys.
 */
function withEmptyDefault(entries: Map<string, CelMap>): CelMap {
  const base = celMap(entries);
  const get = (key: Parameters<CelMap['get']>[0]): CelValue | undefined =>
    base.get(key) ?? EMPTY_MAP;
  return new Proxy(base, {
    get(target, prop) {
      if (prop === 'get') return get;
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

function buildActivation(device: CelDevice): Activation {
  try {
    const attributes = byDomain(device.attributes, device.driver, 'attribute', attributeValue);
    const capacity = byDomain(device.capacity, device.driver, 'capacity', (text: string) =>
      internedQuantity(text),
    );
    const fields = new Map<string, CelInput>([
      ['driver', device.driver],
      ['allowMultipleAllocations', device.allowMultipleAllocations ?? false],
      ['attributes', attributes],
      ['capacity', capacity],
    ]);
    return { device: celMap(fields) };
  } catch (e) {
    return { error: errorMessage(e) };
  }
}
