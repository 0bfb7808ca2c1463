/**
 * Reading the state an example promises: its pods, their claims and the devices allocated to
 * them (with the attributes our ResourceSlices publish), what the container runtime was handed
 * (local harness only), topology domains of nodes, and a sampler that catches a gang bound in
 * part. API reads work on any cluster; runtime checks need the local harness.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DeviceAttribute, ResourceClaim } from '../../src/api/resource/v1.ts';
import { LABEL_GANG, LABEL_GANG_SIZE } from '../../src/api/scheduling/labels.ts';
import { type CdiSpec, cdiDeviceId, claimSpecFileName } from '../../src/driver/cdi.ts';
import { planOf } from '../../src/scheduling/workload.ts';
import { FatalWaitError } from '../../test/cluster/processes.ts';
import { type TestCluster, waitFor } from '../../test/helpers/cluster.ts';
import { PeriodicSampler } from '../../test/helpers/sampler.ts';
import { bound, type GangPod, gangMembers } from '../../test/helpers/scheduler-process.ts';

export interface ExamplePod extends GangPod {
  spec: GangPod['spec'] & { containers: { name: string }[] };
  status: GangPod['status'] & {
    resourceClaimStatuses?: { name: string; resourceClaimName?: string }[];
  };
}

export async function podsIn(c: TestCluster, namespace: string): Promise<ExamplePod[]> {
  const list = await c.kube.request<{ items: ExamplePod[] }>(
    'GET',
    `/api/v1/namespaces/${namespace}/pods`,
  );
  return list.items.filter((p) => p.metadata.deletionTimestamp === undefined);
}

/** The messages of FailedScheduling events in a namespace that the Phalanx extender wrote. */
export async function extenderRejections(c: TestCluster, namespace: string): Promise<string[]> {
  const list = await c.kube.request<{ items: { reason?: string; note?: string }[] }>(
    'GET',
    `/apis/events.k8s.io/v1/namespaces/${namespace}/events`,
  );
  return list.items
    .filter((e) => e.reason === 'FailedScheduling' && (e.note ?? '').includes('phalanx: '))
    .map((e) => e.note ?? '');
}

/**
 * Waits until exactly `count` pods of the namespace run; returns them sorted by name. With
 * `failOnExtenderRejection`, stops at once when the Phalanx extender refuses a pod (for examples
 * that fit an empty cluster, where any refusal is a bug).
 */
export async function waitRunning(
  c: TestCluster,
  namespace: string,
  count: number,
  options: { timeoutMs?: number; failOnExtenderRejection?: boolean } = {},
): Promise<ExamplePod[]> {
  let pods: ExamplePod[] = [];
  await waitFor(
    `${count} pods Running in namespace ${namespace}`,
    async () => {
      pods = await podsIn(c, namespace);
      if (options.failOnExtenderRejection) {
        const [rejected] = await extenderRejections(c, namespace);
        if (rejected !== undefined) throw new FatalWaitError(`extender refused a pod: ${rejected}`);
      }
      return pods.length === count && pods.every((p) => p.status.phase === 'Running');
    },
    options.timeoutMs ?? 150_000,
    500,
  );
  return pods.sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
}

export async function claimNamed(
  c: TestCluster,
  namespace: string,
  name: string,
): Promise<ResourceClaim> {
  return c.kube.request<ResourceClaim>(
    'GET',
    `/apis/resource.k8s.io/v1/namespaces/${namespace}/resourceclaims/${name}`,
  );
}

/** The ResourceClaim behind a pod's claim entry (generated from a template or named). */
export async function podClaim(
  c: TestCluster,
  pod: ExamplePod,
  claim: string,
  namespace: string,
): Promise<ResourceClaim> {
  const status = pod.status.resourceClaimStatuses?.find((s) => s.name === claim);
  const name = status?.resourceClaimName;
  if (name === undefined) throw new Error(`pod ${pod.metadata.name} has no claim ${claim}`);
  return claimNamed(c, namespace, name);
}

export interface AllocatedDevice {
  readonly node: string;
  readonly device: string;
  readonly attributes: Readonly<Record<string, DeviceAttribute>>;
}

/** The claim's allocated devices with the attributes their ResourceSlices publish. */
export async function allocatedDevices(
  c: TestCluster,
  claim: ResourceClaim,
): Promise<AllocatedDevice[]> {
  const out: AllocatedDevice[] = [];
  for (const r of claim.status?.allocation?.devices?.results ?? []) {
    const slices = await c.slices(r.pool);
    const device = slices
      .flatMap((s) => s.spec.devices ?? [])
      .find((d) => d.name === r.device && r.driver === 'gpu.phalanx.dev');
    out.push({ node: r.pool, device: r.device, attributes: device?.attributes ?? {} });
  }
  return out;
}

export const attr = (d: AllocatedDevice, name: string): string | number | undefined => {
  const a = d.attributes[name];
  return a?.string ?? a?.int ?? a?.version;
};

/** The CDI device IDs the kubelet must hand the runtime for a claim. */
export function cdiIdsOf(claim: ResourceClaim): string[] {
  return (claim.status?.allocation?.devices?.results ?? [])
    .map((r) => cdiDeviceId(claim.metadata.uid ?? '', r.device))
    .sort();
}

/** CDI device IDs the fake CRI recorded for a container's last CreateContainer (local only). */
export function runtimeCdiIds(c: TestCluster, pod: ExamplePod, container: string): string[] {
  const calls = c
    .criCalls(pod.spec.nodeName ?? '')
    .filter(
      (call) =>
        call.call === 'CreateContainer' &&
        call.pod?.uid === pod.metadata.uid &&
        call.container === container,
    );
  return [...(calls.at(-1)?.cdiDevices ?? [])].sort();
}

/** The environment the plugin's CDI spec gives every container of a claim (local only). */
export function cdiClaimEnv(c: TestCluster, node: string, claim: ResourceClaim): string[] {
  const file = join(c.node(node).cdiRoot, claimSpecFileName(claim.metadata.uid ?? ''));
  if (!existsSync(file)) return [];
  const spec = JSON.parse(readFileSync(file, 'utf8')) as CdiSpec;
  return spec.containerEdits?.env ?? [];
}

const ZONE = ['topology.kubernetes.io/zone', 'topology.phalanx.dev/zone'];
const BLOCK = ['topology.phalanx.dev/block', 'network.topology.nvidia.com/spine'];
const RACK = ['topology.phalanx.dev/rack', 'network.topology.nvidia.com/leaf'];

/**
 * A node's rack domain as `<zone>/<block>/<rack>` from its labels (the common label names of
 * docs/scheduling.md); an absent label is an empty segment, as the planner keys unlabelled
 * domains.
 */
export async function rackDomainOf(c: TestCluster, node: string): Promise<string> {
  const n = await c.kube.request<{ metadata: { labels?: Record<string, string> } }>(
    'GET',
    `/api/v1/nodes/${node}`,
  );
  const labels = n.metadata.labels ?? {};
  const first = (keys: readonly string[]): string => keys.map((k) => labels[k]).find(Boolean) ?? '';
  return [first(ZONE), first(BLOCK), first(RACK)].join('/');
}

/** Why a sample of a namespace shows a gang bound in part, or undefined. */
export function partialGang(all: readonly GangPod[]): string | undefined {
  const gangs = new Set(all.map((p) => p.metadata.labels?.[LABEL_GANG]).filter(Boolean));
  for (const gang of gangs) {
    const members = gangMembers(all, gang ?? '');
    const boundMembers = members.filter(bound);
    if (boundMembers.length === 0) continue;
    const size = Number(members[0]?.metadata.labels?.[LABEL_GANG_SIZE]);
    if (members.length < size) return `gang ${gang}: bound while ${members.length}/${size} exist`;
    const unplanned = members.filter((p) => planOf(p) === undefined);
    if (unplanned.length > 0) return `gang ${gang}: bound while ${unplanned.length} lack a plan`;
    if (new Set(members.map((p) => planOf(p)?.plan)).size > 1) return `gang ${gang}: two plans`;
    const off = boundMembers.find((p) => planOf(p)?.node !== p.spec.nodeName);
    if (off !== undefined) return `pod ${off.metadata.name} bound off its planned node`;
  }
  return undefined;
}

/** Samples a namespace every 200 ms and records every partial gang seen. */
export class GangWatch extends PeriodicSampler {
  readonly partial: string[] = [];
  readonly #c: TestCluster;
  readonly #namespace: string;

  constructor(c: TestCluster, namespace: string) {
    super(200);
    this.#c = c;
    this.#namespace = namespace;
  }

  protected async sample(): Promise<void> {
    const why = partialGang(await podsIn(this.#c, this.#namespace));
    if (why !== undefined) this.partial.push(why);
  }
}
