/**
 * Readers for the openb trace files (Alibaba cluster-trace-gpu-v2023, as published with the FGD
 * paper's simulator): the node list and both pod-list formats. Columns are found by header name,
 * so extra columns and column order do not matter. Errors name the file, the line and the column:
 * `openb_pod_list_default.csv line 17: num_gpu "x" is not an integer`.
 *
 * Nodes: `sn, cpu_milli, memory_mib, gpu, model`.
 * Pods: `name, cpu_milli, memory_mib, num_gpu, gpu_milli` and optionally `gpu_spec` (accepted GPU
 * models separated by `|`) and `creation_time` / `deletion_time` (seconds; the published replay
 * ignores them, the gang overlay uses them); other columns (qos, phase) are ignored.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import type { NodeSpec } from '../scheduling/cluster.ts';
import { MILLI_PER_GPU, type PodShape } from '../scheduling/node-view.ts';

const MIB = 2 ** 20;

export class TraceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TraceError';
  }
}

/** One pod of a trace: its name, the file line it came from, and its demand. */
export interface TracePod {
  readonly name: string;
  readonly line: number;
  readonly shape: PodShape;
  /** Creation and deletion time (seconds), when the file has those columns. */
  readonly times?: { readonly created: number; readonly deleted: number };
}

/** A file read from disk, with its sha256 (hex) so reports can name the exact input. */
export interface TraceInput<T> {
  readonly path: string;
  readonly sha256: string;
  readonly rows: readonly T[];
}

/** Splits one CSV line into fields; double-quoted fields may hold commas and doubled quotes. */
export function splitCsvLine(line: string): string[] {
  const fields: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted && c === '"' && line[i + 1] === '"') {
      field += '"';
      i++;
    } else if (c === '"') {
      quoted = !quoted;
    } else if (c === ',' && !quoted) {
      fields.push(field);
      field = '';
    } else {
      field += c;
    }
  }
  fields.push(field);
  return fields;
}

/** One data row with access to its columns by header name. */
class Row {
  readonly #file: string;
  readonly #columns: ReadonlyMap<string, number>;
  readonly #fields: readonly string[];
  readonly line: number;

  constructor(file: string, columns: ReadonlyMap<string, number>, fields: string[], line: number) {
    this.#file = file;
    this.#columns = columns;
    this.#fields = fields;
    this.line = line;
  }

  error(message: string): TraceError {
    return new TraceError(`${this.#file} line ${this.line}: ${message}`);
  }

  text(column: string): string {
    const index = this.#columns.get(column);
    return index === undefined ? '' : (this.#fields[index] ?? '').trim();
  }

  has(column: string): boolean {
    return this.#columns.has(column);
  }

  /** A whole number ≥ 0 from `column`. */
  count(column: string): number {
    const raw = this.text(column);
    if (!/^\d+$/.test(raw)) throw this.error(`${column} "${raw}" is not an integer`);
    const value = Number(raw);
    if (!Number.isSafeInteger(value)) throw this.error(`${column} "${raw}" is too large`);
    return value;
  }
}

/** Parses a CSV text into rows, checking that the header names every required column. */
function parseRows(text: string, file: string, required: readonly string[]): Row[] {
  const lines = text.split(/\r?\n/);
  const header = splitCsvLine(lines[0] ?? '').map((h) => h.trim());
  const columns = new Map(header.map((name, i) => [name, i]));
  const missing = required.filter((c) => !columns.has(c));
  if (missing.length > 0) {
    throw new TraceError(
      `${file} line 1: the header lacks ${missing.map((c) => `"${c}"`).join(', ')}; it must name ${required.join(', ')}`,
    );
  }
  const rows: Row[] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i] ?? '';
    if (line.trim() === '') continue;
    const fields = splitCsvLine(line);
    if (fields.length !== header.length) {
      throw new TraceError(
        `${file} line ${i + 1}: ${fields.length} fields, but the header names ${header.length}`,
      );
    }
    rows.push(new Row(file, columns, fields, i + 1));
  }
  return rows;
}

const NODE_COLUMNS = ['sn', 'cpu_milli', 'memory_mib', 'gpu', 'model'] as const;
const POD_COLUMNS = ['name', 'cpu_milli', 'memory_mib', 'num_gpu', 'gpu_milli'] as const;

function uniqueName(row: Row, column: string, seen: Map<string, number>): string {
  const name = row.text(column);
  if (name === '') throw row.error(`${column} is empty`);
  const first = seen.get(name);
  if (first !== undefined)
    throw row.error(`${column} "${name}" appears twice (first on line ${first})`);
  seen.set(name, row.line);
  return name;
}

/** Parses the node list into node specs (every GPU of a node is of the node's model). */
export function parseNodeCsv(text: string, file: string): NodeSpec[] {
  const seen = new Map<string, number>();
  return parseRows(text, file, NODE_COLUMNS).map((row) => {
    const name = uniqueName(row, 'sn', seen);
    const gpus = row.count('gpu');
    const model = row.text('model');
    if (gpus > 0 && (model === '' || model === 'nan')) {
      throw row.error(`model is empty but gpu is ${gpus}; name the GPU model`);
    }
    return {
      name,
      cpuMilli: row.count('cpu_milli'),
      memoryBytes: row.count('memory_mib') * MIB,
      gpus: Array.from({ length: gpus }, () => ({ model })),
    };
  });
}

/**
 * The pod's GPU demand as the published replay reads it: `num_gpu` 0 means no GPU whatever
 * `gpu_milli` says; `gpu_milli` above 1000 counts as a whole GPU and 0 as no GPU; a share of a
 * GPU (below 1000) is only possible for one GPU.
 */
function gpuDemand(row: Row): { gpuCount: number; gpuMilli: number } {
  const count = row.count('num_gpu');
  const milli = Math.min(row.count('gpu_milli'), MILLI_PER_GPU);
  if (count === 0 || milli === 0) return { gpuCount: 0, gpuMilli: 0 };
  if (count > 1 && milli < MILLI_PER_GPU) {
    throw row.error(
      `num_gpu ${count} with gpu_milli ${milli}: a share of a GPU needs num_gpu 1 (or gpu_milli 1000)`,
    );
  }
  return { gpuCount: count, gpuMilli: milli };
}

/** Creation and deletion times when the file has both columns (deletion never before creation). */
function podTimes(row: Row): { created: number; deleted: number } | undefined {
  if (!row.has('creation_time') || !row.has('deletion_time')) return undefined;
  const created = row.count('creation_time');
  const deleted = row.count('deletion_time');
  if (deleted < created) {
    throw row.error(`deletion_time ${deleted} is before creation_time ${created}`);
  }
  return { created, deleted };
}

/** Parses a pod list (either openb format) into trace pods, in file order. */
export function parsePodCsv(text: string, file: string): TracePod[] {
  const seen = new Map<string, number>();
  return parseRows(text, file, POD_COLUMNS).map((row) => {
    const name = uniqueName(row, 'name', seen);
    const { gpuCount, gpuMilli } = gpuDemand(row);
    const gpuModels =
      gpuCount === 0
        ? []
        : row
            .text('gpu_spec')
            .split('|')
            .map((m) => m.trim())
            .filter((m) => m !== '' && m !== 'nan');
    const shape: PodShape = {
      cpuMilli: row.count('cpu_milli'),
      memoryBytes: row.count('memory_mib') * MIB,
      gpuCount,
      gpuMilli,
      gpuModels,
    };
    const times = podTimes(row);
    return times === undefined
      ? { name, line: row.line, shape }
      : { name, line: row.line, shape, times };
  });
}

function readWithHash(path: string): { text: string; sha256: string } {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new TraceError(`cannot read ${path} (${code}); check the path`);
  }
  return { text: bytes.toString('utf8'), sha256: createHash('sha256').update(bytes).digest('hex') };
}

export function readNodeCsv(path: string): TraceInput<NodeSpec> {
  const { text, sha256 } = readWithHash(path);
  return { path, sha256, rows: parseNodeCsv(text, basename(path)) };
}

export function readPodCsv(path: string): TraceInput<TracePod> {
  const { text, sha256 } = readWithHash(path);
  return { path, sha256, rows: parsePodCsv(text, basename(path)) };
}
