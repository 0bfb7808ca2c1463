/**
 * `phalanx webhook` as a child process of the e2e suite on the local harness, registered with
 * the API server through copies of deploy/manifests/50-webhook.yaml's configurations: same
 * webhooks, rules and failure policies, but called at `https://127.0.0.1:<port>` with the test
 * CA as caBundle, and scoped to the given namespaces (namespaced rules) and to objects carrying
 * the given label (cluster-scoped rules), so nothing else in the shared cluster reaches it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { KubeApiError } from '../../src/kube/rest.ts';
import { REPO_ROOT } from '../../test/cluster/cluster.ts';
import type { TestCluster } from '../../test/helpers/cluster.ts';
import { startWebhookProcess, type WebhookProcess } from '../../test/helpers/webhook-process.ts';

export type { WebhookProcess };

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

/** Starts the webhook process and registers the manifest's configurations for the scope. */
export async function startWebhook(c: TestCluster, scope: WebhookScope): Promise<WebhookProcess> {
  await unregisterWebhooks(c);
  const webhook = await startWebhookProcess(c, WEBHOOK_PROCESS);
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
