/**
 * Every example under deploy/examples/<name>/ applied with kubectl as its README says, checked
 * against the state the README promises, and deleted again.
 *
 * Runs on the local real cluster (CI: `phalanx scheduler` and `phalanx webhook` are started here
 * as processes) or on any cluster given by PHALANX_KUBECONFIG where the chart is installed (the
 * kind path: API-only checks, the chart's components). e2e/lib/components.ts is the switch.
 * On the local cluster the node checks are exact (node-a: sxm8-80g, 8 GPUs in one NVLink
 * domain, partitions; node-b: nvl4-rack; node-c: pcie4-48g, zone-2) and the CDI devices the
 * fake CRI was handed are compared with the claims' allocations.
 *
 * PHALANX_EXAMPLES_OUT=<dir> writes the kubectl output each README shows, from this run.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planOf } from '../src/scheduling/workload.ts';
import { ensureCluster, waitFor } from '../test/helpers/cluster.ts';
import { type Components, startComponents } from './lib/components.ts';
import {
  applyFile,
  captureOutput,
  deleteExample,
  diagnostics,
  type Example,
  exampleNames,
  loadExample,
} from './lib/examples.ts';
import {
  allocatedDevices,
  attr,
  cdiClaimEnv,
  cdiIdsOf,
  claimNamed,
  type ExamplePod,
  GangWatch,
  podClaim,
  rackDomainOf,
  runtimeCdiIds,
  waitRunning,
} from './lib/state.ts';

const c = await ensureCluster();
const runnable = !c.local || c.state.extender !== undefined;
const EXAMPLE_LABEL = { 'app.kubernetes.io/part-of': 'phalanx-examples' } as const;
const QUEUES = '/apis/scheduling.phalanx.dev/v1alpha1/queues';

const nodeOf = (p: ExamplePod): string => p.spec.nodeName ?? '';

/** On the local harness, the runtime got exactly the claim's CDI devices for each container. */
function expectRuntimeGotClaim(pod: ExamplePod, containers: readonly string[], ids: string[]) {
  if (!c.local) return;
  for (const container of containers) {
    expect(runtimeCdiIds(c, pod, container), `CDI devices of ${container}`).toEqual(ids);
  }
}

async function singleGpu(ex: Example): Promise<void> {
  const [pod] = await waitRunning(c, ex.namespace, 1);
  if (pod === undefined) throw new Error('no pod');
  const claim = await podClaim(c, pod, 'gpu', ex.namespace);
  const devices = await allocatedDevices(c, claim);
  expect(devices).toHaveLength(1);
  expect(devices.map((d) => attr(d, 'type'))).toEqual(['gpu']);
  expect(devices[0]?.node).toBe(nodeOf(pod));
  expectRuntimeGotClaim(pod, ['app'], cdiIdsOf(claim));
  captureOutput(c, ex);
}

async function nvlink4gpu(ex: Example): Promise<void> {
  const [pod] = await waitRunning(c, ex.namespace, 1, { failOnExtenderRejection: true });
  if (pod === undefined) throw new Error('no pod');
  const devices = await allocatedDevices(c, await podClaim(c, pod, 'gpus', ex.namespace));
  const domains = devices.map((d) => attr(d, 'nvlinkDomain'));
  expect(domains).toHaveLength(4);
  expect(domains[0]).toBeTruthy();
  expect(new Set(domains).size).toBe(1);
  // The PCIe node has no NVLink: never there.
  if (c.local) expect([c.role('sxm'), c.role('rack')]).toContain(nodeOf(pod));
  expectRuntimeGotClaim(pod, ['app'], cdiIdsOf(await podClaim(c, pod, 'gpus', ex.namespace)));
  captureOutput(c, ex);
}

async function partition(ex: Example): Promise<void> {
  const [pod] = await waitRunning(c, ex.namespace, 1);
  if (pod === undefined) throw new Error('no pod');
  const claim = await podClaim(c, pod, 'slice', ex.namespace);
  const [device, ...rest] = await allocatedDevices(c, claim);
  expect(rest).toEqual([]);
  expect(device?.device).toMatch(/^gpu-\d+-1g-10gb-\d$/);
  expect(device && attr(device, 'type')).toBe('partition');
  expect(device && attr(device, 'profile')).toBe('1g.10gb');
  // Only the Hopper-like profile has 1g.10gb partitions.
  if (c.local) expect(nodeOf(pod)).toBe(c.role('sxm'));
  expectRuntimeGotClaim(pod, ['app'], cdiIdsOf(claim));
  captureOutput(c, ex);
}

async function sharedClaim(ex: Example): Promise<void> {
  const [pod] = await waitRunning(c, ex.namespace, 1);
  if (pod === undefined) throw new Error('no pod');
  const claim = await podClaim(c, pod, 'gpu', ex.namespace);
  expect(claim.status?.allocation?.devices?.results).toHaveLength(1);
  // One claim object for the pod, reserved once, the same device for both containers.
  expect(pod.status.resourceClaimStatuses).toHaveLength(1);
  expect(claim.status?.reservedFor?.map((r) => r.name)).toEqual([pod.metadata.name]);
  expectRuntimeGotClaim(pod, ['trainer', 'profiler'], cdiIdsOf(claim));
  captureOutput(c, ex);
}

const INVALID_SHARING =
  'admission webhook "gpu-config.validate.phalanx.dev" denied the request: ' +
  'spec.devices.config[0].opaque.parameters: GpuConfig: sharing.spacePartitioning must not be set ' +
  'with strategy TimeSlicing; remove it or set strategy to SpacePartitioning';

/** kubectl's error output for an apply that must fail. */
function applyFailure(file: string): string {
  try {
    return `applied: ${applyFile(c, file)}`;
  } catch (error) {
    const stderr = (error as { stderr?: unknown }).stderr;
    return typeof stderr === 'string' ? stderr : String(error);
  }
}

async function sharingConfig(ex: Example): Promise<void> {
  const pods = await waitRunning(c, ex.namespace, 2);
  const claim = await claimNamed(c, ex.namespace, 'shared-gpu');
  expect(claim.status?.allocation?.devices?.results).toHaveLength(1);
  expect(new Set(pods.map(nodeOf)).size).toBe(1);
  expect(claim.status?.reservedFor?.map((r) => r.name).sort()).toEqual(['worker-1', 'worker-2']);
  const ids = cdiIdsOf(claim);
  for (const pod of pods) expectRuntimeGotClaim(pod, ['app'], ids);
  if (c.local) {
    const env = cdiClaimEnv(c, nodeOf(pods[0] as ExamplePod), claim);
    expect(env).toContain('PHALANX_SHARING_STRATEGY=TimeSlicing');
    expect(env).toContain('PHALANX_TIMESLICE_INTERVAL=Short');
  }
  // The invalid config is refused with the webhook's sentence (retried while the API server
  // loads a freshly registered webhook configuration).
  const invalid = ex.extras['invalid.yaml'] ?? '';
  let message = '';
  await waitFor(
    'invalid.yaml to be denied by the webhook',
    () => {
      message = applyFailure(invalid);
      if (message.startsWith('applied')) {
        c.kubectl(['delete', 'resourceclaim', '-n', ex.namespace, 'contradictory-sharing']);
        return false;
      }
      return true;
    },
    30_000,
    500,
  );
  expect(message).toContain(INVALID_SHARING);
  await expect(claimNamed(c, ex.namespace, 'contradictory-sharing')).rejects.toThrow();
  captureOutput(c, ex, [['get', 'resourceclaim', '-n', ex.namespace, 'shared-gpu', '-o', 'wide']]);
  const out = process.env.PHALANX_EXAMPLES_OUT;
  if (out) process.stdout.write(`sharing-config invalid.yaml: ${message}\n`);
}

/** Runs a gang example under a sampler; returns its running pods. */
async function watchedGang(ex: Example, size: number): Promise<ExamplePod[]> {
  const watch = new GangWatch(c, ex.namespace);
  watch.start();
  try {
    const pods = await waitRunning(c, ex.namespace, size);
    expect(watch.partial).toEqual([]);
    expect(watch.samples).toBeGreaterThan(0);
    return pods;
  } finally {
    watch.stop();
  }
}

async function gangJob(ex: Example): Promise<void> {
  const pods = await watchedGang(ex, 8);
  const nodes = new Set(pods.map(nodeOf));
  expect(nodes.size).toBe(1);
  const plans = new Set(pods.map((p) => planOf(p)?.plan));
  expect(plans.size).toBe(1);
  expect(pods.every((p) => planOf(p)?.gang === `${ex.namespace}/train`)).toBe(true);
  if (c.local) expect([...nodes]).toEqual([c.role('sxm')]);
  for (const pod of pods) {
    const claim = await podClaim(c, pod, 'gpu', ex.namespace);
    expectRuntimeGotClaim(pod, ['worker'], cdiIdsOf(claim));
  }
  captureOutput(c, ex);
}

async function rackGang(ex: Example): Promise<void> {
  const pods = await watchedGang(ex, 3);
  const nodes = [...new Set(pods.map(nodeOf))].sort();
  // 12 GPUs: more than any node has, so the gang spans nodes, all in one rack.
  expect(nodes.length).toBeGreaterThan(1);
  const racks = new Set(await Promise.all(nodes.map((n) => rackDomainOf(c, n))));
  expect(racks.size).toBe(1);
  expect(pods.every((p) => planOf(p)?.level === 'rack')).toBe(true);
  if (c.local) expect(nodes).toEqual([c.role('sxm'), c.role('rack')].sort());
  captureOutput(c, ex, [
    ['get', 'nodes', '-L', 'topology.kubernetes.io/zone,topology.phalanx.dev/rack'],
  ]);
}

interface QueueStatus {
  usage?: { resource: string; admitted: number; borrowed: number }[];
  admittedGangs?: number;
  pendingGangs?: number;
  fairShare?: number;
  conditions?: { type: string; status: string }[];
}

async function queueStatus(name: string): Promise<QueueStatus> {
  return (await c.kube.request<{ status?: QueueStatus }>('GET', `${QUEUES}/${name}`)).status ?? {};
}

const condition = (s: QueueStatus, type: string) =>
  s.conditions?.find((x) => x.type === type)?.status;

async function twoQueues(ex: Example): Promise<void> {
  await watchedGang(ex, 3);
  let a: QueueStatus = {};
  let b: QueueStatus = {};
  await waitFor(
    'both example queues reporting their admitted job',
    async () => {
      a = await queueStatus('examples-team-a');
      b = await queueStatus('examples-team-b');
      return a.admittedGangs === 1 && b.admittedGangs === 1 && condition(b, 'Borrowing') === 'True';
    },
    60_000,
    500,
  );
  expect(a.usage).toEqual([{ resource: 'gpu.phalanx.dev', admitted: 4, borrowed: 0 }]);
  expect(b.usage).toEqual([{ resource: 'gpu.phalanx.dev', admitted: 8, borrowed: 4 }]);
  expect([a.pendingGangs, b.pendingGangs]).toEqual([0, 0]);
  expect([a.fairShare, b.fairShare]).toEqual([0.5, 2]);
  expect(condition(a, 'Borrowing')).toBe('False');
  captureOutput(c, ex, [
    ['get', 'queues.scheduling.phalanx.dev', 'examples-team-a', 'examples-team-b'],
    ['get', 'queues.scheduling.phalanx.dev', 'examples-team-b', '-o', 'jsonpath={.status}'],
  ]);
}

/**
 * Examples that show a product bug, run as expected failures (`it.fails`) so the suite stays
 * green while the bug is open and turns red once it is fixed: then remove the entry.
 */
const CASES: Readonly<Record<string, (ex: Example) => Promise<void>>> = {
  'single-gpu': singleGpu,
  'nvlink-4gpu': nvlink4gpu,
  partition,
  'shared-claim': sharedClaim,
  'sharing-config': sharingConfig,
  'gang-job': gangJob,
  'rack-gang': rackGang,
  'two-queues': twoQueues,
};

describe('deploy/examples layout', () => {
  it('has a test case for every example directory, and a directory for every case', () => {
    expect(exampleNames()).toEqual(Object.keys(CASES).sort());
  });

  it.each(exampleNames())(
    '%s: own namespace, README with apply, expected output and cleanup',
    (name) => {
      const ex = loadExample(name);
      for (const o of ex.objects) {
        if (o.kind === 'Namespace' || o.kind === 'Queue') continue;
        expect(o.metadata.namespace, `${o.kind} ${o.metadata.name}`).toBe(ex.namespace);
      }
      expect(ex.readme).toContain(`kubectl apply -f deploy/examples/${name}/${name}.yaml`);
      expect(ex.readme).toMatch(/## Expected output/);
      expect(ex.readme).toContain(`kubectl delete -f deploy/examples/${name}/${name}.yaml`);
      expect(ex.readme).toContain(ex.namespace);
    },
  );
});

describe.runIf(runnable)('deploy/examples on a real cluster', () => {
  const examples = exampleNames().map(loadExample);
  let components: Components | undefined;

  beforeAll(async () => {
    for (const ex of examples) deleteExample(c, ex);
    components = await startComponents(c, {
      namespaces: examples.map((ex) => ex.namespace),
      clusterObjectLabel: EXAMPLE_LABEL,
    });
    process.stdout.write(`examples: scheduler and webhook from the ${components.source}\n`);
  });

  afterAll(async () => {
    for (const ex of examples) deleteExample(c, ex);
    await components?.stop();
  });

  for (const ex of examples) {
    const name = ex.name;
    it(`${name} reaches the state its README promises`, async () => {
      const check = CASES[name];
      if (check === undefined) throw new Error(`no case for example ${name}`);
      const started = Date.now();
      try {
        applyFile(c, ex.manifest);
        await check(ex);
      } catch (error) {
        process.stderr.write(diagnostics(c, ex));
        throw error;
      } finally {
        deleteExample(c, ex);
      }
      process.stdout.write(
        `examples: ${name} ok in ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
      );
    });
  }
});
