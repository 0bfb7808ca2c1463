/**
 * `phalanx webhook` as a child process of an integration test on the local harness, as the
 * service account of deploy/manifests/55-webhook-deployment.yaml, serving TLS with a certificate
 * from the harness's PKI helpers. Registering it with the API server is the caller's business
 * (test/integration/webhook.test.ts, e2e/lib/webhook-process.ts).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../cluster/cluster.ts';
import { createPki } from '../cluster/pki.ts';
import type { TestCluster } from './cluster.ts';
import { freePort, serviceAccountKubeconfig } from './service-account.ts';

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
export async function startWebhookProcess(c: TestCluster, name: string): Promise<WebhookProcess> {
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
