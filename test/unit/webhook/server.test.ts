import { X509Certificate } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TLSSocket } from 'node:tls';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/observability/logger.ts';
import { WebhookMetrics } from '../../../src/webhook/metrics.ts';
import { mapNamespaceLabels } from '../../../src/webhook/pods.ts';
import { startWebhookServer, type WebhookServer } from '../../../src/webhook/server.ts';
import { createPki, type Pki } from '../../cluster/pki.ts';
import { pod, podReview } from './reviews.ts';

let root: string;
let first: Pki;
let second: Pki;
let tlsDir: string;
let server: WebhookServer;
let metrics: WebhookMetrics;

interface Answer {
  status: number;
  body: string;
  /** Serial number of the certificate the server presented. */
  serial: string;
}

function call(pki: Pki, path: string, body?: unknown): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = https.request(
      {
        host: '127.0.0.1',
        port: server.port,
        path,
        method: payload === undefined ? 'GET' : 'POST',
        ca: readFileSync(pki.caCert),
        agent: false,
        headers: payload === undefined ? {} : { 'content-type': 'application/json' },
      },
      (res) => {
        const serial = (res.socket as TLSSocket).getPeerCertificate().serialNumber;
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, serial }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

const serialOf = (pki: Pki): string =>
  new X509Certificate(readFileSync(pki.serverCert)).serialNumber;

/** Replaces a file the way a Secret volume update does: write aside, rename over. */
function replace(source: string, target: string): void {
  copyFileSync(source, `${target}.tmp`);
  renameSync(`${target}.tmp`, target);
}

async function eventually(check: () => Promise<boolean>, timeoutMs = 8_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(50);
  }
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'phalanx-webhook-server-'));
  first = createPki(join(root, 'first'), []);
  second = createPki(join(root, 'second'), []);
  tlsDir = join(root, 'tls');
  mkdirSync(tlsDir);
  replace(first.serverCert, join(tlsDir, 'tls.crt'));
  replace(first.serverKey, join(tlsDir, 'tls.key'));
  metrics = new WebhookMetrics(new Registry());
  server = await startWebhookServer({
    app: {
      namespaces: mapNamespaceLabels(new Map([['team-a', {}]])),
      logger: silentLogger(),
      metrics,
    },
    certFile: join(tlsDir, 'tls.crt'),
    keyFile: join(tlsDir, 'tls.key'),
    host: '127.0.0.1',
    port: 0,
    pollIntervalMs: 60_000,
  });
});

afterAll(async () => {
  await server?.close();
  rmSync(root, { recursive: true, force: true });
});

describe('webhook HTTPS server', () => {
  it('serves probes and reviews over TLS with the configured certificate', async () => {
    const health = await call(first, '/healthz');
    expect(health.status).toBe(200);
    expect(health.serial).toBe(serialOf(first));
    const review = await call(
      first,
      '/mutate/pods',
      podReview(pod('w', { 'phalanx.dev/queue': 'q' })),
    );
    expect(review.status).toBe(200);
    expect(JSON.parse(review.body).response.patchType).toBe('JSONPatch');
    const expiry = (await metrics.certificateExpiry.get()).values[0]?.value ?? 0;
    expect(expiry * 1000).toBe(
      new X509Certificate(readFileSync(first.serverCert)).validToDate.getTime(),
    );
  });

  it('picks up a rotated certificate from the watched directory without a restart', async () => {
    replace(second.serverKey, join(tlsDir, 'tls.key'));
    replace(second.serverCert, join(tlsDir, 'tls.crt'));
    await eventually(async () => (await call(second, '/healthz')).serial === serialOf(second));
    await expect(call(first, '/healthz')).rejects.toThrow();
    const reloads = await metrics.certificateReloads.get();
    expect(reloads.values.find((v) => v.labels.result === 'success')?.value).toBeGreaterThanOrEqual(
      1,
    );
  });

  it('keeps the current pair when the files do not match, and says why', async () => {
    replace(first.serverCert, join(tlsDir, 'tls.crt'));
    await expect(server.reloadCertificate()).rejects.toThrow(/are not a usable pair/);
    expect((await call(second, '/healthz')).serial).toBe(serialOf(second));
    replace(second.serverCert, join(tlsDir, 'tls.crt'));
    expect(await server.reloadCertificate()).toBe(false);
  });

  it('refuses to start without readable TLS files', async () => {
    await expect(
      startWebhookServer({
        app: {
          namespaces: mapNamespaceLabels(new Map()),
          logger: silentLogger(),
          metrics: new WebhookMetrics(new Registry()),
        },
        certFile: join(root, 'missing.crt'),
        keyFile: join(root, 'missing.key'),
        port: 0,
      }),
    ).rejects.toThrow(
      /cannot read the webhook's TLS files .*; check --tls-cert-file and --tls-key-file/,
    );
  });
});
