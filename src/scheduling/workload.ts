/**
 * Reading the live cluster into the core's terms: a pod's demand (CPU, memory, whole GPUs of
 * `gpu.phalanx.dev` through its ResourceClaims), the gang it belongs to, its queue, its topology
 * requirements and the planner's record on it. Works on plain API JSON.
 *
 * Pure: no I/O.
 */
import { parseQuantity } from '../api/resource/quantity.ts';
import {
  ANNOTATION_PLAN,
  ANNOTATION_TOPOLOGY_PREFERRED,
  ANNOTATION_TOPOLOGY_REQUIRED,
  LABEL_GANG,
  LABEL_GANG_SIZE,
  LABEL_QUEUE,
  LABEL_X_K8S_POD_GROUP,
  SCHEDULING_GATE,
} from '../api/scheduling/labels.ts';
import type { PodShape } from './node-view.ts';

/** The parts of a v1.Pod the scheduler side reads. */
export interface PodObject {
  metadata: {
    name?: string;
    namespace?: string;
    uid?: string;
    creationTimestamp?: string;
    deletionTimestamp?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec?: {
    nodeName?: string;
    priority?: number;
    schedulerName?: string;
    schedulingGates?: { name: string }[];
    schedulingGroup?: { podGroupName?: string };
    containers?: ContainerObject[];
    initContainers?: ContainerObject[];
    overhead?: Record<string, string>;
    resourceClaims?: {
      name: string;
      resourceClaimName?: string;
      resourceClaimTemplateName?: string;
    }[];
  };
  status?: {
    phase?: string;
    resourceClaimStatuses?: { name: string; resourceClaimName?: string }[];
  };
}

interface ContainerObject {
  name?: string;
  resources?: { requests?: Record<string, string> };
  restartPolicy?: string;
}

/** A ResourceClaim spec as far as demand goes (also the `spec.spec` of a template). */
export interface ClaimSpecObject {
  devices?: {
    requests?: {
      name?: string;
      exactly?: { deviceClassName?: string; allocationMode?: string; count?: number };
      firstAvailable?: unknown[];
    }[];
  };
}

/** Classes whose devices are whole GPUs of our driver, counted one GPU per device. */
export const WHOLE_GPU_CLASSES: ReadonlySet<string> = new Set(['gpu.phalanx.dev']);

export type GangSource = 'podgroup' | 'x-k8s-podgroup' | 'label' | 'single';

export interface GangRef {
  /** `namespace/name`; for a pod without a gang, `namespace/pod-name`. */
  readonly key: string;
  readonly namespace: string;
  readonly name: string;
  readonly source: GangSource;
  /** Members the gang needs, when the pod says so (label); PodGroups carry it on the group object. */
  readonly size?: number;
}

export function podKey(pod: PodObject): string {
  return `${pod.metadata.namespace ?? 'default'}/${pod.metadata.name ?? ''}`;
}

/** Which gang a pod belongs to: native PodGroup, scheduler-plugins PodGroup, our labels, or itself. */
export function gangOf(pod: PodObject): GangRef {
  const namespace = pod.metadata.namespace ?? 'default';
  const labels = pod.metadata.labels ?? {};
  const native = pod.spec?.schedulingGroup?.podGroupName;
  if (native !== undefined && native !== '') {
    return { key: `${namespace}/${native}`, namespace, name: native, source: 'podgroup' };
  }
  const xk8s = labels[LABEL_X_K8S_POD_GROUP];
  if (xk8s !== undefined && xk8s !== '') {
    return { key: `${namespace}/${xk8s}`, namespace, name: xk8s, source: 'x-k8s-podgroup' };
  }
  const own = labels[LABEL_GANG];
  if (own !== undefined && own !== '') {
    const size = Number(labels[LABEL_GANG_SIZE]);
    const ref: GangRef = { key: `${namespace}/${own}`, namespace, name: own, source: 'label' };
    return Number.isInteger(size) && size > 0 ? { ...ref, size } : ref;
  }
  const name = pod.metadata.name ?? '';
  return { key: `${namespace}/${name}`, namespace, name, source: 'single', size: 1 };
}

/** The pod's queue: its label, else the namespace default, else undefined. */
export function queueOf(
  pod: PodObject,
  namespaceLabels: Readonly<Record<string, string>> | undefined,
): string | undefined {
  return pod.metadata.labels?.[LABEL_QUEUE] ?? namespaceLabels?.[LABEL_QUEUE];
}

export function isGated(pod: PodObject): boolean {
  return (pod.spec?.schedulingGates ?? []).some((g) => g.name === SCHEDULING_GATE);
}

export function topologyOf(pod: PodObject): { required?: string; preferred?: string } {
  const a = pod.metadata.annotations ?? {};
  const out: { required?: string; preferred?: string } = {};
  const required = a[ANNOTATION_TOPOLOGY_REQUIRED];
  const preferred = a[ANNOTATION_TOPOLOGY_PREFERRED];
  if (required !== undefined && required !== '') out.required = required;
  if (preferred !== undefined && preferred !== '') out.preferred = preferred;
  return out;
}

function cpuMilli(value: string | undefined): number {
  if (value === undefined) return 0;
  return Math.ceil((parseQuantity(value) ?? 0) * 1000);
}

function bytes(value: string | undefined): number {
  if (value === undefined) return 0;
  return Math.ceil(parseQuantity(value) ?? 0);
}

/** Effective requests the way the scheduler computes them: sum of containers, max of init containers. */
export function podRequests(pod: PodObject): { cpuMilli: number; memoryBytes: number } {
  let cpu = 0;
  let mem = 0;
  for (const c of pod.spec?.containers ?? []) {
    cpu += cpuMilli(c.resources?.requests?.cpu);
    mem += bytes(c.resources?.requests?.memory);
  }
  let initCpu = 0;
  let initMem = 0;
  for (const c of pod.spec?.initContainers ?? []) {
    if (c.restartPolicy === 'Always') {
      cpu += cpuMilli(c.resources?.requests?.cpu);
      mem += bytes(c.resources?.requests?.memory);
      continue;
    }
    initCpu = Math.max(initCpu, cpuMilli(c.resources?.requests?.cpu));
    initMem = Math.max(initMem, bytes(c.resources?.requests?.memory));
  }
  const overhead = pod.spec?.overhead ?? {};
  return {
    cpuMilli: Math.max(cpu, initCpu) + cpuMilli(overhead.cpu),
    memoryBytes: Math.max(mem, initMem) + bytes(overhead.memory),
  };
}

/** Whole GPUs a claim spec asks for from our whole-GPU classes; undefined when it asks for none. */
export function claimGpuCount(spec: ClaimSpecObject | undefined): number | { unsupported: string } {
  let gpus = 0;
  for (const r of spec?.devices?.requests ?? []) {
    const cls = r.exactly?.deviceClassName;
    if (cls === undefined || !WHOLE_GPU_CLASSES.has(cls)) continue;
    if (r.exactly?.allocationMode === 'All') {
      return { unsupported: `request ${r.name ?? ''} uses allocationMode All` };
    }
    gpus += r.exactly?.count ?? 1;
  }
  return gpus;
}

/** Finds the spec behind each of a pod's claims (template or claim). */
export interface ClaimSpecs {
  template(namespace: string, name: string): ClaimSpecObject | undefined;
  claim(
    namespace: string,
    name: string,
  ): { spec?: ClaimSpecObject; allocated: boolean } | undefined;
}

export type PodDemand = { shape: PodShape } | { unsupported: string };

/**
 * The pod's demand as a PodShape. GPUs from claims already allocated (shared claims another pod
 * holds) are not counted again: the ledger has them as allocated devices.
 */
type PodClaimRef = NonNullable<NonNullable<PodObject['spec']>['resourceClaims']>[number];

/**
 * The spec whose devices are still to be allocated for one of the pod's claims: undefined when
 * the claim is already allocated (its devices are in the ledger), `unsupported` when it is missing.
 */
function pendingClaimSpec(
  pod: PodObject,
  rc: PodClaimRef,
  specs: ClaimSpecs,
): { spec: ClaimSpecObject | undefined } | { unsupported: string } {
  const namespace = pod.metadata.namespace ?? 'default';
  if (rc.resourceClaimName !== undefined) {
    const claim = specs.claim(namespace, rc.resourceClaimName);
    if (claim === undefined) return { unsupported: `claim ${rc.resourceClaimName} not found` };
    return { spec: claim.allocated ? undefined : claim.spec };
  }
  if (rc.resourceClaimTemplateName === undefined) return { spec: undefined };
  // The claim generated from the template, once it exists, is what the allocator sees.
  const generated = pod.status?.resourceClaimStatuses?.find((s) => s.name === rc.name);
  const name = generated?.resourceClaimName;
  if (name !== undefined && specs.claim(namespace, name)?.allocated === true)
    return { spec: undefined };
  const spec = specs.template(namespace, rc.resourceClaimTemplateName);
  if (spec === undefined) {
    return { unsupported: `ResourceClaimTemplate ${rc.resourceClaimTemplateName} not found` };
  }
  return { spec };
}

/**
 * The pod's demand as a PodShape. GPUs from claims already allocated (shared claims another pod
 * holds, or this pod's own once the allocator wrote them) are not counted again: the ledger has
 * them as allocated devices.
 */
export function podDemand(pod: PodObject, specs: ClaimSpecs): PodDemand {
  let gpus = 0;
  for (const rc of pod.spec?.resourceClaims ?? []) {
    const pending = pendingClaimSpec(pod, rc, specs);
    if ('unsupported' in pending) return pending;
    const n = claimGpuCount(pending.spec);
    if (typeof n !== 'number') return n;
    gpus += n;
  }
  const req = podRequests(pod);
  return {
    shape: {
      cpuMilli: req.cpuMilli,
      memoryBytes: req.memoryBytes,
      gpuCount: gpus,
      gpuMilli: gpus > 0 ? 1000 : 0,
      gpuModels: [],
    },
  };
}

/**
 * Whole GPUs the pod's claims ask for, allocated or not: what the pod counts against its queue's
 * quota. Unlike {@link podDemand}, an allocated claim still counts (its devices stay in use), and a
 * claim named by several pods counts once: `seen` holds the claims already counted.
 */
export function podGpuRequest(pod: PodObject, specs: ClaimSpecs, seen: Set<string>): number {
  const namespace = pod.metadata.namespace ?? 'default';
  let gpus = 0;
  for (const rc of pod.spec?.resourceClaims ?? []) {
    const generated = pod.status?.resourceClaimStatuses?.find((s) => s.name === rc.name);
    const claimName = rc.resourceClaimName ?? generated?.resourceClaimName;
    const key = claimName === undefined ? `${podKey(pod)}#${rc.name}` : `${namespace}/${claimName}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const fromClaim = claimName === undefined ? undefined : specs.claim(namespace, claimName)?.spec;
    const fromTemplate =
      rc.resourceClaimTemplateName === undefined
        ? undefined
        : specs.template(namespace, rc.resourceClaimTemplateName);
    const n = claimGpuCount(fromClaim ?? fromTemplate);
    if (typeof n === 'number') gpus += n;
  }
  return gpus;
}

/** What the planner writes on each member pod (annotation `phalanx.dev/plan`). */
export interface PlanRecord {
  readonly gang: string;
  readonly plan: string;
  readonly node: string;
  readonly level: string;
  readonly domain: string;
  /** RFC 3339 time after which an unbound planned pod is re-planned. */
  readonly expires: string;
}

export function planOf(pod: PodObject): PlanRecord | undefined {
  const raw = pod.metadata.annotations?.[ANNOTATION_PLAN];
  if (raw === undefined) return undefined;
  try {
    const v = JSON.parse(raw) as Partial<PlanRecord>;
    if (typeof v.node !== 'string' || typeof v.plan !== 'string' || typeof v.gang !== 'string') {
      return undefined;
    }
    return {
      gang: v.gang,
      plan: v.plan,
      node: v.node,
      level: typeof v.level === 'string' ? v.level : '',
      domain: typeof v.domain === 'string' ? v.domain : '',
      expires: typeof v.expires === 'string' ? v.expires : '',
    };
  } catch {
    return undefined;
  }
}

export function encodePlan(record: PlanRecord): string {
  return JSON.stringify(record);
}

/** Pods that hold or will hold node capacity: bound and not finished. */
export function isActiveOnNode(pod: PodObject): boolean {
  const phase = pod.status?.phase;
  return (
    pod.spec?.nodeName !== undefined &&
    pod.spec.nodeName !== '' &&
    phase !== 'Succeeded' &&
    phase !== 'Failed'
  );
}
