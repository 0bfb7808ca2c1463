/**
 * Deterministic tar and gzip for image layers: the same entries give the same bytes, whatever
 * order they come in and whenever they are written. Written by hand because no installed package
 * writes tar, and a layer needs exact control of every header field (mtime, owner, mode, order).
 *
 * Format: POSIX ustar headers; a path that does not fit ustar's 100 + 155 byte split (or is not
 * ASCII) gets a PAX extended header (`x`) in front, as GNU tar, containerd and Docker read it.
 */
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { crc32, deflateRawSync } from 'node:zlib';

interface Owner {
  /** Numeric owner; 0 (root) when left out. */
  readonly uid?: number;
  readonly gid?: number;
}

export type TarEntry =
  | (Owner & { readonly type: 'dir'; readonly path: string; readonly mode: number })
  | (Owner & {
      readonly type: 'file';
      readonly path: string;
      readonly mode: number;
      readonly data: Buffer;
    })
  | (Owner & { readonly type: 'symlink'; readonly path: string; readonly target: string });

const BLOCK = 512;
const TYPE_FLAG = { file: '0', symlink: '2', dir: '5', pax: 'x' } as const;

/** `/usr/lib/` → `usr/lib`: tar paths are relative, without a trailing slash (added for dirs). */
export function normalizePath(path: string): string {
  const trimmed = path.replace(/^\.?\/+/, '').replace(/\/+$/, '');
  if (trimmed === '' || trimmed.split('/').some((part) => part === '..' || part === '')) {
    throw new Error(`tar: path "${path}" is empty or leaves the root; use a path below /`);
  }
  return trimmed;
}

/** The directories an entry list needs but does not name, as 0755 root-owned entries. */
export function withParentDirs(entries: readonly TarEntry[]): TarEntry[] {
  const named = new Set(entries.map((entry) => normalizePath(entry.path)));
  const added: TarEntry[] = [];
  for (const entry of entries) {
    const parts = normalizePath(entry.path).split('/');
    for (let i = 1; i < parts.length; i++) {
      const parent = parts.slice(0, i).join('/');
      if (named.has(parent)) continue;
      named.add(parent);
      added.push({ type: 'dir', path: parent, mode: 0o755 });
    }
  }
  return [...entries, ...added];
}

function sameEntry(a: TarEntry, b: TarEntry): boolean {
  if (a.type !== 'dir' || b.type !== 'dir') return false;
  return a.mode === b.mode && (a.uid ?? 0) === (b.uid ?? 0) && (a.gid ?? 0) === (b.gid ?? 0);
}

/** Entries sorted by path (bytewise); an identical directory named twice is kept once. */
export function sortedEntries(entries: readonly TarEntry[]): TarEntry[] {
  const byPath = new Map<string, TarEntry>();
  for (const entry of entries) {
    const path = normalizePath(entry.path);
    const seen = byPath.get(path);
    if (seen !== undefined && !sameEntry(seen, entry)) {
      throw new Error(`tar: "${path}" is named twice with different contents; keep one`);
    }
    byPath.set(path, { ...entry, path });
  }
  const paths = [...byPath.keys()].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  return paths.flatMap((path) => byPath.get(path) ?? []);
}

function octal(value: number, width: number): string {
  const digits = value.toString(8);
  if (digits.length > width - 1)
    throw new Error(`tar: ${value} does not fit a ${width}-byte field`);
  return `${digits.padStart(width - 1, '0')}\0`;
}

function isAscii(text: string): boolean {
  return /^[\x20-\x7e]*$/.test(text);
}

/** ustar name/prefix split, or undefined when the path needs a PAX header. */
function ustarName(path: string): { name: string; prefix: string } | undefined {
  if (!isAscii(path)) return undefined;
  if (path.length <= 100) return { name: path, prefix: '' };
  for (let cut = path.indexOf('/'); cut !== -1; cut = path.indexOf('/', cut + 1)) {
    const prefix = path.slice(0, cut);
    const name = path.slice(cut + 1);
    if (prefix.length <= 155 && name.length <= 100 && name.length > 0) return { name, prefix };
  }
  return undefined;
}

interface HeaderFields {
  readonly name: string;
  readonly prefix: string;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly size: number;
  readonly mtime: number;
  readonly type: string;
  readonly linkname: string;
}

function header(fields: HeaderFields): Buffer {
  const block = Buffer.alloc(BLOCK);
  block.write(fields.name, 0, 100, 'utf8');
  block.write(octal(fields.mode, 8), 100, 'ascii');
  block.write(octal(fields.uid, 8), 108, 'ascii');
  block.write(octal(fields.gid, 8), 116, 'ascii');
  block.write(octal(fields.size, 12), 124, 'ascii');
  block.write(octal(fields.mtime, 12), 136, 'ascii');
  block.write('        ', 148, 'ascii');
  block.write(fields.type, 156, 'ascii');
  block.write(fields.linkname, 157, 100, 'utf8');
  block.write('ustar\x0000', 257, 'ascii');
  block.write(fields.prefix, 345, 155, 'utf8');
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  return block;
}

function padded(data: Buffer): Buffer[] {
  const rest = data.length % BLOCK;
  return rest === 0 ? [data] : [data, Buffer.alloc(BLOCK - rest)];
}

/** One PAX record: `<length> <key>=<value>\n`, where length counts the whole record. */
function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let length = Buffer.byteLength(body) + 1;
  while (String(length).length + Buffer.byteLength(body) !== length) length++;
  return `${length}${body}`;
}

function paxHeader(path: string, records: string, mtime: number): Buffer[] {
  const data = Buffer.from(records, 'utf8');
  const base = path.slice(path.lastIndexOf('/') + 1).replace(/[^\x20-\x7e]/g, '_');
  const fields: HeaderFields = {
    name: `PaxHeaders/${base}`.slice(0, 100),
    prefix: '',
    mode: 0o644,
    uid: 0,
    gid: 0,
    size: data.length,
    mtime,
    type: TYPE_FLAG.pax,
    linkname: '',
  };
  return [header(fields), ...padded(data)];
}

function entryBlocks(entry: TarEntry, mtime: number): Buffer[] {
  const path = entry.type === 'dir' ? `${entry.path}/` : entry.path;
  const target = entry.type === 'symlink' ? entry.target : '';
  const split = ustarName(path);
  const linkFits = isAscii(target) && target.length <= 100;
  let records = '';
  if (split === undefined) records += paxRecord('path', path);
  if (!linkFits) records += paxRecord('linkpath', target);
  const blocks = records === '' ? [] : paxHeader(path, records, mtime);
  const data = entry.type === 'file' ? entry.data : Buffer.alloc(0);
  const fields: HeaderFields = {
    name: split?.name ?? path.slice(-100),
    prefix: split?.prefix ?? '',
    mode: entry.type === 'symlink' ? 0o777 : entry.mode & 0o7777,
    uid: entry.uid ?? 0,
    gid: entry.gid ?? 0,
    size: data.length,
    mtime,
    type: TYPE_FLAG[entry.type],
    linkname: linkFits ? target : target.slice(0, 100),
  };
  blocks.push(header(fields), ...padded(data));
  return blocks;
}

/**
 * A tar archive of `entries`, sorted by path, every entry with modification time `mtime`
 * (seconds since the epoch), ended by two zero blocks.
 */
export function writeTar(entries: readonly TarEntry[], mtime: number): Buffer {
  const blocks = sortedEntries(entries).flatMap((entry) => entryBlocks(entry, mtime));
  blocks.push(Buffer.alloc(BLOCK * 2));
  return Buffer.concat(blocks);
}

/**
 * gzip with a fixed header (no name, mtime 0, OS "unknown"), so the output depends only on the
 * input, the level and the zlib build.
 */
export function gzipDeterministic(data: Buffer, level = 6): Buffer {
  const head = Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(crc32(data), 0);
  trailer.writeUInt32LE(data.length % 2 ** 32, 4);
  return Buffer.concat([head, deflateRawSync(data, { level }), trailer]);
}

export interface DirEntryOptions {
  /** Skip a path (relative to the walked directory, `/`-separated) and everything below it. */
  readonly skip?: (relative: string, isDir: boolean) => boolean;
  /** Keep each file's own permission bits; otherwise 0644, or 0755 when any execute bit is set. */
  readonly keepModes?: boolean;
}

/** One filesystem object as an entry; directories get 0755 unless their own modes are kept. */
function entryOf(full: string, path: string, keepModes: boolean): TarEntry {
  const stat = lstatSync(full);
  if (stat.isSymbolicLink()) return { type: 'symlink', path, target: readlinkSync(full) };
  if (stat.isDirectory())
    return { type: 'dir', path, mode: keepModes ? stat.mode & 0o7777 : 0o755 };
  if (!stat.isFile())
    throw new Error(`tar: ${full} is not a file, directory or symlink; remove it`);
  const mode = keepModes ? stat.mode & 0o7777 : normalMode(stat.mode);
  return { type: 'file', path, mode, data: readFileSync(full) };
}

/**
 * Entries for every directory, file and symlink below `dir`, placed under `prefix` in the archive.
 * Hard links become plain files; sockets, fifos and devices are refused.
 */
export function entriesFromDir(
  dir: string,
  prefix: string,
  options: DirEntryOptions = {},
): TarEntry[] {
  const out: TarEntry[] = [];
  const walk = (relative: string): void => {
    for (const name of readdirSync(join(dir, relative)).sort()) {
      const rel = relative === '' ? name : `${relative}/${name}`;
      const isDir = lstatSync(join(dir, rel)).isDirectory();
      if (options.skip?.(rel, isDir) === true) continue;
      out.push(entryOf(join(dir, rel), `${prefix}/${rel}`, options.keepModes === true));
      if (isDir) walk(rel);
    }
  };
  walk('');
  return out;
}

function normalMode(mode: number): number {
  return (mode & 0o111) === 0 ? 0o644 : 0o755;
}
