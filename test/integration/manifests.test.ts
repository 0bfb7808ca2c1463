/**
 * The plain manifests of deploy/manifests (the Helm chart rendered with its defaults) on the real
 * API server: no drift from the chart, every object accepted by server-side apply, each
 * component's service account holds what its process uses and is denied a representative set it
 * must not have, and the admission policy stops one node's plugin from writing another node's
 * ResourceSlices.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHART_CRD, HEADER, MANIFESTS_DIR } from '../../hack/render-manifests.ts';
import type { ResourceSlice } from '../../src/api/resource/v1.ts';
import { KubeApiError, KubeClient } from '../../src/kube/rest.ts';
import { REPO_ROOT } from '../cluster/cluster.ts';
import { ensureCluster } from '../helpers/cluster.ts';
import {
  addStandInCrds,
  canI,
  dryRunApply,
  helmBinary,
  type KubeObject,
  kindNames,
  objectsOf,
  RBAC_KINDS,
  removeStandInCrds,
} from '../helpers/helm.ts';

const c = await ensureCluster();
const NS = 'phalanx-system';
const MANIFESTS = join(REPO_ROOT, MANIFESTS_DIR);
const sa = (name: string): string => `system:serviceaccount:${NS}:${name}`;
const PLUGIN = sa('phalanx-kubelet-plugin');
const SCHEDULER = sa('phalanx-scheduler');
const WEBHOOK = sa('phalanx-webhook');

const files = readdirSync(MANIFESTS)
  .filter((f) => f.endsWith('.yaml'))
  .sort();
const objects = (file: string): KubeObject[] =>
  objectsOf(readFileSync(join(MANIFESTS, file), 'utf8'));

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

let standIns: string[] = [];

beforeAll(() => {
  standIns = addStandInCrds(c);
  // The RBAC of every component, for real: the same objects the harness and the process tests
  // apply (10-* at cluster start, 55-* and 60-* as each process's service account).
  const rbac = files.flatMap(objects).filter((o) => RBAC_KINDS.has(o.kind));
  c.kubectl(['apply', '--server-side', '-f', '-'], rbac.map((o) => JSON.stringify(o)).join('\n'));
});

afterAll(() => removeStandInCrds(c, standIns));

describe('deploy/manifests, rendered from deploy/helm/phalanx', () => {
  it('has no drift from the chart (render-manifests --check)', () => {
    const r = spawnSync(
      join(REPO_ROOT, 'node_modules', '.bin', 'node'),
      [join(REPO_ROOT, 'hack', 'render-manifests.ts'), '--check', `--helm=${helmBinary()}`],
      { encoding: 'utf8' },
    );
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^manifests up to date \(\d+ files\)/);
    expect(r.status).toBe(0);
  });

  it('marks every file as generated; the Queue CRD is the chart CRD', () => {
    expect(files).toEqual(expect.arrayContaining(['00-namespace.yaml', '15-queue-crd.yaml']));
    for (const file of files.filter((f) => f !== '15-queue-crd.yaml')) {
      expect(readFileSync(join(MANIFESTS, file), 'utf8').split('\n')[0], file).toBe(`# ${HEADER}`);
    }
    expect(readFileSync(join(MANIFESTS, '15-queue-crd.yaml'), 'utf8')).toBe(
      readFileSync(join(REPO_ROOT, CHART_CRD), 'utf8'),
    );
  });

  it.each(files)('%s: every object is accepted by server-side apply (dry run)', (file) => {
    const objs = objects(file);
    expect(objs.length).toBeGreaterThan(0);
    const out = dryRunApply(c, objs);
    const lines = out.trim().split('\n');
    expect(lines, kindNames(objs).join(', ')).toHaveLength(objs.length);
    for (const line of lines) expect(line).toMatch(/serverside-applied \(server dry run\)$/);
  });
});

describe('least privilege per component (kubectl auth can-i)', () => {
  it.each([
    // the kubelet plugin: its claims, its node's slices, its Node, Events
    [PLUGIN, 'get', 'resourceclaims.resource.k8s.io', 'yes'],
    [PLUGIN, 'create', 'resourceslices.resource.k8s.io', 'yes'],
    [PLUGIN, 'delete', 'resourceslices.resource.k8s.io', 'yes'],
    [PLUGIN, 'get', 'nodes', 'yes'],
    [PLUGIN, 'create', 'events.events.k8s.io', 'yes'],
    [PLUGIN, 'list', 'resourceclaims.resource.k8s.io', 'no'],
    [PLUGIN, 'update', 'resourceclaims.resource.k8s.io --subresource=status', 'no'],
    [PLUGIN, 'update', 'nodes', 'no'],
    [PLUGIN, 'get', 'secrets', 'no'],
    [PLUGIN, 'create', 'pods', 'no'],
    [PLUGIN, 'create', 'pods --subresource=exec', 'no'],
    [PLUGIN, 'create', 'deviceclasses.resource.k8s.io', 'no'],
    // the scheduler: reads its model, patches and deletes pods, writes Queue status and Events
    [SCHEDULER, 'watch', 'pods', 'yes'],
    [SCHEDULER, 'patch', 'pods', 'yes'],
    [SCHEDULER, 'delete', 'pods', 'yes'],
    [SCHEDULER, 'list', 'nodes', 'yes'],
    [SCHEDULER, 'list', 'resourceclaimtemplates.resource.k8s.io', 'yes'],
    [SCHEDULER, 'watch', 'queues.scheduling.phalanx.dev', 'yes'],
    [SCHEDULER, 'patch', 'queues.scheduling.phalanx.dev --subresource=status', 'yes'],
    [SCHEDULER, 'create', 'events.events.k8s.io', 'yes'],
    [SCHEDULER, 'get', 'secrets', 'no'],
    [SCHEDULER, 'create', 'pods', 'no'],
    [SCHEDULER, 'create', 'pods --subresource=exec', 'no'],
    [SCHEDULER, 'create', 'pods --subresource=binding', 'no'],
    [SCHEDULER, 'update', 'queues.scheduling.phalanx.dev', 'no'],
    [SCHEDULER, 'update', 'resourceclaims.resource.k8s.io --subresource=status', 'no'],
    [SCHEDULER, 'create', 'resourceslices.resource.k8s.io', 'no'],
    [SCHEDULER, 'update', 'nodes', 'no'],
    // the webhook: namespace labels only
    [WEBHOOK, 'watch', 'namespaces', 'yes'],
    [WEBHOOK, 'get', 'namespaces', 'yes'],
    [WEBHOOK, 'update', 'namespaces', 'no'],
    [WEBHOOK, 'list', 'pods', 'no'],
    [WEBHOOK, 'get', 'secrets', 'no'],
    [WEBHOOK, 'list', 'queues.scheduling.phalanx.dev', 'no'],
    [WEBHOOK, 'list', 'configmaps', 'no'],
  ])('%s: can-i %s %s → %s', (who, verb, resource, expected) => {
    expect(canI(c, who, verb, resource)).toBe(expected);
  });

  it.each([
    ['create', 'leases.coordination.k8s.io', 'yes'],
    ['update', 'leases.coordination.k8s.io/phalanx-planner', 'yes'],
    ['update', 'leases.coordination.k8s.io/kube-scheduler', 'no'],
    ['delete', 'leases.coordination.k8s.io/phalanx-planner', 'no'],
  ])(`the scheduler in ${NS}: can-i %s %s → %s`, (verb, resource, expected) => {
    expect(canI(c, SCHEDULER, verb, resource, NS)).toBe(expected);
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
