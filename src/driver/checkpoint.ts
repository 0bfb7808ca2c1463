/**
 * The plugin's crash-safe record of prepared claims: a snapshot, `<dataDir>/checkpoint.json`,
 * plus an append-only journal of the changes made since, `<dataDir>/checkpoint.journal`.
 *
 * Two phases per claim: `PrepareStarted` is recorded before the backend is touched and
 * `PrepareCompleted` once the backend is done (alongside the CDI spec; the plugin replies only
 * when both are durable), so a crash in between is seen at the next start and rolled back.
 *
 * On disk
 * - Snapshot: apiVersion, the node's boot ID, `seq` (the last journal record it includes), the
 *   claims, and a SHA-256 checksum over a canonical serialisation of the rest. Written with temp
 *   file + fsync + rename + directory fsync, so it is always a whole old or a whole new file. It
 *   is written on the first change in an empty directory, after a start that found journal
 *   records, when the journal reaches {@link DEFAULT_JOURNAL_MAX_RECORDS} records or
 *   {@link DEFAULT_JOURNAL_MAX_BYTES} bytes, and by {@link Checkpoint.save}.
 * - Journal: one line per change (`started` / `completed` with the full claim record, or
 *   `removed`), each with its sequence number and a CRC-32 of its JSON. A change is
 *   acknowledged only after its line is on stable storage: one write to the journal, opened with
 *   `O_DSYNC`, so the write returns only after the equivalent of `fdatasync` (atomic-file.ts).
 *   Changes made while an append is in flight share the next single append (group commit), so N
 *   concurrent prepares cost about two synced appends, not N. After a snapshot is durable the
 *   journal is emptied (truncate + fsync).
 * - State = snapshot + journal records with `seq` above the snapshot's, in order. Sequence
 *   numbers must run on without gaps; a journal only ever exists beside a snapshot.
 *
 * What a crash leaves, and why the next start is right
 * - Before or during an append: the journal ends at the previous record, or with one partial or
 *   garbled last record (the write was cut short; after a power loss, unflushed blocks read back
 *   as garbage). That change was never acknowledged, so the kubelet retries it: the last record is
 *   dropped (logged) and the journal compacted away. Appends never begin before the previous one
 *   is complete and synced, so a bad record FOLLOWED by good ones cannot come from a plugin
 *   crash: the snapshot and journal are then not trusted (see below). (After a power loss it can,
 *   as the blocks of one multi-record append reach the disk in any order; the node has then
 *   rebooted and none of the claims of that boot hold devices any more.)
 * - While writing a snapshot: the rename has happened or not, so the old snapshot + the whole
 *   journal, or the new snapshot; a leftover temp file is removed at a later start.
 * - Between the snapshot rename and the journal truncation: the new snapshot already includes
 *   every record left in the journal; their sequence numbers are at or below the snapshot's, so
 *   replay skips them and nothing is applied twice.
 * - After a failed append (disk full, I/O error): the journal is cut back to its last whole record
 *   and the next change writes a whole snapshot instead of appending, so the journal never
 *   continues after a gap or half a record.
 * - Corrupt files: a snapshot that fails to parse, has an unknown apiVersion or a wrong checksum,
 *   a journal with a bad record that is not the last, a sequence gap, or a journal with no
 *   snapshot (an interrupted move-aside) are never trusted: both files are moved aside as
 *   `<name>.corrupt-<timestamp>` (snapshot first) and the caller rebuilds from CDI specs and the
 *   GPU backend (`recovery.reason` = `corrupt`).
 * - Reboot: the journal belongs to the snapshot's boot. When the snapshot's boot ID differs from
 *   the node's, no backend state recorded in it exists any more (`recovery.reason` = `reboot`);
 *   the files keep the old boot ID until {@link Checkpoint.save}, which the caller runs after
 *   dropping those claims, so a crash during that cleanup is seen as a reboot again.
 * - Downgrade: a plugin version that knows no journal computes the snapshot checksum without
 *   `seq`, finds it wrong and rebuilds from CDI specs; it never trusts a snapshot whose journal
 *   it would ignore.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { type Static, Type } from 'typebox';
import { Compile } from 'typebox/compile';
import type { Logger } from '../observability/logger.ts';
import type { DriverMetrics } from '../observability/metrics.ts';
import {
  DurableAppendFile,
  describeFsError,
  fsyncDirectory,
  isNotFound,
  removeStaleTempFiles,
  writeFileAtomic,
} from './atomic-file.ts';

export const CHECKPOINT_API_VERSION = 'gpu.phalanx.dev/checkpoint/v1' as const;
export const CHECKPOINT_FILE = 'checkpoint.json';
export const CHECKPOINT_JOURNAL_FILE = 'checkpoint.journal';
export const BOOT_ID_PATH = '/proc/sys/kernel/random/boot_id';
/** The journal is folded into a new snapshot once it holds this many records… */
export const DEFAULT_JOURNAL_MAX_RECORDS = 1000;
/** …or this many bytes. */
export const DEFAULT_JOURNAL_MAX_BYTES = 1024 * 1024;

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
  /** Last journal record included; absent in files written before the journal existed (= 0). */
  seq: Type.Optional(Type.Integer({ minimum: 0 })),
  checksum: Type.String(),
  claims: Type.Record(Type.String(), ClaimSchema),
});

const JournalRecordSchema = Type.Union([
  Type.Object({
    seq: Type.Integer({ minimum: 1 }),
    op: Type.Union([Type.Literal('started'), Type.Literal('completed')]),
    uid: Type.String(),
    claim: ClaimSchema,
  }),
  Type.Object({
    seq: Type.Integer({ minimum: 1 }),
    op: Type.Literal('removed'),
    uid: Type.String(),
  }),
]);

export type CheckpointDevice = Static<typeof DeviceSchema>;
export type CheckpointClaim = Static<typeof ClaimSchema>;
export type ClaimState = CheckpointClaim['state'];
export type CheckpointFile = Static<typeof FileSchema>;
/** One change in the journal (without its checksum). */
export type JournalRecord = Static<typeof JournalRecordSchema>;

const checkFile = Compile(FileSchema);
const checkRecord = Compile(JournalRecordSchema);

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
  /** Where a corrupt snapshot was moved. */
  readonly movedTo?: string;
  /** Where the journal beside a corrupt snapshot, or a corrupt journal, was moved. */
  readonly journalMovedTo?: string;
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
  /** Compact once the journal holds this many records ({@link DEFAULT_JOURNAL_MAX_RECORDS}). */
  readonly journalMaxRecords?: number;
  /** Compact once the journal holds this many bytes ({@link DEFAULT_JOURNAL_MAX_BYTES}). */
  readonly journalMaxBytes?: number;
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

/** sha256 over everything in the snapshot except the checksum itself. */
export function checkpointChecksum(file: Omit<CheckpointFile, 'checksum'>): string {
  const { apiVersion, bootId, seq, claims } = file;
  return `sha256:${createHash('sha256').update(canonicalJson({ apiVersion, bootId, seq, claims })).digest('hex')}`;
}

type Parsed<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly why: string };

function parseJson(text: string): Parsed<unknown> {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (err) {
    return { ok: false, why: `is not valid JSON (${(err as Error).message})` };
  }
}

/** Parses and verifies a snapshot; `why` completes "checkpoint <path> is not trusted because …". */
function parseCheckpoint(text: string): Parsed<CheckpointFile> {
  const json = parseJson(text);
  if (!json.ok) return { ok: false, why: `it ${json.why}` };
  const raw = json.value;
  const apiVersion = (raw as { apiVersion?: unknown } | null)?.apiVersion;
  if (apiVersion !== CHECKPOINT_API_VERSION)
    return {
      ok: false,
      why: `its apiVersion ${JSON.stringify(apiVersion)} is not ${CHECKPOINT_API_VERSION}`,
    };
  if (!checkFile.Check(raw)) {
    const first = checkFile.Errors(raw)[0];
    return {
      ok: false,
      why: `its content does not match the schema (${first?.instancePath || '/'} ${first?.message ?? ''})`,
    };
  }
  if (raw.checksum !== checkpointChecksum(raw))
    return { ok: false, why: `its checksum ${raw.checksum} does not match the content` };
  return { ok: true, value: raw };
}

// ---- journal format --------------------------------------------------------------------------

/** `crc32:<8 hex digits>` over the exact UTF-8 bytes of a record's JSON. */
export function journalChecksum(json: string): string {
  return `crc32:${crc32(json).toString(16).padStart(8, '0')}`;
}

/** The checksum closes every line: `…,"checksum":"crc32:<hex>"}`. */
const CHECKSUM_TAIL = /,"checksum":"(crc32:[0-9a-f]{8})"\}$/;

/**
 * One journal line: the record's JSON with a last field `checksum` over the JSON without it,
 * ending in a newline. (JSON text never holds a raw newline, so lines cannot be confused.)
 */
export function encodeJournalRecord(record: JournalRecord): string {
  const json = JSON.stringify(record);
  return `${json.slice(0, -1)},"checksum":"${journalChecksum(json)}"}\n`;
}

const STATE_OF_OP = { started: 'PrepareStarted', completed: 'PrepareCompleted' } as const;

/** Parses and verifies one journal line (without its newline); `why` completes "record N …". */
export function decodeJournalRecord(line: string): Parsed<JournalRecord> {
  const tail = CHECKSUM_TAIL.exec(line);
  if (tail === null) return { ok: false, why: 'does not end in a checksum' };
  const json = `${line.slice(0, tail.index)}}`;
  if (journalChecksum(json) !== tail[1])
    return { ok: false, why: `has checksum ${tail[1]}, which does not match its content` };
  const parsed = parseJson(json);
  if (!parsed.ok) return parsed;
  const record = parsed.value;
  if (!checkRecord.Check(record)) {
    const first = checkRecord.Errors(record)[0];
    return {
      ok: false,
      why: `does not match the schema (${first?.instancePath || '/'} ${first?.message ?? ''})`,
    };
  }
  if (record.op !== 'removed' && record.claim.state !== STATE_OF_OP[record.op])
    return {
      ok: false,
      why: `is a ${record.op} record for a claim in state ${record.claim.state}`,
    };
  return { ok: true, value: record };
}

interface JournalLine {
  readonly text: string;
  readonly offset: number;
  /** Ends in a newline. */
  readonly complete: boolean;
}

function splitLines(data: Buffer): JournalLine[] {
  const lines: JournalLine[] = [];
  let start = 0;
  while (start < data.length) {
    const end = data.indexOf(0x0a, start);
    if (end === -1) {
      lines.push({ text: data.toString('utf8', start), offset: start, complete: false });
      break;
    }
    lines.push({ text: data.toString('utf8', start, end), offset: start, complete: true });
    start = end + 1;
  }
  return lines;
}

/** The journal's records; a bad LAST record is reported as `torn`, any other bad one as corrupt. */
export type JournalScan =
  | { readonly kind: 'ok'; readonly records: JournalRecord[]; readonly torn: string | undefined }
  | { readonly kind: 'corrupt'; readonly why: string };

export function scanJournal(data: Buffer): JournalScan {
  const lines = splitLines(data);
  const records: JournalRecord[] = [];
  for (const [i, line] of lines.entries()) {
    const decoded: Parsed<JournalRecord> = line.complete
      ? decodeJournalRecord(line.text)
      : { ok: false, why: 'is incomplete (no newline at its end)' };
    if (decoded.ok) {
      records.push(decoded.value);
      continue;
    }
    const what = `record ${i + 1} (byte ${line.offset}) ${decoded.why}`;
    const after = lines.length - 1 - i;
    if (after > 0) return { kind: 'corrupt', why: `${what}, and ${after} record(s) follow it` };
    return { kind: 'ok', records, torn: what };
  }
  return { kind: 'ok', records, torn: undefined };
}

/**
 * Applies the records with `seq` above `snapshotSeq` to `claims`, in order. Returns the last
 * sequence number, or why the records cannot be trusted (out of order, or a gap).
 */
function replayJournal(
  claims: Map<string, CheckpointClaim>,
  records: readonly JournalRecord[],
  snapshotSeq: number,
): Parsed<number> {
  let previous = 0;
  let last = snapshotSeq;
  for (const record of records) {
    if (record.seq <= previous)
      return {
        ok: false,
        why: `record seq ${record.seq} follows seq ${previous} (sequence numbers must increase)`,
      };
    previous = record.seq;
    if (record.seq <= snapshotSeq) continue; // already in the snapshot
    if (record.seq !== last + 1)
      return {
        ok: false,
        why: `records seq ${last + 1} to ${record.seq - 1} are missing (the snapshot holds changes up to seq ${snapshotSeq})`,
      };
    if (record.op === 'removed') claims.delete(record.uid);
    else claims.set(record.uid, record.claim);
    last = record.seq;
  }
  return { ok: true, value: last };
}

// ---- loading ---------------------------------------------------------------------------------

type DirLoad =
  | { readonly kind: 'missing'; readonly journalSize: number | undefined }
  | {
      readonly kind: 'ok';
      readonly bootId: string;
      readonly seq: number;
      readonly claims: Map<string, CheckpointClaim>;
      readonly journalSize: number | undefined;
      readonly torn: string | undefined;
    }
  | {
      readonly kind: 'corrupt';
      /** "checkpoint <path>" or "checkpoint journal <path>". */
      readonly subject: string;
      readonly why: string;
      readonly snapshotExists: boolean;
      readonly journalExists: boolean;
    };

async function readOptional(path: string, what: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw new Error(`cannot read ${what} ${path}: ${describeFsError(err)}`, { cause: err });
  }
}

async function loadCheckpointDir(path: string, journalPath: string): Promise<DirLoad> {
  const [snapshot, journal] = await Promise.all([
    readOptional(path, 'checkpoint'),
    readOptional(journalPath, 'checkpoint journal'),
  ]);
  const exists = { snapshotExists: snapshot !== undefined, journalExists: journal !== undefined };
  if (snapshot === undefined) {
    if (journal === undefined || journal.length === 0)
      return { kind: 'missing', journalSize: journal?.length };
    const why = `it holds ${journal.length} bytes of records but there is no snapshot ${path} (a move-aside was interrupted, or the snapshot was deleted)`;
    return { kind: 'corrupt', subject: `checkpoint journal ${journalPath}`, why, ...exists };
  }
  const file = parseCheckpoint(snapshot.toString('utf8'));
  if (!file.ok) return { kind: 'corrupt', subject: `checkpoint ${path}`, why: file.why, ...exists };
  const claims = new Map(Object.entries(file.value.claims));
  const snapshotSeq = file.value.seq ?? 0;
  const scan = journal === undefined ? undefined : scanJournal(journal);
  const journalCorrupt = (why: string): DirLoad => ({
    kind: 'corrupt',
    subject: `checkpoint journal ${journalPath}`,
    why,
    ...exists,
  });
  if (scan?.kind === 'corrupt') return journalCorrupt(scan.why);
  const replayed = replayJournal(claims, scan?.records ?? [], snapshotSeq);
  if (!replayed.ok) return journalCorrupt(replayed.why);
  return {
    kind: 'ok',
    bootId: file.value.bootId,
    seq: replayed.value,
    claims,
    journalSize: journal?.length,
    torn: scan?.torn,
  };
}

/** A checkpoint directory's content as the plugin would load it (snapshot + journal). */
export interface CheckpointState {
  readonly bootId: string;
  /** Last change included. */
  readonly seq: number;
  readonly claims: Record<string, CheckpointClaim>;
}

/**
 * Reads a checkpoint directory without changing it (for tools and tests that inspect a node):
 * undefined when there is no checkpoint; throws when the plugin would not trust it. A torn last
 * journal record is left out, as the plugin does.
 */
export async function readCheckpointState(dataDir: string): Promise<CheckpointState | undefined> {
  const loaded = await loadCheckpointDir(
    join(dataDir, CHECKPOINT_FILE),
    join(dataDir, CHECKPOINT_JOURNAL_FILE),
  );
  if (loaded.kind === 'missing') return undefined;
  if (loaded.kind === 'corrupt')
    throw new Error(`${loaded.subject} is not trusted because ${loaded.why}`);
  return { bootId: loaded.bootId, seq: loaded.seq, claims: Object.fromEntries(loaded.claims) };
}

// ---- the checkpoint --------------------------------------------------------------------------

interface CheckpointInit {
  readonly path: string;
  readonly journalPath: string;
  readonly bootId: string;
  readonly options: CheckpointOptions;
  /** Boot ID the files on disk belong to. */
  readonly fileBootId: string;
  readonly seq: number;
  readonly claims: Map<string, CheckpointClaim>;
  readonly recovery: CheckpointRecovery | undefined;
  readonly journalSize: number | undefined;
  /** No usable snapshot on disk yet: the next write must be one. */
  readonly needsSnapshot: boolean;
}

/** A journal record before it is numbered. */
type Change = JournalRecord extends infer R
  ? R extends JournalRecord
    ? Omit<R, 'seq'>
    : never
  : never;

type Base = Pick<CheckpointInit, 'path' | 'journalPath' | 'bootId' | 'options'>;

/** The claim checkpoint. Create with {@link Checkpoint.open}. */
export class Checkpoint {
  readonly path: string;
  readonly journalPath: string;
  readonly bootId: string;
  /** Set when the files on disk were corrupt or from an earlier boot. */
  readonly recovery: CheckpointRecovery | undefined;
  readonly #claims: Map<string, CheckpointClaim>;
  readonly #logger: Logger;
  readonly #metrics: DriverMetrics;
  readonly #clock: () => number;
  readonly #journal: DurableAppendFile;
  readonly #maxRecords: number;
  readonly #maxBytes: number;
  #fileBootId: string;
  #seq: number;
  /** Encoded records of changes not yet handed to a commit. */
  #pending: string[] = [];
  #needsSnapshot: boolean;
  #journalRecords = 0;
  #writes = 0;
  #appends = 0;
  #snapshots = 0;
  #writing: Promise<void> | undefined;
  #queued: Promise<void> | undefined;

  private constructor(init: CheckpointInit) {
    this.path = init.path;
    this.journalPath = init.journalPath;
    this.bootId = init.bootId;
    this.recovery = init.recovery;
    this.#claims = init.claims;
    this.#logger = init.options.logger;
    this.#metrics = init.options.metrics;
    this.#clock = init.options.clock ?? Date.now;
    this.#maxRecords = init.options.journalMaxRecords ?? DEFAULT_JOURNAL_MAX_RECORDS;
    this.#maxBytes = init.options.journalMaxBytes ?? DEFAULT_JOURNAL_MAX_BYTES;
    this.#fileBootId = init.fileBootId;
    this.#seq = init.seq;
    this.#needsSnapshot = init.needsSnapshot;
    this.#journal = new DurableAppendFile(init.journalPath, {
      mode: 0o600,
      ...(init.journalSize === undefined ? {} : { size: init.journalSize }),
    });
  }

  /**
   * Loads the snapshot and replays the journal. Nothing on disk is an empty checkpoint. Corrupt
   * files are moved aside and replaced by an empty checkpoint (see `recovery`). After a reboot
   * the entries are kept so the caller can clean up after them, and `recovery.reason` is
   * `reboot`. A non-empty journal is folded into a new snapshot before this resolves.
   */
  static async open(options: CheckpointOptions): Promise<Checkpoint> {
    const base: Base = {
      path: join(options.dataDir, CHECKPOINT_FILE),
      journalPath: join(options.dataDir, CHECKPOINT_JOURNAL_FILE),
      bootId: options.bootId ?? (await readBootId()),
      options,
    };
    await mkdir(options.dataDir, { recursive: true }).catch((err: unknown) => {
      throw new Error(
        `cannot create plugin data directory ${options.dataDir}: ${describeFsError(err)}; check the hostPath mount`,
      );
    });
    // Left by a snapshot write that a crash interrupted (never read; young ones may be a
    // neighbour's during a rolling update).
    await removeStaleTempFiles(options.dataDir, CHECKPOINT_FILE).catch(() => undefined);
    const loaded = await loadCheckpointDir(base.path, base.journalPath);
    if (loaded.kind === 'corrupt') return Checkpoint.#quarantine(base, loaded);
    if (loaded.kind === 'missing')
      return new Checkpoint({
        ...base,
        fileBootId: base.bootId,
        seq: 0,
        claims: new Map(),
        recovery: undefined,
        journalSize: loaded.journalSize,
        needsSnapshot: true,
      });
    return Checkpoint.#fromDisk(base, loaded);
  }

  static async #fromDisk(base: Base, loaded: DirLoad & { kind: 'ok' }): Promise<Checkpoint> {
    const { logger, metrics } = base.options;
    let recovery: CheckpointRecovery | undefined;
    if (loaded.bootId !== base.bootId) {
      const detail = `node rebooted since checkpoint ${base.path} was written (boot ID ${loaded.bootId}, now ${base.bootId}); ${loaded.claims.size} recorded claim(s) hold no devices any more`;
      logger.warn({ path: base.path, claims: loaded.claims.size }, detail);
      metrics.checkpointRecoveries.inc({ reason: 'reboot' });
      recovery = { reason: 'reboot', detail, previousBootId: loaded.bootId };
    }
    if (loaded.torn !== undefined)
      logger.info(
        { path: base.journalPath },
        `dropped the last record of checkpoint journal ${base.journalPath}: ${loaded.torn}; the plugin stopped while writing it, before the change was acknowledged`,
      );
    const checkpoint = new Checkpoint({
      ...base,
      fileBootId: loaded.bootId,
      seq: loaded.seq,
      claims: loaded.claims,
      recovery,
      journalSize: loaded.journalSize,
      needsSnapshot: false,
    });
    if ((loaded.journalSize ?? 0) > 0) await checkpoint.#compactAfterOpen();
    return checkpoint;
  }

  static async #quarantine(base: Base, loaded: DirLoad & { kind: 'corrupt' }): Promise<Checkpoint> {
    const { logger, metrics, clock = Date.now, dataDir } = base.options;
    const stamp = new Date(clock()).toISOString().replace(/[:.]/g, '-');
    const movedTo = loaded.snapshotExists ? `${base.path}.corrupt-${stamp}` : undefined;
    const journalMovedTo = loaded.journalExists
      ? `${base.journalPath}.corrupt-${stamp}`
      : undefined;
    // Snapshot first: if this is interrupted, the journal left alone is itself untrusted.
    if (movedTo !== undefined) await rename(base.path, movedTo);
    if (journalMovedTo !== undefined) await rename(base.journalPath, journalMovedTo);
    await fsyncDirectory(dataDir);
    const moves = [
      ...(movedTo === undefined ? [] : [`${base.path} to ${movedTo}`]),
      ...(journalMovedTo === undefined ? [] : [`${base.journalPath} to ${journalMovedTo}`]),
    ];
    const detail = `${loaded.subject} is not trusted because ${loaded.why}; moved ${moves.join(' and ')} and rebuilding state from CDI specs and the GPU backend`;
    logger.error({ path: base.path, movedTo, journalMovedTo }, detail);
    metrics.checkpointRecoveries.inc({ reason: 'corrupt' });
    return new Checkpoint({
      ...base,
      fileBootId: base.bootId,
      seq: 0,
      claims: new Map(),
      recovery: {
        reason: 'corrupt',
        detail,
        ...(movedTo === undefined ? {} : { movedTo }),
        ...(journalMovedTo === undefined ? {} : { journalMovedTo }),
      },
      journalSize: undefined,
      needsSnapshot: true,
    });
  }

  async #compactAfterOpen(): Promise<void> {
    this.#needsSnapshot = true;
    await this.#flush().catch((err: unknown) => {
      this.#logger.warn(
        { err, path: this.path },
        'cannot fold the checkpoint journal into a new snapshot at startup; the next change writes a whole snapshot instead',
      );
    });
  }

  /** Successful durable commits by this instance (journal appends + snapshots); group commit makes this ≤ the number of changes. */
  get writeCount(): number {
    return this.#writes;
  }

  /** Successful journal appends (one write + one fdatasync each) by this instance. */
  get appendCount(): number {
    return this.#appends;
  }

  /** Successful snapshot writes (temp + fsync + rename + directory fsync) by this instance. */
  get snapshotCount(): number {
    return this.#snapshots;
  }

  /** Records in the journal now (0 right after a snapshot). */
  get journalRecordCount(): number {
    return this.#journalRecords;
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
    return this.#log({ op: 'removed', uid: claimUid });
  }

  /**
   * Writes a whole snapshot now, stamped with the current boot ID, and empties the journal (e.g.
   * after a recovery, once the entries of an earlier boot are dealt with).
   */
  save(): Promise<void> {
    this.#fileBootId = this.bootId;
    this.#needsSnapshot = true;
    return this.#flush();
  }

  /** Waits for writes in flight and closes the journal (a later change reopens it). */
  async close(): Promise<void> {
    await (this.#queued ?? this.#writing)?.catch(() => undefined);
    await this.#journal.close();
  }

  #set(claimUid: string, state: ClaimState, record: ClaimRecord): Promise<void> {
    const claim: CheckpointClaim = {
      state,
      namespace: record.namespace,
      name: record.name,
      devices: record.devices.map((d) => ({
        ...d,
        requestNames: [...d.requestNames],
        cdiDeviceIds: [...d.cdiDeviceIds],
      })),
      updatedAt: new Date(this.#clock()).toISOString(),
    };
    this.#claims.set(claimUid, claim);
    const op = state === 'PrepareStarted' ? 'started' : 'completed';
    return this.#log({ op, uid: claimUid, claim });
  }

  /** Numbers the change, queues its journal record and returns when it is durable. */
  #log(change: Change): Promise<void> {
    this.#seq++;
    this.#pending.push(encodeJournalRecord({ ...change, seq: this.#seq }));
    return this.#flush();
  }

  /**
   * Group commit. A change made while no commit runs starts one; a change made while a commit
   * runs joins the single queued commit that starts when the running one ends. The queued commit
   * takes every record pending at its start (or snapshots the state as of its start), so it
   * includes every change that joined it.
   */
  #flush(): Promise<void> {
    if (this.#queued !== undefined) return this.#queued;
    const running = this.#writing;
    if (running === undefined) return this.#startCommit();
    const queued = running
      .catch(() => undefined)
      .then(() => {
        this.#queued = undefined;
        return this.#startCommit();
      });
    this.#queued = queued;
    return queued;
  }

  #startCommit(): Promise<void> {
    const records = this.#pending;
    this.#pending = [];
    const commit = this.#commit(records);
    const tracked = commit.finally(() => {
      if (this.#writing === tracked) this.#writing = undefined;
    });
    this.#writing = tracked;
    return tracked;
  }

  #commit(records: readonly string[]): Promise<void> {
    if (this.#needsSnapshot || this.#journalFull()) return this.#writeSnapshot();
    if (records.length === 0) return Promise.resolve();
    return this.#append(records);
  }

  #journalFull(): boolean {
    const bytes = this.#journal.size;
    return (
      bytes === undefined || bytes >= this.#maxBytes || this.#journalRecords >= this.#maxRecords
    );
  }

  async #append(records: readonly string[]): Promise<void> {
    try {
      await this.#journal.append(Buffer.from(records.join(''), 'utf8'));
    } catch (err) {
      // Memory is ahead of the journal now; only a whole snapshot can catch the disk up.
      this.#needsSnapshot = true;
      this.#metrics.checkpointWrites.inc({ result: 'error' });
      throw new Error(
        `cannot append to checkpoint journal ${this.journalPath}: ${describeFsError(err)}; check that the plugin data directory is writable`,
        { cause: err },
      );
    }
    this.#writes++;
    this.#appends++;
    this.#journalRecords += records.length;
    this.#metrics.checkpointWrites.inc({ result: 'success' });
    if (this.#journalFull()) {
      // In the background: the callers of this append are answered now; changes that arrive
      // meanwhile join the compaction.
      this.#flush().catch((err: unknown) => {
        this.#logger.warn(
          { err, path: this.path },
          'checkpoint compaction failed; retrying at the next change',
        );
      });
    }
  }

  /** Snapshot of the state as of now (serialised before the first await), then an empty journal. */
  async #writeSnapshot(): Promise<void> {
    const body = {
      apiVersion: CHECKPOINT_API_VERSION,
      bootId: this.#fileBootId,
      seq: this.#seq,
      claims: this.#snapshot(),
    };
    const file: CheckpointFile = { ...body, checksum: checkpointChecksum(body) };
    const text = `${JSON.stringify(file, null, 2)}\n`;
    try {
      await writeFileAtomic(this.path, text, 0o600);
    } catch (err) {
      this.#metrics.checkpointWrites.inc({ result: 'error' });
      throw new Error(
        `cannot write checkpoint ${this.path}: ${describeFsError(err)}; check that the plugin data directory is writable`,
        { cause: err },
      );
    }
    this.#writes++;
    this.#snapshots++;
    this.#metrics.checkpointWrites.inc({ result: 'success' });
    // Every change so far is durable in the snapshot; the callers are answered even if the
    // journal cannot be emptied (its records are skipped by seq; appends wait for a clean one).
    try {
      if (this.#journal.size !== 0) await this.#journal.truncate();
      this.#journalRecords = 0;
      this.#needsSnapshot = false;
    } catch (err) {
      this.#needsSnapshot = true;
      this.#logger.warn(
        { err, path: this.journalPath },
        `cannot empty checkpoint journal ${this.journalPath} after a snapshot: ${describeFsError(err)}; the next change writes a whole snapshot again`,
      );
    }
  }

  #snapshot(): Record<string, CheckpointClaim> {
    const out: Record<string, CheckpointClaim> = {};
    for (const [uid, claim] of this.entries()) out[uid] = claim;
    return out;
  }
}
