/**
 * The deploy/ manifests on the real API server: every object is accepted by server-side apply,
 * the kubelet plugin's service account holds only what it needs, and the admission policy stops
 * one node's plugin from writing another node's ResourceSlices.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ResourceSlice } from '../../src/api/resource/v1.ts';
import { KubeApiError, KubeClient } from '../../src/kube/rest.ts';
import { REPO_ROOT } from '../cluster/cluster.ts';
import { ensureCluster } from '../helpers/cluster.ts';

const c = await ensureCluster();
const SA = 'system:serviceaccount:phalanx-system:phalanx-kubelet-plugin';

function slice(name: string, nodeName: string, driver = 'gpu.phalanx.dev'): ResourceSlice {
  return {
    apiVersion: 'resource.k8s.io/v1',
    kind: 'ResourceSlice',
    metadata: { name },
    spec: {
      driver,
      nodeName,
      pool: { name: `policy-test-${nodeName}`, generation: 1, resourceSliceCount: 1 },
      devices: [],
    },
  };
}

async function denial(client: KubeClient, body: ResourceSlice): Promise<string> {
  try {
    await client.request('POST', '/apis/resource.k8s.io/v1/resourceslices', { body });
  } catch (error) {
    if (error instanceof KubeApiError) return error.message;
    throw error;
  }
  await client.request(
    'DELETE',
    `/apis/resource.k8s.io/v1/resourceslices/${body.metadata.name ?? ''}`,
  );
  return 'allowed';
}

function canI(verb: string, resource: string): string {
  try {
    return c.kubectl(['auth', 'can-i', verb, resource, `--as=${SA}`, '-A']).trim();
  } catch (error) {
    return String((error as { stdout?: string }).stdout ?? '').trim();
  }
}

describe('deploy manifests on a real API server', () => {
  it('accepts every manifest with server-side apply (dry run for the DaemonSet)', () => {
    const files = readdirSync(join(REPO_ROOT, 'deploy', 'manifests')).filter((f) =>
      f.endsWith('.yaml'),
    );
    expect(files.length).toBeGreaterThanOrEqual(5);
    for (const file of files) {
      const out = c.kubectl([
        'apply',
        '--server-side',
        '--dry-run=server',
        '-f',
        join(REPO_ROOT, 'deploy', 'manifests', file),
      ]);
      expect(out).toMatch(/serverside-applied|unchanged|configured|created/);
    }
  });

  it.each([
    ['get', 'resourceclaims.resource.k8s.io', 'yes'],
    ['create', 'resourceslices.resource.k8s.io', 'yes'],
    ['delete', 'resourceslices.resource.k8s.io', 'yes'],
    ['get', 'nodes', 'yes'],
    ['list', 'resourceclaims.resource.k8s.io', 'no'],
    ['update', 'resourceclaims.resource.k8s.io', 'no'],
    ['update', 'nodes', 'no'],
    ['get', 'secrets', 'no'],
    ['create', 'pods', 'no'],
  ])('the plugin service account: can-i %s %s → %s', (verb, resource, expected) => {
    expect(canI(verb, resource)).toBe(expected);
  });

  // Needs the node-bound token of one node's plugin, which the local harness holds.
  it.runIf(c.local)(
    "stops one node's plugin from writing another node's slices or another driver's",
    async () => {
      const [a, b] = [c.role('sxm'), c.role('rack')];
      const asNodeA = KubeClient.fromOptions({ kubeconfig: c.node(a).pluginKubeconfig });
      expect(await denial(asNodeA, slice('policy-test-other-node', b))).toMatch(
        new RegExp(`the kubelet plugin on node ${a} may not write ResourceSlices of node "${b}"`),
      );
      expect(
        await denial(asNodeA, slice('policy-test-other-driver', a, 'other.example.com')),
      ).toMatch(/may only write ResourceSlices of driver gpu.phalanx.dev/);
      expect(await denial(asNodeA, slice('policy-test-own-node', a))).toBe('allowed');
    },
  );
});
