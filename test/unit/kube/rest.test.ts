/**
 * Credentials without client-node in a pod, the same choice order as client-node's default
 * chain, and the watch stream (events per line, HTTP errors as KubeApiError, idle end).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  defaultCredentials,
  InClusterCredentials,
  KubeApiError,
  KubeClient,
} from '../../../src/kube/rest.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function serviceAccountDir(token = 'token-1'): string {
  const dir = mkdtempSync(join(tmpdir(), 'phalanx-sa-'));
  dirs.push(dir);
  writeFileSync(join(dir, 'token'), `${token}\n`);
  writeFileSync(join(dir, 'ca.crt'), 'not a real CA, only read\n');
  writeFileSync(join(dir, 'namespace'), 'phalanx-system');
  return dir;
}

const IN_POD = { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' };

describe('InClusterCredentials', () => {
  it('reads the server, CA, namespace and token of the pod, and re-reads the token each minute', async () => {
    const dir = serviceAccountDir();
    let now = 0;
    const creds = new InClusterCredentials(IN_POD, dir, () => now);
    expect(creds.server).toBe('https://10.96.0.1:443');
    expect(creds.namespace).toBe('phalanx-system');
    const first: https.RequestOptions = { headers: {} };
    await creds.applyToHTTPSOptions(first);
    expect(first.headers).toEqual({ authorization: 'Bearer token-1' });
    expect(first.agent).toBeDefined();
    writeFileSync(join(dir, 'token'), 'token-2');
    now = 30_000;
    const cached: https.RequestOptions = { headers: {} };
    await creds.applyToHTTPSOptions(cached);
    expect(cached.headers).toEqual({ authorization: 'Bearer token-1' });
    now = 60_000;
    const rotated: https.RequestOptions = { headers: {} };
    await creds.applyToHTTPSOptions(rotated);
    expect(rotated.headers).toEqual({ authorization: 'Bearer token-2' });
  });

  it('brackets IPv6 service hosts and says what is missing outside a pod', () => {
    const dir = serviceAccountDir();
    expect(new InClusterCredentials({ KUBERNETES_SERVICE_HOST: 'fd00::1' }, dir).server).toBe(
      'https://[fd00::1]:443',
    );
    expect(() => new InClusterCredentials({}, dir)).toThrow(
      'KUBERNETES_SERVICE_HOST is not set: not running in a pod',
    );
    const empty = mkdtempSync(join(tmpdir(), 'phalanx-sa-'));
    dirs.push(empty);
    expect(() => new InClusterCredentials(IN_POD, empty)).toThrow(
      /cannot read the service account's ca\.crt in .*phalanx-sa-/,
    );
    expect(InClusterCredentials.available(IN_POD, empty)).toBe(false);
  });
});

describe('defaultCredentials', () => {
  it('prefers an explicit kubeconfig, then KUBECONFIG, then ~/.kube/config, then the pod', () => {
    const home = mkdtempSync(join(tmpdir(), 'phalanx-home-'));
    dirs.push(home);
    const kubeconfig = join(home, 'kc.yaml');
    writeFileSync(
      kubeconfig,
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters: [{name: c, cluster: {server: "https://127.0.0.1:6443"}}]',
        'users: [{name: u, user: {token: t}}]',
        'contexts: [{name: x, context: {cluster: c, user: u}}]',
        'current-context: x',
      ].join('\n'),
    );
    const fromFile = defaultCredentials(kubeconfig, {}, home);
    expect('getCurrentCluster' in fromFile).toBe(true);
    expect(new KubeClient(fromFile).server.toString()).toBe('https://127.0.0.1:6443/');
    expect(() => defaultCredentials(join(home, 'missing.yaml'), {}, home)).toThrow(
      /cannot load kubeconfig .*missing\.yaml.*; check --kubeconfig \(KUBECONFIG\)/,
    );
  });
});

async function streamingApi(
  handler: (req: http.IncomingMessage, res: http.ServerResponse) => void,
): Promise<{ client: KubeClient; close: () => Promise<void> }> {
  const server = http.createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;
  const client = new KubeClient({
    server: `http://127.0.0.1:${port}`,
    applyToHTTPSOptions: async (o: https.RequestOptions) => {
      o.headers = { ...o.headers, authorization: 'Bearer t' };
    },
  });
  return {
    client,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

describe('KubeClient.watch', () => {
  it('delivers events split across chunks and ends with the stream', async () => {
    const api = await streamingApi((req, res) => {
      expect(req.url).toMatch(/^\/api\/v1\/pods\?watch=true&resourceVersion=5/);
      expect(req.headers.authorization).toBe('Bearer t');
      res.writeHead(200, { 'content-type': 'application/json' });
      const line = JSON.stringify({ type: 'ADDED', object: { metadata: { name: 'a' } } });
      res.write(line.slice(0, 10));
      setTimeout(() => {
        res.write(`${line.slice(10)}\n${JSON.stringify({ type: 'DELETED', object: {} })}\n`);
        res.end();
      }, 10);
    });
    const events: string[] = [];
    await api.client.watch(
      '/api/v1/pods',
      { resourceVersion: '5' },
      (type) => events.push(type),
      new AbortController().signal,
      5000,
    );
    expect(events).toEqual(['ADDED', 'DELETED']);
    await api.close();
  });

  it('rejects an HTTP error with the Status, and ends quietly when idle or aborted', async () => {
    const api = await streamingApi((req, res) => {
      if (
        req.url?.includes('resourceVersion=1&') === true ||
        req.url?.endsWith('resourceVersion=1')
      ) {
        res.writeHead(410, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({ kind: 'Status', code: 410, reason: 'Expired', message: 'too old' }),
        );
        return;
      }
      res.writeHead(200);
      res.write('\n');
    });
    const gone = await api.client
      .watch('/api/v1/pods', { resourceVersion: '1' }, () => {}, new AbortController().signal, 5000)
      .catch((e: unknown) => e);
    expect(gone).toBeInstanceOf(KubeApiError);
    expect((gone as KubeApiError).status).toBe(410);
    expect((gone as KubeApiError).message).toMatch(/410 Expired: too old/);
    const idle = Date.now();
    await api.client.watch(
      '/api/v1/pods',
      { resourceVersion: '2' },
      () => {},
      new AbortController().signal,
      100,
    );
    expect(Date.now() - idle).toBeLessThan(3000);
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 20);
    await api.client.watch('/api/v1/pods', { resourceVersion: '3' }, () => {}, abort.signal, 5000);
    await api.close();
  });
});
