import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PassThroughDecider } from '../../../src/extender/decider.ts';
import { ExtenderMetrics } from '../../../src/extender/metrics.ts';
import { type ExtenderServer, startExtenderServer } from '../../../src/extender/server.ts';
import { silentLogger } from '../../../src/observability/logger.ts';

const BODY =
  '{"Pod":{"metadata":{"name":"w-0","namespace":"ml","uid":"u-0"}},"Nodes":null,"NodeNames":["a","b"]}';

const base = () => ({
  host: '127.0.0.1',
  port: 0,
  decider: new PassThroughDecider(),
  logger: silentLogger(),
  metrics: new ExtenderMetrics(new Registry()),
});

interface Answer {
  status: number;
  body: string;
}

/** One POST over a keep-alive agent, as kube-scheduler's Go client makes it. */
function postTo(
  url: string,
  body: string,
  agent: http.Agent,
  extra: https.RequestOptions = {},
): Promise<Answer> {
  const client = url.startsWith('https:') ? https : http;
  return new Promise((resolve, reject) => {
    const req = client.request(
      url,
      { method: 'POST', agent, headers: { 'content-type': 'application/json' }, ...extra },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('startExtenderServer over plain HTTP', () => {
  let server: ExtenderServer;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

  beforeAll(async () => {
    server = await startExtenderServer(base());
  });

  afterAll(async () => {
    agent.destroy();
    await server.close();
  });

  it('reports the urlPrefix to configure and answers filter calls on it', async () => {
    expect(server.url).toBe(`http://127.0.0.1:${server.port}/scheduler`);
    const first = await postTo(`${server.url}/filter`, BODY, agent);
    const second = await postTo(`${server.url}/prioritize`, BODY, agent);
    expect(first.status).toBe(200);
    expect(JSON.parse(first.body)).toMatchObject({ NodeNames: ['a', 'b'], Nodes: null });
    expect(JSON.parse(second.body)).toEqual([
      { Host: 'a', Score: 0 },
      { Host: 'b', Score: 0 },
    ]);
  });

  it('closes promptly with an idle keep-alive connection open, and close() is idempotent', async () => {
    const own = await startExtenderServer(base());
    const keep = new http.Agent({ keepAlive: true });
    await postTo(`${own.url}/filter`, BODY, keep);
    const started = performance.now();
    await Promise.all([own.close(), own.close()]);
    expect(performance.now() - started).toBeLessThan(2000);
    keep.destroy();
  });

  it('fails with a sentence when the port is taken', async () => {
    await expect(startExtenderServer({ ...base(), port: server.port })).rejects.toThrow(
      /^extender cannot listen on 127\.0\.0\.1:\d+ .*pick another address$/,
    );
  });
});

describe('startExtenderServer over HTTPS', () => {
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'phalanx-extender-tls-'));
    execFileSync(
      'openssl',
      [
        ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'],
        ...['-nodes', '-days', '1', '-subj', '/CN=localhost'],
        ...['-keyout', join(dir, 'tls.key'), '-out', join(dir, 'tls.crt')],
      ],
      { stdio: 'ignore' },
    );
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('serves the verbs over TLS with the given certificate', async () => {
    const server = await startExtenderServer({
      ...base(),
      tls: { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key') },
    });
    const agent = new https.Agent({ keepAlive: true, rejectUnauthorized: false });
    try {
      expect(server.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/scheduler$/);
      const answer = await postTo(`${server.url}/filter`, BODY, agent);
      expect(answer.status).toBe(200);
    } finally {
      agent.destroy();
      await server.close();
    }
  });

  it('says which TLS file cannot be read', async () => {
    const missing = join(dir, 'nope.crt');
    await expect(
      startExtenderServer({ ...base(), tls: { certFile: missing, keyFile: join(dir, 'tls.key') } }),
    ).rejects.toThrow(`extender TLS certificate ${missing} cannot be read`);
  });
});
