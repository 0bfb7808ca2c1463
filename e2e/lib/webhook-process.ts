/**
 * `phalanx webhook` as a child process of the e2e suite on the local harness, registered with
 * the API server through copies of deploy/manifests/50-webhook.yaml's configurations: same
 * webhooks, rules and failure policies, but called at `https://127.0.0.1:<port>` with the test
 * CA as caBundle, and scoped to the given namespaces (namespaced rules) and to objects carrying
 * the given label (cluster-scoped rules), so nothing else in the shared cluster reaches it.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { KubeApiError } from '../../src/kube/rest.ts';
import { REPO_ROOT } from '../../test/cluster/cluster.ts';
import { createPki } from '../../test/cluster/pki.ts';
import type { TestCluster } from '../../test/helpers/cluster.ts';
import { freePort, serviceAccountKubeconfig } from '../../test/helpers/service-account.ts';

export const WEBHOOK_PROCESS = 'phalanx-webhook-e2e';
/** Name of the e2e copies of the webhook configurations. */
export const WEBHOOK_CONFIG = 'phalanx-webhook-e2e';
const ADMISSION = '/apis/admissionregistration.k8s.io/v1';
const MANIFEST = join(REPO_ROOT, 'deploy', 'manifests', '50-webhook.yaml');

/** Who the registered webhooks may see. */
export interface WebhookScope {
  readonly namespaces: readonly string[];
  /** Label a cluster-scoped object (a Queue) must carry to be sent to the webhook. */
  readonly clusterObjectLabel: Readonly<Record<string, string>>;
}

interface Rule {
  scope?: string;
  [key: string]: unknown;
}

interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}

interface Webhook {
  name: string;
  rules?: Rule[];
  clientConfig: { service?: { path?: string }; url?: string; caBundle?: string };
  namespaceSelector?: LabelSelector;
  objectSelector?: LabelSelector;
  [key: string]: unknown;
}

interface WebhookConfiguration {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  webhooks: Webhook[];
}

const isClusterScoped = (w: Webhook): boolean =>
  (w.rules ?? []).length > 0 && (w.rules ?? []).every((r) => r.scope === 'Cluster');

/** One webhook of the manifest, pointed at the local process and narrowed to the scope. */
function scoped(w: Webhook, url: string, caBundle: string, scope: WebhookScope): Webhook {
  const clientConfig = { url: `${url}${w.clientConfig.service?.path ?? ''}`, caBundle };
  if (isClusterScoped(w)) {
    return { ...w, clientConfig, objectSelector: { matchLabels: { ...scope.clusterObjectLabel } } };
  }
  const inScope = {
    key: 'kubernetes.io/metadata.name',
    operator: 'In',
    values: [...scope.namespaces],
  };
  return {
    ...w,
    clientConfig,
    // Namespaced only: cluster-scoped objects (DeviceClasses) stay with whatever else serves them.
    rules: (w.rules ?? []).map((r) => ({ ...r, scope: 'Namespaced' })),
    namespaceSelector: {
      ...w.namespaceSelector,
      matchExpressions: [...(w.namespaceSelector?.matchExpressions ?? []), inScope],
    },
  };
}

/** The manifest's webhook configurations, renamed and scoped for the e2e run. */
export function e2eWebhookConfigurations(
  url: string,
  caBundle: string,
  scope: WebhookScope,
): WebhookConfiguration[] {
  return parseAllDocuments(readFileSync(MANIFEST, 'utf8'))
    .map((d) => d.toJSON() as WebhookConfiguration)
    .filter((o) => o.kind.endsWith('WebhookConfiguration'))
    .map((o) => ({
      apiVersion: o.apiVersion,
      kind: o.kind,
      metadata: {
        name: WEBHOOK_CONFIG,
        ...(o.metadata.labels ? { labels: o.metadata.labels } : {}),
      },
      webhooks: o.webhooks.map((w) => scoped(w, url, caBundle, scope)),
    }));
}

/** Status code of an HTTPS GET trusting `ca`; 0 when the connection fails. */
function httpsStatus(url: string, ca: Buffer): Promise<number> {
  return new Promise((resolve) => {
    const req = https.get(url, { ca }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => resolve(0));
  });
}

async function remove(c: TestCluster, path: string): Promise<void> {
  await c.kube.request('DELETE', path).catch((error: unknown) => {
    if (!(error instanceof KubeApiError && error.notFound)) throw error;
  });
}

/** Removes the e2e webhook configurations (left over or ours). */
export async function unregisterWebhooks(c: TestCluster): Promise<void> {
  await remove(c, `${ADMISSION}/mutatingwebhookconfigurations/${WEBHOOK_CONFIG}`);
  await remove(c, `${ADMISSION}/validatingwebhookconfigurations/${WEBHOOK_CONFIG}`);
}

/** A running `phalanx webhook` and what an admission configuration needs to call it. */
export interface WebhookProcess {
  /** `https://127.0.0.1:<port>`. */
  readonly url: string;
  /** Base64 PEM of the CA that signed its serving certificate. */
  readonly caBundle: string;
  stop(): Promise<void>;
}

/**
 * Starts `phalanx webhook` on 127.0.0.1 as the service account of
 * deploy/manifests/55-webhook-deployment.yaml, with a certificate from the harness's PKI helpers,
 * and waits until it answers ready (its namespace cache synced). Usable by any integration test.
 */
export async function startWebhookProcess(
  c: TestCluster,
  name = WEBHOOK_PROCESS,
): Promise<WebhookProcess> {
  const root = mkdtempSync(join(tmpdir(), 'phalanx-webhook-process-'));
  const pki = createPki(join(root, 'pki'), []);
  const kubeconfig = serviceAccountKubeconfig(c, '55-webhook-deployment.yaml', 'phalanx-webhook');
  const port = await freePort();
  c.supervisor.start({
    name,
    command: `${REPO_ROOT}/node_modules/.bin/node`,
    args: [
      `${REPO_ROOT}/src/cmd/phalanx.ts`,
      'webhook',
      `--kubeconfig=${kubeconfig}`,
      `--address=127.0.0.1:${port}`,
      `--tls-cert-file=${pki.serverCert}`,
      `--tls-key-file=${pki.serverKey}`,
      '--metrics-address=',
      '--v=4',
    ],
  });
  const ca = readFileSync(pki.caCert);
  const url = `https://127.0.0.1:${port}`;
  const stop = async (): Promise<void> => {
    await c.supervisor.stop(name);
    rmSync(root, { recursive: true, force: true });
  };
  try {
    await c.supervisor.waitWhileAlive(
      name,
      'phalanx webhook ready (namespace cache synced)',
      async () => (await httpsStatus(`${url}/readyz`, ca)) === 200,
      60_000,
      250,
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return { url, caBundle: ca.toString('base64'), stop };
}

/** Starts the webhook process and registers the manifest's configurations for the scope. */
export async function startWebhook(c: TestCluster, scope: WebhookScope): Promise<WebhookProcess> {
  await unregisterWebhooks(c);
  const webhook = await startWebhookProcess(c);
  for (const config of e2eWebhookConfigurations(webhook.url, webhook.caBundle, scope)) {
    const plural = `${config.kind.toLowerCase()}s`;
    await c.kube.request('POST', `${ADMISSION}/${plural}`, { body: config });
  }
  return {
    ...webhook,
    stop: async () => {
      await unregisterWebhooks(c);
      await webhook.stop();
    },
  };
}
