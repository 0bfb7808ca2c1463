/**
 * The planner controller: runs the core's planning round on the live caches and applies what it
 * decides. A change to any cache schedules a round after a short quiet period (debounce, bounded
 * so a busy cluster still gets a round at least every `maxDelayMs`); a periodic round catches
 * what no event announces (plan TTLs running out). Rounds never overlap, and a round waits until
 * the caches show the previous round's own writes, so it never decides on a view older than what
 * it just wrote (that is how a gang could otherwise be planned twice).
 *
 * Only the elected leader runs rounds (`start`/`stop` follow the lease); the extender answers on
 * every replica.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { ApplyReport, WriteOutcome } from '../kube/writes.ts';
import { planIdOf } from '../kube/writes.ts';
import type { Logger } from '../observability/logger.ts';
import { METRIC_PREFIX } from '../observability/metrics.ts';
import type {
  ClusterObjects,
  GangPhase,
  GangReport,
  PlannerSettings,
  RoundResult,
} from '../scheduling/round-types.ts';

export const GANG_PHASES: readonly GangPhase[] = [
  'Incomplete',
  'Waiting',
  'Planned',
  'Running',
  'Stale',
];

const WRITE_KINDS = ['annotations', 'pins', 'deletions', 'events', 'queues'] as const;
const WRITE_RESULTS = ['ok', 'skipped', 'conflict', 'notFound', 'failed'] as const;

/** Round latency buckets, seconds: a round reads the whole model, so 1 ms to 10 s. */
const ROUND_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class PlannerMetrics {
  readonly roundDuration: Histogram;
  readonly rounds: Counter<'result'>;
  readonly gangs: Gauge<'phase'>;
  readonly plans: Counter;
  readonly reservedIdleGpus: Gauge;
  readonly writes: Counter<'kind' | 'result'>;
  readonly leader: Gauge;

  constructor(registry: Registry) {
    const p = `${METRIC_PREFIX}planner_`;
    const registers = [registry];
    this.roundDuration = new Histogram({
      name: `${p}round_duration_seconds`,
      help: 'Time of one planning round: model build, planning and applying its writes.',
      buckets: ROUND_BUCKETS,
      registers,
    });
    this.rounds = new Counter({
      name: `${p}rounds_total`,
      help: 'Planning rounds, by result (error: the round could not plan or apply).',
      labelNames: ['result'],
      registers,
    });
    this.gangs = new Gauge({
      name: `${p}gangs`,
      help: 'Gangs the planner manages, by phase, as of the last round.',
      labelNames: ['phase'],
      registers,
    });
    this.plans = new Counter({
      name: `${p}plans_total`,
      help: 'Gang plans committed: every member pinned to its node and ungated.',
      registers,
    });
    this.reservedIdleGpus = new Gauge({
      name: `${p}reserved_idle_gpus`,
      help: 'GPUs reserved by plans whose pods are not all running yet (planned but idle).',
      registers,
    });
    this.writes = new Counter({
      name: `${p}writes_total`,
      help: 'API writes of planning rounds, by kind and result (conflict and notFound are retried by the next round).',
      labelNames: ['kind', 'result'],
      registers,
    });
    this.leader = new Gauge({
      name: `${p}leader`,
      help: '1 while this replica holds the planner lease and runs rounds.',
      registers,
    });
    this.roundDuration.zero({});
    for (const result of ['success', 'error']) this.rounds.inc({ result }, 0);
    for (const phase of GANG_PHASES) this.gangs.set({ phase }, 0);
    this.plans.inc(0);
    this.reservedIdleGpus.set(0);
    this.leader.set(0);
    for (const kind of WRITE_KINDS)
      for (const result of WRITE_RESULTS) this.writes.inc({ kind, result }, 0);
  }

  observeGangs(gangs: readonly GangReport[]): void {
    const counts = new Map<GangPhase, number>(GANG_PHASES.map((p) => [p, 0]));
    let idle = 0;
    for (const g of gangs) {
      counts.set(g.phase, (counts.get(g.phase) ?? 0) + 1);
      if (g.phase === 'Planned') idle += g.gpus;
    }
    for (const [phase, n] of counts) this.gangs.set({ phase }, n);
    this.reservedIdleGpus.set(idle);
  }

  observeWrites(report: ApplyReport): void {
    for (const kind of WRITE_KINDS) {
      const outcome: WriteOutcome = report[kind];
      for (const result of WRITE_RESULTS) {
        if (outcome[result] > 0) this.writes.inc({ kind, result }, outcome[result]);
      }
    }
    const plans = new Set<string>();
    for (const w of report.pinned) {
      const id = planIdOf(w);
      if (id !== undefined) plans.add(id);
    }
    if (plans.size > 0) this.plans.inc(plans.size);
  }
}

export type BaseSettings = Omit<PlannerSettings, 'now'>;

export interface PlannerControllerOptions {
  /** The core's input as the caches hold it now. */
  readonly snapshot: () => ClusterObjects;
  readonly plan: (objects: ClusterObjects, settings: PlannerSettings) => RoundResult;
  readonly apply: (result: RoundResult) => Promise<ApplyReport>;
  /** The cached pod's resourceVersion by `namespace/name`, undefined when it is gone. */
  readonly podVersion: (key: string) => string | undefined;
  readonly settings: BaseSettings;
  readonly metrics: PlannerMetrics;
  readonly logger: Logger;
  /** Quiet period after a change. Default 100 ms. */
  readonly debounceMs?: number;
  /** Longest wait after the first change of a burst. Default 1 s. */
  readonly maxDelayMs?: number;
  /** Period of the round that runs without any change. Default 10 s. */
  readonly periodMs?: number;
  /** Longest wait for the caches to show the last round's writes. Default 2 s. */
  readonly catchUpMs?: number;
  readonly now?: () => number;
}

export interface RoundSummary {
  readonly result: RoundResult;
  readonly report: ApplyReport;
  readonly seconds: number;
}

/** Runs planning rounds while started; see the file comment. */
export class PlannerController {
  readonly #o: PlannerControllerOptions;
  readonly #now: () => number;
  #running = false;
  #timer: NodeJS.Timeout | undefined;
  #period: NodeJS.Timeout | undefined;
  #burstStart: number | undefined;
  #inFlight: Promise<void> | undefined;
  #again = false;
  #awaiting: ApplyReport['written'] = [];
  #appliedAt = 0;
  readonly #gangState = new Map<string, string>();
  #problems = new Set<string>();
  #rounds = 0;

  constructor(options: PlannerControllerOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
  }

  get running(): boolean {
    return this.#running;
  }

  /** Rounds completed since the process started. */
  get rounds(): number {
    return this.#rounds;
  }

  /** Starts running rounds: one now, then on changes and periodically. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#o.metrics.leader.set(1);
    this.#period = setInterval(() => this.#trigger(), this.#o.periodMs ?? 10_000);
    this.#trigger();
  }

  /** Stops scheduling rounds and waits for the one in flight. */
  async stop(): Promise<void> {
    this.#running = false;
    this.#o.metrics.leader.set(0);
    clearTimeout(this.#timer);
    clearInterval(this.#period);
    this.#timer = undefined;
    this.#burstStart = undefined;
    await this.#inFlight;
  }

  /** A cache changed: schedule a round after the quiet period. */
  notify(): void {
    if (!this.#running) return;
    const now = this.#now();
    this.#burstStart ??= now;
    const debounce = this.#o.debounceMs ?? 100;
    const deadline = this.#burstStart + (this.#o.maxDelayMs ?? 1000);
    const delay = Math.max(0, Math.min(debounce, deadline - now));
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#trigger(), delay);
  }

  #trigger(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#burstStart = undefined;
    if (!this.#running) return;
    if (this.#inFlight !== undefined) {
      this.#again = true;
      return;
    }
    if (!this.#caughtUp()) {
      this.#timer = setTimeout(() => this.#trigger(), 50);
      return;
    }
    this.#inFlight = this.runRound()
      .then(() => undefined)
      .finally(() => {
        this.#inFlight = undefined;
        if (this.#again && this.#running) {
          this.#again = false;
          this.notify();
        }
      });
  }

  /** The caches show every write of the last round, or waiting longer would not help. */
  #caughtUp(): boolean {
    if (this.#awaiting.length === 0) return true;
    const behind = this.#awaiting.filter(
      (w) => this.#o.podVersion(w.key) === w.staleResourceVersion,
    );
    if (behind.length === 0 || this.#now() - this.#appliedAt > (this.#o.catchUpMs ?? 2000)) {
      if (behind.length > 0) {
        this.#o.logger.debug(
          { pods: behind.length },
          "the pod cache has not shown the last round's writes yet; planning anyway",
        );
      }
      this.#awaiting = [];
      return true;
    }
    return false;
  }

  /** One round now (also used by tests); never throws. */
  async runRound(): Promise<RoundSummary | undefined> {
    const started = performance.now();
    try {
      const objects = this.#o.snapshot();
      const result = this.#o.plan(objects, { ...this.#o.settings, now: this.#now() });
      const report = await this.#o.apply(result);
      this.#awaiting = report.written;
      this.#appliedAt = this.#now();
      const seconds = (performance.now() - started) / 1000;
      this.#record(result, report, seconds);
      return { result, report, seconds };
    } catch (error) {
      this.#o.metrics.rounds.inc({ result: 'error' });
      const reason = error instanceof Error ? error.message : String(error);
      this.#o.logger.error(
        { err: error },
        `planning round failed: ${reason}; the next round tries again`,
      );
      return undefined;
    } finally {
      this.#rounds++;
    }
  }

  #record(result: RoundResult, report: ApplyReport, seconds: number): void {
    const m = this.#o.metrics;
    m.roundDuration.observe(seconds);
    m.rounds.inc({ result: 'success' });
    m.observeGangs(result.gangs);
    m.observeWrites(report);
    this.#logGangs(result.gangs);
    this.#logProblems(result.problems);
    this.#o.logger.debug(
      {
        seconds,
        gangs: result.gangs.length,
        writes: result.writes.length,
        pinned: report.pinned.length,
        deletions: result.deletions.length,
      },
      'planning round',
    );
  }

  /** One line per gang whose phase or reason changed, keyed `gang: ns/name`. */
  #logGangs(gangs: readonly GangReport[]): void {
    const seen = new Set<string>();
    for (const g of gangs) {
      seen.add(g.key);
      const state = `${g.phase}\u0000${g.reason ?? ''}`;
      if (this.#gangState.get(g.key) === state) continue;
      this.#gangState.set(g.key, state);
      const fields = {
        gang: g.key,
        phase: g.phase,
        queue: g.queue,
        members: g.members,
        size: g.size,
        gpus: g.gpus,
        ...(g.level === undefined ? {} : { level: g.level, domain: g.domain }),
      };
      // The core's reasons already name the gang.
      const text = g.reason ?? `gang ${g.key} is ${g.phase}`;
      if (g.phase === 'Stale') this.#o.logger.warn(fields, text);
      else this.#o.logger.info(fields, text);
    }
    for (const key of [...this.#gangState.keys()]) {
      if (seen.has(key)) continue;
      this.#gangState.delete(key);
      this.#o.logger.debug({ gang: key }, `gang ${key} is gone`);
    }
  }

  #logProblems(problems: readonly string[]): void {
    const now = new Set(problems);
    for (const p of now) if (!this.#problems.has(p)) this.#o.logger.warn({ problem: p }, p);
    this.#problems = now;
  }
}
