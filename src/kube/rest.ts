/**
 * The one HTTP path to the API server. Credentials and TLS come from @kubernetes/client-node's
 * KubeConfig (kubeconfig file, in-cluster service account, exec plugins); requests are plain JSON
 * so that what is sent and what comes back can be compared field by field (the slice publisher
 * uses that to detect fields a disabled feature gate dropped). Typed client-node models would
 * silently drop fields newer than their generator.
 */
import http from 'node:http';
import https from 'node:https';
import { KubeConfig } from '@kubernetes/client-node';

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

export function loadKubeConfig(path?: string): KubeConfig {
  const kc = new KubeConfig();
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

export class KubeClient {
  readonly kubeConfig: KubeConfig;
  readonly server: URL;
  readonly #userAgent: string;
  readonly #timeoutMs: number;
  #keepAlive: https.Agent | undefined;

  constructor(kubeConfig: KubeConfig, options: KubeClientOptions = {}) {
    this.kubeConfig = kubeConfig;
    const cluster = kubeConfig.getCurrentCluster();
    if (cluster === null) throw new Error('kubeconfig has no current cluster');
    this.server = new URL(cluster.server);
    this.#userAgent = options.userAgent ?? 'phalanx';
    this.#timeoutMs = options.timeoutMs ?? 30_000;
  }

  static fromOptions(options: KubeClientOptions = {}): KubeClient {
    return new KubeClient(loadKubeConfig(options.kubeconfig), options);
  }

  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const url = new URL(this.server.toString().replace(/\/$/, '') + path);
    for (const [key, value] of Object.entries(options.query ?? {}))
      url.searchParams.set(key, value);
    const httpsOptions: https.RequestOptions = { headers: {} };
    await this.kubeConfig.applyToHTTPSOptions(httpsOptions);
    httpsOptions.agent = this.#reuse(httpsOptions.agent);
    const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
    const headers: Record<string, string> = {
      ...(httpsOptions.headers as Record<string, string>),
      accept: 'application/json',
      'user-agent': this.#userAgent,
    };
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
      method,
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
