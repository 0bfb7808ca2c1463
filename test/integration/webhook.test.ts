/**
 * The admission webhook behind the real API server: `phalanx webhook` runs as a child process on
 * 127.0.0.1, as the service account of deploy/manifests/55-webhook-deployment.yaml (so its RBAC is
 * proven too), with a certificate minted by the harness's openssl helpers, and is registered with
 * `clientConfig.url` and the CA as caBundle. Every configuration is scoped to this file's own
 * namespaces and labels, so other suites sharing the cluster never reach it. Also checks the
 * webhook-free alternative (deploy/manifests/optional/gate-policy.yaml) where the API server
 * serves MutatingAdmissionPolicy v1 (1.36+).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { KubeApiError } from '../../src/kube/rest.ts';
import { REPO_ROOT } from '../cluster/cluster.ts';
import { dumpOnFailure, ensureCluster, waitFor } from '../helpers/cluster.ts';
import { startWebhookProcess, type WebhookProcess } from '../helpers/webhook-process.ts';

const c = await ensureCluster();
const NS = 'webhook-it';
const POLICY_NS = 'webhook-policy-it';
/** Labelled with a default queue: every pod in it is gated. */
const POLICY_QUEUE_NS = 'webhook-policy-queue-it';
const TEST_LABEL = 'phalanx.dev/webhook-it';
const CONFIG = 'phalanx-webhook-it';
const GATE = 'phalanx.dev/gang-planner';
const MANIFESTS = join(REPO_ROOT, 'deploy', 'manifests');
const QUEUE_CRD = join(MANIFESTS, '15-queue-crd.yaml');
const POLICY_FILE = join(MANIFESTS, 'optional', 'gate-policy.yaml');
const ADMISSION = '/apis/admissionregistration.k8s.io/v1';
dumpOnFailure(c, NS);

const PROCESS = 'phalanx-webhook';
let server: WebhookProcess | undefined;
const hasQueueCrd = existsSync(QUEUE_CRD);
const servesPolicies = c.state.minor >= 36;

interface PodObject {
  metadata: { name: string; labels?: Record<string, string> };
  spec: { schedulingGates?: { name: string }[] };
}

function pod(name: string, labels: Record<string, string>): object {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels },
    spec: {
      terminationGracePeriodSeconds: 0,
      automountServiceAccountToken: false,
      schedulingGates: [{ name: 'example.com/other' }],
      containers: [{ name: 'main', image: 'registry.phalanx.test/pause:1' }],
    },
  };
}

const dryRun = { query: { dryRun: 'All' } } as const;

async function createPod(namespace: string, body: object, options = {}): Promise<PodObject> {
  return c.kube.request<PodObject>('POST', `/api/v1/namespaces/${namespace}/pods`, {
    body,
    ...options,
  });
}

/** The API server's message for a rejected create, or 'allowed'. */
async function rejection(create: () => Promise<unknown>): Promise<string> {
  try {
    await create();
    return 'allowed';
  } catch (error) {
    if (error instanceof KubeApiError) return error.message;
    throw error;
  }
}

/**
 * The message of a create that must be refused, retried while it is still admitted: the API
 * server loads new webhook configurations asynchronously.
 */
async function denial(create: () => Promise<unknown>): Promise<string> {
  let message = 'allowed';
  await waitFor(
    'the validating webhook to be active',
    async () => {
      message = await rejection(create);
      return message !== 'allowed';
    },
    30_000,
    250,
  );
  return message;
}

const gateNames = (p: PodObject): string[] => (p.spec.schedulingGates ?? []).map((g) => g.name);

async function remove(path: string): Promise<void> {
  await c.kube.request('DELETE', path).catch((error: unknown) => {
    if (!(error instanceof KubeApiError && error.notFound)) throw error;
  });
}

function webhook(name: string, path: string, rules: object[], selectors: object): object {
  if (server === undefined) throw new Error('the webhook process is not running');
  return {
    name,
    admissionReviewVersions: ['v1'],
    sideEffects: 'None',
    failurePolicy: 'Fail',
    timeoutSeconds: 5,
    clientConfig: {
      url: `${server.url}${path}`,
      caBundle: server.caBundle,
    },
    rules,
    ...selectors,
  };
}

const inNamespace = { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': NS } } };
const write = (group: string, version: string, resources: string[], scope: string) => ({
  apiGroups: [group],
  apiVersions: [version],
  operations: ['CREATE', 'UPDATE'],
  resources,
  scope,
});

async function registerWebhooks(): Promise<void> {
  await c.kube.request('POST', `${ADMISSION}/mutatingwebhookconfigurations`, {
    body: {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'MutatingWebhookConfiguration',
      metadata: { name: CONFIG },
      webhooks: [
        {
          ...webhook(
            'pods.webhook-it.phalanx.dev',
            '/mutate/pods',
            [{ ...write('', 'v1', ['pods'], 'Namespaced'), operations: ['CREATE'] }],
            inNamespace,
          ),
          reinvocationPolicy: 'Never',
        },
      ],
    },
  });
  await c.kube.request('POST', `${ADMISSION}/validatingwebhookconfigurations`, {
    body: {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingWebhookConfiguration',
      metadata: { name: CONFIG },
      webhooks: [
        webhook(
          'queues.webhook-it.phalanx.dev',
          '/validate/queues',
          [write('scheduling.phalanx.dev', 'v1alpha1', ['queues'], 'Cluster')],
          { objectSelector: { matchLabels: { [TEST_LABEL]: 'true' } } },
        ),
        webhook(
          'gpu-config.webhook-it.phalanx.dev',
          '/validate/gpu-config',
          [write('resource.k8s.io', 'v1', ['resourceclaims', 'resourceclaimtemplates'], '*')],
          inNamespace,
        ),
      ],
    },
  });
}

async function removeWebhooks(): Promise<void> {
  await remove(`${ADMISSION}/mutatingwebhookconfigurations/${CONFIG}`);
  await remove(`${ADMISSION}/validatingwebhookconfigurations/${CONFIG}`);
}

function applyJson(objects: readonly object[]): void {
  c.kubectl(
    ['apply', '--server-side', '-f', '-'],
    objects.map((o) => JSON.stringify(o)).join('\n'),
  );
}

beforeAll(async () => {
  await removeWebhooks();
  server = await startWebhookProcess(c, PROCESS);
  applyJson([
    ...[NS, POLICY_NS].map((name) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } })),
    {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: POLICY_QUEUE_NS, labels: { 'phalanx.dev/queue': 'team-q' } },
    },
  ]);
  if (hasQueueCrd) {
    c.kubectl(['apply', '--server-side', '-f', QUEUE_CRD]);
    c.kubectl([
      'wait',
      '--for=condition=Established',
      '--timeout=60s',
      'crd/queues.scheduling.phalanx.dev',
    ]);
  }
  await registerWebhooks();
});

afterAll(async () => {
  await removeWebhooks();
  await removePolicies();
  if (hasQueueCrd) await remove('/apis/scheduling.phalanx.dev/v1alpha1/queues/webhook-it-good');
  for (const ns of [NS, POLICY_NS, POLICY_QUEUE_NS]) await remove(`/api/v1/namespaces/${ns}`);
  await server?.stop();
});

describe('admission webhook on the real API server', () => {
  it('adds the gang gate to a gang pod, keeping its other gates', async () => {
    const gangPod = pod('gang-0', { 'phalanx.dev/gang': 'train-a', 'phalanx.dev/gang-size': '2' });
    // The API server picks up new webhook configurations asynchronously: dry runs until it does.
    await waitFor(
      'the mutating webhook to be active',
      async () => gateNames(await createPod(NS, gangPod, dryRun)).includes(GATE),
      30_000,
      250,
    );
    const created = await createPod(NS, gangPod);
    expect(gateNames(created)).toEqual(['example.com/other', GATE]);
    const stored = await c.kube.request<PodObject>('GET', `/api/v1/namespaces/${NS}/pods/gang-0`);
    expect(gateNames(stored)).toEqual(['example.com/other', GATE]);
    const plain = await createPod(NS, pod('plain-0', {}));
    expect(gateNames(plain)).toEqual(['example.com/other']);
  });

  it('denies a phalanx.dev/gang pod without phalanx.dev/gang-size', async () => {
    const message = await rejection(() =>
      createPod(NS, pod('gang-nosize', { 'phalanx.dev/gang': 'train-b' }), dryRun),
    );
    expect(message).toContain('admission webhook "pods.webhook-it.phalanx.dev" denied the request');
    expect(message).toContain(
      `pod ${NS}/gang-nosize has label phalanx.dev/gang=train-b but no phalanx.dev/gang-size; add label phalanx.dev/gang-size`,
    );
  });

  it('denies a ResourceClaim with an invalid gpu.phalanx.dev config, naming the field', async () => {
    const claim = (interval: string) => ({
      apiVersion: 'resource.k8s.io/v1',
      kind: 'ResourceClaim',
      metadata: { name: 'bad-config' },
      spec: {
        devices: {
          requests: [{ name: 'gpu', exactly: { deviceClassName: 'gpu.phalanx.dev' } }],
          config: [
            {
              requests: ['gpu'],
              opaque: {
                driver: 'gpu.phalanx.dev',
                parameters: {
                  apiVersion: 'gpu.phalanx.dev/v1alpha1',
                  kind: 'GpuConfig',
                  sharing: { strategy: 'TimeSlicing', timeSlicing: { interval } },
                },
              },
            },
          ],
        },
      },
    });
    const path = `/apis/resource.k8s.io/v1/namespaces/${NS}/resourceclaims`;
    const message = await denial(() =>
      c.kube.request('POST', path, { body: claim('Fast'), ...dryRun }),
    );
    expect(message).toContain(
      'admission webhook "gpu-config.webhook-it.phalanx.dev" denied the request',
    );
    expect(message).toContain(
      'spec.devices.config[0].opaque.parameters: GpuConfig: sharing.timeSlicing.interval must be one of Default, Short, Medium, Long, got "Fast"',
    );
    expect(
      await rejection(() => c.kube.request('POST', path, { body: claim('Short'), ...dryRun })),
    ).toBe('allowed');
  });

  it.runIf(hasQueueCrd)(
    'denies an invalid Queue with the validator message, admits a valid one',
    async () => {
      const queue = (name: string, resource: string) => ({
        apiVersion: 'scheduling.phalanx.dev/v1alpha1',
        kind: 'Queue',
        metadata: { name, labels: { [TEST_LABEL]: 'true' } },
        spec: { quotas: [{ resource, nominal: 4 }] },
      });
      const path = '/apis/scheduling.phalanx.dev/v1alpha1/queues';
      // The API server checks the CRD schema before any validating webhook, so the invalid Queue
      // must pass the schema: a device class name longer than a DNS subdomain may be (253) fits
      // the schema's pattern and maxLength (room for "/<profile>"), and only validateQueue
      // catches it.
      const tooLong = 'a'.repeat(254);
      const message = await denial(() =>
        c.kube.request('POST', path, { body: queue('webhook-it-bad', tooLong), ...dryRun }),
      );
      expect(message).toContain(
        'admission webhook "queues.webhook-it.phalanx.dev" denied the request',
      );
      expect(message).toContain(
        'spec.quotas[0].resource: must be a device class name or <deviceClass>/<partition profile>',
      );
      const good = queue('webhook-it-good', 'gpu.phalanx.dev');
      expect(await rejection(() => c.kube.request('POST', path, { body: good }))).toBe('allowed');
    },
  );

  it('deploy/manifests/50-webhook.yaml is accepted by the API server (server-side dry run)', () => {
    const out = c.kubectl([
      'apply',
      '--server-side',
      '--dry-run=server',
      '-f',
      join(MANIFESTS, '50-webhook.yaml'),
    ]);
    expect(out).toMatch(/mutatingwebhookconfiguration.*phalanx-webhook/);
    expect(out).toMatch(/validatingwebhookconfiguration.*phalanx-webhook/);
  });
});

// ---- the MutatingAdmissionPolicy alternative ---------------------------------------------------

const POLICY_SUFFIX = '-it';

/** The optional policies, renamed and scoped to POLICY_NS so nothing else in the cluster is touched. */
function scopedPolicies(): Record<string, unknown>[] {
  const docs = parseAllDocuments(readFileSync(POLICY_FILE, 'utf8')).map(
    (d) =>
      d.toJSON() as Record<string, unknown> & {
        metadata: { name: string };
        spec: Record<string, unknown>;
      },
  );
  for (const doc of docs) {
    doc.metadata.name += POLICY_SUFFIX;
    if (typeof doc.spec.policyName === 'string') doc.spec.policyName += POLICY_SUFFIX;
    const constraints = doc.spec.matchConstraints as Record<string, unknown> | undefined;
    if (constraints !== undefined)
      constraints.namespaceSelector = {
        matchExpressions: [
          {
            key: 'kubernetes.io/metadata.name',
            operator: 'In',
            values: [POLICY_NS, POLICY_QUEUE_NS],
          },
        ],
      };
  }
  return docs;
}

async function removePolicies(): Promise<void> {
  if (!servesPolicies) return;
  for (const [kind, name] of [
    ['mutatingadmissionpolicybindings', 'phalanx-gang-gate'],
    ['mutatingadmissionpolicies', 'phalanx-gang-gate'],
    ['validatingadmissionpolicybindings', 'phalanx-gang-size'],
    ['validatingadmissionpolicies', 'phalanx-gang-size'],
  ])
    await remove(`${ADMISSION}/${kind}/${name}${POLICY_SUFFIX}`);
}

describe.runIf(servesPolicies)('optional/gate-policy.yaml (MutatingAdmissionPolicy v1)', () => {
  it('gates gang and queue pods and refuses a missing gang size, without the webhook', async () => {
    applyJson(scopedPolicies());
    const member = pod('member', { 'scheduling.x-k8s.io/pod-group': 'pg' });
    await waitFor(
      'the MutatingAdmissionPolicy to be active',
      async () => gateNames(await createPod(POLICY_NS, member, dryRun)).includes(GATE),
      60_000,
      500,
    );
    expect(gateNames(await createPod(POLICY_NS, member, dryRun))).toEqual([
      'example.com/other',
      GATE,
    ]);
    expect(gateNames(await createPod(POLICY_NS, pod('plain', {}), dryRun))).toEqual([
      'example.com/other',
    ]);
    const inQueueNamespace = pod('plain', {});
    await waitFor(
      `the default queue of namespace ${POLICY_QUEUE_NS} to gate its pods`,
      async () =>
        gateNames(await createPod(POLICY_QUEUE_NS, inQueueNamespace, dryRun)).includes(GATE),
      30_000,
      500,
    );
    const noSize = pod('nosize', { 'phalanx.dev/gang': 'g' });
    await waitFor(
      'the ValidatingAdmissionPolicy to be active',
      async () => (await rejection(() => createPod(POLICY_NS, noSize, dryRun))) !== 'allowed',
      60_000,
      500,
    );
    expect(await rejection(() => createPod(POLICY_NS, noSize, dryRun))).toContain(
      'label phalanx.dev/gang=g needs label phalanx.dev/gang-size',
    );
    const sized = pod('sized', { 'phalanx.dev/gang': 'g', 'phalanx.dev/gang-size': '10000' });
    expect(gateNames(await createPod(POLICY_NS, sized, dryRun))).toContain(GATE);
    const tooBig = pod('big', { 'phalanx.dev/gang': 'g', 'phalanx.dev/gang-size': '10001' });
    expect(await rejection(() => createPod(POLICY_NS, tooBig, dryRun))).toContain(
      'has phalanx.dev/gang-size "10001"',
    );
  });
});
