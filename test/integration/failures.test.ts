/**
 * Failure handling on the real cluster: the plugin SIGKILLed in the middle of a burst of
 * prepares, a kubelet restart, and the API server unreachable while the plugin publishes.
 */
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claimUidFromFileName } from '../../src/driver/cdi.ts';
import { readCheckpointState } from '../../src/driver/checkpoint.ts';
import { dumpOnFailure, ensureCluster, metricValue, waitFor } from '../helpers/cluster.ts';

const c = await ensureCluster();
const NS = 'failures';
const SXM = c.local ? c.role('sxm') : '';
const PCIE = c.local ? c.role('pcie') : '';
dumpOnFailure(c, NS);

function partitionPod(name: string, node: string): object {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: NS, labels: { app: 'burst' } },
    spec: {
      terminationGracePeriodSeconds: 0,
      automountServiceAccountToken: false,
      nodeSelector: { 'kubernetes.io/hostname': node },
      resourceClaims: [{ name: 'slice', resourceClaimTemplateName: 'partition' }],
      containers: [
        {
          name: 'main',
          image: 'registry.phalanx.test/pause:1',
          resources: { claims: [{ name: 'slice' }] },
        },
      ],
    },
  };
}

interface PodList {
  items: {
    metadata: { name: string };
    status: { phase?: string; resourceClaimStatuses?: { resourceClaimName?: string }[] };
  }[];
}

function pods(): PodList['items'] {
  return (JSON.parse(c.kubectl(['get', 'pods', '-n', NS, '-o', 'json'])) as PodList).items;
}

function claimUids(): Set<string> {
  const list = JSON.parse(c.kubectl(['get', 'resourceclaims', '-n', NS, '-o', 'json'])) as {
    items: { metadata: { uid: string } }[];
  };
  return new Set(list.items.map((i) => i.metadata.uid));
}

/** The node plugin's checkpoint (snapshot + journal), read without writing anything. */
async function checkpointClaims(node: string): Promise<Record<string, { state: string }>> {
  const dataDir = join(c.node(node).kubeletRoot, 'plugins', 'gpu.phalanx.dev');
  return (await readCheckpointState(dataDir))?.claims ?? {};
}

beforeAll(() => {
  c.kubectl(
    ['apply', '--server-side', '-f', '-'],
    JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } }),
  );
  c.kubectl(
    ['apply', '--server-side', '-f', '-'],
    JSON.stringify({
      apiVersion: 'resource.k8s.io/v1',
      kind: 'ResourceClaimTemplate',
      metadata: { name: 'partition', namespace: NS },
      spec: {
        spec: {
          devices: {
            requests: [{ name: 'gpus', exactly: { deviceClassName: 'partition.gpu.phalanx.dev' } }],
          },
        },
      },
    }),
  );
});

afterAll(() => {
  c.kubectl(['delete', 'namespace', NS, '--wait=false']);
});

// Killing and restarting components needs the processes of the local harness.
describe.runIf(c.local)('failures on a real cluster', () => {
  it('survives a SIGKILL of the plugin in the middle of a burst of prepares', async () => {
    const node = c.node(SXM);
    // Slow prepares keep the burst in flight long enough to kill the plugin inside it.
    writeFileSync(
      node.fakeGpusConfig,
      JSON.stringify({
        ...node.fakeGpus,
        faults: [0, 1, 2, 3, 4, 5, 6, 7].map((gpu) => ({
          gpu,
          kind: 'slowPrepare',
          delayMs: 1500,
        })),
      }),
    );
    await new Promise((resolve) => setTimeout(resolve, 2500));
    const names = Array.from({ length: 12 }, (_, i) => `burst-${i}`);
    c.kubectl(
      ['apply', '--server-side', '-f', '-'],
      names.map((n) => JSON.stringify(partitionPod(n, SXM))).join('\n'),
    );
    await waitFor(
      'prepares in flight',
      async () =>
        (metricValue(
          await c.pluginMetrics(SXM),
          'phalanx_driver_requests_in_flight{operation="prepare"}',
        ) ?? 0) > 0,
      60_000,
      100,
    );
    await c.supervisor.stop(`plugin-${SXM}`, 'SIGKILL');
    writeFileSync(node.fakeGpusConfig, JSON.stringify(node.fakeGpus));
    await c.harness().startPlugin(node);
    await waitFor(
      'every burst pod Running',
      () => pods().filter((p) => p.status.phase === 'Running').length === names.length,
      180_000,
      1000,
    );
    const uids = claimUids();
    const specs = readdirSync(node.cdiRoot)
      .map((f) => claimUidFromFileName(f))
      .filter((u): u is string => u !== undefined);
    const burstSpecs = specs.filter((u) => uids.has(u));
    expect(new Set(burstSpecs)).toEqual(uids);
    const entries = await checkpointClaims(SXM);
    for (const uid of uids) expect(entries[uid]?.state).toBe('PrepareCompleted');
    // Every CDI spec on the node belongs to a live claim: nothing leaked by the crash.
    const live = new Set(
      (
        JSON.parse(c.kubectl(['get', 'resourceclaims', '-A', '-o', 'json'])) as {
          items: { metadata: { uid: string } }[];
        }
      ).items.map((i) => i.metadata.uid),
    );
    for (const uid of specs) expect(live.has(uid)).toBe(true);
  });

  it('keeps serving across a kubelet restart', async () => {
    const before = c.supervisor.tail(`kubelet-${SXM}`, 100000).split('\n').length;
    await c.supervisor.restart(`kubelet-${SXM}`);
    await waitFor(
      'the restarted kubelet connected to the plugin',
      () =>
        c.supervisor
          .tail('kubelet-node-a', 100000)
          .split('\n')
          .slice(before)
          .some((l) => /"Connection changed".*gpu\.phalanx\.dev.*connected=true/.test(l)),
      90_000,
      500,
    );
    // The kubelet wipes the node's slices when it starts; the plugin republishes them.
    await waitFor(
      'slices of node-a republished',
      async () => (await c.slices(SXM)).length > 0,
      90_000,
      1000,
    );
    c.kubectl(
      ['apply', '--server-side', '-f', '-'],
      JSON.stringify(partitionPod('after-kubelet-restart', SXM)),
    );
    await waitFor(
      'a new pod Running after the kubelet restart',
      () =>
        pods().find((p) => p.metadata.name === 'after-kubelet-restart')?.status.phase === 'Running',
      120_000,
      1000,
    );
    expect(
      pods()
        .filter((p) => p.metadata.name.startsWith('burst-'))
        .every((p) => p.status.phase === 'Running'),
    ).toBe(true);
  });

  it('publishes a device change made while the API server was unreachable once it is back', async () => {
    const node = c.node(PCIE);
    const failuresBefore =
      metricValue(
        await c.pluginMetrics(PCIE),
        'phalanx_driver_resourceslice_publish_total{result="error"}',
      ) ?? 0;
    const apiserver = c.supervisor.records().find((r) => r.name === 'kube-apiserver');
    const [command, ...args] = apiserver?.command ?? [];
    if (command === undefined) throw new Error('kube-apiserver is not a recorded process');
    await c.supervisor.stop('kube-apiserver');
    try {
      writeFileSync(
        node.fakeGpusConfig,
        JSON.stringify({
          ...node.fakeGpus,
          faults: [{ gpu: 1, kind: 'unhealthy', message: 'XID 48' }],
        }),
      );
      await waitFor(
        'a failed publish while the API server is down',
        async () =>
          (metricValue(
            await c.pluginMetrics(PCIE),
            'phalanx_driver_resourceslice_publish_total{result="error"}',
          ) ?? 0) > failuresBefore,
        30_000,
        250,
      );
    } finally {
      c.supervisor.start({ name: 'kube-apiserver', command, args });
    }
    await waitFor(
      'the API server back',
      () => c.kubectl(['get', '--raw', '/readyz']).trim() === 'ok',
      120_000,
      1000,
    );
    await waitFor(
      'the taint of gpu-1 on node-c published after the outage',
      async () => {
        const devices = (await c.slices(PCIE)).flatMap((s) => s.spec.devices ?? []);
        return (
          devices
            .find((d) => d.name === 'gpu-1')
            ?.taints?.some((t) => t.key === 'gpu.phalanx.dev/unhealthy') === true
        );
      },
      120_000,
      1000,
    );
    writeFileSync(node.fakeGpusConfig, JSON.stringify(node.fakeGpus));
  });
});
