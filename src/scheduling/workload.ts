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
import { compileSelector } from './cel.ts';
import type { ClaimDemand, MatchConstraint, RequestDemand } from './devices.ts';
import type { PodShape } from './node-view.ts';
import type { DeviceRequest } from './queues.ts';

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
      exactly?: {
        deviceClassName?: string;
        allocationMode?: string;
        count?: number;
        selectors?: SelectorObject[];
      };
      firstAvailable?: unknown[];
    }[];
    constraints?: { requests?: string[]; matchAttribute?: string }[];
  };
}

export interface SelectorObject {
  cel?: { expression?: string };
}

/** A `resource.k8s.io` DeviceClass as far as demand goes. */
export interface DeviceClassObject {
  metadata: { name?: string };
  spec?: { selectors?: SelectorObject[] };
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

/**
 * Devices a claim spec asks for from our classes, per class and — when a selector pins the
 * partition profile (`….profile == "1g.10gb"`) — per profile: what the claim counts against
 * queue quotas. Without DeviceClass objects only the whole-GPU classes are known to be ours.
 */
export function claimDeviceRequests(
  spec: ClaimSpecObject | undefined,
  specs: ClaimSpecs,
): DeviceRequest[] {
  return ourRequests(spec, specs).map((o) => {
    const count = o.request.exactly?.count ?? 1;
    const expressions = [
      ...(o.known?.spec?.selectors ?? []),
      ...(o.request.exactly?.selectors ?? []),
    ];
    const profile = expressions
      .map((x) => PROFILE_PIN.exec(x.cel?.expression ?? '')?.[1])
      .find((v) => v !== undefined && v !== 'full');
    return profile === undefined
      ? { deviceClass: o.deviceClass, count }
      : { deviceClass: o.deviceClass, profile, count };
  });
}

const PROFILE_PIN = /\.profile\s*==\s*["']([^"']+)["']/;

/** Finds the spec behind each of a pod's claims (template or claim), and DeviceClasses. */
export interface ClaimSpecs {
  template(namespace: string, name: string): ClaimSpecObject | undefined;
  claim(
    namespace: string,
    name: string,
  ): { spec?: ClaimSpecObject; allocated: boolean } | undefined;
  /**
   * The DeviceClass called `name`. Absent (trace replays, a cluster model without classes): the
   * whole-GPU classes are counted as whole GPUs and nothing else is planned.
   */
  deviceClass?(name: string): DeviceClassObject | undefined;
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

/** The demand of one pending claim: whole GPUs on the fast path, or device requests. */
type ClaimNeed = { gpus: number } | { claim: ClaimDemand } | { unsupported: string };

type RequestObject = NonNullable<NonNullable<ClaimSpecObject['devices']>['requests']>[number];

/** A request of a claim for one of our classes, with its DeviceClass when the cluster has it. */
interface OurRequest {
  readonly request: RequestObject;
  readonly deviceClass: string;
  readonly known: DeviceClassObject | undefined;
  readonly plain: boolean;
}

/**
 * The claim's requests for devices of our driver: the whole-GPU classes, and classes whose
 * selectors name the driver. Requests of other drivers' classes are not ours to plan.
 */
function ourRequests(spec: ClaimSpecObject | undefined, specs: ClaimSpecs): OurRequest[] {
  const out: OurRequest[] = [];
  for (const request of spec?.devices?.requests ?? []) {
    const cls = request.exactly?.deviceClassName;
    if (cls === undefined) continue;
    const known = specs.deviceClass?.(cls);
    const whole = WHOLE_GPU_CLASSES.has(cls);
    if (!whole && (known === undefined || !isOurClass(known))) continue;
    const plain = whole && (request.exactly?.selectors ?? []).length === 0;
    out.push({ request, deviceClass: cls, known, plain });
  }
  return out;
}

/**
 * One claim's demand. Whole-GPU requests without selectors or constraints stay whole-GPU counts
 * (the ledger's O(1) path) unless `devices` asks otherwise; anything else — partition classes,
 * CEL selectors, matchAttribute — becomes device requests the ledger picks devices for,
 * evaluated with the DeviceClass's and the request's selectors.
 */
function claimNeed(
  label: string,
  spec: ClaimSpecObject | undefined,
  specs: ClaimSpecs,
  devices: boolean,
): ClaimNeed {
  const ours = ourRequests(spec, specs);
  const all = ours.find((o) => o.request.exactly?.allocationMode === 'All');
  if (all !== undefined) {
    return { unsupported: `request ${all.request.name ?? ''} uses allocationMode All` };
  }
  const constraints = spec?.devices?.constraints ?? [];
  const gpus = ours.reduce((n, o) => n + (o.request.exactly?.count ?? 1), 0);
  const plain = constraints.length === 0 && ours.every((o) => o.plain);
  if (ours.length === 0 || (plain && !devices)) return { gpus };
  const missing = ours.find((o) => o.known === undefined);
  if (missing !== undefined) {
    // Without DeviceClass objects nothing but whole GPUs can be counted.
    return devices
      ? { unsupported: `${label}: DeviceClass ${missing.deviceClass} not found` }
      : { gpus };
  }
  try {
    const requests = ours.map((o) =>
      requestDemand(`${label}/${o.request.name ?? ''}`, o.deviceClass, o, o.known),
    );
    const names = ours.map((o) => o.request.name ?? '');
    return { claim: { claim: label, requests, constraints: matchConstraints(constraints, names) } };
  } catch (error) {
    return { unsupported: `${label}: ${error instanceof Error ? error.message : String(error)}` };
  }
}

function matchConstraints(
  constraints: NonNullable<NonNullable<ClaimSpecObject['devices']>['constraints']>,
  names: readonly string[],
): MatchConstraint[] {
  return constraints
    .filter((c) => c.matchAttribute !== undefined && c.matchAttribute !== '')
    .map((c) => ({
      attribute: c.matchAttribute ?? '',
      requests: (c.requests ?? []).map((n) => names.indexOf(n)).filter((i) => i >= 0),
    }));
}

/** Whether a DeviceClass selects devices of our driver (its selectors name it). */
function isOurClass(cls: DeviceClassObject): boolean {
  return (cls.spec?.selectors ?? []).some((s) => s.cel?.expression?.includes(OUR_DRIVER) === true);
}

const OUR_DRIVER = 'gpu.phalanx.dev';

function requestDemand(
  name: string,
  deviceClass: string,
  ours: OurRequest,
  cls: DeviceClassObject | undefined,
): RequestDemand {
  const expressions = [...(cls?.spec?.selectors ?? []), ...(ours.request.exactly?.selectors ?? [])]
    .map((s) => s.cel?.expression)
    .filter((e): e is string => e !== undefined && e !== '');
  return {
    name,
    deviceClass,
    count: ours.request.exactly?.count ?? 1,
    selectors: expressions.map((e) => compileSelector(e)),
    key: `${deviceClass}\u0000${expressions.join('\u0000')}`,
  };
}

/**
 * The pod's demand as a PodShape. GPUs from claims already allocated (shared claims another pod
 * holds, or this pod's own once the allocator wrote them) are not counted again: the ledger has
 * them as allocated devices. When any claim needs device requests, every claim of the pod is
 * expressed as device requests (a shape is one or the other).
 */
export function podDemand(pod: PodObject, specs: ClaimSpecs): PodDemand {
  const pending: { label: string; spec: ClaimSpecObject | undefined }[] = [];
  for (const rc of pod.spec?.resourceClaims ?? []) {
    const p = pendingClaimSpec(pod, rc, specs);
    if ('unsupported' in p) return p;
    pending.push({ label: `claim ${rc.name}`, spec: p.spec });
  }
  let needs = pending.map((p) => claimNeed(p.label, p.spec, specs, false));
  const devicePath = needs.some((n) => 'claim' in n);
  if (devicePath) needs = pending.map((p) => claimNeed(p.label, p.spec, specs, true));
  let gpus = 0;
  const claims: ClaimDemand[] = [];
  for (const need of needs) {
    if ('unsupported' in need) return need;
    if ('claim' in need) claims.push(need.claim);
    else gpus += need.gpus;
  }
  const req = podRequests(pod);
  const shape: PodShape = {
    cpuMilli: req.cpuMilli,
    memoryBytes: req.memoryBytes,
    gpuCount: gpus,
    gpuMilli: gpus > 0 ? 1000 : 0,
    gpuModels: [],
  };
  return { shape: devicePath ? { ...shape, devices: claims } : shape };
}

/**
 * Devices the pod's claims ask for, allocated or not: what the pod counts against its queue's
 * quota. Unlike {@link podDemand}, an allocated claim still counts (its devices stay in use), and a
 * claim named by several pods counts once: `seen` holds the claims already counted.
 */
export function podDeviceRequests(
  pod: PodObject,
  specs: ClaimSpecs,
  seen: Set<string>,
): DeviceRequest[] {
  const namespace = pod.metadata.namespace ?? 'default';
  const out: DeviceRequest[] = [];
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
    out.push(...claimDeviceRequests(fromClaim ?? fromTemplate, specs));
  }
  return out;
}

/** Whole GPUs among device requests (the whole-GPU classes). */
export function wholeGpus(requests: readonly DeviceRequest[]): number {
  return requests.reduce((n, r) => n + (WHOLE_GPU_CLASSES.has(r.deviceClass) ? r.count : 0), 0);
}

/** Whole GPUs the pod's claims ask for (see {@link podDeviceRequests}). */
export function podGpuRequest(pod: PodObject, specs: ClaimSpecs, seen: Set<string>): number {
  return wholeGpus(podDeviceRequests(pod, specs, seen));
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
