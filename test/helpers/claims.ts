/**
 * ResourceClaim JSON fixtures and an in-memory ClaimGetter for driver tests.
 */

import {
  encodeGpuConfig,
  GPU_CONFIG_API_VERSION,
  GPU_CONFIG_KIND,
} from '../../src/api/gpu/v1alpha1/gpu-config.ts';
import type {
  DeviceAllocationConfiguration,
  DeviceRequestAllocationResult,
  ResourceClaim,
} from '../../src/api/resource/v1.ts';
import type { SharingSettings } from '../../src/devices/types.ts';
import type { ClaimGetter, ClaimRef } from '../../src/driver/types.ts';

export const TEST_DRIVER = 'gpu.phalanx.dev';

export interface ResultSpec {
  /** `req` or `req/sub`. */
  readonly request: string;
  readonly device: string;
  readonly pool?: string;
  readonly driver?: string;
  readonly shareID?: string;
  readonly adminAccess?: boolean;
}

export interface ConfigSpec {
  readonly source?: 'FromClass' | 'FromClaim';
  readonly requests?: string[];
  readonly driver?: string;
  readonly parameters: unknown;
}

export interface ClaimSpec {
  readonly name: string;
  readonly uid: string;
  readonly namespace?: string;
  /** Default pool of results (the node name). */
  readonly pool?: string;
  readonly results?: readonly ResultSpec[];
  readonly config?: readonly ConfigSpec[];
  /** false: no status.allocation at all. */
  readonly allocated?: boolean;
}

/** A deterministic claim UID from a number (`00000000-0000-4000-8000-<n>`). */
export function uidOf(n: number): string {
  return `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
}

function result(spec: ResultSpec, pool: string): DeviceRequestAllocationResult {
  return {
    request: spec.request,
    driver: spec.driver ?? TEST_DRIVER,
    pool: spec.pool ?? pool,
    device: spec.device,
    ...(spec.shareID === undefined ? {} : { shareID: spec.shareID }),
    ...(spec.adminAccess === undefined ? {} : { adminAccess: spec.adminAccess }),
  };
}

function config(spec: ConfigSpec): DeviceAllocationConfiguration {
  return {
    source: spec.source ?? 'FromClaim',
    ...(spec.requests === undefined ? {} : { requests: spec.requests }),
    opaque: { driver: spec.driver ?? TEST_DRIVER, parameters: spec.parameters },
  };
}

/** Builds a ResourceClaim as the API server returns it after allocation. */
export function makeClaim(spec: ClaimSpec): ResourceClaim {
  const namespace = spec.namespace ?? 'default';
  const pool = spec.pool ?? 'node-a';
  const claim: ResourceClaim = {
    apiVersion: 'resource.k8s.io/v1',
    kind: 'ResourceClaim',
    metadata: { name: spec.name, namespace, uid: spec.uid, resourceVersion: '1' },
    spec: { devices: { requests: [] } },
  };
  if (spec.allocated === false) return claim;
  claim.status = {
    allocation: {
      devices: {
        results: (spec.results ?? [{ request: 'gpu', device: 'gpu-0' }]).map((r) =>
          result(r, pool),
        ),
        config: (spec.config ?? []).map(config),
      },
    },
  };
  return claim;
}

/** GpuConfig parameters for a sharing setting (no sharing block when none is given). */
export function gpuConfig(sharing?: SharingSettings): Record<string, unknown> {
  if (sharing === undefined) return { apiVersion: GPU_CONFIG_API_VERSION, kind: GPU_CONFIG_KIND };
  return { ...encodeGpuConfig(sharing) };
}

export function refOf(claim: ResourceClaim): ClaimRef {
  return {
    namespace: claim.metadata.namespace ?? 'default',
    name: claim.metadata.name ?? '',
    uid: claim.metadata.uid ?? '',
  };
}

/** ClaimGetter over a map of claims, keyed `namespace/name`. Counts calls. */
export class FakeClaimGetter implements ClaimGetter {
  readonly claims = new Map<string, ResourceClaim>();
  calls = 0;
  /** When set, every get rejects with this error (transport failure). */
  failure: Error | undefined;

  constructor(claims: readonly ResourceClaim[] = []) {
    for (const c of claims) this.put(c);
  }

  put(claim: ResourceClaim): void {
    this.claims.set(`${claim.metadata.namespace ?? 'default'}/${claim.metadata.name}`, claim);
  }

  delete(namespace: string, name: string): void {
    this.claims.delete(`${namespace}/${name}`);
  }

  async get(namespace: string, name: string): Promise<ResourceClaim | undefined> {
    this.calls++;
    if (this.failure !== undefined) throw this.failure;
    const claim = this.claims.get(`${namespace}/${name}`);
    return claim === undefined ? undefined : structuredClone(claim);
  }
}
