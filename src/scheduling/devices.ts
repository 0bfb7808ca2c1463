/**
 * Device requests the way the DRA allocator reads them: a claim's requests name a DeviceClass and
 * a count, the class's and the request's CEL selectors decide which devices qualify, and
 * `matchAttribute` constraints make the devices of some requests agree on an attribute (one
 * NVLink domain, one PCIe root). The ledger picks concrete devices for them, so MIG-like
 * partitions, selectors on product or memory, and islands inside a node are counted exactly, with
 * the shared counters keeping a whole GPU and its partitions apart.
 *
 * Which devices match a request is computed once per device table (the nodes of one GPU profile
 * share one) and request, and cached with the table.
 *
 * Differences from the allocator, both on the side of planning a placement the allocator may then
 * refuse (the planner re-plans when a binding fails): devices are picked greedily (best fit, no
 * backtracking across requests except over the value groups of a constraint); and attributes the
 * scheduler's cache blanks because they name one device or one node (`uuid`, `parentUUID`,
 * `nvlinkDomain`, `cliqueId`: see kube/slice-compaction.ts) make a selector that reads them count
 * as matching. A `matchAttribute` constraint on them is still exact, from what the ledger knows:
 * `nvlinkDomain` and `cliqueId` have one value per node (or rack), `parentUUID` is the device's
 * GPU, `uuid` is the device itself; a device without the attribute cannot join the constraint.
 *
 * Pure: no I/O.
 */
import type { Device, DeviceAttribute } from '../api/resource/v1.ts';
import { type CelDevice, CelEvalError, type CompiledSelector, celDevice } from './cel.ts';

/** One request of a claim, resolved against its DeviceClass. */
export interface RequestDemand {
  /** `claim/request` for messages. */
  readonly name: string;
  readonly deviceClass: string;
  readonly count: number;
  /** Class selectors first, then the request's, evaluated in order. */
  readonly selectors: readonly CompiledSelector[];
  /** Identity of the selector list: requests with equal keys match the same devices. */
  readonly key: string;
}

/** A `matchAttribute` constraint: devices of these requests (all when empty) share the value. */
export interface MatchConstraint {
  readonly attribute: string;
  /** Indices into the claim's requests. */
  readonly requests: readonly number[];
}

/** The devices one claim still needs. */
export interface ClaimDemand {
  readonly claim: string;
  readonly requests: readonly RequestDemand[];
  readonly constraints: readonly MatchConstraint[];
}

/** The parts of a ledger device matching and picking read. */
export interface PickableDevice {
  readonly name: string;
  readonly gpu: number;
  readonly whole: boolean;
  /** The selector view; absent for devices built without slices (trace replays). */
  readonly cel?: CelDevice;
  /** The identity attributes the device has (short names), whose values the cache blanks. */
  readonly identity?: readonly string[];
}

/** What picking needs from a node's ledger state. */
export interface PickNode {
  readonly devices: readonly PickableDevice[];
  deviceAvailable(i: number): boolean;
  gpuFreeMilli(gpu: number): number;
  take(i: number, milli: number): void;
  give(i: number, milli: number): void;
}

/** Attributes the scheduler's slice cache does not keep (per device, per node or per rack). */
export const IDENTITY_ATTRIBUTES: readonly string[] = [
  'uuid',
  'parentUUID',
  'nvlinkDomain',
  'cliqueId',
];

/**
 * The selector view of a slice device as the ledger keeps it: without the identity attributes
 * (only which of them the device has), so that the nodes of one GPU profile share one device
 * table whether or not their slices went through the scheduler's cache.
 */
export function selectorView(
  driver: string,
  device: Device,
): { cel: CelDevice; identity: string[] } {
  const view = celDevice(driver, device);
  const attributes: Record<string, DeviceAttribute> = {};
  const identity: string[] = [];
  for (const [name, value] of Object.entries(view.attributes)) {
    const short = name.startsWith(`${driver}/`) ? name.slice(driver.length + 1) : name;
    if (IDENTITY_ATTRIBUTES.includes(short)) identity.push(short);
    else attributes[name] = value;
  }
  return { cel: { ...view, attributes }, identity };
}

const DROPPED_KEY = new RegExp(`no such key: (${IDENTITY_ATTRIBUTES.join('|')})\\b`);

/**
 * Whether device `d` matches every selector. A CEL error on an attribute the cache dropped counts
 * as a match (see the module comment); any other CEL error is thrown, as the allocator fails the
 * claim on it.
 */
function matchesAll(d: PickableDevice, selectors: readonly CompiledSelector[]): boolean {
  if (d.cel === undefined) return false;
  for (const s of selectors) {
    try {
      if (!s.matches(d.cel)) return false;
    } catch (error) {
      if (error instanceof CelEvalError && DROPPED_KEY.test(error.detail)) continue;
      throw error;
    }
  }
  return true;
}

const masks = new WeakMap<readonly PickableDevice[], Map<string, Uint8Array>>();

/** Which devices of the table match the request: 1 per matching device. Cached per table. */
export function matchMask(devices: readonly PickableDevice[], request: RequestDemand): Uint8Array {
  let byKey = masks.get(devices);
  if (byKey === undefined) {
    byKey = new Map();
    masks.set(devices, byKey);
  }
  let mask = byKey.get(request.key);
  if (mask === undefined) {
    mask = new Uint8Array(devices.length);
    for (let i = 0; i < devices.length; i++) {
      const d = devices[i];
      if (d !== undefined && matchesAll(d, request.selectors)) mask[i] = 1;
    }
    byKey.set(request.key, mask);
  }
  return mask;
}

/** Value of a constraint attribute on a device (qualified or driver-domain name), or undefined. */
function attributeValue(d: PickableDevice, attribute: string): string | undefined {
  const attrs = d.cel?.attributes;
  if (attrs === undefined) return undefined;
  const slash = attribute.indexOf('/');
  const short =
    slash >= 0 && attribute.slice(0, slash) === d.cel?.driver
      ? attribute.slice(slash + 1)
      : attribute;
  if (IDENTITY_ATTRIBUTES.includes(short)) return identityValue(d, short);
  const a = attrs[short] ?? attrs[attribute];
  if (a === undefined) return undefined;
  const v = a.string ?? a.int ?? a.bool ?? a.version;
  return v === undefined ? undefined : String(v);
}

/** What the ledger knows of an identity attribute's value (see the module comment). */
function identityValue(d: PickableDevice, short: string): string | undefined {
  if (d.identity?.includes(short) !== true) return undefined;
  if (short === 'uuid') return `device ${d.name}`;
  if (short === 'parentUUID') return `gpu ${d.gpu}`;
  return 'node';
}

/**
 * Candidates for a request, best fit first: partitions on the GPUs with the least room left (so
 * whole GPUs stay whole), whole devices in index order.
 */
function candidates(node: PickNode, mask: Uint8Array, group?: (i: number) => boolean): number[] {
  const out: number[] = [];
  for (let i = 0; i < mask.length; i++) {
    if (mask[i] === 1 && (group === undefined || group(i)) && node.deviceAvailable(i)) out.push(i);
  }
  return out.sort((a, b) => {
    const da = node.devices[a];
    const db = node.devices[b];
    if (da === undefined || db === undefined || da.whole || db.whole) return a - b;
    return node.gpuFreeMilli(da.gpu) - node.gpuFreeMilli(db.gpu) || a - b;
  });
}

/** Takes `count` devices for one request, taking each at once so counters see earlier picks. */
function takeFor(
  node: PickNode,
  request: RequestDemand,
  taken: number[],
  group?: (i: number) => boolean,
): boolean {
  const mask = matchMask(node.devices, request);
  for (let n = 0; n < request.count; n++) {
    // Recomputed after each take: a partition can use up a counter another candidate needs.
    const next = candidates(node, mask, group)[0];
    if (next === undefined) return false;
    node.take(next, 0);
    taken.push(next);
  }
  return true;
}

function undo(node: PickNode, taken: number[], from: number): void {
  while (taken.length > from) {
    const i = taken.pop();
    if (i !== undefined) node.give(i, 0);
  }
}

/** The distinct value tuples of the constraint attributes among devices matching these requests. */
function valueGroups(
  node: PickNode,
  claim: ClaimDemand,
  constrained: readonly number[],
): Map<string, Set<number>> {
  const groups = new Map<string, Set<number>>();
  for (const r of constrained) {
    const request = claim.requests[r];
    if (request === undefined) continue;
    const mask = matchMask(node.devices, request);
    for (let i = 0; i < mask.length; i++) {
      const d = node.devices[i];
      if (mask[i] !== 1 || d === undefined) continue;
      const values = claim.constraints.map((c) =>
        c.requests.length === 0 || c.requests.includes(r) ? attributeValue(d, c.attribute) : '',
      );
      if (values.some((v) => v === undefined)) continue;
      const key = values.join('\u0000');
      let set = groups.get(key);
      if (set === undefined) {
        set = new Set();
        groups.set(key, set);
      }
      set.add(i);
    }
  }
  return groups;
}

function takeClaim(node: PickNode, claim: ClaimDemand, taken: number[]): boolean {
  const start = taken.length;
  const constrained = new Set<number>();
  for (const c of claim.constraints) {
    const covered = c.requests.length === 0 ? claim.requests.map((_, i) => i) : c.requests;
    for (const r of covered) constrained.add(r);
  }
  const free = claim.requests.filter((_, i) => !constrained.has(i));
  if (constrained.size > 0) {
    let placed = false;
    for (const members of valueGroups(node, claim, [...constrained]).values()) {
      const ok = [...constrained].every((r) => {
        const request = claim.requests[r];
        return request !== undefined && takeFor(node, request, taken, (i) => members.has(i));
      });
      if (ok) {
        placed = true;
        break;
      }
      undo(node, taken, start);
    }
    if (!placed) return false;
  }
  for (const request of free) {
    if (!takeFor(node, request, taken)) {
      undo(node, taken, start);
      return false;
    }
  }
  return true;
}

/**
 * Devices on the node for every claim, or undefined when some request cannot be met. With
 * `keep` the devices stay taken (the caller records them); otherwise the node is left as it was.
 */
export function pickDevices(
  node: PickNode,
  claims: readonly ClaimDemand[],
  keep = false,
): number[] | undefined {
  const taken: number[] = [];
  for (const claim of claims) {
    if (!takeClaim(node, claim, taken)) {
      undo(node, taken, 0);
      return undefined;
    }
  }
  if (!keep) undo(node, taken, 0);
  return taken;
}

/** How many pods with these claims the node could take now (at most `limit`). */
export function deviceFitCount(
  node: PickNode,
  claims: readonly ClaimDemand[],
  limit: number,
): number {
  const taken: number[] = [];
  let n = 0;
  while (n < limit) {
    const picked = pickDevices(node, claims, true);
    if (picked === undefined) break;
    taken.push(...picked);
    n++;
  }
  undo(node, taken, 0);
  return n;
}

/** Short text of what the claims ask for, e.g. `2 × gpu.phalanx.dev, 1 × partition.gpu.phalanx.dev`. */
export function describeClaims(claims: readonly ClaimDemand[]): string {
  const parts: string[] = [];
  for (const c of claims) {
    for (const r of c.requests) parts.push(`${r.count} × ${r.deviceClass} (${r.name})`);
  }
  return parts.join(', ');
}

/** Identity of a claim list for grouping interchangeable pods. */
export function claimsKey(claims: readonly ClaimDemand[]): string {
  return claims
    .map(
      (c) =>
        `${c.requests.map((r) => `${r.count}*${r.key}`).join('+')}|${c.constraints
          .map((k) => `${k.attribute}@${k.requests.join('.')}`)
          .join('+')}`,
    )
    .join(';');
}
