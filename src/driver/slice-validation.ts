/**
 * The ResourceSlice validation rules of the API server (per Kubernetes minor version) plus the
 * cross-slice rules the allocator applies to a pool, as a pure checker. The slice builder uses the
 * limit checks to size its chunks; tests and the publisher use {@link validateSlices} to prove a
 * pool will be accepted before sending it.
 *
 * Limits by version (resource.k8s.io/v1):
 *
 * | limit                              | 1.34                          | 1.35+                      |
 * |------------------------------------|-------------------------------|----------------------------|
 * | devices per slice                  | 128                           | 128; 64 with taints/counters |
 * | attributes + capacities per device | 32                            | 32                         |
 * | string / version attribute length  | 64                            | 64                         |
 * | taints per device                  | 4                             | 16                         |
 * | shared counters per slice          | ≤32 counters over all sets    | ≤8 sets, ≤32 counters each |
 * | counters consumed                  | ≤32 per device, ≤1024 per slice | ≤2 entries, ≤32 counters each |
 * | counter-set names unique in        | the slice                     | the pool                   |
 * | devices and sharedCounters         | may share a slice             | one or the other           |
 *
 * Pure: no I/O.
 */

import { formatBytes, parseQuantity } from '../api/resource/quantity.ts';
import type {
  CounterSet,
  Device,
  DeviceAttribute,
  DeviceCounterConsumption,
  ResourceSlice,
  ResourceSliceSpec,
} from '../api/resource/v1.ts';

export { formatBytes, parseQuantity };

export const MAX_DEVICES_PER_SLICE = 128;
export const MAX_DEVICES_PER_SLICE_ADVANCED = 64;
export const MAX_ATTRIBUTES_AND_CAPACITIES = 32;
export const MAX_ATTRIBUTE_STRING = 64;
export const MAX_COUNTER_SETS_PER_SLICE = 8;
export const MAX_COUNTERS_PER_SET = 32;
export const MAX_CONSUMPTIONS_PER_DEVICE = 2;
export const MAX_COUNTERS_PER_CONSUMPTION = 32;
/** 1.34: all counters of all sets of one slice. */
export const MAX_SHARED_COUNTERS_134 = 32;
/** 1.34: counters one device consumes, over all its consumptions. */
export const MAX_COUNTERS_PER_DEVICE_134 = 32;
/** 1.34: counters consumed by all devices of one slice. */
export const MAX_DEVICE_COUNTERS_PER_SLICE_134 = 1024;

export function maxTaintsPerDevice(serverMinor: number): number {
  return serverMinor <= 34 ? 4 : 16;
}

// ---------------------------------------------------------------------------------------------
// Name formats

const DNS_LABEL_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const C_IDENTIFIER_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
const LABEL_NAME_RE = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE_RE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const SEMVER_RE =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;

export function isDnsLabel(s: string): boolean {
  return s.length <= 63 && DNS_LABEL_RE.test(s);
}

export function isDnsSubdomain(s: string, max = 253): boolean {
  return s.length <= max && DNS_SUBDOMAIN_RE.test(s);
}

export function isSemver(s: string): boolean {
  return SEMVER_RE.test(s);
}

export function isLabelValue(s: string): boolean {
  return s.length <= 63 && LABEL_VALUE_RE.test(s);
}

/** Why `name` is not a DRA QualifiedName (`[<dns subdomain ≤63>/]<C identifier ≤32>`). */
export function qualifiedNameProblem(name: string): string | undefined {
  const slash = name.indexOf('/');
  const id = slash < 0 ? name : name.slice(slash + 1);
  if (slash >= 0 && !isDnsSubdomain(name.slice(0, slash), 63)) {
    return `domain "${name.slice(0, slash)}" is not a DNS subdomain of at most 63 characters`;
  }
  if (id.length > 32) return `"${id}" is longer than 32 characters`;
  if (!C_IDENTIFIER_RE.test(id)) return `"${id}" is not a C identifier`;
  return undefined;
}

/** Why `key` is not a label name (taint keys are label names). */
function labelNameProblem(key: string): string | undefined {
  const slash = key.indexOf('/');
  const name = slash < 0 ? key : key.slice(slash + 1);
  if (slash >= 0 && !isDnsSubdomain(key.slice(0, slash)))
    return 'its prefix is not a DNS subdomain';
  if (name.length > 63 || !LABEL_NAME_RE.test(name)) return 'its name is not a label name';
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Per-slice limit checks (the numbers the builder must stay under)

function hasAdvancedFeatures(device: Device): boolean {
  return (device.taints?.length ?? 0) > 0 || (device.consumesCounters?.length ?? 0) > 0;
}

function countersIn(consumptions: readonly DeviceCounterConsumption[] | undefined): number {
  let n = 0;
  for (const c of consumptions ?? []) n += Object.keys(c.counters).length;
  return n;
}

function sharedCounterLimits(spec: ResourceSliceSpec, minor: number): string[] {
  const sets = spec.sharedCounters ?? [];
  const out: string[] = [];
  if (minor <= 34) {
    const total = sets.reduce((n, s) => n + Object.keys(s.counters).length, 0);
    if (total > MAX_SHARED_COUNTERS_134) {
      out.push(
        `has ${total} shared counters; 1.34 allows at most ${MAX_SHARED_COUNTERS_134} per slice`,
      );
    }
  } else if (sets.length > MAX_COUNTER_SETS_PER_SLICE) {
    out.push(`has ${sets.length} counter sets; at most ${MAX_COUNTER_SETS_PER_SLICE} per slice`);
  }
  for (const set of sets) {
    const n = Object.keys(set.counters).length;
    if (n > MAX_COUNTERS_PER_SET) {
      out.push(`counter set "${set.name}" has ${n} counters; at most ${MAX_COUNTERS_PER_SET}`);
    }
  }
  return out;
}

function deviceCountLimit(devices: readonly Device[], minor: number): string[] {
  const advanced = minor >= 35 && devices.some(hasAdvancedFeatures);
  const max = advanced ? MAX_DEVICES_PER_SLICE_ADVANCED : MAX_DEVICES_PER_SLICE;
  if (devices.length <= max) return [];
  const why = advanced ? ' when devices use taints or counters' : '';
  return [`has ${devices.length} devices; at most ${max} per slice${why}`];
}

function deviceConsumptionLimits(device: Device, minor: number): string[] {
  const consumptions = device.consumesCounters ?? [];
  const out: string[] = [];
  if (minor <= 34) {
    const n = countersIn(consumptions);
    if (n > MAX_COUNTERS_PER_DEVICE_134) {
      out.push(
        `device "${device.name}" consumes ${n} counters; 1.34 allows ${MAX_COUNTERS_PER_DEVICE_134}`,
      );
    }
    return out;
  }
  if (consumptions.length > MAX_CONSUMPTIONS_PER_DEVICE) {
    out.push(
      `device "${device.name}" has ${consumptions.length} consumesCounters entries; at most ${MAX_CONSUMPTIONS_PER_DEVICE}`,
    );
  }
  for (const c of consumptions) {
    const n = Object.keys(c.counters).length;
    if (n > MAX_COUNTERS_PER_CONSUMPTION) {
      out.push(
        `device "${device.name}" consumes ${n} counters of "${c.counterSet}"; at most ${MAX_COUNTERS_PER_CONSUMPTION}`,
      );
    }
  }
  return out;
}

function deviceSizeLimits(device: Device, minor: number): string[] {
  const out: string[] = [];
  const n = Object.keys(device.attributes ?? {}).length + Object.keys(device.capacity ?? {}).length;
  if (n > MAX_ATTRIBUTES_AND_CAPACITIES) {
    out.push(
      `device "${device.name}" has ${n} attributes and capacities; at most ${MAX_ATTRIBUTES_AND_CAPACITIES}`,
    );
  }
  const taints = device.taints?.length ?? 0;
  if (taints > maxTaintsPerDevice(minor)) {
    out.push(`device "${device.name}" has ${taints} taints; at most ${maxTaintsPerDevice(minor)}`);
  }
  return [...out, ...deviceConsumptionLimits(device, minor)];
}

/**
 * Count limits of one slice for API server minor `minor` (sizes only, no formats). An empty list
 * means the slice is small enough; the builder grows chunks while this stays empty.
 */
export function sliceLimitViolations(spec: ResourceSliceSpec, minor: number): string[] {
  const devices = spec.devices ?? [];
  const out = [...deviceCountLimit(devices, minor), ...sharedCounterLimits(spec, minor)];
  for (const device of devices) out.push(...deviceSizeLimits(device, minor));
  if (minor <= 34) {
    const total = devices.reduce((n, d) => n + countersIn(d.consumesCounters), 0);
    if (total > MAX_DEVICE_COUNTERS_PER_SLICE_134) {
      out.push(
        `devices consume ${total} counters in total; 1.34 allows ${MAX_DEVICE_COUNTERS_PER_SLICE_134} per slice`,
      );
    }
  } else if (devices.length > 0 && (spec.sharedCounters?.length ?? 0) > 0) {
    out.push('has both devices and sharedCounters; since 1.35 a slice holds only one of them');
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Formats of one slice

function attributeProblems(name: string, attr: DeviceAttribute): string[] {
  const out: string[] = [];
  const nameProblem = qualifiedNameProblem(name);
  if (nameProblem !== undefined) out.push(`attribute name ${nameProblem}`);
  const set = (['int', 'bool', 'string', 'version'] as const).filter((k) => attr[k] !== undefined);
  if (set.length !== 1)
    out.push(`attribute "${name}" must set exactly one value, has ${set.length}`);
  const text = attr.string ?? attr.version;
  if (text !== undefined && text.length > MAX_ATTRIBUTE_STRING) {
    out.push(
      `attribute "${name}" is ${text.length} characters long; at most ${MAX_ATTRIBUTE_STRING}`,
    );
  }
  if (attr.version !== undefined && !isSemver(attr.version)) {
    out.push(`attribute "${name}" version "${attr.version}" is not semantic version 2.0`);
  }
  if (attr.int !== undefined && !Number.isSafeInteger(attr.int)) {
    out.push(`attribute "${name}" int ${attr.int} is not an integer`);
  }
  return out;
}

function capacityProblems(device: Device): string[] {
  const out: string[] = [];
  for (const [name, cap] of Object.entries(device.capacity ?? {})) {
    const nameProblem = qualifiedNameProblem(name);
    if (nameProblem !== undefined) out.push(`capacity name ${nameProblem}`);
    if (parseQuantity(cap.value) === undefined) {
      out.push(`capacity "${name}" value "${cap.value}" is not a quantity`);
    }
  }
  return out;
}

const TAINT_EFFECTS_134 = ['NoSchedule', 'NoExecute'];
const TAINT_EFFECTS = ['NoSchedule', 'NoExecute', 'None'];

function taintProblems(device: Device, minor: number): string[] {
  const out: string[] = [];
  const effects = minor <= 34 ? TAINT_EFFECTS_134 : TAINT_EFFECTS;
  for (const taint of device.taints ?? []) {
    const keyProblem = labelNameProblem(taint.key);
    if (keyProblem !== undefined) out.push(`taint key "${taint.key}": ${keyProblem}`);
    if (taint.value !== undefined && !isLabelValue(taint.value)) {
      out.push(`taint "${taint.key}" value "${taint.value}" is not a label value`);
    }
    if (!effects.includes(taint.effect)) {
      out.push(
        `taint "${taint.key}" effect "${taint.effect}" must be one of ${effects.join(', ')}`,
      );
    }
  }
  return out;
}

function counterMapProblems(where: string, counters: Record<string, { value: string }>): string[] {
  const out: string[] = [];
  for (const [name, counter] of Object.entries(counters)) {
    if (!isDnsLabel(name)) out.push(`${where}: counter name "${name}" is not a DNS label`);
    const value = parseQuantity(counter.value);
    if (value === undefined || value < 0) {
      out.push(
        `${where}: counter "${name}" value "${counter.value}" is not a non-negative quantity`,
      );
    }
  }
  return out;
}

function deviceFormatProblems(device: Device, minor: number): string[] {
  const out: string[] = [];
  if (!isDnsLabel(device.name)) out.push(`device name "${device.name}" is not a DNS label`);
  for (const [name, attr] of Object.entries(device.attributes ?? {})) {
    out.push(...attributeProblems(name, attr));
  }
  out.push(...capacityProblems(device), ...taintProblems(device, minor));
  const seen = new Set<string>();
  for (const c of device.consumesCounters ?? []) {
    if (minor >= 35 && seen.has(c.counterSet)) {
      out.push(`consumes counter set "${c.counterSet}" twice; use one entry per set`);
    }
    seen.add(c.counterSet);
    out.push(...counterMapProblems(`consumption of "${c.counterSet}"`, c.counters));
  }
  return out.map((p) => (p.startsWith('device name') ? p : `device "${device.name}": ${p}`));
}

function nodeSelectionProblems(spec: ResourceSliceSpec): string[] {
  const hasNode = spec.nodeName !== undefined;
  const allNodes = spec.allNodes === true;
  if (hasNode && allNodes) return ['sets both nodeName and allNodes; set exactly one'];
  if (!hasNode && !allNodes) return ['sets neither nodeName nor allNodes; set exactly one'];
  if (hasNode && !isDnsSubdomain(spec.nodeName ?? '')) {
    return [`nodeName "${spec.nodeName}" is not a valid node name`];
  }
  return [];
}

function poolProblems(spec: ResourceSliceSpec): string[] {
  const out: string[] = [];
  if (!isDnsSubdomain(spec.driver, 63)) {
    out.push(`driver "${spec.driver}" is not a lower-case DNS subdomain of at most 63 characters`);
  }
  const pool = spec.pool;
  const parts = pool.name.split('/');
  if (pool.name.length > 253 || parts.some((p) => !isDnsSubdomain(p))) {
    out.push(
      `pool name "${pool.name}" must be DNS subdomains joined by "/", at most 253 characters`,
    );
  }
  if (!Number.isSafeInteger(pool.generation) || pool.generation < 0) {
    out.push(`pool generation ${pool.generation} must be a non-negative integer`);
  }
  if (!Number.isSafeInteger(pool.resourceSliceCount) || pool.resourceSliceCount < 1) {
    out.push(`pool resourceSliceCount ${pool.resourceSliceCount} must be at least 1`);
  }
  return out;
}

function counterSetFormatProblems(sets: readonly CounterSet[]): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const set of sets) {
    if (!isDnsLabel(set.name)) out.push(`counter set name "${set.name}" is not a DNS label`);
    if (seen.has(set.name)) out.push(`counter set "${set.name}" appears twice in the slice`);
    seen.add(set.name);
    out.push(...counterMapProblems(`counter set "${set.name}"`, set.counters));
  }
  return out;
}

function sliceName(slice: ResourceSlice): string {
  return slice.metadata.name ?? slice.metadata.generateName ?? '<unnamed>';
}

function metadataProblems(slice: ResourceSlice): string[] {
  const name = slice.metadata.name;
  if (name === undefined) {
    return slice.metadata.generateName === undefined ? ['has neither name nor generateName'] : [];
  }
  return isDnsSubdomain(name)
    ? []
    : [`name "${name}" is not a DNS subdomain of at most 253 characters`];
}

/** Every per-slice problem (limits and formats) of one slice. */
export function sliceProblems(slice: ResourceSlice, minor: number): string[] {
  const spec = slice.spec;
  const out = [
    ...metadataProblems(slice),
    ...poolProblems(spec),
    ...nodeSelectionProblems(spec),
    ...sliceLimitViolations(spec, minor),
    ...counterSetFormatProblems(spec.sharedCounters ?? []),
  ];
  for (const device of spec.devices ?? []) out.push(...deviceFormatProblems(device, minor));
  return out;
}

// ---------------------------------------------------------------------------------------------
// Pool-wide rules

interface PoolIndex {
  readonly slices: ResourceSlice[];
}

function groupPools(slices: readonly ResourceSlice[]): Map<string, PoolIndex> {
  const pools = new Map<string, PoolIndex>();
  for (const slice of slices) {
    const key = `${slice.spec.driver}/${slice.spec.pool.name}`;
    const pool = pools.get(key) ?? { slices: [] };
    pool.slices.push(slice);
    pools.set(key, pool);
  }
  return pools;
}

function generationProblems(key: string, slices: readonly ResourceSlice[]): string[] {
  const out: string[] = [];
  const gens = new Set(slices.map((s) => s.spec.pool.generation));
  const counts = new Set(slices.map((s) => s.spec.pool.resourceSliceCount));
  if (gens.size > 1)
    out.push(`pool ${key}: slices carry different generations ${[...gens].join(', ')}`);
  if (counts.size > 1) {
    out.push(`pool ${key}: slices carry different resourceSliceCount ${[...counts].join(', ')}`);
  } else if (gens.size === 1 && slices[0]?.spec.pool.resourceSliceCount !== slices.length) {
    out.push(
      `pool ${key}: resourceSliceCount is ${slices[0]?.spec.pool.resourceSliceCount} but the pool has ${slices.length} slices`,
    );
  }
  return out;
}

function uniqueDeviceProblems(key: string, slices: readonly ResourceSlice[]): string[] {
  const out: string[] = [];
  const seen = new Map<string, string>();
  for (const slice of slices) {
    for (const device of slice.spec.devices ?? []) {
      const first = seen.get(device.name);
      if (first !== undefined) {
        out.push(
          `pool ${key}: device "${device.name}" appears in ${first} and ${sliceName(slice)}`,
        );
      }
      seen.set(device.name, sliceName(slice));
    }
  }
  return out;
}

/** Counter sets visible to the devices of `slice`: its own (1.34) or the pool's (1.35+). */
function counterSetsFor(
  slice: ResourceSlice,
  pool: readonly ResourceSlice[],
  minor: number,
): Map<string, CounterSet> {
  const scope = minor <= 34 ? [slice] : pool;
  const sets = new Map<string, CounterSet>();
  for (const s of scope) for (const set of s.spec.sharedCounters ?? []) sets.set(set.name, set);
  return sets;
}

function uniqueCounterSetProblems(key: string, slices: readonly ResourceSlice[]): string[] {
  const out: string[] = [];
  const seen = new Map<string, string>();
  for (const slice of slices) {
    for (const set of slice.spec.sharedCounters ?? []) {
      const first = seen.get(set.name);
      if (first !== undefined && first !== sliceName(slice)) {
        out.push(
          `pool ${key}: counter set "${set.name}" is defined in ${first} and ${sliceName(slice)}`,
        );
      }
      seen.set(set.name, sliceName(slice));
    }
  }
  return out;
}

function consumptionProblems(
  device: Device,
  sets: ReadonlyMap<string, CounterSet>,
  scope: string,
): string[] {
  const out: string[] = [];
  for (const c of device.consumesCounters ?? []) {
    const set = sets.get(c.counterSet);
    if (set === undefined) {
      out.push(
        `device "${device.name}" consumes unknown counter set "${c.counterSet}" (not in ${scope})`,
      );
      continue;
    }
    for (const [name, counter] of Object.entries(c.counters)) {
      const available = set.counters[name];
      if (available === undefined) {
        out.push(`device "${device.name}" consumes counter "${name}" that set "${set.name}" lacks`);
      } else if ((parseQuantity(counter.value) ?? 0) > (parseQuantity(available.value) ?? 0)) {
        out.push(
          `device "${device.name}" consumes ${counter.value} of "${set.name}/${name}", more than its ${available.value}`,
        );
      }
    }
  }
  return out;
}

function poolReferenceProblems(
  key: string,
  slices: readonly ResourceSlice[],
  minor: number,
): string[] {
  const out: string[] = [];
  const scope = minor <= 34 ? 'the same slice, as 1.34 requires' : 'the pool';
  for (const slice of slices) {
    const sets = counterSetsFor(slice, slices, minor);
    for (const device of slice.spec.devices ?? []) {
      for (const p of consumptionProblems(device, sets, scope)) {
        out.push(`pool ${key}: slice ${sliceName(slice)}: ${p}`);
      }
    }
  }
  return out;
}

/**
 * Checks slices against every API-server limit for Kubernetes 1.`serverMinor` and against the
 * pool rules the allocator relies on. Returns human-readable violations; empty means valid.
 * Slices are grouped into pools by driver and pool name.
 */
export function validateSlices(slices: readonly ResourceSlice[], serverMinor: number): string[] {
  const out: string[] = [];
  for (const slice of slices) {
    for (const p of sliceProblems(slice, serverMinor)) out.push(`slice ${sliceName(slice)}: ${p}`);
  }
  for (const [key, pool] of groupPools(slices)) {
    out.push(
      ...generationProblems(key, pool.slices),
      ...uniqueDeviceProblems(key, pool.slices),
      ...(serverMinor >= 35 ? uniqueCounterSetProblems(key, pool.slices) : []),
      ...poolReferenceProblems(key, pool.slices, serverMinor),
    );
  }
  return out;
}
