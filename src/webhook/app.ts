/**
 * The admission webhook as a fastify plugin: tests build it whole and call it with `inject()`,
 * server.ts registers it on an HTTPS instance. Routes only adapt AdmissionReviews to the pure
 * decisions in pods.ts and validate.ts, count them and log them.
 *
 * Failure stance: a review that cannot be read gets HTTP 400 with a sentence (the API server
 * applies the webhook's failurePolicy); an object of a kind a route does not handle, or a bug in a
 * decision, is admitted with a warning, so a Phalanx mistake never blocks the cluster.
 */
import type {
  FastifyBaseLogger,
  FastifyError,
  FastifyPluginAsync,
  FastifyTypeProviderDefault,
  RawServerBase,
  RawServerDefault,
} from 'fastify';
import { isRecord } from '../api/json.ts';
import type { Logger } from '../observability/logger.ts';
import {
  type AdmissionRequest,
  type AdmissionResponse,
  allow,
  allowWithPatch,
  deny,
  parseAdmissionReview,
  reviewResponse,
} from './admission.ts';
import type { WebhookMetrics, WebhookName, WebhookResult } from './metrics.ts';
import { DEFAULT_EXCLUDED_NAMESPACES, type NamespaceLabels, podMutation } from './pods.ts';
import {
  isGpuConfigCarrier,
  isQueueKind,
  type Verdict,
  validateGpuConfigCarrier,
  validateQueueObject,
} from './validate.ts';

export interface WebhookAppOptions {
  /** Namespace labels (the lead backs this with an informer). */
  readonly namespaces: NamespaceLabels;
  readonly logger: Logger;
  readonly metrics: WebhookMetrics;
  /** Namespaces whose pods are never gated; default `kube-system`. */
  readonly excludedNamespaces?: readonly string[];
}

export const WEBHOOK_PATHS = {
  pods: '/mutate/pods',
  queues: '/validate/queues',
  'gpu-config': '/validate/gpu-config',
} as const satisfies Record<WebhookName, string>;

/**
 * Reviews carry the object and, on UPDATE, the old one; objects may be up to etcd's 1.5 MiB each,
 * above fastify's 1 MiB default.
 */
export const REVIEW_BODY_LIMIT = 8 * 1024 * 1024;

interface Decision {
  readonly response: AdmissionResponse;
  readonly result: WebhookResult;
  readonly reason: string;
}

/** A decision, or a sentence saying why the review cannot be decided (→ HTTP 400). */
type Decide = (request: AdmissionRequest) => Decision | string;

function kindName(request: AdmissionRequest): string {
  const { group, version, kind } = request.kind;
  return `${group === '' ? 'core' : group}/${version} ${kind}`;
}

function unexpectedKind(request: AdmissionRequest, webhook: WebhookName): Decision {
  const warning = `the Phalanx webhook ${WEBHOOK_PATHS[webhook]} does not handle ${kindName(request)}; admitted unchecked (check the webhook configuration's rules)`;
  return { response: allow(request.uid, [warning]), result: 'allowed', reason: 'unexpected kind' };
}

function skipped(request: AdmissionRequest, reason: string): Decision {
  return { response: allow(request.uid), result: 'allowed', reason };
}

function objectOf(request: AdmissionRequest): Record<string, unknown> | string {
  if (isRecord(request.object)) return request.object;
  return `request.object must be the ${request.kind.kind} being ${request.operation === 'CREATE' ? 'created' : 'updated'}, got ${request.object === undefined ? 'none' : 'a non-object'}`;
}

/** The pod with its namespace filled in from the request when the object omits it. */
function withNamespace(pod: Record<string, unknown>, namespace: string | undefined): unknown {
  const metadata = isRecord(pod.metadata) ? pod.metadata : {};
  if (typeof metadata.namespace === 'string' && metadata.namespace !== '') return pod;
  return { ...pod, metadata: { ...metadata, namespace: namespace ?? 'default' } };
}

function decidePod(options: WebhookAppOptions): Decide {
  const excludedNamespaces = options.excludedNamespaces ?? DEFAULT_EXCLUDED_NAMESPACES;
  return (request) => {
    if (request.kind.group !== '' || request.kind.kind !== 'Pod')
      return unexpectedKind(request, 'pods');
    if (request.operation !== 'CREATE') return skipped(request, `operation ${request.operation}`);
    const pod = objectOf(request);
    if (typeof pod === 'string') return pod;
    const mutation = podMutation(withNamespace(pod, request.namespace), options.namespaces, {
      excludedNamespaces,
    });
    const { uid } = request;
    if (mutation.deny !== undefined)
      return {
        response: deny(uid, mutation.deny, undefined, mutation.warnings),
        result: 'denied',
        reason: mutation.reason,
      };
    if (mutation.patch !== undefined)
      return {
        response: allowWithPatch(uid, mutation.patch, mutation.warnings),
        result: 'patched',
        reason: mutation.reason,
      };
    return { response: allow(uid, mutation.warnings), result: 'allowed', reason: mutation.reason };
  };
}

function fromVerdict(request: AdmissionRequest, verdict: Verdict): Decision {
  if (verdict.deny === undefined)
    return { response: allow(request.uid, verdict.warnings), result: 'allowed', reason: 'valid' };
  return {
    response: deny(request.uid, verdict.deny, undefined, verdict.warnings),
    result: 'denied',
    reason: 'invalid',
  };
}

const validatedOperation = (request: AdmissionRequest): boolean =>
  request.operation === 'CREATE' || request.operation === 'UPDATE';

function decideQueue(): Decide {
  return (request) => {
    if (!isQueueKind(request.kind.group, request.kind.kind))
      return unexpectedKind(request, 'queues');
    if (!validatedOperation(request)) return skipped(request, `operation ${request.operation}`);
    const queue = objectOf(request);
    if (typeof queue === 'string') return queue;
    return fromVerdict(request, validateQueueObject(queue, request.oldObject));
  };
}

function decideGpuConfig(): Decide {
  return (request) => {
    const { group, kind } = request.kind;
    if (!isGpuConfigCarrier(group, kind)) return unexpectedKind(request, 'gpu-config');
    if (!validatedOperation(request)) return skipped(request, `operation ${request.operation}`);
    const carrier = objectOf(request);
    if (typeof carrier === 'string') return carrier;
    return fromVerdict(request, validateGpuConfigCarrier(kind, carrier, request.oldObject));
  };
}

// ---- HTTP adaptation ---------------------------------------------------------------------------

const messageSchema = {
  type: 'object',
  properties: { message: { type: 'string' } },
} as const;

/** Declared so fast-json-stringify serializes it and nothing unlisted can leak out. */
const reviewResponseSchema = {
  type: 'object',
  required: ['apiVersion', 'kind', 'response'],
  properties: {
    apiVersion: { type: 'string' },
    kind: { type: 'string' },
    response: {
      type: 'object',
      required: ['uid', 'allowed'],
      properties: {
        uid: { type: 'string' },
        allowed: { type: 'boolean' },
        status: {
          type: 'object',
          properties: {
            code: { type: 'integer' },
            message: { type: 'string' },
            reason: { type: 'string' },
          },
        },
        patch: { type: 'string' },
        patchType: { type: 'string' },
        warnings: { type: 'array', items: { type: 'string' } },
      },
    },
  },
} as const;

function objectRef(request: AdmissionRequest): string {
  const name = request.name ?? '';
  return request.namespace === undefined ? name : `${request.namespace}/${name}`;
}

/** Runs a decision; a thrown error (a Phalanx bug) admits the object with a warning. */
function decideSafely(
  decide: Decide,
  request: AdmissionRequest,
  webhook: WebhookName,
  logger: Logger,
): Decision | string {
  try {
    return decide(request);
  } catch (err) {
    logger.error({ err, webhook, uid: request.uid }, 'Admission decision failed; admitting');
    const warning = `the Phalanx webhook ${WEBHOOK_PATHS[webhook]} failed internally and admitted this ${request.kind.kind} unchecked`;
    return { response: allow(request.uid, [warning]), result: 'error', reason: 'internal error' };
  }
}

function logDecision(
  logger: Logger,
  webhook: WebhookName,
  request: AdmissionRequest,
  decision: Decision,
): void {
  const fields = {
    webhook,
    uid: request.uid,
    object: objectRef(request),
    kind: request.kind.kind,
    operation: request.operation,
    result: decision.result,
    reason: decision.reason,
    ...(decision.response.status?.message === undefined
      ? {}
      : { message: decision.response.status.message }),
  };
  if (decision.result === 'allowed') logger.debug(fields, 'Admission review answered');
  else logger.info(fields, 'Admission review answered');
}

interface HttpAnswer<Status extends number = number> {
  readonly status: Status;
  readonly payload: unknown;
}

/** Reads one review body and answers it: 200 with the review, or 400 with a sentence. */
function answerReview(
  webhook: WebhookName,
  decide: Decide,
  body: unknown,
  options: WebhookAppOptions,
): HttpAnswer<200 | 400> {
  const { logger, metrics } = options;
  const started = performance.now();
  const seconds = (): number => (performance.now() - started) / 1000;
  const parsed = parseAdmissionReview(body);
  const decision = parsed.ok
    ? decideSafely(decide, parsed.request, webhook, logger)
    : parsed.message;
  if (typeof decision === 'string') {
    metrics.observe(webhook, 'error', seconds());
    logger.warn({ webhook, reason: decision }, 'Unusable admission review');
    return { status: 400, payload: { message: decision } };
  }
  metrics.observe(webhook, decision.result, seconds());
  if (parsed.ok) logDecision(logger, webhook, parsed.request, decision);
  return { status: 200, payload: reviewResponse(decision.response) };
}

const CLIENT_ERRORS: Readonly<Record<string, string>> = {
  FST_ERR_CTP_EMPTY_JSON_BODY: 'request body is empty; send an AdmissionReview v1 as JSON',
  FST_ERR_CTP_INVALID_MEDIA_TYPE:
    'request content-type is not supported; send an AdmissionReview v1 as application/json',
  FST_ERR_CTP_BODY_TOO_LARGE: `request body is larger than ${REVIEW_BODY_LIMIT} bytes`,
};

function clientMessage(error: FastifyError): string {
  const known = CLIENT_ERRORS[error.code];
  if (known !== undefined) return known;
  if (error.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || error instanceof SyntaxError)
    return `request body is not valid JSON (${error.message}); send an AdmissionReview v1 as JSON`;
  return `bad request: ${error.message}`;
}

function webhookOfUrl(url: string | undefined): WebhookName | undefined {
  const entry = Object.entries(WEBHOOK_PATHS).find(([, path]) => path === url);
  return entry?.[0] as WebhookName | undefined;
}

/**
 * Builds the webhook plugin. Register it on a fastify instance (HTTP in tests, HTTPS in
 * server.ts); it adds the three review routes, `/healthz` and `/readyz`.
 */
export function buildWebhookApp<
  Server extends RawServerBase = RawServerDefault,
  L extends FastifyBaseLogger = FastifyBaseLogger,
>(
  options: WebhookAppOptions,
): FastifyPluginAsync<Record<never, never>, Server, FastifyTypeProviderDefault, L> {
  const deciders: Record<WebhookName, Decide> = {
    pods: decidePod(options),
    queues: decideQueue(),
    'gpu-config': decideGpuConfig(),
  };
  return async (app) => {
    app.setErrorHandler((error: FastifyError, request, reply) => {
      const answer = answerError(error, request.routeOptions.url, options);
      return reply.code(answer.status).send(answer.payload);
    });
    for (const webhook of Object.keys(WEBHOOK_PATHS) as WebhookName[]) {
      app.post(
        WEBHOOK_PATHS[webhook],
        {
          bodyLimit: REVIEW_BODY_LIMIT,
          schema: { response: { 200: reviewResponseSchema, 400: messageSchema } },
        },
        async (request, reply) => {
          const answer = answerReview(webhook, deciders[webhook], request.body, options);
          return reply.code(answer.status).send(answer.payload);
        },
      );
    }
    app.get('/healthz', async () => ({ status: 'ok' }));
    app.get('/readyz', async (_request, reply) => {
      if (options.namespaces.ready?.() === false)
        return reply
          .code(503)
          .send({ status: 'namespace labels not synced yet; pods would miss namespace queues' });
      return { status: 'ok' };
    });
  };
}

/** Errors before a handler ran (body parsing) are the caller's; anything else is ours. */
function answerError(
  error: FastifyError,
  url: string | undefined,
  options: WebhookAppOptions,
): HttpAnswer {
  const status = error.statusCode ?? 500;
  const webhook = webhookOfUrl(url);
  if (webhook !== undefined) options.metrics.requests.inc({ webhook, result: 'error' });
  if (status >= 400 && status < 500) {
    const message = clientMessage(error);
    options.logger.warn({ webhook, reason: message }, 'Unusable admission review');
    return { status, payload: { message } };
  }
  options.logger.error({ err: error, webhook }, 'Webhook request failed');
  return {
    status: 500,
    payload: { message: 'internal error in the Phalanx webhook; see its log' },
  };
}
