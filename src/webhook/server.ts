/**
 * The webhook's HTTPS listener. The serving certificate and key come from files (a cert-manager
 * Secret mounted into the pod) and are reloaded in place when those files change, so certificate
 * rotation needs no restart: the directories are watched (Secret volumes swap a `..data` symlink,
 * which shows up as an event on the directory) and, because watches can miss events on some
 * filesystems, the files are also re-read on an interval. A new pair is only taken once the
 * certificate and key match, so a half-written rotation keeps the old pair in service.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { type FSWatcher, watch } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type https from 'node:https';
import type { AddressInfo } from 'node:net';
import { dirname } from 'node:path';
import { createSecureContext } from 'node:tls';
import Fastify, { LogController } from 'fastify';
import type { Logger } from '../observability/logger.ts';
import { buildWebhookApp, REVIEW_BODY_LIMIT, type WebhookAppOptions } from './app.ts';

export interface WebhookServerOptions {
  readonly app: WebhookAppOptions;
  /** PEM certificate chain file (e.g. `/tls/tls.crt`). */
  readonly certFile: string;
  /** PEM private key file (e.g. `/tls/tls.key`). */
  readonly keyFile: string;
  /** Default `0.0.0.0`. */
  readonly host?: string;
  /** 0 picks a free port (tests). */
  readonly port: number;
  /** How often the files are re-read besides watch events; default 30 s. */
  readonly pollIntervalMs?: number;
}

export interface WebhookServer {
  readonly port: number;
  /** Re-reads the files; true when a new pair was taken into service. */
  reloadCertificate(): Promise<boolean>;
  /** Stops watching, finishes in-flight reviews and closes the listener. */
  close(): Promise<void>;
}

interface KeyPair {
  readonly cert: Buffer;
  readonly key: Buffer;
}

const DEFAULT_POLL_INTERVAL_MS = 30_000;
/** Secret volume updates touch several entries; wait for the burst to end before reading. */
const WATCH_DEBOUNCE_MS = 250;

async function readPair(certFile: string, keyFile: string): Promise<KeyPair> {
  const [cert, key] = await Promise.all([readFile(certFile), readFile(keyFile)]);
  return { cert, key };
}

/** Throws with a sentence when the files do not hold a usable, matching pair. */
function checkPair(pair: KeyPair, certFile: string, keyFile: string): void {
  try {
    createSecureContext({ cert: pair.cert, key: pair.key });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(
      `the certificate ${certFile} and key ${keyFile} are not a usable pair (${reason}); check the webhook's TLS Secret`,
    );
  }
}

function fingerprint(pair: KeyPair): string {
  return createHash('sha256').update(pair.cert).update('\0').update(pair.key).digest('hex');
}

function expirySeconds(cert: Buffer): number | undefined {
  try {
    return Math.floor(new X509Certificate(cert).validToDate.getTime() / 1000);
  } catch {
    return undefined;
  }
}

/** Starts the HTTPS webhook server; rejects with a sentence when the TLS files are unusable. */
export async function startWebhookServer(options: WebhookServerOptions): Promise<WebhookServer> {
  const { certFile, keyFile } = options;
  const { logger, metrics } = options.app;
  const initial = await readPair(certFile, keyFile).catch((error: unknown) => {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(
      `cannot read the webhook's TLS files (${reason}); check --tls-cert-file and --tls-key-file`,
    );
  });
  checkPair(initial, certFile, keyFile);
  const app = Fastify({
    https: { cert: initial.cert, key: initial.key },
    loggerInstance: logger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: REVIEW_BODY_LIMIT,
    return503OnClosing: true,
  });
  await app.register(buildWebhookApp<https.Server, Logger>(options.app));
  await app.listen({ host: options.host ?? '0.0.0.0', port: options.port });
  const port = (app.server.address() as AddressInfo).port;
  let current = fingerprint(initial);
  const expiry = expirySeconds(initial.cert);
  if (expiry !== undefined) metrics.certificateExpiry.set(expiry);
  logger.info({ port, certFile }, 'Webhook server listening');

  const swap = async (): Promise<boolean> => {
    const pair = await readPair(certFile, keyFile);
    if (fingerprint(pair) === current) return false;
    checkPair(pair, certFile, keyFile);
    app.server.setSecureContext({ cert: pair.cert, key: pair.key });
    current = fingerprint(pair);
    const seconds = expirySeconds(pair.cert);
    if (seconds !== undefined) metrics.certificateExpiry.set(seconds);
    return true;
  };
  const reloadCertificate = async (): Promise<boolean> => {
    try {
      const changed = await swap();
      if (changed) {
        metrics.certificateReloads.inc({ result: 'success' });
        logger.info({ certFile }, 'Reloaded the webhook serving certificate');
      }
      return changed;
    } catch (error) {
      metrics.certificateReloads.inc({ result: 'error' });
      throw error;
    }
  };
  const reloader = new Reloader(reloadCertificate, logger, [certFile, keyFile]);
  reloader.start(options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS);

  return {
    port,
    reloadCertificate,
    close: async () => {
      reloader.stop();
      await app.close();
    },
  };
}

/** Runs reloads on watch events (debounced) and on an interval, one at a time. */
class Reloader {
  readonly #reload: () => Promise<boolean>;
  readonly #logger: Logger;
  readonly #dirs: string[];
  readonly #watchers: FSWatcher[] = [];
  #timer: NodeJS.Timeout | undefined;
  #debounce: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #stopped = false;

  constructor(reload: () => Promise<boolean>, logger: Logger, files: readonly string[]) {
    this.#reload = reload;
    this.#logger = logger;
    this.#dirs = [...new Set(files.map((f) => dirname(f)))];
  }

  start(pollIntervalMs: number): void {
    for (const dir of this.#dirs) {
      try {
        const watcher = watch(dir, () => this.#schedule());
        watcher.on('error', (err) =>
          this.#logger.warn({ err, dir }, 'Watch on TLS directory failed; polling only'),
        );
        this.#watchers.push(watcher);
      } catch (err) {
        this.#logger.warn({ err, dir }, 'Cannot watch TLS directory; polling only');
      }
    }
    this.#timer = setInterval(() => this.#run(), pollIntervalMs);
    this.#timer.unref();
  }

  stop(): void {
    this.#stopped = true;
    for (const watcher of this.#watchers) watcher.close();
    clearInterval(this.#timer);
    clearTimeout(this.#debounce);
  }

  #schedule(): void {
    clearTimeout(this.#debounce);
    this.#debounce = setTimeout(() => this.#run(), WATCH_DEBOUNCE_MS);
    this.#debounce.unref();
  }

  #run(): void {
    if (this.#stopped || this.#running !== undefined) return;
    this.#running = this.#reload()
      .then(
        () => undefined,
        (err: unknown) => {
          this.#logger.warn({ err }, 'Serving certificate not reloaded; keeping the current one');
        },
      )
      .finally(() => {
        this.#running = undefined;
      });
  }
}
