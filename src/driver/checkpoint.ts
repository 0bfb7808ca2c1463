/**
 * The plugin's crash-safe record of prepared claims: `<dataDir>/checkpoint.json`.
 *
 * Two phases per claim: `PrepareStarted` is written before the backend is touched and
 * `PrepareCompleted` once the backend is done (written alongside the CDI spec; the plugin replies
 * only when both are durable), so a crash in between is seen at the next start and rolled back. The file carries a SHA-256 checksum over a canonical
 * serialisation of everything else and the node's boot ID: a file that fails to parse, has an
 * unknown apiVersion or a wrong checksum is never trusted (moved aside as
 * `checkpoint.json.corrupt-<timestamp>`), and a different boot ID means the node rebooted, so no
 * backend state recorded in it exists any more.
 *
 * Writes are temp file + fsync + rename + directory fsync, serialised, and group-committed:
 * callers that change state while a write is in flight share the next single write, so N
 * concurrent prepares cost about two fsyncs, not N.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { type Static, Type } from 'typebox';
import { Compile } from 'typebox/compile';
import type { Logger } from '../observability/logger.ts';
import type { DriverMetrics } from '../observability/metrics.ts';
import { describeFsError, isNotFound, writeFileAtomic } from './atomic-file.ts';

export const CHECKPOINT_API_VERSION = 'gpu.phalanx.dev/checkpoint/v1' as const;
export const CHECKPOINT_FILE = 'checkpoint.json';
export const BOOT_ID_PATH = '/proc/sys/kernel/random/boot_id';

const SharingSchema = Type.Union([
  Type.Object({ strategy: Type.Literal('Exclusive') }),
  Type.Object({
    strategy: Type.Literal('TimeSlicing'),
    interval: Type.Union([
      Type.Literal('Default'),
      Type.Literal('Short'),
      Type.Literal('Medium'),
      Type.Literal('Long'),
    ]),
  }),
  Type.Object({ strategy: Type.Literal('SpacePartitioning'), partitionCount: Type.Integer() }),
]);

const DeviceSchema = Type.Object({
  requestNames: Type.Array(Type.String()),
  poolName: Type.String(),
  deviceName: Type.String(),
  cdiDeviceIds: Type.Array(Type.String()),
  shareId: Type.Optional(Type.String()),
  /** Sharing applied on the backend; lets a restart re-create backend state. */
  sharing: Type.Optional(SharingSchema),
});

const ClaimSchema = Type.Object({
  state: Type.Union([Type.Literal('PrepareStarted'), Type.Literal('PrepareCompleted')]),
  namespace: Type.String(),
  name: Type.String(),
  devices: Type.Array(DeviceSchema),
  updatedAt: Type.String(),
});

const FileSchema = Type.Object({
  apiVersion: Type.Literal(CHECKPOINT_API_VERSION),
  bootId: Type.String(),
  checksum: Type.String(),
  claims: Type.Record(Type.String(), ClaimSchema),
});

export type CheckpointDevice = Static<typeof DeviceSchema>;
export type CheckpointClaim = Static<typeof ClaimSchema>;
export type ClaimState = CheckpointClaim['state'];
export type CheckpointFile = Static<typeof FileSchema>;

const checkFile = Compile(FileSchema);

/** What the caller records for a claim; `state` and `updatedAt` are filled in. */
export interface ClaimRecord {
  readonly namespace: string;
  readonly name: string;
  readonly devices: readonly CheckpointDevice[];
}

/** Why the checkpoint on disk was not taken at face value. */
export interface CheckpointRecovery {
  readonly reason: 'corrupt' | 'reboot';
  /** One sentence for the log and for operators. */
  readonly detail: string;
  /** Where a corrupt file was moved. */
  readonly movedTo?: string;
  /** Boot ID recorded in the file (reboot). */
  readonly previousBootId?: string;
}

export interface CheckpointOptions {
  readonly dataDir: string;
  /** Current boot ID; read from {@link BOOT_ID_PATH} when omitted. */
  readonly bootId?: string;
  readonly logger: Logger;
  readonly metrics: DriverMetrics;
  /** Unix milliseconds; for `updatedAt` and corrupt-file names. */
  readonly clock?: () => number;
}

/** Reads the kernel's boot ID (changes on every boot). */
export async function readBootId(path: string = BOOT_ID_PATH): Promise<string> {
  return (await readFile(path, 'utf8')).trim();
}

/** JSON with object keys sorted recursively and no whitespace: the checksummed form. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** sha256 over everything in the file except the checksum itself. */
export function checkpointChecksum(file: Omit<CheckpointFile, 'checksum'>): string {
  const { apiVersion, bootId, claims } = file;
  return `sha256:${createHash('sha256').update(canonicalJson({ apiVersion, bootId, claims })).digest('hex')}`;
}

type LoadResult =
  | { readonly kind: 'missing' }
  | { readonly kind: 'ok'; readonly file: CheckpointFile }
  | { readonly kind: 'corrupt'; readonly why: string };

function parseCheckpoint(text: string): LoadResult {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    return { kind: 'corrupt', why: `it is not valid JSON (${(err as Error).message})` };
  }
  const apiVersion = (raw as { apiVersion?: unknown } | null)?.apiVersion;
  if (apiVersion !== CHECKPOINT_API_VERSION)
    return {
      kind: 'corrupt',
      why: `its apiVersion ${JSON.stringify(apiVersion)} is not ${CHECKPOINT_API_VERSION}`,
    };
  if (!checkFile.Check(raw)) {
    const first = checkFile.Errors(raw)[0];
    return {
      kind: 'corrupt',
      why: `its content does not match the schema (${first?.instancePath || '/'} ${first?.message ?? ''})`,
    };
  }
  const expected = checkpointChecksum(raw);
  if (raw.checksum !== expected)
    return { kind: 'corrupt', why: `its checksum ${raw.checksum} does not match the content` };
  return { kind: 'ok', file: raw };
}

/** The claim checkpoint. Create with {@link Checkpoint.open}. */
export class Checkpoint {
  readonly path: string;
  readonly bootId: string;
  /** Set when the file on disk was corrupt or from an earlier boot. */
  readonly recovery: CheckpointRecovery | undefined;
  readonly #claims: Map<string, CheckpointClaim>;
  readonly #logger: Logger;
  readonly #metrics: DriverMetrics;
  readonly #clock: () => number;
  #writes = 0;
  #writing: Promise<void> | undefined;
  #queued: Promise<void> | undefined;

  private constructor(
    path: string,
    bootId: string,
    claims: Map<string, CheckpointClaim>,
    recovery: CheckpointRecovery | undefined,
    options: CheckpointOptions,
  ) {
    this.path = path;
    this.bootId = bootId;
    this.#claims = claims;
    this.recovery = recovery;
    this.#logger = options.logger;
    this.#metrics = options.metrics;
    this.#clock = options.clock ?? Date.now;
  }

  /**
   * Loads `<dataDir>/checkpoint.json`. A missing file is an empty checkpoint. A corrupt one is
   * moved aside and replaced by an empty one (see `recovery`). After a reboot the entries are kept
   * so the caller can clean up after them, and `recovery.reason` is `reboot`.
   */
  static async open(options: CheckpointOptions): Promise<Checkpoint> {
    const path = join(options.dataDir, CHECKPOINT_FILE);
    const bootId = options.bootId ?? (await readBootId());
    await mkdir(options.dataDir, { recursive: true }).catch((err: unknown) => {
      throw new Error(
        `cannot create plugin data directory ${options.dataDir}: ${describeFsError(err)}; check the hostPath mount`,
      );
    });
    const loaded = await Checkpoint.#load(path);
    const clock = options.clock ?? Date.now;
    if (loaded.kind === 'missing')
      return new Checkpoint(path, bootId, new Map(), undefined, options);
    if (loaded.kind === 'corrupt') {
      const movedTo = `${path}.corrupt-${new Date(clock()).toISOString().replace(/[:.]/g, '-')}`;
      await rename(path, movedTo);
      const detail = `checkpoint ${path} is not trusted because ${loaded.why}; moved it to ${movedTo} and rebuilding state from CDI specs and the GPU backend`;
      options.logger.error({ path, movedTo }, detail);
      options.metrics.checkpointRecoveries.inc({ reason: 'corrupt' });
      return new Checkpoint(
        path,
        bootId,
        new Map(),
        { reason: 'corrupt', detail, movedTo },
        options,
      );
    }
    const claims = new Map(Object.entries(loaded.file.claims));
    if (loaded.file.bootId === bootId)
      return new Checkpoint(path, bootId, claims, undefined, options);
    const detail = `node rebooted since checkpoint ${path} was written (boot ID ${loaded.file.bootId}, now ${bootId}); ${claims.size} recorded claim(s) hold no devices any more`;
    options.logger.warn({ path, claims: claims.size }, detail);
    options.metrics.checkpointRecoveries.inc({ reason: 'reboot' });
    return new Checkpoint(
      path,
      bootId,
      claims,
      { reason: 'reboot', detail, previousBootId: loaded.file.bootId },
      options,
    );
  }

  static async #load(path: string): Promise<LoadResult> {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if (isNotFound(err)) return { kind: 'missing' };
      throw new Error(`cannot read checkpoint ${path}: ${describeFsError(err)}`, { cause: err });
    }
    return parseCheckpoint(text);
  }

  /** Successful file writes by this instance (group commit makes this ≤ the number of changes). */
  get writeCount(): number {
    return this.#writes;
  }

  get(claimUid: string): CheckpointClaim | undefined {
    return this.#claims.get(claimUid);
  }

  /** All entries, sorted by claim UID. */
  entries(): [string, CheckpointClaim][] {
    return [...this.#claims.entries()].sort(([a], [b]) => (a < b ? -1 : 1));
  }

  /** Number of claims in state PrepareCompleted. */
  completedCount(): number {
    let n = 0;
    for (const claim of this.#claims.values()) if (claim.state === 'PrepareCompleted') n++;
    return n;
  }

  /** Phase 1: records that the claim's preparation is starting; durable when resolved. */
  setStarted(claimUid: string, record: ClaimRecord): Promise<void> {
    return this.#set(claimUid, 'PrepareStarted', record);
  }

  /** Phase 2: records that the claim is fully prepared; durable when resolved. */
  setCompleted(claimUid: string, record: ClaimRecord): Promise<void> {
    return this.#set(claimUid, 'PrepareCompleted', record);
  }

  /** Forgets the claim (no write when it was not recorded and nothing else is pending). */
  remove(claimUid: string): Promise<void> {
    if (!this.#claims.delete(claimUid)) return this.#queued ?? this.#writing ?? Promise.resolve();
    return this.#flush();
  }

  /** Writes the current state now (e.g. to stamp the current boot ID after a recovery). */
  save(): Promise<void> {
    return this.#flush();
  }

  #set(claimUid: string, state: ClaimState, record: ClaimRecord): Promise<void> {
    this.#claims.set(claimUid, {
      state,
      namespace: record.namespace,
      name: record.name,
      devices: record.devices.map((d) => ({
        ...d,
        requestNames: [...d.requestNames],
        cdiDeviceIds: [...d.cdiDeviceIds],
      })),
      updatedAt: new Date(this.#clock()).toISOString(),
    });
    return this.#flush();
  }

  /**
   * Group commit. A change made while no write runs starts one; a change made while a write runs
   * joins the single queued write that starts when the running one ends. The queued write
   * serialises the state as of its start, so it includes every change that joined it.
   */
  #flush(): Promise<void> {
    if (this.#queued !== undefined) return this.#queued;
    const running = this.#writing;
    if (running === undefined) return this.#startWrite();
    const queued = running
      .catch(() => undefined)
      .then(() => {
        this.#queued = undefined;
        return this.#startWrite();
      });
    this.#queued = queued;
    return queued;
  }

  #startWrite(): Promise<void> {
    const body = {
      apiVersion: CHECKPOINT_API_VERSION,
      bootId: this.bootId,
      claims: this.#snapshot(),
    };
    const file: CheckpointFile = { ...body, checksum: checkpointChecksum(body) };
    const text = `${JSON.stringify(file, null, 2)}\n`;
    const write = writeFileAtomic(this.path, text, 0o600).then(
      () => {
        this.#writes++;
        this.#metrics.checkpointWrites.inc({ result: 'success' });
      },
      (err: unknown) => {
        this.#metrics.checkpointWrites.inc({ result: 'error' });
        throw new Error(
          `cannot write checkpoint ${this.path}: ${describeFsError(err)}; check that the plugin data directory is writable`,
          { cause: err },
        );
      },
    );
    const tracked = write.finally(() => {
      if (this.#writing === tracked) this.#writing = undefined;
    });
    this.#writing = tracked;
    return tracked;
  }

  #snapshot(): Record<string, CheckpointClaim> {
    const out: Record<string, CheckpointClaim> = {};
    for (const [uid, claim] of this.entries()) out[uid] = claim;
    return out;
  }
}
