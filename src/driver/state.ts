/**
 * The prepare / unprepare state machine of the kubelet plugin.
 *
 * prepare, per claim and in parallel across claims:
 *   fetch the ResourceClaim (before any lock) → check UID, allocation, driver, pool and opaque
 *   config → take the claim's own lock → checkpoint `PrepareStarted` → backend.prepare → write the
 *   CDI spec and checkpoint `PrepareCompleted` side by side → reply once BOTH are durable. (A crash
 *   between the two leaves either a spec beside a `PrepareStarted` entry, rolled back at startup,
 *   or a `PrepareCompleted` entry without a spec, whose spec startup rewrites; the kubelet got no
 *   reply in either case and retries.) Any failure rolls the claim back (backend, CDI spec,
 *   checkpoint entry) and becomes that claim's error string; other claims are unaffected.
 *   Each claim is bounded by `prepareTimeoutMs` (below the kubelet's 45 s call timeout) and by the
 *   call's AbortSignal.
 * unprepare, per claim under its lock: backend.unprepare → remove CDI spec → drop checkpoint entry.
 *   All three are idempotent, so unknown, never-prepared and deleted claims succeed.
 *
 * Startup ({@link DeviceState.open}) reconciles checkpoint ↔ CDI specs ↔ backend:
 * - `PrepareStarted` entries (crash between the phases) are rolled back.
 * - After a reboot (boot ID changed) no backend state survives: every entry and its CDI spec is
 *   dropped and the next NodePrepareResources prepares from scratch.
 * - `PrepareCompleted` entries the backend no longer holds (a backend without persistent state,
 *   e.g. the fake one after a plugin restart) are re-created on the backend; a missing CDI spec is
 *   rewritten. An entry whose devices cannot be re-created is dropped.
 * - CDI specs and backend claims with no entry are leaks and are removed.
 * - A corrupt checkpoint is REBUILT from the CDI specs rather than dropped: a spec exists only for
 *   a claim that reached the CDI-write step, the kubelet does not call prepare again for pods that
 *   are already running, and dropping would tear down (or leak) devices under running containers.
 *   Each spec whose devices the backend can re-create becomes a `PrepareCompleted` entry (its
 *   request names are filled in at the next prepare); the rest are removed.
 */
import {
  decodeGpuConfig,
  type GpuConfig,
  GpuConfigError,
  normalizeGpuConfig,
  resolveSharing,
  validateGpuConfig,
} from '../api/gpu/v1alpha1/gpu-config.ts';
import type {
  DeviceAllocationConfiguration,
  DeviceRequestAllocationResult,
  ResourceClaim,
} from '../api/resource/v1.ts';
import {
  type BackendDeviceRequest,
  BackendError,
  type GpuBackend,
  type SharingSettings,
} from '../devices/types.ts';
import type { Logger } from '../observability/logger.ts';
import type { DriverMetrics } from '../observability/metrics.ts';
import { type CdiSpecStore, cdiDeviceId, parseClaimSpec } from './cdi.ts';
import type { Checkpoint, CheckpointClaim, CheckpointDevice } from './checkpoint.ts';
import type {
  ClaimGetter,
  ClaimRef,
  DraHandler,
  PreparedDevice,
  PrepareOutcome,
  UnprepareOutcome,
} from './types.ts';

/** Default per-claim bound; the kubelet gives up on the whole call after 45 s. */
export const DEFAULT_PREPARE_TIMEOUT_MS = 30_000;
export const DEFAULT_UNPREPARE_TIMEOUT_MS = 30_000;

export interface DeviceStateOptions {
  readonly driverName: string;
  /** This node's name, which is also the name of the pool the plugin publishes. */
  readonly nodeName: string;
  readonly backend: GpuBackend;
  readonly claims: ClaimGetter;
  readonly cdi: CdiSpecStore;
  readonly checkpoint: Checkpoint;
  readonly logger: Logger;
  readonly metrics: DriverMetrics;
  readonly prepareTimeoutMs?: number;
  readonly unprepareTimeoutMs?: number;
}

/** What startup reconciliation did, by claim UID. */
export interface ReconcileReport {
  /** `PrepareStarted` entries rolled back. */
  readonly rolledBack: string[];
  /** Entries dropped because the node rebooted. */
  readonly droppedAfterReboot: string[];
  /** Entries rebuilt from CDI specs after a corrupt checkpoint. */
  readonly rebuilt: string[];
  /** Completed entries re-created on a backend that did not hold them. */
  readonly readopted: string[];
  /** Completed entries (or specs) whose devices could not be re-created; removed. */
  readonly dropped: string[];
  /** Completed entries whose missing CDI spec was rewritten. */
  readonly rewrittenSpecs: string[];
  /** CDI specs without an entry, removed. */
  readonly leakedSpecs: string[];
  /** Backend claims without an entry, released. */
  readonly leakedBackendClaims: string[];
  /** Steps that failed (reconciliation goes on). */
  readonly errors: string[];
}

/** A per-claim failure whose message is what the kubelet shows. */
export class PrepareError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PrepareError';
  }
}

/** Serialises work per key; different keys run concurrently. */
export class KeyedLock {
  readonly #tails = new Map<string, Promise<void>>();

  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    let release: () => void = () => undefined;
    const mine = new Promise<void>((resolve) => {
      release = resolve;
    });
    const tail = previous.then(() => mine);
    this.#tails.set(key, tail);
    await previous;
    try {
      return await fn();
    } finally {
      release();
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    }
  }

  /** Keys with work running or queued. */
  get size(): number {
    return this.#tails.size;
  }
}

const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

const formatMs = (ms: number): string => (ms < 1000 ? `${ms} ms` : `${ms / 1000} s`);

/** Rejects with `onAbort()` as soon as `signal` fires; `work` keeps running but is observed. */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal, onAbort: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const abort = (): void => reject(onAbort());
    if (signal.aborted) abort();
    else signal.addEventListener('abort', abort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', abort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', abort);
        reject(err);
      },
    );
  });
}

/** One allocation result of this driver, ready to prepare. */
interface PlannedResult {
  readonly requestName: string;
  readonly deviceName: string;
  readonly shareId: string | undefined;
  readonly sharing: SharingSettings;
}

interface Plan {
  readonly namespace: string;
  readonly name: string;
  readonly results: readonly PlannedResult[];
}

interface DecodedConfig {
  readonly requests: readonly string[];
  readonly config: GpuConfig;
}

const baseRequest = (request: string): string => request.split('/')[0] ?? request;

const deviceKey = (d: { deviceName: string; sharing?: SharingSettings | undefined }): string =>
  `${d.deviceName}|${JSON.stringify(d.sharing ?? { strategy: 'Exclusive' })}`;

/** Same devices with the same sharing (ignores request names, which a rebuilt entry lacks). */
function sameAllocation(a: readonly CheckpointDevice[], b: readonly CheckpointDevice[]): boolean {
  const ka = [...new Set(a.map(deviceKey))].sort();
  const kb = [...new Set(b.map(deviceKey))].sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i]);
}

const sameRecord = (a: readonly CheckpointDevice[], b: readonly CheckpointDevice[]): boolean =>
  JSON.stringify(a) === JSON.stringify(b);

/** Backend request: each device once, in allocation order. */
function backendDevices(devices: readonly CheckpointDevice[]): BackendDeviceRequest[] {
  const seen = new Map<string, BackendDeviceRequest>();
  for (const d of devices)
    if (!seen.has(d.deviceName))
      seen.set(d.deviceName, {
        deviceName: d.deviceName,
        sharing: d.sharing ?? { strategy: 'Exclusive' },
      });
  return [...seen.values()];
}

function toPrepared(devices: readonly CheckpointDevice[]): PreparedDevice[] {
  return devices.map((d) => ({
    requestNames: [...d.requestNames],
    poolName: d.poolName,
    deviceName: d.deviceName,
    cdiDeviceIds: [...d.cdiDeviceIds],
    ...(d.shareId === undefined ? {} : { shareId: d.shareId }),
  }));
}

function describeRequests(requests: readonly string[]): string {
  if (requests.length === 0) return 'for all requests';
  return requests.length === 1
    ? `for request ${requests[0]}`
    : `for requests ${requests.join(', ')}`;
}

export class DeviceState implements DraHandler {
  readonly driverName: string;
  readonly nodeName: string;
  readonly #backend: GpuBackend;
  readonly #claims: ClaimGetter;
  readonly #cdi: CdiSpecStore;
  readonly #checkpoint: Checkpoint;
  readonly #logger: Logger;
  readonly #metrics: DriverMetrics;
  readonly #prepareTimeoutMs: number;
  readonly #unprepareTimeoutMs: number;
  readonly #locks = new KeyedLock();

  constructor(options: DeviceStateOptions) {
    this.driverName = options.driverName;
    this.nodeName = options.nodeName;
    this.#backend = options.backend;
    this.#claims = options.claims;
    this.#cdi = options.cdi;
    this.#checkpoint = options.checkpoint;
    this.#logger = options.logger;
    this.#metrics = options.metrics;
    this.#prepareTimeoutMs = options.prepareTimeoutMs ?? DEFAULT_PREPARE_TIMEOUT_MS;
    this.#unprepareTimeoutMs = options.unprepareTimeoutMs ?? DEFAULT_UNPREPARE_TIMEOUT_MS;
  }

  /** Creates the state and reconciles it with the CDI directory and the backend. */
  static async open(
    options: DeviceStateOptions,
  ): Promise<{ state: DeviceState; report: ReconcileReport }> {
    const state = new DeviceState(options);
    const report = await state.reconcile();
    return { state, report };
  }

  /** Claim UIDs that are fully prepared on this node. */
  preparedClaimUids(): string[] {
    return this.#checkpoint
      .entries()
      .filter(([, c]) => c.state === 'PrepareCompleted')
      .map(([uid]) => uid);
  }

  // ---- prepare ---------------------------------------------------------------------------------

  async prepareResources(
    claims: readonly ClaimRef[],
    signal?: AbortSignal,
  ): Promise<Map<string, PrepareOutcome>> {
    const outcomes = await Promise.all(claims.map((ref) => this.#prepareClaim(ref, signal)));
    const answer = new Map<string, PrepareOutcome>();
    claims.forEach((ref, i) => {
      const outcome = outcomes[i];
      if (outcome !== undefined) answer.set(ref.uid, outcome);
    });
    return answer;
  }

  async #prepareClaim(ref: ClaimRef, callSignal?: AbortSignal): Promise<PrepareOutcome> {
    const claim = `${ref.namespace}/${ref.name}`;
    const log = this.#logger.child({ claim, uid: ref.uid });
    const started = performance.now();
    const timeout = AbortSignal.timeout(this.#prepareTimeoutMs);
    const signal = callSignal === undefined ? timeout : AbortSignal.any([callSignal, timeout]);
    this.#metrics.inFlight.inc({ operation: 'prepare' });
    let outcome: PrepareOutcome;
    try {
      const work = this.#prepare(ref, signal, log);
      const devices = await untilAborted(work, signal, () =>
        callSignal?.aborted === true
          ? new PrepareError(`prepare of claim ${claim} was cancelled by the kubelet`)
          : new PrepareError(
              `prepare of claim ${claim} did not finish within ${formatMs(this.#prepareTimeoutMs)}; the GPU backend is slow or stuck, the kubelet will retry`,
            ),
      );
      outcome = { devices };
      log.info({ devices: devices.map((d) => d.deviceName) }, 'claim prepared');
    } catch (err) {
      outcome = { error: messageOf(err) };
      log.error({ err }, 'claim prepare failed');
    } finally {
      this.#metrics.inFlight.dec({ operation: 'prepare' });
    }
    const result = 'error' in outcome ? 'error' : 'success';
    this.#metrics.prepareClaims.inc({ result });
    this.#metrics.prepareDuration.observe({ result }, (performance.now() - started) / 1000);
    return outcome;
  }

  async #prepare(ref: ClaimRef, signal: AbortSignal, log: Logger): Promise<PreparedDevice[]> {
    const claim = await this.#fetch(ref, signal);
    const plan = this.#plan(ref, claim);
    return this.#locks.run(ref.uid, async () => {
      signal.throwIfAborted();
      return this.#prepareLocked(ref.uid, plan, signal, log);
    });
  }

  async #fetch(ref: ClaimRef, signal: AbortSignal): Promise<ResourceClaim> {
    let claim: ResourceClaim | undefined;
    try {
      claim = await this.#claims.get(ref.namespace, ref.name, signal);
    } catch (err) {
      if (signal.aborted) throw err;
      throw new PrepareError(
        `cannot read claim ${ref.namespace}/${ref.name} from the API server: ${messageOf(err)}`,
        { cause: err },
      );
    }
    if (claim === undefined)
      throw new PrepareError(
        `claim ${ref.namespace}/${ref.name} not found; it may have been deleted`,
      );
    return claim;
  }

  /** Everything that can be checked without the lock: identity, allocation, pool, config. */
  #plan(ref: ClaimRef, claim: ResourceClaim): Plan {
    const id = `${ref.namespace}/${ref.name}`;
    if (claim.metadata.uid !== ref.uid)
      throw new PrepareError(
        `claim ${id} has UID ${claim.metadata.uid ?? '(none)'}, kubelet asked for ${ref.uid} (claim was replaced)`,
      );
    const allocation = claim.status?.allocation;
    if (allocation === undefined)
      throw new PrepareError(`claim ${id} is not allocated; wait for the scheduler to allocate it`);
    const ours = (allocation.devices?.results ?? []).filter((r) => r.driver === this.driverName);
    if (ours.length === 0)
      throw new PrepareError(
        `claim ${id} has no devices allocated by driver ${this.driverName}; check its DeviceClass`,
      );
    for (const r of ours)
      if (r.pool !== this.nodeName)
        throw new PrepareError(
          `device ${r.device} is allocated from pool ${r.pool}, this plugin serves ${this.nodeName}`,
        );
    const configs = this.#decodeConfigs(allocation.devices?.config ?? []);
    return {
      namespace: ref.namespace,
      name: ref.name,
      results: ours.map((r) => this.#planResult(r, configs)),
    };
  }

  #planResult(r: DeviceRequestAllocationResult, configs: readonly DecodedConfig[]): PlannedResult {
    const requestName = baseRequest(r.request);
    const applicable = configs.filter(
      (c) =>
        c.requests.length === 0 ||
        c.requests.includes(r.request) ||
        c.requests.includes(requestName),
    );
    return {
      requestName,
      deviceName: r.device,
      shareId: r.shareID,
      sharing: resolveSharing(applicable.map((c) => c.config)),
    };
  }

  /** Our opaque configs in precedence order (class before claim), each decoded and validated. */
  #decodeConfigs(entries: readonly DeviceAllocationConfiguration[]): DecodedConfig[] {
    const ours = entries.filter((e) => e.opaque?.driver === this.driverName);
    const ordered = [
      ...ours.filter((e) => e.source === 'FromClass'),
      ...ours.filter((e) => e.source !== 'FromClass'),
    ];
    return ordered.map((entry) => {
      const requests = entry.requests ?? [];
      try {
        const config = normalizeGpuConfig(decodeGpuConfig(entry.opaque?.parameters));
        validateGpuConfig(config);
        return { requests, config };
      } catch (err) {
        if (!(err instanceof GpuConfigError)) throw err;
        const source = entry.source === 'FromClass' ? 'class' : 'claim';
        const detail = err.message.replace(/^GpuConfig: /, '');
        throw new PrepareError(
          `GpuConfig from ${source} ${describeRequests(requests)}: ${detail}`,
          {
            cause: err,
          },
        );
      }
    });
  }

  #records(uid: string, plan: Plan): CheckpointDevice[] {
    return plan.results.map((r) => ({
      requestNames: [r.requestName],
      poolName: this.nodeName,
      deviceName: r.deviceName,
      cdiDeviceIds: [cdiDeviceId(uid, r.deviceName)],
      ...(r.shareId === undefined ? {} : { shareId: r.shareId }),
      sharing: r.sharing,
    }));
  }

  async #prepareLocked(
    uid: string,
    plan: Plan,
    signal: AbortSignal,
    log: Logger,
  ): Promise<PreparedDevice[]> {
    const devices = this.#records(uid, plan);
    const record = { namespace: plan.namespace, name: plan.name, devices };
    const existing = this.#checkpoint.get(uid);
    if (existing?.state === 'PrepareCompleted' && sameAllocation(existing.devices, devices)) {
      if (sameRecord(existing.devices, devices) && (await this.#cdi.hasClaimSpec(uid))) {
        log.debug('claim already prepared');
        return toPrepared(existing.devices);
      }
      // Prepared, but the spec is gone or the entry was rebuilt: redo the idempotent steps only.
      await this.#materialize(uid, record, signal);
      log.info('claim re-materialized (CDI spec or checkpoint entry repaired)');
      return toPrepared(devices);
    }
    if (existing !== undefined) await this.#release(uid);
    await this.#checkpoint.setStarted(uid, record);
    try {
      await this.#materialize(uid, record, signal);
    } catch (err) {
      await this.#rollback(uid, log);
      throw err;
    }
    this.#metrics.preparedClaims.set(this.#checkpoint.completedCount());
    return toPrepared(devices);
  }

  /**
   * backend.prepare → CDI spec and checkpoint PrepareCompleted, written concurrently (each is
   * temp + fsync + rename + dir fsync; running them side by side takes one durable write off the
   * latency of every prepare). Resolves when both are durable; the first failure is thrown.
   */
  async #materialize(
    uid: string,
    record: { namespace: string; name: string; devices: CheckpointDevice[] },
    signal?: AbortSignal,
  ): Promise<void> {
    const request = { claimUid: uid, devices: backendDevices(record.devices) };
    let prepared: Awaited<ReturnType<GpuBackend['prepare']>>;
    try {
      prepared = await this.#backend.prepare(request, signal);
    } catch (err) {
      if (signal?.aborted === true) throw err;
      const detail =
        err instanceof BackendError ? err.message : `GPU backend failed: ${messageOf(err)}`;
      throw new PrepareError(detail, { cause: err });
    }
    const sharingOf = new Map(request.devices.map((d) => [d.deviceName, d.sharing]));
    const written = await Promise.allSettled([
      this.#cdi.writeClaimSpec({
        claimUid: uid,
        namespace: record.namespace,
        name: record.name,
        devices: prepared.map((p) => ({
          prepared: p,
          sharing: sharingOf.get(p.deviceName) ?? { strategy: 'Exclusive' },
        })),
      }),
      this.#checkpoint.setCompleted(uid, record),
    ]);
    for (const w of written) if (w.status === 'rejected') throw w.reason;
  }

  /** Best-effort undo of a failed prepare; failures are logged, never thrown. */
  async #rollback(uid: string, log: Logger): Promise<void> {
    try {
      await this.#release(uid);
    } catch (err) {
      log.error({ err }, 'rollback after failed prepare was incomplete; reconciled at next start');
    }
    this.#metrics.preparedClaims.set(this.#checkpoint.completedCount());
  }

  /**
   * Releases everything held for a claim: backend, CDI spec, checkpoint entry. Idempotent. Every
   * step is tried even if an earlier one fails; the first failure is then thrown. The checkpoint
   * entry is kept when the backend could not release, so a later unprepare retries.
   */
  async #release(uid: string): Promise<void> {
    const failures: unknown[] = [];
    const backendOk = await this.#backend.unprepare(uid).then(
      () => true,
      (err: unknown) => {
        failures.push(err);
        return false;
      },
    );
    await this.#cdi.removeClaimSpec(uid).catch((err: unknown) => failures.push(err));
    if (backendOk) await this.#checkpoint.remove(uid).catch((err: unknown) => failures.push(err));
    if (failures.length > 0) throw failures[0];
  }

  // ---- unprepare -------------------------------------------------------------------------------

  async unprepareResources(
    claims: readonly ClaimRef[],
    signal?: AbortSignal,
  ): Promise<Map<string, UnprepareOutcome>> {
    const outcomes = await Promise.all(claims.map((ref) => this.#unprepareClaim(ref, signal)));
    const answer = new Map<string, UnprepareOutcome>();
    claims.forEach((ref, i) => {
      answer.set(ref.uid, outcomes[i] ?? {});
    });
    return answer;
  }

  async #unprepareClaim(ref: ClaimRef, callSignal?: AbortSignal): Promise<UnprepareOutcome> {
    const claim = `${ref.namespace}/${ref.name}`;
    const log = this.#logger.child({ claim, uid: ref.uid });
    const started = performance.now();
    const timeout = AbortSignal.timeout(this.#unprepareTimeoutMs);
    const signal = callSignal === undefined ? timeout : AbortSignal.any([callSignal, timeout]);
    this.#metrics.inFlight.inc({ operation: 'unprepare' });
    let outcome: UnprepareOutcome = {};
    try {
      const work = this.#locks.run(ref.uid, async () => {
        signal.throwIfAborted();
        return this.#unprepareLocked(ref.uid, log);
      });
      await untilAborted(work, signal, () =>
        callSignal?.aborted === true
          ? new PrepareError(`unprepare of claim ${claim} was cancelled by the kubelet`)
          : new PrepareError(
              `unprepare of claim ${claim} did not finish within ${formatMs(this.#unprepareTimeoutMs)}; a prepare of it may still be running, the kubelet will retry`,
            ),
      );
    } catch (err) {
      outcome = { error: messageOf(err) };
      log.error({ err }, 'claim unprepare failed');
    } finally {
      this.#metrics.inFlight.dec({ operation: 'unprepare' });
    }
    const result = outcome.error === undefined ? 'success' : 'error';
    this.#metrics.unprepareClaims.inc({ result });
    this.#metrics.unprepareDuration.observe({ result }, (performance.now() - started) / 1000);
    return outcome;
  }

  async #unprepareLocked(uid: string, log: Logger): Promise<void> {
    const known =
      this.#checkpoint.get(uid) !== undefined ||
      this.#backend.preparedClaims().includes(uid) ||
      (await this.#cdi.hasClaimSpec(uid));
    if (!known) {
      log.debug('claim is not prepared on this node; nothing to release');
      return;
    }
    try {
      await this.#backend.unprepare(uid);
    } catch (err) {
      throw new PrepareError(`cannot release devices: ${messageOf(err)}`, { cause: err });
    }
    await this.#cdi.removeClaimSpec(uid);
    await this.#checkpoint.remove(uid);
    this.#metrics.preparedClaims.set(this.#checkpoint.completedCount());
    log.info('claim unprepared');
  }

  // ---- startup reconciliation ------------------------------------------------------------------

  /** Brings checkpoint, CDI specs and backend into agreement. Safe to call more than once. */
  async reconcile(): Promise<ReconcileReport> {
    const report: ReconcileReport = {
      rolledBack: [],
      droppedAfterReboot: [],
      rebuilt: [],
      readopted: [],
      dropped: [],
      rewrittenSpecs: [],
      leakedSpecs: [],
      leakedBackendClaims: [],
      errors: [],
    };
    await this.#step(report, 'remove stale CDI temp files', () => this.#cdi.removeStaleTempFiles());
    const recovery = this.#checkpoint.recovery;
    if (recovery?.reason === 'corrupt') await this.#rebuildFromCdi(report);
    if (recovery?.reason === 'reboot') await this.#dropAfterReboot(report);
    for (const [uid, entry] of this.#checkpoint.entries()) {
      if (entry.state === 'PrepareStarted') await this.#rollBackInterrupted(uid, report);
      else await this.#readopt(uid, entry, report);
    }
    await this.#removeLeaks(report);
    if (recovery !== undefined)
      await this.#step(report, 'save checkpoint', () => this.#checkpoint.save());
    this.#metrics.preparedClaims.set(this.#checkpoint.completedCount());
    this.#logger.info(
      { ...Object.fromEntries(Object.entries(report).map(([k, v]) => [k, v.length])) },
      'state reconciled',
    );
    return report;
  }

  async #step(report: ReconcileReport, what: string, fn: () => Promise<unknown>): Promise<boolean> {
    return this.#attempt(
      report,
      what,
      async () => {
        await fn();
        return true;
      },
      false,
    );
  }

  /** Runs one reconciliation step; a failure is recorded and `fallback` returned. */
  async #attempt<T>(
    report: ReconcileReport,
    what: string,
    fn: () => Promise<T>,
    fallback: T,
  ): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      const text = `${what}: ${messageOf(err)}`;
      report.errors.push(text);
      this.#logger.error({ err }, `reconcile: ${text}`);
      return fallback;
    }
  }

  async #rollBackInterrupted(uid: string, report: ReconcileReport): Promise<void> {
    const ok = await this.#step(report, `roll back interrupted prepare of ${uid}`, () =>
      this.#release(uid),
    );
    if (!ok) return;
    report.rolledBack.push(uid);
    this.#metrics.checkpointRecoveries.inc({ reason: 'interrupted' });
    this.#logger.warn({ uid }, 'rolled back a prepare interrupted by a crash');
  }

  async #dropAfterReboot(report: ReconcileReport): Promise<void> {
    for (const [uid] of this.#checkpoint.entries()) {
      const ok = await this.#step(report, `drop ${uid} after reboot`, async () => {
        await this.#cdi.removeClaimSpec(uid);
        await this.#checkpoint.remove(uid);
      });
      if (ok) report.droppedAfterReboot.push(uid);
    }
  }

  /** A completed entry: make sure the backend holds it and its CDI spec exists. */
  async #readopt(uid: string, entry: CheckpointClaim, report: ReconcileReport): Promise<void> {
    const held = this.#backend.preparedClaims().includes(uid);
    const hasSpec = await this.#attempt(
      report,
      `check CDI spec of ${uid}`,
      () => this.#cdi.hasClaimSpec(uid),
      false,
    );
    if (held && hasSpec) return;
    const record = { namespace: entry.namespace, name: entry.name, devices: entry.devices };
    try {
      await this.#materialize(uid, record);
      if (!held) report.readopted.push(uid);
      if (!hasSpec) report.rewrittenSpecs.push(uid);
    } catch (err) {
      this.#logger.error(
        { err, uid, claim: `${entry.namespace}/${entry.name}` },
        'cannot re-create a prepared claim on the backend; dropping it so the next prepare starts fresh',
      );
      if (await this.#step(report, `drop ${uid}`, () => this.#release(uid)))
        report.dropped.push(uid);
    }
  }

  async #rebuildFromCdi(report: ReconcileReport): Promise<void> {
    const uids = await this.#attempt(
      report,
      'list CDI specs',
      () => this.#cdi.listClaimSpecs(),
      [],
    );
    for (const uid of uids) {
      const parsed = parseClaimSpec(uid, await this.#cdi.readClaimSpec(uid).catch(() => undefined));
      if (parsed === undefined) continue; // not trustworthy: removed as a leak below
      const devices: CheckpointDevice[] = parsed.devices.map((d) => ({
        requestNames: [],
        poolName: this.nodeName,
        deviceName: d.deviceName,
        cdiDeviceIds: [cdiDeviceId(uid, d.deviceName)],
        sharing: d.sharing,
      }));
      try {
        await this.#backend.prepare({ claimUid: uid, devices: backendDevices(devices) });
        await this.#checkpoint.setCompleted(uid, {
          namespace: parsed.namespace,
          name: parsed.name,
          devices,
        });
        report.rebuilt.push(uid);
      } catch (err) {
        this.#logger.error({ err, uid }, 'cannot rebuild claim from its CDI spec; removing it');
        if (await this.#step(report, `drop ${uid}`, () => this.#release(uid)))
          report.dropped.push(uid);
      }
    }
  }

  async #removeLeaks(report: ReconcileReport): Promise<void> {
    const specs = await this.#attempt(
      report,
      'list CDI specs',
      () => this.#cdi.listClaimSpecs(),
      [],
    );
    for (const uid of specs) {
      if (this.#checkpoint.get(uid) !== undefined) continue;
      if (
        await this.#step(report, `remove leaked CDI spec of ${uid}`, () =>
          this.#cdi.removeClaimSpec(uid),
        )
      )
        report.leakedSpecs.push(uid);
    }
    for (const uid of this.#backend.preparedClaims()) {
      if (this.#checkpoint.get(uid) !== undefined) continue;
      if (
        await this.#step(report, `release leaked backend claim ${uid}`, () =>
          this.#backend.unprepare(uid),
        )
      )
        report.leakedBackendClaims.push(uid);
    }
  }
}
