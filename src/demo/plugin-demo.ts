/**
 * The kubelet-plugin walkthrough behind `phalanx demo`: the real plugin (gRPC servers on unix
 * sockets, DeviceState, CDI writer, checkpoint) on a fake GPU node in a temporary kubelet root,
 * driven by a client that speaks to it exactly as the kubelet does.
 *
 * What stands in for the cluster: the ResourceSlices the plugin would publish are built by the
 * same builder the publisher uses and allocated by the pool ledger (counters included); the
 * resulting ResourceClaims are served from memory instead of an API server.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ResourceClaim, ResourceSlice } from '../api/resource/v1.ts';
import { DRIVER_NAME } from '../config/plugin.ts';
import { FakeGpuBackend } from '../devices/fake/backend.ts';
import { CdiSpecStore } from '../driver/cdi.ts';
import { Checkpoint } from '../driver/checkpoint.ts';
import { startPluginServers } from '../driver/grpc-server.ts';
import { BackendHealthSource } from '../driver/health.ts';
import { KubeletClient } from '../driver/kubelet-client.ts';
import type { ClaimMessage, NodeWatchResourcesResponseMessage } from '../driver/protos.ts';
import { buildPoolSlices, validateSlices } from '../driver/slices.ts';
import { pluginSocketPaths } from '../driver/sockets.ts';
import { DeviceState } from '../driver/state.ts';
import type { ClaimGetter } from '../driver/types.ts';
import { silentLogger } from '../observability/logger.ts';
import { DriverMetrics } from '../observability/metrics.ts';
import { type LedgerDevice, PoolLedger } from '../scheduling/pool-ledger.ts';

const NODE = 'demo-node';
const SERVER_MINOR = 36;

export interface DemoOptions {
  readonly profile: string;
  readonly write: (text: string) => void;
  /** Keep the temporary kubelet root for inspection. */
  readonly keep: boolean;
}

export interface DemoSummary {
  readonly gpus: number;
  readonly devices: number;
  readonly slices: number;
  readonly prepared: number;
  readonly failed: number;
  readonly leftoverCdiSpecs: number;
}

interface DemoClaim {
  readonly name: string;
  readonly namespace: string;
  readonly uid: string;
  readonly what: string;
  readonly devices: readonly string[];
  readonly config?: unknown;
}

class InMemoryClaims implements ClaimGetter {
  readonly #claims = new Map<string, ResourceClaim>();
  add(claim: DemoClaim): void {
    this.#claims.set(`${claim.namespace}/${claim.name}`, {
      apiVersion: 'resource.k8s.io/v1',
      kind: 'ResourceClaim',
      metadata: { name: claim.name, namespace: claim.namespace, uid: claim.uid },
      status: {
        allocation: {
          devices: {
            results: claim.devices.map((device) => ({
              request: 'gpus',
              driver: DRIVER_NAME,
              pool: NODE,
              device,
            })),
            config:
              claim.config === undefined
                ? []
                : [
                    {
                      source: 'FromClaim',
                      opaque: { driver: DRIVER_NAME, parameters: claim.config },
                    },
                  ],
          },
        },
      },
    });
  }
  get(namespace: string, name: string): Promise<ResourceClaim | undefined> {
    return Promise.resolve(this.#claims.get(`${namespace}/${name}`));
  }
}

function attr(device: LedgerDevice, name: string): string {
  const value = device.attributes[name];
  return String(value?.string ?? value?.int ?? value?.bool ?? value?.version ?? '');
}

function uid(n: number): string {
  return `de300000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
}

/** Chooses devices with the ledger the way the scheduler's allocator would (first fit, counters). */
function planClaims(ledger: PoolLedger): { claims: DemoClaim[]; refused: string } {
  const claims: DemoClaim[] = [];
  const wholeGpus = ledger.devices().filter((d) => attr(d, 'type') === 'gpu');
  const domains = [
    ...new Set(
      wholeGpus.map((d) => attr(d, 'nvlinkDomain') || attr(d, 'resource.kubernetes.io/pcieRoot')),
    ),
  ];
  const groupSize = Math.min(4, Math.max(2, Math.floor(wholeGpus.length / 2)));
  for (const domain of domains) {
    const same = (d: LedgerDevice): boolean =>
      attr(d, 'type') === 'gpu' &&
      (attr(d, 'nvlinkDomain') || attr(d, 'resource.kubernetes.io/pcieRoot')) === domain;
    const picked = ledger.firstFit(groupSize, same);
    if (picked !== undefined) {
      claims.push({
        name: 'train-0',
        namespace: 'research',
        uid: uid(1),
        what: `${groupSize} GPUs, one interconnect domain`,
        devices: picked,
      });
      break;
    }
  }
  const partitions = ledger.devices().filter((d) => attr(d, 'type') === 'partition');
  let refused = 'no partitions on this profile';
  if (partitions.length > 0) {
    const smallest = attr(partitions[0] as LedgerDevice, 'profile');
    const small = ledger.firstFit(1, (d) => attr(d, 'profile') === smallest);
    if (small !== undefined) {
      claims.push({
        name: 'chat-0',
        namespace: 'serving',
        uid: uid(2),
        what: `one ${smallest} partition`,
        devices: small,
      });
      const gpuIndex = attr(ledger.device(small[0] ?? '') as LedgerDevice, 'index');
      refused = `whole gpu-${gpuIndex} refused while ${small[0]} is allocated: ${ledger.whyNot(`gpu-${gpuIndex}`) ?? 'fits'}`;
      const sameGpu = ledger.firstFit(
        1,
        (d) =>
          attr(d, 'type') === 'partition' &&
          attr(d, 'index') === gpuIndex &&
          attr(d, 'profile') !== smallest,
      );
      if (sameGpu !== undefined) {
        const profile = attr(ledger.device(sameGpu[0] ?? '') as LedgerDevice, 'profile');
        claims.push({
          name: 'chat-1',
          namespace: 'serving',
          uid: uid(3),
          what: `one ${profile} partition, same GPU`,
          devices: sameGpu,
        });
      }
    }
  }
  const shared = ledger.firstFit(1, (d) => attr(d, 'type') === 'gpu');
  if (shared !== undefined) {
    claims.push({
      name: 'notebooks',
      namespace: 'lab',
      uid: uid(4),
      what: 'one GPU, time-sliced',
      devices: shared,
      config: {
        apiVersion: 'gpu.phalanx.dev/v1alpha1',
        kind: 'GpuConfig',
        sharing: { strategy: 'TimeSlicing', timeSlicing: { interval: 'Short' } },
      },
    });
  }
  const bad = ledger.firstFit(1, () => true);
  if (bad !== undefined) {
    claims.push({
      name: 'typo',
      namespace: 'lab',
      uid: uid(5),
      what: 'one device, invalid GpuConfig',
      devices: bad,
      config: {
        apiVersion: 'gpu.phalanx.dev/v1alpha1',
        kind: 'GpuConfig',
        sharing: { strategy: 'SpacePartitioning', spacePartitioning: { partitionCount: 40 } },
      },
    });
  }
  return { claims, refused };
}

function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows
    .map(
      (r) =>
        `    ${r
          .map((c, i) => c.padEnd(widths[i] ?? 0))
          .join('  ')
          .trimEnd()}`,
    )
    .join('\n');
}

interface Stage {
  readonly write: (text: string) => void;
  readonly backend: FakeGpuBackend;
  readonly claims: readonly DemoClaim[];
  readonly kubelet: KubeletClient;
  readonly cdi: CdiSpecStore;
  readonly state: DeviceState;
}

function sliceOptions(): Parameters<typeof buildPoolSlices>[1] {
  return {
    driverName: DRIVER_NAME,
    nodeName: NODE,
    nodeUid: 'demo-node-uid',
    layout: 'split',
    taintUnhealthy: true,
    serverMinor: SERVER_MINOR,
  };
}

function showSlices(write: Stage['write'], backend: FakeGpuBackend): ResourceSlice[] {
  const inventory = backend.inventory();
  const slices = buildPoolSlices(inventory, sliceOptions());
  const violations = validateSlices(slices, SERVER_MINOR);
  const deviceCount = slices.reduce((n, s) => n + (s.spec.devices?.length ?? 0), 0);
  const counterSets = slices.reduce((n, s) => n + (s.spec.sharedCounters?.length ?? 0), 0);
  write(
    `1. ResourceSlices the plugin publishes (API server 1.${SERVER_MINOR}: counters in their own slice)\n`,
  );
  const sliceRows = slices.map((s) => [
    s.metadata.name ?? '',
    String(s.spec.devices?.length ?? 0),
    String(s.spec.sharedCounters?.length ?? 0),
  ]);
  write(`${table([['slice', 'devices', 'counter sets'], ...sliceRows])}\n`);
  const limits = violations.length === 0 ? 'all respected' : violations.join('; ');
  write(`    ${deviceCount} devices, ${counterSets} counter sets; limits: ${limits}\n`);
  const gpuRows = inventory.gpus.map((g) => [
    `gpu-${g.index}`,
    g.uuid.slice(0, 13),
    String(g.numaNode),
    g.pcieRoot,
    g.nvlinkDomain || '-',
  ]);
  write(`${table([['gpu', 'uuid', 'numa', 'pcie root', 'nvlink domain'], ...gpuRows])}\n\n`);
  return slices;
}

async function showRegistration(stage: Stage): Promise<void> {
  const info = await stage.kubelet.register();
  stage.write('3. Kubelet registration over unix sockets\n');
  stage.write(`    GetInfo: type=${info.type} name=${info.name}\n    endpoint=${info.endpoint}\n`);
  stage.write(`    versions=${(info.supported_versions ?? []).join(', ')}\n`);
  stage.write('    NotifyRegistrationStatus(registered=true): accepted\n\n');
}

function refsOf(claims: readonly DemoClaim[]): ClaimMessage[] {
  return claims.map((c) => ({ namespace: c.namespace, name: c.name, uid: c.uid }));
}

async function showPrepare(stage: Stage): Promise<{ ok: number; failed: number }> {
  const { write, claims, kubelet, cdi } = stage;
  const prepared = await kubelet.prepare(refsOf(claims));
  write('4. NodePrepareResources (all claims in one call, prepared in parallel)\n');
  let ok = 0;
  const rows: string[][] = [['claim', 'result']];
  for (const claim of claims) {
    const answer = prepared.claims[claim.uid];
    const label = `${claim.namespace}/${claim.name}`;
    if (answer?.error) {
      rows.push([label, `error: ${answer.error}`]);
      continue;
    }
    ok++;
    const ids = (answer?.devices ?? []).flatMap((d) => d.cdi_device_ids ?? []);
    ids.forEach((id, i) => {
      rows.push([i === 0 ? label : '', id]);
    });
  }
  write(`${table(rows)}\n`);
  const firstRef = refsOf(claims).slice(0, 1);
  const firstUid = claims[0]?.uid ?? '';
  const again = await kubelet.prepare(firstRef);
  const same = JSON.stringify(again.claims[firstUid]) === JSON.stringify(prepared.claims[firstUid]);
  write(
    `    repeated prepare of ${firstRef[0]?.namespace}/${firstRef[0]?.name}: ${same ? 'same answer (idempotent)' : 'DIFFERENT answer'}\n`,
  );
  write(`    CDI specs in ${cdi.dir}: ${(await readdir(cdi.dir)).length}\n`);
  const shown = claims.find((c) => c.name === 'notebooks') ?? claims[0];
  if (shown !== undefined) {
    const spec = JSON.parse(await readFile(cdi.specPath(shown.uid), 'utf8')) as {
      cdiVersion: string;
      containerEdits?: { env?: string[] };
    };
    write(
      `    ${shown.namespace}/${shown.name} spec (cdiVersion ${spec.cdiVersion}) claim-level env:\n`,
    );
    for (const env of spec.containerEdits?.env ?? []) write(`      ${env}\n`);
  }
  write('\n');
  return { ok, failed: claims.length - ok };
}

async function showFault(stage: Stage): Promise<void> {
  const { write, claims, kubelet, backend } = stage;
  const updates: NodeWatchResourcesResponseMessage[] = [];
  const stop = kubelet.watchHealth((m) => updates.push(m));
  await waitUntil(() => updates.length > 0);
  const victim = claims.find((c) => c.name === 'notebooks')?.devices[0] ?? 'gpu-0';
  const victimIndex = Number(victim.split('-')[1]);
  backend.injectFault({
    gpu: victimIndex,
    kind: 'lost',
    message: 'XID 79: GPU has fallen off the bus',
  });
  await waitUntil(() => updates.length > 1);
  stop();
  const latest = updates.at(-1)?.devices ?? [];
  const unhealthy = latest
    .filter((d) => d.health === 'UNHEALTHY')
    .map((d) => d.device?.device_name ?? '');
  const republished = buildPoolSlices(backend.inventory(), sliceOptions()).flatMap(
    (s) => s.spec.devices ?? [],
  );
  const taints = republished.find((d) => d.name === victim)?.taints ?? [];
  const shownUnhealthy = `${unhealthy.slice(0, 4).join(', ')}${unhealthy.length > 4 ? `, … (${unhealthy.length})` : ''}`;
  write(`5. Fault injection: ${victim} lost (XID 79)\n`);
  write(
    `    health stream (v1): ${latest.length} devices per update; now unhealthy: ${shownUnhealthy}\n`,
  );
  const taintText = taints.map((t) => `${t.key}=${t.value ?? ''}:${t.effect}`).join(', ') || 'none';
  write(`    republished ${victim} with taints: ${taintText}\n\n`);
}

async function showUnprepare(stage: Stage): Promise<number> {
  const { write, claims, kubelet, cdi, state } = stage;
  const stranger = { namespace: 'gone', name: 'never-prepared', uid: uid(99) };
  const unprepared = await kubelet.unprepare([...refsOf(claims), stranger]);
  const errors = Object.values(unprepared.claims).filter((c) => c.error).length;
  const leftover = (await readdir(cdi.dir)).length;
  write('6. NodeUnprepareResources (plus one claim this node never prepared)\n');
  write(
    `    ${Object.keys(unprepared.claims).length} answers, ${errors} errors; CDI specs left: ${leftover}; checkpointed claims left: ${state.preparedClaimUids().length}\n\n`,
  );
  return leftover;
}

export async function runPluginDemo(options: DemoOptions): Promise<DemoSummary> {
  const { write } = options;
  const root = await mkdtemp(join(tmpdir(), 'phalanx-demo-'));
  const backend = new FakeGpuBackend(NODE, { profile: options.profile });
  const first = backend.inventory().gpus[0];
  write(`Phalanx kubelet plugin demo: node ${NODE}, fake GPU profile ${backend.profileName}\n`);
  write(
    `  ${backend.inventory().gpus.length} x ${first?.productName ?? '?'} (${first?.architecture ?? '?'})\n\n`,
  );
  const slices = showSlices(write, backend);

  const ledger = PoolLedger.fromSlices(slices);
  const { claims, refused } = planClaims(ledger);
  write('2. Claims allocated against those slices (first fit, counters enforced)\n');
  const claimRows = claims.map((c) => [`${c.namespace}/${c.name}`, c.what, c.devices.join(',')]);
  write(`${table([['claim', 'asks for', 'devices'], ...claimRows])}\n    ${refused}\n\n`);

  const claimStore = new InMemoryClaims();
  for (const claim of claims) claimStore.add(claim);
  const metrics = new DriverMetrics();
  const logger = silentLogger();
  const cdi = new CdiSpecStore({ dir: join(root, 'cdi') });
  const dataDir = join(root, 'kubelet', 'plugins', DRIVER_NAME);
  const checkpoint = await Checkpoint.open({ dataDir, logger, metrics });
  const { state } = await DeviceState.open({
    ...{ driverName: DRIVER_NAME, nodeName: NODE, backend, claims: claimStore },
    ...{ cdi, checkpoint, logger, metrics },
  });
  const paths = pluginSocketPaths({ kubeletRoot: join(root, 'kubelet'), driverName: DRIVER_NAME });
  const health = new BackendHealthSource(backend, () => true);
  const servers = await startPluginServers({
    driverName: DRIVER_NAME,
    paths,
    handler: state,
    health,
    metrics,
    logger,
  });
  const kubelet = new KubeletClient(servers.registrationSocket);
  const stage: Stage = { write, backend, claims, kubelet, cdi, state };
  try {
    await showRegistration(stage);
    const { ok, failed } = await showPrepare(stage);
    await showFault(stage);
    const leftover = await showUnprepare(stage);
    const devices = slices.reduce((n, s) => n + (s.spec.devices?.length ?? 0), 0);
    write(
      `Summary: ${backend.inventory().gpus.length} GPUs published as ${devices} devices in ${slices.length} slice${slices.length === 1 ? '' : 's'}; ${ok} claims prepared, ${failed} rejected with a reason, ${leftover} CDI specs left after unprepare.\n`,
    );
    return {
      gpus: backend.inventory().gpus.length,
      devices,
      slices: slices.length,
      prepared: ok,
      failed,
      leftoverCdiSpecs: leftover,
    };
  } finally {
    kubelet.close();
    await servers.close();
    if (options.keep) write(`Kept the kubelet root at ${root}\n`);
    else await rm(root, { recursive: true, force: true });
  }
}

async function waitUntil(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('demo: timed out waiting for the health stream');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
