/**
 * Prometheus metrics of the scheduler extender. Built on the process's registry (passed in), with
 * every label combination the extender can produce pre-initialised to 0.
 */
import { Counter, Histogram, type Registry } from 'prom-client';
import { METRIC_PREFIX } from '../observability/metrics.ts';

export const EXTENDER_VERBS = ['filter', 'prioritize', 'preempt'] as const;
export type ExtenderVerb = (typeof EXTENDER_VERBS)[number];

/** HTTP status codes a verb can answer with. */
export const EXTENDER_CODES = ['200', '400', '413', '415', '500'] as const;

/** Node outcomes counted per verb: filter verdicts, and preemption candidates kept or dropped. */
export const NODE_RESULTS = {
  filter: ['feasible', 'failed', 'unresolvable'],
  preempt: ['kept', 'dropped'],
} as const;

/**
 * Request latency buckets in seconds: 0.1 ms to 100 ms, where a names-only extender call lands
 * (filter of 500 to 5,000 nodes); slower calls fall in +Inf.
 */
export const EXTENDER_LATENCY_BUCKETS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
];

export class ExtenderMetrics {
  readonly registry: Registry;
  readonly requestDuration: Histogram<'verb'>;
  readonly requests: Counter<'verb' | 'code'>;
  readonly filteredNodes: Counter<'verb' | 'result'>;

  constructor(registry: Registry) {
    this.registry = registry;
    const p = `${METRIC_PREFIX}extender_`;
    const registers = [registry];
    this.requestDuration = new Histogram({
      name: `${p}request_duration_seconds`,
      help: 'Time from request arrival to reply sent (body parse, decision, reply encode), by verb.',
      labelNames: ['verb'],
      buckets: EXTENDER_LATENCY_BUCKETS,
      registers,
    });
    this.requests = new Counter({
      name: `${p}requests_total`,
      help: 'Extender calls from kube-scheduler, by verb and HTTP status code.',
      labelNames: ['verb', 'code'],
      registers,
    });
    this.filteredNodes = new Counter({
      name: `${p}filtered_nodes_total`,
      help: 'Candidate nodes by outcome: filter (feasible, failed, unresolvable) and preempt (kept, dropped).',
      labelNames: ['verb', 'result'],
      registers,
    });
    for (const verb of EXTENDER_VERBS) {
      this.requestDuration.zero({ verb });
      for (const code of EXTENDER_CODES) this.requests.inc({ verb, code }, 0);
    }
    for (const [verb, results] of Object.entries(NODE_RESULTS))
      for (const result of results) this.filteredNodes.inc({ verb, result }, 0);
  }

  /** One answered call: its status code and duration in seconds. */
  observeRequest(verb: ExtenderVerb, code: number, seconds: number): void {
    this.requestDuration.observe({ verb }, seconds);
    this.requests.inc({ verb, code: String(code) });
  }

  /** Node counts of one filter reply. */
  observeFilter(feasible: number, failed: number, unresolvable: number): void {
    if (feasible > 0) this.filteredNodes.inc({ verb: 'filter', result: 'feasible' }, feasible);
    if (failed > 0) this.filteredNodes.inc({ verb: 'filter', result: 'failed' }, failed);
    if (unresolvable > 0)
      this.filteredNodes.inc({ verb: 'filter', result: 'unresolvable' }, unresolvable);
  }

  /** Candidate counts of one preempt reply. */
  observePreempt(kept: number, dropped: number): void {
    if (kept > 0) this.filteredNodes.inc({ verb: 'preempt', result: 'kept' }, kept);
    if (dropped > 0) this.filteredNodes.inc({ verb: 'preempt', result: 'dropped' }, dropped);
  }
}
