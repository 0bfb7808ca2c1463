/**
 * The one HTTP path to the API server. Requests are plain JSON so that what is sent and what
 * comes back can be compared field by field (the slice publisher uses that to detect fields a
 * disabled feature gate dropped); typed client-node models would silently drop fields newer than
 * their generator. Watches are streamed here too, one JSON event per line.
 *
 * Credentials and TLS: a kubeconfig file (exec plugins, OIDC, client certificates…) is read by
 * @kubernetes/client-node's KubeConfig. In a pod without a kubeconfig — how the programs run in
 * production — the service account's token and CA are read directly ({@link InClusterCredentials}),
 * and client-node is never loaded: its generated API models alone take about 80 MiB of the
 * process, which the scheduler's memory budget does not have. The choice follows client-node's
 * own order: --kubeconfig, then KUBECONFIG, then ~/.kube/config, then the in-cluster account.
 */
import { readFileSync, statSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';

export interface KubeStatus {
  readonly kind?: string;
  readonly status?: string;
  readonly message?: string;
  readonly reason?: string;
  readonly code?: number;
}

/** A non-2xx answer from the API server, or a transport failure (status 0). */
export class KubeApiError extends Error {
  readonly status: number;
  readonly reason: string;
  readonly method: string;
  readonly path: string;
  constructor(method: string, path: string, status: number, reason: string, message: string) {
    super(`${method} ${path}: ${status === 0 ? 'unreachable' : status} ${reason}: ${message}`);
    this.name = 'KubeApiError';
    this.status = status;
    this.reason = reason;
    this.method = method;
    this.path = path;
  }
  get notFound(): boolean {
    return this.status === 404;
  }
  get conflict(): boolean {
    return this.status === 409;
  }
  /** Transport errors, throttling and server errors are worth retrying with backoff. */
  get retryable(): boolean {
    return this.status === 0 || this.status === 429 || this.status >= 500;
  }
}

export interface RequestOptions {
  readonly body?: unknown;
  readonly query?: Readonly<Record<string, string>>;
  readonly signal?: AbortSignal;
  readonly contentType?: string;
  readonly timeoutMs?: number;
}

export interface ServerVersion {
  readonly major: number;
  readonly minor: number;
  readonly gitVersion: string;
}

export interface KubeClientOptions {
  /** Path of a kubeconfig file; empty uses the default chain (KUBECONFIG, ~/.kube/config, in-cluster). */
  readonly kubeconfig?: string;
  readonly userAgent?: string;
  readonly timeoutMs?: number;
}

/** client-node, loaded on first use only (see the module comment). */
function clientNode(): typeof import('@kubernetes/client-node') {
  return createRequire(import.meta.url)('@kubernetes/client-node');
}

export function loadKubeConfig(path?: string): KubeConfig {
  const kc = new (clientNode().KubeConfig)();
  if (path !== undefined && path !== '') {
    try {
      kc.loadFromFile(path);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new Error(`cannot load kubeconfig ${path}: ${reason}; check --kubeconfig (KUBECONFIG)`);
    }
  } else kc.loadFromDefault();
  if (kc.getCurrentCluster() === null) {
    throw new Error(
      'no Kubernetes cluster configured: set --kubeconfig (or KUBECONFIG), or run in a pod with a service account',
    );
  }
  return kc;
}

/** Where the API server is and how to authenticate to it. */
export interface Credentials {
  readonly server: string;
  /** Sets TLS options, the agent and authentication headers on a request. */
  applyToHTTPSOptions(options: https.RequestOptions): Promise<void>;
}

/** Files a pod's service account is mounted as. */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** Token files are re-read after this long: the kubelet rotates bound tokens well before expiry. */
const TOKEN_REREAD_MS = 60_000;

/**
 * The pod's service account: `KUBERNETES_SERVICE_HOST`/`_PORT`, the CA and the token mounted at
 * {@link SERVICE_ACCOUNT_DIR}. The token is re-read once a minute.
 */
export class InClusterCredentials implements Credentials {
  readonly server: string;
  readonly namespace: string;
  readonly #dir: string;
  readonly #now: () => number;
  readonly #agent: https.Agent;
  #token = '';
  #readAt = Number.NEGATIVE_INFINITY;

  constructor(
    env: Readonly<Record<string, string | undefined>>,
    dir = SERVICE_ACCOUNT_DIR,
    now: () => number = Date.now,
  ) {
    const host = env.KUBERNETES_SERVICE_HOST ?? '';
    const port = env.KUBERNETES_SERVICE_PORT ?? '443';
    if (host === '') throw new Error('KUBERNETES_SERVICE_HOST is not set: not running in a pod');
    this.server = `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
    this.#dir = dir;
    this.#now = now;
    const ca = readServiceAccountFile(dir, 'ca.crt');
    this.#agent = new https.Agent({ ca, keepAlive: true });
    this.namespace = optionalFile(join(dir, 'namespace')) ?? 'default';
  }

  /** Whether the process runs in a pod with a mounted service account. */
  static available(
    env: Readonly<Record<string, string | undefined>>,
    dir = SERVICE_ACCOUNT_DIR,
  ): boolean {
    return (
      (env.KUBERNETES_SERVICE_HOST ?? '') !== '' && optionalFile(join(dir, 'token')) !== undefined
    );
  }

  async applyToHTTPSOptions(options: https.RequestOptions): Promise<void> {
    const now = this.#now();
    if (now - this.#readAt >= TOKEN_REREAD_MS) {
      this.#token = readServiceAccountFile(this.#dir, 'token').toString('utf8').trim();
      this.#readAt = now;
    }
    options.agent = this.#agent;
    options.headers = { ...options.headers, authorization: `Bearer ${this.#token}` };
  }
}

function readServiceAccountFile(dir: string, name: string): Buffer {
  try {
    return readFileSync(join(dir, name));
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`cannot read the service account's ${name} in ${dir}: ${reason}`);
  }
}

function optionalFile(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/**
 * The credentials client-node's default chain would choose, without loading client-node when it
 * would choose the in-cluster account.
 */
export function defaultCredentials(
  path: string | undefined,
  env: Readonly<Record<string, string | undefined>> = process.env,
  home: string = homedir(),
): Credentials | KubeConfig {
  const explicit = (path ?? '') !== '' || (env.KUBECONFIG ?? '') !== '';
  if (!explicit && !isFile(join(home, '.kube', 'config')) && InClusterCredentials.available(env)) {
    return new InClusterCredentials(env);
  }
  return loadKubeConfig(path);
}

function isKubeConfig(source: Credentials | KubeConfig): source is KubeConfig {
  return 'getCurrentCluster' in source;
}

export class KubeClient {
  readonly server: URL;
  readonly #credentials: Credentials;
  readonly #kubeConfig: KubeConfig | undefined;
  readonly #userAgent: string;
  readonly #timeoutMs: number;
  #keepAlive: https.Agent | undefined;

  constructor(source: KubeConfig | Credentials, options: KubeClientOptions = {}) {
    if (isKubeConfig(source)) {
      const cluster = source.getCurrentCluster();
      if (cluster === null) throw new Error('kubeconfig has no current cluster');
      this.#kubeConfig = source;
      this.#credentials = {
        server: cluster.server,
        applyToHTTPSOptions: (o) => source.applyToHTTPSOptions(o),
      };
    } else {
      this.#credentials = source;
    }
    this.server = new URL(this.#credentials.server);
    this.#userAgent = options.userAgent ?? 'phalanx';
    this.#timeoutMs = options.timeoutMs ?? 30_000;
  }

  static fromOptions(options: KubeClientOptions = {}): KubeClient {
    return new KubeClient(defaultCredentials(options.kubeconfig), options);
  }

  /** The kubeconfig (contexts, namespaces); built from the in-cluster account on first use when there is none. */
  get kubeConfig(): KubeConfig {
    if (this.#kubeConfig !== undefined) return this.#kubeConfig;
    const kc = new (clientNode().KubeConfig)();
    kc.loadFromCluster();
    return kc;
  }

  async #prepare(
    method: string,
    path: string,
    options: RequestOptions,
  ): Promise<{ url: URL; httpsOptions: https.RequestOptions; headers: Record<string, string> }> {
    const url = new URL(this.server.toString().replace(/\/$/, '') + path);
    for (const [key, value] of Object.entries(options.query ?? {}))
      url.searchParams.set(key, value);
    const httpsOptions: https.RequestOptions = { headers: {} };
    await this.#credentials.applyToHTTPSOptions(httpsOptions);
    httpsOptions.agent = this.#reuse(httpsOptions.agent);
    const headers: Record<string, string> = {
      ...(httpsOptions.headers as Record<string, string>),
      accept: 'application/json',
      'user-agent': this.#userAgent,
    };
    return { url, httpsOptions: { ...httpsOptions, method }, headers };
  }

  /**
   * Streams a watch: calls `onEvent` for every event line until the server ends the watch
   * (resolves), the signal aborts (resolves) or the request fails (rejects with a KubeApiError;
   * status 410 when the resource version is too old). `idleMs` without a byte ends it as well,
   * so a connection that died silently is replaced.
   */
  async watch(
    path: string,
    query: Readonly<Record<string, string>>,
    onEvent: (type: string, object: unknown) => void,
    signal: AbortSignal,
    idleMs: number,
  ): Promise<void> {
    const { url, httpsOptions, headers } = await this.#prepare('GET', path, {
      query: { watch: 'true', ...query },
    });
    const transport = url.protocol === 'https:' ? https : http;
    return streamLines(transport, url, { ...httpsOptions, headers, signal }, idleMs, (line) => {
      const event = safeJson(line) as { type?: string; object?: unknown };
      if (typeof event.type === 'string') onEvent(event.type, event.object);
    }).catch((error: unknown) => {
      if (error instanceof KubeApiError) throw error;
      const reason = error instanceof Error ? error.message : String(error);
      throw new KubeApiError('GET', path, 0, 'Unreachable', reason);
    });
  }

  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const { url, httpsOptions, headers } = await this.#prepare(method, path, options);
    const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
    if (payload !== undefined) {
      headers['content-type'] = options.contentType ?? 'application/json';
      // Without a length Node sends DELETE bodies chunked; the API server then ignores the body
      // (preconditions are lost) and the leftover bytes break the next request on the connection.
      headers['content-length'] = String(Buffer.byteLength(payload));
    }
    const transport = url.protocol === 'https:' ? https : http;
    const timeoutMs = options.timeoutMs ?? this.#timeoutMs;
    const signal =
      options.signal === undefined
        ? AbortSignal.timeout(timeoutMs)
        : AbortSignal.any([options.signal, AbortSignal.timeout(timeoutMs)]);
    const { status, text } = await send(transport, url, {
      ...httpsOptions,
      headers,
      signal,
      payload,
    }).catch((error: unknown) => {
      const reason = error instanceof Error ? error.message : String(error);
      throw new KubeApiError(method, path, 0, 'Unreachable', reason);
    });
    const parsed: unknown = text === '' ? {} : safeJson(text);
    if (status < 200 || status >= 300) {
      const kubeStatus = (parsed ?? {}) as KubeStatus;
      throw new KubeApiError(
        method,
        path,
        status,
        kubeStatus.reason ?? 'Error',
        kubeStatus.message ?? text.slice(0, 300),
      );
    }
    return parsed as T;
  }

  /**
   * client-node hands out one agent per cluster and user, but without keep-alive, so every call
   * (one claim GET per prepare) would pay a new TLS handshake. A plain TLS agent is replaced once
   * by a keep-alive twin with the same TLS settings; proxy agents are used as they come.
   */
  #reuse(agent: https.RequestOptions['agent']): https.RequestOptions['agent'] {
    if (!(agent instanceof https.Agent) || agent.constructor !== https.Agent) return agent;
    if ((agent.options as { keepAlive?: boolean }).keepAlive === true) return agent;
    this.#keepAlive ??= new https.Agent({ ...agent.options, keepAlive: true });
    return this.#keepAlive;
  }

  async serverVersion(signal?: AbortSignal): Promise<ServerVersion> {
    const info = await this.request<{ major?: string; minor?: string; gitVersion?: string }>(
      'GET',
      '/version',
      signal === undefined ? {} : { signal },
    );
    return parseServerVersion(info);
  }
}

/** Parses `/version`; managed clusters report minors like `36+`. */
export function parseServerVersion(info: {
  major?: string;
  minor?: string;
  gitVersion?: string;
}): ServerVersion {
  const gitVersion = info.gitVersion ?? '';
  const fromGit = /^v?(\d+)\.(\d+)/.exec(gitVersion);
  const major = Number.parseInt(info.major ?? fromGit?.[1] ?? '', 10);
  const minor = Number.parseInt(info.minor ?? fromGit?.[2] ?? '', 10);
  if (!Number.isFinite(major) || !Number.isFinite(minor)) {
    throw new Error(`cannot read the API server version from ${JSON.stringify(info)}`);
  }
  return { major, minor, gitVersion };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return { message: text.slice(0, 300) };
  }
}

interface SendOptions extends https.RequestOptions {
  readonly payload: string | undefined;
  readonly signal: AbortSignal;
}

function send(
  transport: typeof http | typeof https,
  url: URL,
  options: SendOptions,
): Promise<{ status: number; text: string }> {
  const { payload, ...requestOptions } = options;
  return new Promise((resolve, reject) => {
    const req = transport.request(url, requestOptions, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

/**
 * GET with a streamed body: `onLine` for every complete line. A non-2xx answer rejects with its
 * KubeApiError (the body is the Status); `idleMs` without data, or the caller's abort, ends the
 * stream quietly.
 */
function streamLines(
  transport: typeof http | typeof https,
  url: URL,
  options: https.RequestOptions & { signal: AbortSignal },
  idleMs: number,
  onLine: (line: string) => void,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = transport.request(url, options, (res) => {
      const status = res.statusCode ?? 0;
      if (status < 200 || status >= 300) {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const s = (safeJson(text) ?? {}) as KubeStatus;
          reject(
            new KubeApiError(
              'GET',
              url.pathname,
              status,
              s.reason ?? 'Error',
              s.message ?? text.slice(0, 300),
            ),
          );
        });
        return;
      }
      res.setEncoding('utf8');
      let rest = '';
      res.on('data', (chunk: string) => {
        const lines = (rest + chunk).split('\n');
        rest = lines.pop() ?? '';
        for (const line of lines) if (line.trim() !== '') onLine(line);
      });
      res.on('end', () => resolve());
      res.on('error', (error) => (options.signal.aborted ? resolve() : reject(error)));
    });
    req.setTimeout(idleMs, () => {
      req.destroy();
      resolve();
    });
    req.on('error', (error) => (options.signal.aborted ? resolve() : reject(error)));
    req.end();
  });
}
