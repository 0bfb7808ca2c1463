/**
 * Benchmark claims that carry their allocation in their name, so the plugin can answer its
 * ResourceClaim GET without asking the benchmark client (no IPC on the hot path when the plugin
 * runs in its own process).
 *
 * A name is `c<n>.<request>.<device>[.<device>…]`, e.g. `c42.gpus.gpu-0.gpu-1`: every part is a
 * DNS label (request and device names are DNS labels already), so the whole is a DNS subdomain,
 * as a ResourceClaim name must be. The claim's UID is `uidOf(n)`, so each `n` is a fresh claim.
 *
 * Pure: no I/O.
 */
import type { ResourceClaim } from '../../src/api/resource/v1.ts';
import type { ClaimGetter, ClaimRef } from '../../src/driver/types.ts';
import { makeClaim, uidOf } from '../../test/helpers/claims.ts';

/** What a benchmark claim name encodes. */
export interface ClaimNameSpec {
  /** Sequence number, ≥ 1; the UID is `uidOf(n)`. */
  readonly n: number;
  /** The request the devices were allocated for. */
  readonly request: string;
  /** Allocated device names, in allocation order; at least one. */
  readonly devices: readonly string[];
}

/** Longest name the API server accepts for a ResourceClaim (a DNS subdomain). */
export const MAX_CLAIM_NAME_LENGTH = 253;

const DNS_LABEL_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const SEQUENCE_RE = /^c([1-9]\d{0,15})$/;

const isDnsLabel = (s: string): boolean => s.length <= 63 && DNS_LABEL_RE.test(s);

/** The claim name for `spec`; throws a sentence naming the part that cannot be encoded. */
export function encodeClaimName(spec: ClaimNameSpec): string {
  if (!Number.isSafeInteger(spec.n) || spec.n < 1)
    throw new Error(`claim number ${spec.n} cannot be encoded; use a whole number ≥ 1`);
  if (spec.devices.length === 0)
    throw new Error(`claim c${spec.n} has no devices; a benchmark claim needs at least one`);
  for (const part of [spec.request, ...spec.devices])
    if (!isDnsLabel(part))
      throw new Error(`claim c${spec.n}: "${part}" is not a DNS label, so it cannot be in a name`);
  const name = [`c${spec.n}`, spec.request, ...spec.devices].join('.');
  if (name.length > MAX_CLAIM_NAME_LENGTH)
    throw new Error(
      `claim c${spec.n}: ${spec.devices.length} devices make a ${name.length}-character name; the limit is ${MAX_CLAIM_NAME_LENGTH}, so use fewer devices per claim`,
    );
  return name;
}

/** The spec a name encodes, or undefined when it is not a benchmark claim name. */
export function decodeClaimName(name: string): ClaimNameSpec | undefined {
  if (name.length > MAX_CLAIM_NAME_LENGTH) return undefined;
  const [sequence = '', request = '', ...devices] = name.split('.');
  const n = Number(SEQUENCE_RE.exec(sequence)?.[1]);
  if (!Number.isSafeInteger(n) || devices.length === 0) return undefined;
  if (![request, ...devices].every(isDnsLabel)) return undefined;
  return { n, request, devices };
}

/** The kubelet's reference to the claim `spec` encodes. */
export function claimRefOf(namespace: string, spec: ClaimNameSpec): ClaimRef {
  return { namespace, name: encodeClaimName(spec), uid: uidOf(spec.n) };
}

/**
 * Answers a ResourceClaim GET from the name alone: the claim as the API server returns it after
 * allocation, every device from `pool` (the node) for the encoded request. A fresh object per
 * GET, like the deep copy an in-memory store hands out. Unknown names are not found.
 */
export class NameDerivedClaimGetter implements ClaimGetter {
  readonly #pool: string;

  constructor(pool: string) {
    this.#pool = pool;
  }

  claim(namespace: string, name: string): ResourceClaim | undefined {
    const spec = decodeClaimName(name);
    if (spec === undefined) return undefined;
    return makeClaim({
      name,
      uid: uidOf(spec.n),
      namespace,
      pool: this.#pool,
      results: spec.devices.map((device) => ({ request: spec.request, device })),
    });
  }

  async get(namespace: string, name: string): Promise<ResourceClaim | undefined> {
    return this.claim(namespace, name);
  }
}
