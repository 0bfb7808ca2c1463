/**
 * The scheduler extender's HTTP app: kube-scheduler's `filter`, `prioritize` and `preempt` verbs
 * under a URL prefix (`urlPrefix: http://host:port/scheduler` in KubeSchedulerConfiguration),
 * plus `/healthz` and `/readyz`. An adapter only: it decodes the wire JSON (`wire.ts`), asks the
 * {@link ExtenderDecider}, keeps the reply valid (`guard.ts`) and encodes it.
 *
 * Every failure is answered, never thrown out of the process: a malformed request is a 4xx, a
 * decider crash a 500, each with `{"Error": "<sentence>"}`. kube-scheduler treats any non-200 as a
 * failed call (filter: the pod goes to backoff; prioritize: no score from us).
 */
import type http from 'node:http';
import https from 'node:https';
import Fastify, {
  type FastifyError,
  type FastifyHttpOptions,
  type FastifyInstance,
  type FastifyPluginCallback,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import type { Logger } from '../observability/logger.ts';
import { type ExtenderDecider, ExtenderInputError, type ExtenderPod } from './decider.ts';
import { guardFilterOutcome, guardPreemption, guardPriorities } from './guard.ts';
import type { ExtenderMetrics, ExtenderVerb } from './metrics.ts';
import {
  decodeExtenderArgs,
  decodePreemptionArgs,
  encodeHostPriorities,
  encodePreemptionResult,
  errorReply,
  filterResultJson,
} from './wire.ts';

export const DEFAULT_EXTENDER_PREFIX = '/scheduler';
/** 16 MiB: room for full-mode calls (a v1.Node is a few KiB) at a few thousand nodes. */
export const DEFAULT_BODY_LIMIT_BYTES = 16 * 1024 * 1024;

export interface ExtenderRoutesOptions {
  readonly decider: ExtenderDecider;
  readonly logger: Logger;
  readonly metrics: ExtenderMetrics;
  /** Largest request body accepted; larger ones get 413. Default 16 MiB. */
  readonly bodyLimitBytes?: number;
  /**
   * Path prefix of the verbs, e.g. `/scheduler` for `POST /scheduler/filter` (not `prefix`:
   * fastify reserves that name in plugin options).
   */
  readonly pathPrefix?: string;
}

export interface ExtenderAppOptions extends ExtenderRoutesOptions {
  /** Serve HTTPS with this certificate and key (PEM); plain HTTP when absent. */
  readonly tls?: { readonly cert: string | Buffer; readonly key: string | Buffer };
}

/** `/scheduler/` → `/scheduler`; `` and `/` → `` (verbs at the root). */
export function normalizePrefix(prefix: string): string {
  const trimmed = prefix.replace(/\/+$/, '');
  if (trimmed !== '' && !trimmed.startsWith('/'))
    throw new Error(`extender URL prefix "${prefix}" must start with "/", e.g. /scheduler`);
  if (/[\s?#]/.test(trimmed))
    throw new Error(`extender URL prefix "${prefix}" must be a plain path without spaces, ? or #`);
  return trimmed;
}

function formatBytes(n: number): string {
  if (n >= 1024 * 1024 && n % (1024 * 1024) === 0) return `${n / (1024 * 1024)} MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} bytes`;
}

/** Replies written as JSON text are sent with this type (fastify then sends them unchanged). */
const JSON_TYPE = 'application/json; charset=utf-8';

const podKey = (pod: ExtenderPod): string => `${pod.namespace}/${pod.name}`;

/** The pod of each request once decoded, for log lines written by the error handler. */
type PodKeys = WeakMap<FastifyRequest, string>;

interface Context {
  readonly decider: ExtenderDecider;
  readonly logger: Logger;
  readonly metrics: ExtenderMetrics;
  readonly bodyLimit: number;
  readonly pods: PodKeys;
}

function logProblems(ctx: Context, pod: string, problems: readonly string[]): void {
  if (problems.length > 0)
    ctx.logger.warn({ pod, problems }, 'decider reply corrected to keep the extender wire valid');
}

// ---- verbs ------------------------------------------------------------------------------------

function filter(ctx: Context, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const args = decodeExtenderArgs(request.body);
  const pod = podKey(args.pod);
  ctx.pods.set(request, pod);
  const guarded = guardFilterOutcome(args.nodes.names, ctx.decider.filter(args.pod, args.nodes));
  logProblems(ctx, pod, guarded.problems);
  const { feasible, failed, unresolvable } = guarded.value;
  const failedCount = failed.names.length;
  const unresolvableCount = unresolvable.names.length;
  ctx.metrics.observeFilter(feasible.length, failedCount, unresolvableCount);
  ctx.logger.debug(
    {
      pod,
      mode: args.mode,
      nodes: args.nodes.names.length,
      feasible: feasible.length,
      failed: failedCount,
      unresolvable: unresolvableCount,
    },
    'filter',
  );
  return reply.type(JSON_TYPE).send(filterResultJson(args.mode, guarded.value, args.nodes));
}

function prioritize(ctx: Context, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const args = decodeExtenderArgs(request.body);
  const pod = podKey(args.pod);
  ctx.pods.set(request, pod);
  const guarded = guardPriorities(args.nodes.names, ctx.decider.prioritize(args.pod, args.nodes));
  logProblems(ctx, pod, guarded.problems);
  ctx.logger.debug(
    { pod, mode: args.mode, nodes: args.nodes.names.length, scored: guarded.value.length },
    'prioritize',
  );
  return reply.send(encodeHostPriorities(guarded.value));
}

function preempt(ctx: Context, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const args = decodePreemptionArgs(request.body);
  const pod = podKey(args.pod);
  ctx.pods.set(request, pod);
  const guarded = guardPreemption(args.candidates, ctx.decider.preempt(args.pod, args.candidates));
  logProblems(ctx, pod, guarded.problems);
  const kept = guarded.value.size;
  ctx.metrics.observePreempt(kept, args.candidates.size - kept);
  ctx.logger.debug({ pod, mode: args.mode, candidates: args.candidates.size, kept }, 'preempt');
  return reply.send(encodePreemptionResult(guarded.value));
}

const VERBS: Record<
  ExtenderVerb,
  (ctx: Context, request: FastifyRequest, reply: FastifyReply) => FastifyReply
> = { filter, prioritize, preempt };

// ---- errors -----------------------------------------------------------------------------------

interface Failure {
  readonly status: number;
  readonly message: string;
}

function contentTypeFailure(request: FastifyRequest): Failure {
  const type = request.headers['content-type'];
  const message =
    type === undefined || type === ''
      ? 'the request has no Content-Type; send the body as application/json'
      : `content type ${JSON.stringify(type)} is not supported; send the body as application/json`;
  return { status: 415, message };
}

const FASTIFY_FAILURES: Record<string, (ctx: Context, request: FastifyRequest) => Failure> = {
  FST_ERR_CTP_BODY_TOO_LARGE: (ctx) => ({
    status: 413,
    message: `request body is larger than the extender's limit of ${formatBytes(ctx.bodyLimit)}; raise the limit or set nodeCacheCapable: true in the scheduler's extender config`,
  }),
  FST_ERR_CTP_INVALID_MEDIA_TYPE: (_ctx, request) => contentTypeFailure(request),
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: () => ({
    status: 400,
    message: 'request body length does not match its Content-Length header',
  }),
};

function isFastifyError(error: Error): error is FastifyError {
  return typeof (error as Partial<FastifyError>).code === 'string';
}

/** What to answer for an error; undefined for an unexpected one (a 500). */
function expectedFailure(ctx: Context, error: Error, request: FastifyRequest): Failure | undefined {
  if (error instanceof ExtenderInputError) return { status: error.status, message: error.message };
  if (!isFastifyError(error)) return undefined;
  const known = FASTIFY_FAILURES[error.code];
  if (known !== undefined) return known(ctx, request);
  const status = error.statusCode ?? 500;
  return status >= 400 && status < 500 ? { status, message: error.message } : undefined;
}

function handleError(
  ctx: Context,
  error: Error,
  request: FastifyRequest,
  reply: FastifyReply,
): FastifyReply {
  const pod = ctx.pods.get(request);
  const route = `${request.method} ${request.url}`;
  const expected = expectedFailure(ctx, error, request);
  if (expected !== undefined) {
    ctx.logger.warn(
      { pod, route, status: expected.status, reason: expected.message },
      'extender request rejected',
    );
    return reply.code(expected.status).send(errorReply(expected.message));
  }
  const who = pod === undefined ? '' : ` for pod ${pod}`;
  ctx.logger.warn({ pod, route, err: error }, 'extender call failed');
  return reply
    .code(500)
    .send(errorReply(`${route} failed${who}: ${error.message}; see the extender log`));
}

// ---- the plugin -------------------------------------------------------------------------------

function parseJson(
  _request: FastifyRequest,
  body: string | Buffer,
  done: (err: Error | null, body?: unknown) => void,
): void {
  const text = typeof body === 'string' ? body : body.toString('utf8');
  if (text.trim() === '') {
    done(new ExtenderInputError('request body is empty; send the extender arguments as JSON'));
    return;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    done(new ExtenderInputError(`request body is not valid JSON (${why})`));
    return;
  }
  done(null, parsed);
}

/**
 * The extender's routes as a fastify plugin: the verbs under `prefix`, `/healthz` and `/readyz`.
 * Encapsulated: its JSON-only body parser and error handler apply to these routes only.
 */
export const extenderRoutes: FastifyPluginCallback<ExtenderRoutesOptions> = (app, opts, done) => {
  const ctx: Context = {
    decider: opts.decider,
    logger: opts.logger,
    metrics: opts.metrics,
    bodyLimit: opts.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES,
    pods: new WeakMap(),
  };
  const prefix = normalizePrefix(opts.pathPrefix ?? DEFAULT_EXTENDER_PREFIX);
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, parseJson);
  app.setErrorHandler((error: Error, request, reply) => handleError(ctx, error, request, reply));
  for (const [verb, handler] of Object.entries(VERBS)) {
    app.post(`${prefix}/${verb}`, {
      bodyLimit: ctx.bodyLimit,
      handler: (request, reply) => handler(ctx, request, reply),
      onResponse: (_request, reply, next) => {
        ctx.metrics.observeRequest(
          verb as ExtenderVerb,
          reply.statusCode,
          reply.elapsedTime / 1000,
        );
        next();
      },
    });
  }
  app.get('/healthz', (_request, reply) => reply.type('text/plain').send('ok'));
  app.get('/readyz', (_request, reply) =>
    opts.decider.ready()
      ? reply.type('text/plain').send('ok')
      : reply.code(503).type('text/plain').send('not ready: the cluster model has not synced yet'),
  );
  done();
};

function notFound(prefix: string) {
  const verbs = Object.keys(VERBS)
    .map((v) => `${prefix}/${v}`)
    .join(', ');
  return (request: FastifyRequest, reply: FastifyReply): FastifyReply =>
    reply
      .code(404)
      .send(
        errorReply(
          `no route ${request.method} ${request.url}; the extender serves POST ${verbs}, GET /healthz and GET /readyz`,
        ),
      );
}

/**
 * A whole extender app (routes, 404 handler, optional TLS), not yet listening: `server.ts`
 * listens; tests call `inject()`.
 */
export function buildExtenderApp(options: ExtenderAppOptions): FastifyInstance {
  const tls = options.tls;
  const serverOptions: FastifyHttpOptions<http.Server> = {
    logger: false,
    // The body limit is set per route; this only covers the 404 handler.
    bodyLimit: options.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES,
  };
  if (tls !== undefined)
    serverOptions.serverFactory = (handler) =>
      https.createServer({ cert: tls.cert, key: tls.key }, handler);
  const app = Fastify(serverOptions);
  app.register(extenderRoutes, options);
  app.setNotFoundHandler(notFound(normalizePrefix(options.pathPrefix ?? DEFAULT_EXTENDER_PREFIX)));
  return app;
}
