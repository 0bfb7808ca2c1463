/**
 * Runs the extender app on a TCP port (HTTPS when a certificate and key are given) and closes it
 * gracefully: stop accepting, let calls in flight finish, then drop what is left.
 */
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import {
  buildExtenderApp,
  DEFAULT_EXTENDER_PREFIX,
  type ExtenderRoutesOptions,
  normalizePrefix,
} from './app.ts';

export interface ExtenderServerOptions extends ExtenderRoutesOptions {
  /** Interface to listen on; `0.0.0.0` (all IPv4) when empty. */
  readonly host: string;
  /** TCP port; 0 picks a free one (see {@link ExtenderServer.port}). */
  readonly port: number;
  /** PEM files for HTTPS (`enableHTTPS: true` in the scheduler's extender config). */
  readonly tls?: { readonly certFile: string; readonly keyFile: string };
  /** How long close() waits for calls in flight before dropping connections. Default 10 s. */
  readonly closeGraceMs?: number;
}

export interface ExtenderServer {
  readonly app: FastifyInstance;
  readonly port: number;
  /** The `urlPrefix` to put in KubeSchedulerConfiguration, e.g. `http://127.0.0.1:8888/scheduler`. */
  readonly url: string;
  close(): Promise<void>;
}

const DEFAULT_CLOSE_GRACE_MS = 10_000;

async function readTls(
  tls: ExtenderServerOptions['tls'],
): Promise<{ cert: Buffer; key: Buffer } | undefined> {
  if (tls === undefined) return undefined;
  const read = async (path: string, what: string): Promise<Buffer> => {
    try {
      return await readFile(path);
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      throw new Error(`extender TLS ${what} ${path} cannot be read (${why}); check the path`);
    }
  };
  const [cert, key] = await Promise.all([
    read(tls.certFile, 'certificate'),
    read(tls.keyFile, 'key'),
  ]);
  return { cert, key };
}

function urlHost(host: string): string {
  const h = host === '' || host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  return h.includes(':') ? `[${h}]` : h;
}

/** Starts listening; rejects (after cleaning up) when the port or TLS files cannot be used. */
export async function startExtenderServer(options: ExtenderServerOptions): Promise<ExtenderServer> {
  const tls = await readTls(options.tls);
  const { tls: _files, host: _host, port: _port, closeGraceMs: _grace, ...routes } = options;
  const app = buildExtenderApp(tls === undefined ? routes : { ...routes, tls });
  try {
    await app.listen({ host: options.host === '' ? '0.0.0.0' : options.host, port: options.port });
  } catch (err) {
    await app.close();
    const why = err instanceof Error ? err.message : String(err);
    throw new Error(
      `extender cannot listen on ${options.host}:${options.port} (${why}); pick another address`,
    );
  }
  const port = (app.server.address() as AddressInfo).port;
  const scheme = tls === undefined ? 'http' : 'https';
  const prefix = normalizePrefix(options.pathPrefix ?? DEFAULT_EXTENDER_PREFIX);
  const graceMs = options.closeGraceMs ?? DEFAULT_CLOSE_GRACE_MS;
  let closing: Promise<void> | undefined;
  return {
    app,
    port,
    url: `${scheme}://${urlHost(options.host)}:${port}${prefix}`,
    close() {
      closing ??= closeGracefully(app, graceMs);
      return closing;
    },
  };
}

/** fastify's close (stop accepting, drop idle keep-alive connections, wait for calls in flight), bounded. */
async function closeGracefully(app: FastifyInstance, graceMs: number): Promise<void> {
  const timer = setTimeout(() => app.server.closeAllConnections(), graceMs);
  try {
    await app.close();
  } finally {
    clearTimeout(timer);
  }
}
