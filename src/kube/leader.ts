/**
 * Lease-based leader election (coordination.k8s.io/v1), with client-go's timing model: a lease
 * held by someone else counts as expired only when its record has not changed for a whole lease
 * duration by OUR clock (no comparison of clocks across machines); the leader renews every retry
 * period and steps down when it could not renew within the renew deadline; on a clean stop it
 * releases the lease so a successor takes over at once instead of waiting it out.
 */
import { hostname } from 'node:os';
import type { Logger } from '../observability/logger.ts';
import { KubeApiError } from './rest.ts';
import { type ApiRequester, microTime } from './writes.ts';

export interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

export interface Lease {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec?: LeaseSpec;
}

/** Where the lease lives; the API server in production. */
export interface LeaseStore {
  readonly namespace: string;
  readonly name: string;
  /** `lease <namespace>/<name>`. */
  readonly description: string;
  get(): Promise<Lease | undefined>;
  /** Rejects with a conflict when someone else created it first. */
  create(lease: Lease): Promise<Lease>;
  /** Rejects with a conflict when the resourceVersion is stale. */
  update(lease: Lease): Promise<Lease>;
}

export class ApiLeaseStore implements LeaseStore {
  readonly namespace: string;
  readonly name: string;
  readonly description: string;
  readonly #client: ApiRequester;

  constructor(client: ApiRequester, namespace: string, name: string) {
    this.#client = client;
    this.namespace = namespace;
    this.name = name;
    this.description = `lease ${namespace}/${name}`;
  }

  #collection(): string {
    return `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(this.namespace)}/leases`;
  }

  async get(): Promise<Lease | undefined> {
    try {
      return await this.#client.request<Lease>(
        'GET',
        `${this.#collection()}/${encodeURIComponent(this.name)}`,
        { timeoutMs: 5000 },
      );
    } catch (error) {
      if (error instanceof KubeApiError && error.notFound) return undefined;
      throw error;
    }
  }

  create(lease: Lease): Promise<Lease> {
    return this.#client.request<Lease>('POST', this.#collection(), {
      body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', ...lease },
      timeoutMs: 5000,
    });
  }

  update(lease: Lease): Promise<Lease> {
    return this.#client.request<Lease>(
      'PUT',
      `${this.#collection()}/${encodeURIComponent(this.name)}`,
      { body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', ...lease }, timeoutMs: 5000 },
    );
  }
}

/** `hostname_pid`: unique per process, readable in `kubectl get lease`. */
export function defaultIdentity(): string {
  return `${hostname()}_${process.pid}`;
}

export interface LeaderElectorOptions {
  readonly store: LeaseStore;
  readonly identity: string;
  readonly logger: Logger;
  /** Default 15 s. */
  readonly leaseDurationMs?: number;
  /** Default 10 s. */
  readonly renewDeadlineMs?: number;
  /** Default 2 s. */
  readonly retryPeriodMs?: number;
  readonly onStartedLeading: () => void;
  /**
   * Called when leading ends. On stop() the lease is released only after the returned promise
   * settles, so work in flight finishes before a successor starts.
   */
  readonly onStoppedLeading: () => void | Promise<void>;
  readonly now?: () => number;
}

function sameRecord(a: LeaseSpec | undefined, b: LeaseSpec | undefined): boolean {
  return (
    a?.holderIdentity === b?.holderIdentity &&
    a?.renewTime === b?.renewTime &&
    a?.leaseTransitions === b?.leaseTransitions &&
    a?.leaseDurationSeconds === b?.leaseDurationSeconds
  );
}

export class LeaderElector {
  readonly #o: LeaderElectorOptions;
  readonly #now: () => number;
  readonly #leaseMs: number;
  readonly #renewMs: number;
  readonly #retryMs: number;
  #leading = false;
  #stopped = false;
  #timer: NodeJS.Timeout | undefined;
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  #observed: { spec: LeaseSpec | undefined; at: number } | undefined;
  #lastRenew = 0;
  #lease: Lease | undefined;

  constructor(options: LeaderElectorOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
    this.#leaseMs = options.leaseDurationMs ?? 15_000;
    this.#renewMs = options.renewDeadlineMs ?? 10_000;
    this.#retryMs = options.retryPeriodMs ?? 2_000;
    if (!(this.#leaseMs > this.#renewMs && this.#renewMs > this.#retryMs)) {
      throw new Error(
        'leader election needs lease duration > renew deadline > retry period; adjust the durations',
      );
    }
  }

  isLeader(): boolean {
    return this.#leading;
  }

  start(): void {
    this.#loop ??= this.#run();
  }

  /** Stops campaigning; a leader releases the lease and reports it stopped leading. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#wake?.();
    await this.#loop;
    if (this.#leading) {
      await this.#setLeading(false);
      await this.#release();
    }
  }

  async #run(): Promise<void> {
    while (!this.#stopped) {
      const ok = await this.#tryAcquireOrRenew();
      const now = this.#now();
      if (ok) {
        this.#lastRenew = now;
        if (!this.#leading) void this.#setLeading(true);
      } else if (this.#leading && now - this.#lastRenew > this.#renewMs) {
        this.#o.logger.warn(
          { lease: this.#o.store.description },
          `${this.#o.store.description} was not renewed within ${this.#renewMs / 1000} s; stopping leading`,
        );
        // The lease may already be someone else's: stop at once, without waiting.
        void this.#setLeading(false);
      }
      await this.#sleep(this.#retryMs);
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.#stopped) {
        resolve();
        return;
      }
      this.#wake = resolve;
      this.#timer = setTimeout(resolve, ms);
    });
  }

  async #setLeading(leading: boolean): Promise<void> {
    this.#leading = leading;
    const fields = { lease: this.#o.store.description, identity: this.#o.identity };
    if (leading) {
      this.#o.logger.info(fields, 'became the leader');
      this.#o.onStartedLeading();
      return;
    }
    this.#o.logger.info(fields, 'stopped leading');
    try {
      await this.#o.onStoppedLeading();
    } catch (error) {
      this.#o.logger.error({ ...fields, err: error }, 'stopping the leader work failed');
    }
  }

  #heldByOther(spec: LeaseSpec | undefined, now: number): boolean {
    const holder = spec?.holderIdentity ?? '';
    if (holder === '' || holder === this.#o.identity) return false;
    if (this.#observed === undefined || !sameRecord(this.#observed.spec, spec)) {
      this.#observed = { spec, at: now };
    }
    const durationMs = (spec?.leaseDurationSeconds ?? this.#leaseMs / 1000) * 1000;
    return this.#observed.at + durationMs > now;
  }

  #spec(previous: LeaseSpec | undefined, now: number): LeaseSpec {
    const mine = previous?.holderIdentity === this.#o.identity;
    return {
      holderIdentity: this.#o.identity,
      leaseDurationSeconds: Math.max(1, Math.round(this.#leaseMs / 1000)),
      acquireTime: mine ? (previous?.acquireTime ?? microTime(now)) : microTime(now),
      renewTime: microTime(now),
      leaseTransitions: (previous?.leaseTransitions ?? 0) + (mine ? 0 : 1),
    };
  }

  async #tryAcquireOrRenew(): Promise<boolean> {
    const store = this.#o.store;
    try {
      const now = this.#now();
      // The leader renews from its own last write; a conflict sends it through a fresh read.
      if (this.#leading && this.#lease !== undefined) {
        try {
          this.#lease = await store.update({
            ...this.#lease,
            spec: this.#spec(this.#lease.spec, now),
          });
          return true;
        } catch (error) {
          if (!(error instanceof KubeApiError && error.conflict)) throw error;
        }
      }
      const current = await store.get();
      if (current === undefined) {
        this.#lease = await store.create({
          metadata: { namespace: store.namespace, name: store.name },
          spec: { ...this.#spec(undefined, now), leaseTransitions: 0 },
        });
        return true;
      }
      if (this.#heldByOther(current.spec, now)) return false;
      this.#lease = await store.update({ ...current, spec: this.#spec(current.spec, now) });
      return true;
    } catch (error) {
      const conflict = error instanceof KubeApiError && error.conflict;
      if (!conflict) {
        const reason = error instanceof Error ? error.message : String(error);
        this.#o.logger.warn(
          { lease: store.description, err: reason },
          `${store.description} cannot be read or written: ${reason}`,
        );
      }
      return false;
    }
  }

  async #release(): Promise<void> {
    const lease = this.#lease;
    if (lease === undefined) return;
    try {
      await this.#o.store.update({
        ...lease,
        spec: {
          ...lease.spec,
          holderIdentity: '',
          leaseDurationSeconds: 1,
          renewTime: microTime(this.#now()),
        },
      });
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      this.#o.logger.warn(
        { lease: this.#o.store.description, err: reason },
        `${this.#o.store.description} cannot be released; the next leader waits for it to expire`,
      );
    }
  }
}
