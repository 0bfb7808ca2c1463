/**
 * The Helm chart deploy/helm/phalanx with the helm binary of hack/helm.sh: lint, render in both
 * scheduler shapes and both TLS modes, the values schema's refusals, the second scheduler's
 * KubeSchedulerConfiguration checked by the real kube-scheduler, every object of every shape
 * accepted by the real API server (server-side apply, dry run), and the second-scheduler shape's
 * RBAC proved with `kubectl auth can-i`. Objects made for real live in the namespace
 * phalanx-helm-it or carry the release label phalanx-helm-it, and are removed afterwards.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml, stringify } from 'yaml';
import { ENTRYPOINT } from '../../hack/image/build.ts';
import { CHART_CRD, CHART_DIR } from '../../hack/render-manifests.ts';
import { renderQueueCrdYaml } from '../../src/api/scheduling/v1alpha1/crd.ts';
import type { FlagTable } from '../../src/config/flags.ts';
import { PLUGIN_FLAGS, PLUGIN_RUNTIME } from '../../src/config/plugin.ts';
import { SCHEDULER_FLAGS, SCHEDULER_RUNTIME } from '../../src/config/scheduler.ts';
import { WEBHOOK_FLAGS } from '../../src/config/webhook.ts';
import { REPO_ROOT } from '../cluster/cluster.ts';
import { ensureCluster } from '../helpers/cluster.ts';
import {
  addStandInCrds,
  canI,
  dryRunApply,
  helm,
  helmBinary,
  type KubeObject,
  kindNames,
  objectsOf,
  RBAC_KINDS,
  removeStandInCrds,
  template,
} from '../helpers/helm.ts';

const c = await ensureCluster();
const bin = helmBinary();
const RELEASE = 'phalanx-helm-it';
const NS = 'phalanx-helm-it';
const CHART = join(REPO_ROOT, CHART_DIR);
const CA_BUNDLE = readFileSync(c.state.caCert).toString('base64');
const root = mkdtempSync(join(tmpdir(), 'phalanx-helm-it-'));

type Shape = 'extender' | 'secondScheduler';
type TlsMode = 'certManager' | 'secret';
const CASES: readonly [Shape, TlsMode][] = [
  ['extender', 'certManager'],
  ['extender', 'secret'],
  ['secondScheduler', 'certManager'],
  ['secondScheduler', 'secret'],
];

function valuesOf(shape: Shape, tls: TlsMode): Record<string, unknown> {
  return {
    'namespace.create': true,
    'scheduler.shape': shape,
    'webhook.tls.mode': tls,
    ...(tls === 'secret'
      ? { 'webhook.tls.secretName': `${RELEASE}-tls`, 'webhook.tls.caBundle': CA_BUNDLE }
      : {}),
    'metrics.serviceMonitor.enabled': true,
    'defaultQueue.enabled': true,
    'defaultQueue.name': RELEASE,
  };
}

function render(shape: Shape, tls: TlsMode, extra: Record<string, unknown> = {}): KubeObject[] {
  const r = template(bin, {
    release: RELEASE,
    namespace: NS,
    values: { ...valuesOf(shape, tls), ...extra },
  });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return objectsOf(r.stdout);
}

function find(objects: readonly KubeObject[], kind: string, name: string): KubeObject {
  const o = objects.find((x) => x.kind === kind && x.metadata.name === name);
  if (o === undefined) throw new Error(`no ${kind}/${name} in ${kindNames(objects).join(', ')}`);
  return o;
}

interface Container {
  name: string;
  env?: { name: string }[];
  securityContext?: Record<string, unknown>;
}
interface PodSpec {
  containers: Container[];
  volumes?: { name: string; hostPath?: { path: string }; secret?: { secretName: string } }[];
  priorityClassName?: string;
}
const podSpec = (o: KubeObject): PodSpec =>
  (o.spec as { template: { spec: PodSpec } }).template.spec;
const container = (o: KubeObject, name: string): Container => {
  const found = podSpec(o).containers.find((x) => x.name === name);
  if (found === undefined) throw new Error(`${o.kind}/${o.metadata.name} has no container ${name}`);
  return found;
};
const envNames = (table: FlagTable): string[] => Object.values(table).map((f) => f.env);

interface Webhook {
  clientConfig: { caBundle?: string; service: { path: string } };
}
const webhooksOf = (o: KubeObject): Webhook[] => (o as unknown as { webhooks: Webhook[] }).webhooks;

function kubectlOk(args: readonly string[]): void {
  try {
    c.kubectl(args);
  } catch {
    // cleanup of what may not exist
  }
}

let standIns: string[] = [];

beforeAll(() => {
  standIns = addStandInCrds(c);
  kubectlOk(['create', 'namespace', NS]);
});

afterAll(() => {
  removeStandInCrds(c, standIns);
  const selector = `app.kubernetes.io/instance=${RELEASE}`;
  kubectlOk(['delete', 'clusterrolebinding,clusterrole', '-l', selector, '--wait=false']);
  kubectlOk(['delete', 'rolebinding', '-n', 'kube-system', '-l', selector, '--wait=false']);
  kubectlOk(['delete', 'namespace', NS, '--wait=false']);
  rmSync(root, { recursive: true, force: true });
});

describe('helm lint', () => {
  it.each([
    ['defaults', []],
    ['second scheduler, provided TLS', ['--set', 'scheduler.shape=secondScheduler']],
  ])('passes with --strict (%s)', (_name, extra) => {
    const more = [...extra];
    if (more.length > 0) {
      more.push('--set', 'webhook.tls.mode=secret', '--set', 'webhook.tls.secretName=s');
      more.push('--set', `webhook.tls.caBundle=${CA_BUNDLE}`);
    }
    for (const strict of [[], ['--strict']]) {
      const r = helm(bin, ['lint', CHART, ...strict, ...more]);
      expect(r.stdout + r.stderr).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
      expect(r.status).toBe(0);
    }
  });

  it('ships the Queue CRD byte for byte as npm run gen:crd writes it', () => {
    expect(readFileSync(join(REPO_ROOT, CHART_CRD), 'utf8')).toBe(renderQueueCrdYaml());
  });
});

describe('helm template', () => {
  it('extender shape: the phalanx scheduler alone, a Service and the extender entry', () => {
    const objs = render('extender', 'certManager');
    const deploy = find(objs, 'Deployment', `${RELEASE}-scheduler`);
    expect(podSpec(deploy).containers.map((x) => x.name)).toEqual(['scheduler']);
    find(objs, 'Service', `${RELEASE}-scheduler`);
    const entry = find(objs, 'ConfigMap', `${RELEASE}-scheduler-extender`);
    const config = parseYaml((entry.data as Record<string, string>)['extender-entry.yaml'] ?? '');
    expect(config.extenders[0]).toMatchObject({
      urlPrefix: `http://${RELEASE}-scheduler.${NS}.svc:8888/scheduler`,
      filterVerb: 'filter',
      nodeCacheCapable: true,
    });
    const fixed = render('extender', 'certManager', {
      'scheduler.service.clusterIP': '10.96.0.88',
    });
    const fixedEntry = find(fixed, 'ConfigMap', `${RELEASE}-scheduler-extender`);
    expect((fixedEntry.data as Record<string, string>)['extender-entry.yaml']).toContain(
      'urlPrefix: http://10.96.0.88:8888/scheduler',
    );
    expect(kindNames(objs)).not.toContain(`ClusterRoleBinding/${RELEASE}-scheduler-kube-scheduler`);
  });

  it('second-scheduler shape: kube-scheduler and phalanx in one pod, its config and RBAC', () => {
    const objs = render('secondScheduler', 'certManager');
    const deploy = find(objs, 'Deployment', `${RELEASE}-scheduler`);
    expect(podSpec(deploy).containers.map((x) => x.name)).toEqual(['scheduler', 'kube-scheduler']);
    const cm = find(objs, 'ConfigMap', `${RELEASE}-scheduler-config`);
    const config = parseYaml((cm.data as Record<string, string>)['config.yaml'] ?? '');
    expect(config.profiles).toEqual([{ schedulerName: 'phalanx' }]);
    expect(config.extenders[0].urlPrefix).toBe('http://127.0.0.1:8888/scheduler');
    expect(config.leaderElection).toMatchObject({ leaderElect: true, resourceNamespace: NS });
    const roleRefs = objs
      .filter((o) => o.kind === 'ClusterRoleBinding')
      .map((o) => (o.roleRef as { name: string }).name);
    expect(roleRefs).toEqual(
      expect.arrayContaining([
        'system:kube-scheduler',
        'system:volume-scheduler',
        `${RELEASE}-scheduler-kube-scheduler-dra`,
      ]),
    );
    expect(kindNames(objs)).not.toContain(`Service/${RELEASE}-scheduler`);
  });

  it('cert-manager TLS: Certificate + Issuer, CA injected into both webhook configurations', () => {
    const objs = render('extender', 'certManager');
    const cert = find(objs, 'Certificate', `${RELEASE}-webhook`);
    expect(cert.spec).toMatchObject({
      secretName: `${RELEASE}-webhook-tls`,
      dnsNames: expect.arrayContaining([`${RELEASE}-webhook.${NS}.svc`]),
      issuerRef: { kind: 'Issuer', name: `${RELEASE}-webhook` },
    });
    find(objs, 'Issuer', `${RELEASE}-webhook`);
    for (const kind of ['MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration']) {
      const config = find(objs, kind, `${RELEASE}-webhook`);
      expect(config.metadata.annotations?.['cert-manager.io/inject-ca-from']).toBe(
        `${NS}/${RELEASE}-webhook`,
      );
      for (const w of webhooksOf(config)) expect(w.clientConfig.caBundle).toBeUndefined();
    }
  });

  it('provided TLS: the Secret is mounted and every webhook carries the caBundle', () => {
    const objs = render('extender', 'secret');
    expect(objs.some((o) => o.kind === 'Certificate' || o.kind === 'Issuer')).toBe(false);
    const paths: string[] = [];
    for (const kind of ['MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration']) {
      const config = find(objs, kind, `${RELEASE}-webhook`);
      expect(config.metadata.annotations).toBeUndefined();
      for (const w of webhooksOf(config)) {
        expect(w.clientConfig.caBundle).toBe(CA_BUNDLE);
        paths.push(w.clientConfig.service.path);
      }
    }
    expect(paths).toEqual([
      '/mutate/pods',
      '/mutate/pods',
      '/validate/queues',
      '/validate/gpu-config',
    ]);
    const deploy = find(objs, 'Deployment', `${RELEASE}-webhook`);
    expect(podSpec(deploy).volumes).toContainEqual({
      name: 'tls',
      secret: { secretName: `${RELEASE}-tls` },
    });
  });

  it("sets only env twins of each program's flags", () => {
    const objs = render('secondScheduler', 'certManager', {
      'kubeletPlugin.fakeGpusConfig': { profile: 'nvl4-rack', rackDomain: 'rack-1' },
      'scheduler.topologyLevels': [{ name: 'rack', labels: ['example.com/rack'] }],
    });
    const cases: [KubeObject, string, FlagTable][] = [
      [find(objs, 'DaemonSet', `${RELEASE}-kubelet-plugin`), 'plugin', PLUGIN_FLAGS],
      [find(objs, 'Deployment', `${RELEASE}-scheduler`), 'scheduler', SCHEDULER_FLAGS],
      [find(objs, 'Deployment', `${RELEASE}-webhook`), 'webhook', WEBHOOK_FLAGS],
    ];
    for (const [workload, name, flags] of cases) {
      const env = (container(workload, name).env ?? []).map((e) => e.name);
      expect(env.length, name).toBeGreaterThan(3);
      const runtime = name === 'scheduler' ? Object.keys(SCHEDULER_RUNTIME.env) : [];
      expect([...envNames(flags), ...runtime], name).toEqual(expect.arrayContaining(env));
    }
  });

  it('starts the plugin with the runtime flags its prepare benchmark measured', () => {
    const ds = find(render('extender', 'certManager'), 'DaemonSet', `${RELEASE}-kubelet-plugin`);
    const c = container(ds, 'plugin') as { command?: string[] };
    expect(c.command).toEqual([ENTRYPOINT[0], ...PLUGIN_RUNTIME.nodeFlags, ENTRYPOINT[1]]);
  });

  it('starts the scheduler with the memory settings its benchmark measured', () => {
    for (const shape of ['extender', 'secondScheduler'] as const) {
      const deploy = find(render(shape, 'certManager'), 'Deployment', `${RELEASE}-scheduler`);
      const c = container(deploy, 'scheduler') as {
        command?: string[];
        env?: { name: string; value?: string }[];
      };
      expect(c.command).toEqual([ENTRYPOINT[0], ...SCHEDULER_RUNTIME.nodeFlags, ENTRYPOINT[1]]);
      for (const [k, v] of Object.entries(SCHEDULER_RUNTIME.env)) {
        expect(c.env).toContainEqual({ name: k, value: v });
      }
    }
  });

  it('kubelet plugin: unprivileged by default, surge rollout, node-critical, host paths', () => {
    const ds = find(render('extender', 'certManager'), 'DaemonSet', `${RELEASE}-kubelet-plugin`);
    expect(ds.spec).toMatchObject({
      updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
    });
    const spec = podSpec(ds);
    expect(spec.priorityClassName).toBe('system-node-critical');
    expect(container(ds, 'plugin').securityContext).toMatchObject({
      privileged: false,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
    });
    expect(
      spec.volumes?.flatMap((v) => (v.hostPath === undefined ? [] : [v.hostPath.path])),
    ).toEqual([
      '/var/lib/kubelet/plugins_registry',
      '/var/lib/kubelet/plugins/gpu.phalanx.dev',
      '/var/run/cdi',
      '/var/lib/phalanx/kubelet-plugin',
    ]);
    const privileged = render('extender', 'certManager', { 'kubeletPlugin.privileged': true });
    const pds = find(privileged, 'DaemonSet', `${RELEASE}-kubelet-plugin`);
    expect(container(pds, 'plugin').securityContext).toEqual({ privileged: true });
  });
});

describe('values.schema.json', () => {
  it.each([
    ['scheduler.replicas', 'two', "at '/scheduler/replicas': got string, want integer"],
    ['bogus', 1, "at '': additional properties 'bogus' not allowed"],
    ['scheduler.shape', 'third', "at '/scheduler/shape': value must be one of"],
    ['kubeletPlugin.prepareTimeoutSeconds', 60, "at '/kubeletPlugin/prepareTimeoutSeconds'"],
    ['webhook.tls.mode', 'secret', "at '/webhook/tls/caBundle': minLength: got 0, want 1"],
  ])('refuses %s=%j with a message naming the value', (key, value, message) => {
    const r = template(bin, { values: { [key]: value } });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("values don't meet the specifications of the schema");
    expect(r.stderr).toContain(message);
  });
});

describe('on the real cluster', () => {
  it('kube-scheduler accepts the second scheduler configuration', () => {
    const cm = find(
      render('secondScheduler', 'certManager'),
      'ConfigMap',
      `${RELEASE}-scheduler-config`,
    );
    const config = parseYaml((cm.data as Record<string, string>)['config.yaml'] ?? '');
    // Out of the cluster: point its client at the test cluster, then only write the config back.
    config.clientConnection = { kubeconfig: c.state.kubeconfig };
    const file = join(root, 'kube-scheduler.yaml');
    const out = join(root, 'kube-scheduler-effective.yaml');
    writeFileSync(file, stringify(config));
    execFileSync(
      join(c.state.binDir, 'kube-scheduler'),
      [`--config=${file}`, `--write-config-to=${out}`],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const effective = parseYaml(readFileSync(out, 'utf8'));
    expect(effective.profiles[0].schedulerName).toBe('phalanx');
    expect(effective.extenders[0]).toMatchObject({ weight: 20, ignorable: true });
  });

  it.each(CASES)(
    '%s shape, %s TLS: every object is accepted (server-side dry run)',
    (shape, tls) => {
      const objs = render(shape, tls);
      const lines = dryRunApply(c, objs).trim().split('\n');
      expect(lines, kindNames(objs).join(', ')).toHaveLength(objs.length);
      for (const line of lines) expect(line).toMatch(/serverside-applied \(server dry run\)$/);
    },
  );

  describe('second-scheduler shape: what the shared service account holds', () => {
    const SA = `system:serviceaccount:${NS}:${RELEASE}-scheduler`;

    beforeAll(() => {
      const rbac = render('secondScheduler', 'certManager').filter((o) => RBAC_KINDS.has(o.kind));
      c.kubectl(
        ['apply', '--server-side', '-f', '-'],
        rbac.map((o) => JSON.stringify(o)).join('\n'),
      );
    });

    it.each([
      // kube-scheduler: binds pods, writes DRA allocations, reads what it filters on
      ['create', 'pods --subresource=binding', undefined, 'yes'],
      ['update', 'resourceclaims.resource.k8s.io --subresource=status', undefined, 'yes'],
      ['list', 'deviceclasses.resource.k8s.io', undefined, 'yes'],
      ['update', 'pods --subresource=finalizers', undefined, 'yes'],
      ['list', 'persistentvolumeclaims', undefined, 'yes'],
      ['update', `leases.coordination.k8s.io/${RELEASE}-scheduler-kube-scheduler`, NS, 'yes'],
      ['get', 'configmaps/extension-apiserver-authentication', 'kube-system', 'yes'],
      // phalanx: the same grants as the extender shape
      ['patch', 'queues.scheduling.phalanx.dev --subresource=status', undefined, 'yes'],
      ['update', 'leases.coordination.k8s.io/phalanx-planner', NS, 'yes'],
      // never
      ['get', 'secrets', undefined, 'no'],
      ['get', 'secrets', NS, 'no'],
      ['create', 'pods --subresource=exec', undefined, 'no'],
      ['create', 'pods', undefined, 'no'],
      ['create', 'resourceslices.resource.k8s.io', undefined, 'no'],
      ['create', 'deviceclasses.resource.k8s.io', undefined, 'no'],
      ['update', 'nodes', undefined, 'no'],
      ['get', 'configmaps/kubeadm-config', 'kube-system', 'no'],
      ['update', 'leases.coordination.k8s.io/kube-controller-manager', 'kube-system', 'no'],
    ])('can-i %s %s (namespace %s) → %s', (verb, resource, namespace, expected) => {
      expect(canI(c, SA, verb, resource, namespace)).toBe(expected);
    });
  });
});
