/**
 * Pods with ResourceClaimTemplates, end to end on the real control plane: the controller manager
 * makes the claims, the real scheduler's DRA allocator picks devices from our ResourceSlices,
 * the real kubelet calls our plugin, and the fake CRI records the CDI device IDs it was handed.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ResourceClaim } from '../../src/api/resource/v1.ts';
import { cdiDeviceId, claimSpecFileName } from '../../src/driver/cdi.ts';
import { dumpOnFailure, ensureCluster, waitFor } from '../helpers/cluster.ts';

const c = await ensureCluster();
const NS = 'dra-pods';
dumpOnFailure(c, NS);
const POD_IMAGE = 'registry.phalanx.test/pause:1';

interface Container {
  name: string;
  claims: string[];
}

function template(
  name: string,
  request: Record<string, unknown>,
  constraints: unknown[] = [],
): object {
  return {
    apiVersion: 'resource.k8s.io/v1',
    kind: 'ResourceClaimTemplate',
    metadata: { name, namespace: NS },
    spec: { spec: { devices: { requests: [{ name: 'gpus', exactly: request }], constraints } } },
  };
}

function pod(
  name: string,
  claims: Record<string, string>,
  containers: Container[],
  node?: string,
): object {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: NS },
    spec: {
      terminationGracePeriodSeconds: 0,
      automountServiceAccountToken: false,
      ...(node === undefined ? {} : { nodeSelector: { 'kubernetes.io/hostname': node } }),
      resourceClaims: Object.entries(claims).map(([claim, tmpl]) => ({
        name: claim,
        resourceClaimTemplateName: tmpl,
      })),
      containers: containers.map((ct) => ({
        name: ct.name,
        image: POD_IMAGE,
        imagePullPolicy: 'IfNotPresent',
        resources: { claims: ct.claims.map((claim) => ({ name: claim })) },
      })),
    },
  };
}

function apply(objects: readonly object[]): void {
  c.kubectl(
    ['apply', '--server-side', '-f', '-'],
    objects.map((o) => JSON.stringify(o)).join('\n'),
  );
}

interface PodStatus {
  spec: { nodeName?: string };
  status: {
    phase?: string;
    resourceClaimStatuses?: { name: string; resourceClaimName?: string }[];
  };
}

function getPod(name: string): PodStatus {
  return JSON.parse(c.kubectl(['get', 'pod', '-n', NS, name, '-o', 'json'])) as PodStatus;
}

function podRunning(name: string): boolean {
  return getPod(name).status.phase === 'Running';
}

/** The messages of the scheduler's FailedScheduling events for a pod ('' when there are none). */
function schedulingFailures(podName: string): string {
  const selector = `involvedObject.name=${podName},reason=FailedScheduling`;
  return c
    .kubectl([
      'get',
      'events',
      '-n',
      NS,
      '--field-selector',
      selector,
      '-o',
      'jsonpath={.items[*].message}',
    ])
    .trim();
}

/** Creates a pod and waits until it runs; returns the node it landed on. */
async function runPod(
  name: string,
  claims: Record<string, string>,
  containers: Container[],
  node?: string,
): Promise<string> {
  apply([pod(name, claims, containers, node)]);
  await waitFor(`pod ${name} Running`, () => podRunning(name), 120_000, 500);
  return getPod(name).spec.nodeName ?? '';
}

async function claimOf(podName: string, claim: string): Promise<ResourceClaim> {
  const status = getPod(podName).status.resourceClaimStatuses?.find((s) => s.name === claim);
  const claimName = status?.resourceClaimName ?? '';
  return c.kube.request<ResourceClaim>(
    'GET',
    `/apis/resource.k8s.io/v1/namespaces/${NS}/resourceclaims/${claimName}`,
  );
}

function expectedCdiIds(claim: ResourceClaim): string[] {
  return (claim.status?.allocation?.devices?.results ?? []).map((r) =>
    cdiDeviceId(claim.metadata.uid ?? '', r.device),
  );
}

/**
 * Checks the CDI device IDs the kubelet handed the runtime for a container. The local harness's
 * fake CRI records them; on another cluster the runtime is real and this check is skipped.
 */
function expectRuntimeGot(
  nodeName: string,
  podName: string,
  container: string,
  ids: string[],
): void {
  if (!c.local) return;
  expect(recordedCdi(nodeName, podName, container)?.toSorted()).toEqual(ids.toSorted());
}

/** Whether the node's CDI directory holds the claim's spec (local harness only). */
function cdiSpecExists(nodeName: string, claimUid: string): boolean {
  return existsSync(join(c.node(nodeName).cdiRoot, claimSpecFileName(claimUid)));
}

function recordedCdi(nodeName: string, podName: string, container: string): string[] | undefined {
  const calls = c
    .criCalls(nodeName)
    .filter(
      (call) =>
        call.call === 'CreateContainer' &&
        call.pod?.name === podName &&
        call.container === container,
    );
  return calls.at(-1)?.cdiDevices;
}

function attribute(
  claim: ResourceClaim,
  slices: Map<string, Record<string, { string?: string; int?: number }>>,
  name: string,
): unknown[] {
  return (claim.status?.allocation?.devices?.results ?? []).map((r) => {
    const attrs = slices.get(`${r.pool}/${r.device}`) ?? {};
    return attrs[name]?.string ?? attrs[name]?.int;
  });
}

async function deviceAttributes(): Promise<
  Map<string, Record<string, { string?: string; int?: number }>>
> {
  const map = new Map<string, Record<string, { string?: string; int?: number }>>();
  for (const node of c.state.nodes) {
    for (const slice of await c.slices(node.name)) {
      for (const device of slice.spec.devices ?? [])
        map.set(`${slice.spec.pool.name}/${device.name}`, device.attributes ?? {});
    }
  }
  return map;
}

beforeAll(() => {
  c.kubectl(
    ['apply', '--server-side', '-f', '-'],
    JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } }),
  );
  apply([
    template('one-gpu', { deviceClassName: 'gpu.phalanx.dev', count: 1 }),
    template('four-gpus-one-nvlink', { deviceClassName: 'gpu.phalanx.dev', count: 4 }, [
      { requests: ['gpus'], matchAttribute: 'gpu.phalanx.dev/nvlinkDomain' },
    ]),
    template('small-partition', {
      deviceClassName: 'partition.gpu.phalanx.dev',
      count: 1,
      selectors: [
        { cel: { expression: 'device.attributes["gpu.phalanx.dev"].profile == "1g.10gb"' } },
      ],
    }),
    template('rack-gpu3-smallest', {
      deviceClassName: 'partition.gpu.phalanx.dev',
      count: 1,
      selectors: [
        {
          cel: {
            expression:
              'device.attributes["gpu.phalanx.dev"].index == 3 && device.attributes["gpu.phalanx.dev"].profile == "1g.23gb"',
          },
        },
      ],
    }),
  ]);
});

afterAll(() => {
  c.kubectl(['delete', 'namespace', NS, '--wait=false']);
});

describe('DRA pods through the real scheduler, kubelet and plugin', () => {
  it('runs a pod with one whole GPU and hands the runtime its CDI device', async () => {
    const node = await runPod('one-gpu', { gpu: 'one-gpu' }, [{ name: 'main', claims: ['gpu'] }]);
    const claim = await claimOf('one-gpu', 'gpu');
    const ids = expectedCdiIds(claim);
    expect(ids).toHaveLength(1);
    expectRuntimeGot(node, 'one-gpu', 'main', ids);
    if (c.local) expect(cdiSpecExists(node, claim.metadata.uid ?? '')).toBe(true);
  });

  it('places four GPUs of one NVLink domain (matchAttribute)', async () => {
    const node = await runPod(
      'four-gpus',
      { gpus: 'four-gpus-one-nvlink' },
      [{ name: 'main', claims: ['gpus'] }],
      c.role('sxm'),
    );
    const claim = await claimOf('four-gpus', 'gpus');
    const domains = attribute(claim, await deviceAttributes(), 'nvlinkDomain');
    expect(domains).toHaveLength(4);
    expect(new Set(domains).size).toBe(1);
    expect(domains[0]).toBeTruthy();
    expectRuntimeGot(node, 'four-gpus', 'main', expectedCdiIds(claim));
  });

  it('runs a pod on a MIG-like partition', async () => {
    const node = await runPod('partition', { slice: 'small-partition' }, [
      { name: 'main', claims: ['slice'] },
    ]);
    const claim = await claimOf('partition', 'slice');
    expect(claim.status?.allocation?.devices?.results?.[0]?.device).toMatch(/^gpu-\d+-1g-10gb-\d$/);
    expectRuntimeGot(node, 'partition', 'main', expectedCdiIds(claim));
  });

  it('shares one claim between two containers', async () => {
    const node = await runPod('shared', { gpu: 'one-gpu' }, [
      { name: 'trainer', claims: ['gpu'] },
      { name: 'sidecar', claims: ['gpu'] },
    ]);
    const ids = expectedCdiIds(await claimOf('shared', 'gpu'));
    expectRuntimeGot(node, 'shared', 'trainer', ids);
    expectRuntimeGot(node, 'shared', 'sidecar', ids);
  });

  it('never overcommits a GPU: the eighth small partition on one GPU stays Pending', async () => {
    const names = Array.from({ length: 8 }, (_, i) => `fill-${i}`);
    // One after another: pods created together would race in the scheduler and some would sit
    // out a backoff; the point here is the eighth one, not scheduling throughput.
    for (const name of names.slice(0, 7)) {
      await runPod(
        name,
        { slice: 'rack-gpu3-smallest' },
        [{ name: 'main', claims: ['slice'] }],
        c.role('rack'),
      );
    }
    apply([
      pod(
        'fill-7',
        { slice: 'rack-gpu3-smallest' },
        [{ name: 'main', claims: ['slice'] }],
        c.role('rack'),
      ),
    ]);
    await waitFor(
      'a FailedScheduling event for fill-7',
      () => schedulingFailures('fill-7') !== '',
      60_000,
      1000,
    );
    expect(getPod('fill-7').status.phase).toBe('Pending');
    const message = schedulingFailures('fill-7');
    process.stdout.write(`scheduler says: ${message}\n`);
    expect(message).toMatch(/cannot allocate all claims|resource/i);
  });

  it('unprepares on delete: CDI specs removed, devices free for the next pod', async () => {
    // The Pending pod goes first, so the freed partition can only go to the new pod below.
    c.kubectl(['delete', 'pod', '-n', NS, 'fill-7', '--wait=true', '--timeout=60s']);
    const claim = await claimOf('fill-0', 'slice');
    const uid = claim.metadata.uid ?? '';
    if (c.local) expect(cdiSpecExists(c.role('rack'), uid)).toBe(true);
    c.kubectl(['delete', 'pod', '-n', NS, 'fill-0', '--wait=true', '--timeout=60s']);
    if (c.local) {
      await waitFor(
        'CDI spec of fill-0 removed',
        () => !cdiSpecExists(c.role('rack'), uid),
        60_000,
        500,
      );
    }
    await runPod(
      'refill',
      { slice: 'rack-gpu3-smallest' },
      [{ name: 'main', claims: ['slice'] }],
      c.role('rack'),
    );
    const refill = await claimOf('refill', 'slice');
    expect(refill.status?.allocation?.devices?.results?.[0]?.device).toBe(
      claim.status?.allocation?.devices?.results?.[0]?.device,
    );
  });
});
