/**
 * Validating admission for the objects Phalanx reads from users: Queues, and the opaque
 * `gpu.phalanx.dev` configs carried by ResourceClaims, ResourceClaimTemplates and DeviceClasses.
 * The checks themselves are the API packages' own (one code path with the planner and the kubelet
 * plugin); this module finds what to check and turns the findings into a verdict.
 *
 * On UPDATE only problems the old object did not already have deny the request: an object that
 * became invalid under a stricter release must still be able to lose its finalizers and labels.
 */
import { isDeepStrictEqual } from 'node:util';
import {
  GPU_CONFIG_GROUP,
  GpuConfigError,
  sharingFromParameters,
} from '../api/gpu/v1alpha1/gpu-config.ts';
import { isRecord } from '../api/json.ts';
import { QUEUE_GROUP, QUEUE_KIND, validateQueue } from '../api/scheduling/v1alpha1/queue.ts';

/** The API group of the GPU config carriers. */
export const RESOURCE_GROUP = 'resource.k8s.io';

/** Where each carrier kind keeps its device configs. */
export const GPU_CONFIG_CARRIERS = {
  ResourceClaim: ['spec', 'devices', 'config'],
  ResourceClaimTemplate: ['spec', 'spec', 'devices', 'config'],
  DeviceClass: ['spec', 'config'],
} as const satisfies Record<string, readonly string[]>;

export type GpuConfigCarrierKind = keyof typeof GPU_CONFIG_CARRIERS;

export function isGpuConfigCarrier(group: string, kind: string): kind is GpuConfigCarrierKind {
  return group === RESOURCE_GROUP && Object.hasOwn(GPU_CONFIG_CARRIERS, kind);
}

export function isQueueKind(group: string, kind: string): boolean {
  return group === QUEUE_GROUP && kind === QUEUE_KIND;
}

/** A validating decision: deny with a message, or allow (perhaps with warnings). */
export interface Verdict {
  readonly deny?: string;
  readonly warnings: string[];
}

function at(root: unknown, path: readonly string[]): unknown {
  let node = root;
  for (const key of path) node = isRecord(node) ? node[key] : undefined;
  return node;
}

/** The device config list of a carrier (entries as they are; non-lists read as empty). */
export function gpuConfigEntries(kind: GpuConfigCarrierKind, object: unknown): readonly unknown[] {
  const list = at(object, GPU_CONFIG_CARRIERS[kind]);
  return Array.isArray(list) ? list : [];
}

function checkEntry(entry: unknown, path: string): string | undefined {
  if (!isRecord(entry) || !isRecord(entry.opaque)) return undefined;
  if (entry.opaque.driver !== GPU_CONFIG_GROUP) return undefined;
  try {
    sharingFromParameters(entry.opaque.parameters);
    return undefined;
  } catch (error) {
    const message =
      error instanceof GpuConfigError || error instanceof Error ? error.message : String(error);
    return `${path}.opaque.parameters: ${message}`;
  }
}

/**
 * Every problem with the `gpu.phalanx.dev` opaque configs of a carrier, one sentence each,
 * prefixed with the field path, e.g. `spec.devices.config[0].opaque.parameters: GpuConfig: ...`.
 * Configs of other drivers are not looked at.
 */
export function gpuConfigProblems(kind: GpuConfigCarrierKind, object: unknown): string[] {
  const base = GPU_CONFIG_CARRIERS[kind].join('.');
  const problems: string[] = [];
  gpuConfigEntries(kind, object).forEach((entry, i) => {
    const problem = checkEntry(entry, `${base}[${i}]`);
    if (problem !== undefined) problems.push(problem);
  });
  return problems;
}

/** Joins problems into one denial, keeping the ones the old object already had as warnings. */
function verdictOf(current: readonly string[], previous: readonly string[] | undefined): Verdict {
  const inherited = new Set(previous ?? []);
  const fresh = current.filter((p) => !inherited.has(p));
  const old = current.filter((p) => inherited.has(p));
  const warnings = old.map((p) => `left as it was and still invalid: ${p}`);
  return fresh.length === 0 ? { warnings } : { deny: fresh.join('; '), warnings };
}

/**
 * The verdict on a carrier. On UPDATE (`oldObject` given) a config list equal to the old one is
 * admitted whatever it holds, and otherwise only problems the old object lacked deny.
 */
export function validateGpuConfigCarrier(
  kind: GpuConfigCarrierKind,
  object: unknown,
  oldObject?: unknown,
): Verdict {
  const current = gpuConfigProblems(kind, object);
  if (oldObject === undefined) return verdictOf(current, undefined);
  if (isDeepStrictEqual(gpuConfigEntries(kind, object), gpuConfigEntries(kind, oldObject)))
    return verdictOf(current, current);
  return verdictOf(current, gpuConfigProblems(kind, oldObject));
}

/** The verdict on a Queue: every problem `validateQueue` finds, joined by "; ". */
export function validateQueueObject(object: unknown, oldObject?: unknown): Verdict {
  const current = validateQueue(object);
  return verdictOf(current, oldObject === undefined ? undefined : validateQueue(oldObject));
}
