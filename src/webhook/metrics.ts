/**
 * Metrics of the admission webhook, in the process registry. Every label combination exists
 * (at 0) from the start, so dashboards and alerts see the series before the first request.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { METRIC_PREFIX } from '../observability/metrics.ts';

/** The webhook routes, as the `webhook` label spells them. */
export const WEBHOOKS = ['pods', 'queues', 'gpu-config'] as const;
export type WebhookName = (typeof WEBHOOKS)[number];

/**
 * `allowed`: admitted unchanged; `patched`: admitted with a patch; `denied`: rejected;
 * `error`: the review itself was unusable (HTTP 400).
 */
export const WEBHOOK_RESULTS = ['allowed', 'patched', 'denied', 'error'] as const;
export type WebhookResult = (typeof WEBHOOK_RESULTS)[number];

const DURATION_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5];

export class WebhookMetrics {
  readonly registry: Registry;
  readonly requests: Counter<'webhook' | 'result'>;
  readonly duration: Histogram<'webhook'>;
  readonly certificateReloads: Counter<'result'>;
  readonly certificateExpiry: Gauge;

  constructor(registry: Registry) {
    this.registry = registry;
    const p = `${METRIC_PREFIX}webhook_`;
    const registers = [registry];
    this.requests = new Counter({
      name: `${p}requests_total`,
      help: 'AdmissionReviews answered, by webhook and result (allowed, patched, denied, error).',
      labelNames: ['webhook', 'result'],
      registers,
    });
    this.duration = new Histogram({
      name: `${p}request_duration_seconds`,
      help: 'Time to decide one AdmissionReview (body parsed to response built), by webhook.',
      labelNames: ['webhook'],
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.certificateReloads = new Counter({
      name: `${p}certificate_reloads_total`,
      help: 'Reloads of the serving certificate after its files changed, by result.',
      labelNames: ['result'],
      registers,
    });
    this.certificateExpiry = new Gauge({
      name: `${p}certificate_expiry_timestamp_seconds`,
      help: 'When the serving certificate in use expires (Unix time).',
      registers,
    });
    for (const webhook of WEBHOOKS) {
      this.duration.zero({ webhook });
      for (const result of WEBHOOK_RESULTS) this.requests.inc({ webhook, result }, 0);
    }
    for (const result of ['success', 'error']) this.certificateReloads.inc({ result }, 0);
  }

  observe(webhook: WebhookName, result: WebhookResult, seconds: number): void {
    this.requests.inc({ webhook, result });
    this.duration.observe({ webhook }, seconds);
  }
}
