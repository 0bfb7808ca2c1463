import {
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  canonicalJson,
  describeInput,
  formatWithBiome,
  INDEX_FILE,
  indexRow,
  pathsInside,
  type ResultEnvelope,
  resultFileName,
  sha256Hex,
  utcDate,
  writeResult,
} from '../../../bench/lib/record.ts';

function envelope(startedAt: string): ResultEnvelope {
  return {
    benchmark: 'demo-bench',
    schemaVersion: 1,
    startedAt,
    finishedAt: startedAt,
    machine: {
      hostname: 'box',
      cpuModel: 'CPU',
      cpuCount: 2,
      totalMemoryBytes: 1,
      kernel: '6.1',
      platform: 'linux',
      arch: 'x64',
      loadAverage: [0, 0, 0],
    },
    runtime: { node: 'v24.0.0', v8: '13' },
    packages: { proj: '0.1.0' },
    git: null,
    input: describeInput('demo', { n: 1 }),
    notes: [],
  };
}

describe('canonicalJson', () => {
  it('sorts keys at every depth and drops undefined members', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: undefined } })).toBe(
      '{"a":{"d":[3,{"y":2,"z":1}]},"b":1}',
    );
  });

  it('gives the same text for objects that differ only in key order', () => {
    expect(canonicalJson({ x: 1, y: [1, 2] })).toBe(canonicalJson({ y: [1, 2], x: 1 }));
  });

  it('writes undefined array items as null, like JSON.stringify', () => {
    expect(canonicalJson([1, undefined, 'a'])).toBe(JSON.stringify([1, undefined, 'a']));
  });
});

describe('describeInput', () => {
  it('hashes the canonical JSON of the parameters', () => {
    const input = describeInput('d', { b: 2, a: 1 });
    expect(input.sha256).toBe(sha256Hex('{"a":1,"b":2}'));
    expect(input.sha256).toBe(describeInput('other text', { a: 1, b: 2 }).sha256);
    expect(input.sha256).not.toBe(describeInput('d', { a: 1, b: 3 }).sha256);
    expect(input.seed).toBeNull();
    expect(describeInput('d', {}, 42).seed).toBe(42);
  });

  it('uses standard SHA-256', () => {
    expect(sha256Hex('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });
});

describe('file names and index rows', () => {
  const date = new Date('2026-11-21T23:59:59Z');

  it('names a result <benchmark>-<UTC date>-<host>.json, numbering repeats', () => {
    expect(utcDate(date)).toBe('2026-11-21');
    expect(resultFileName('plugin-prepare', date, 'box')).toBe(
      'plugin-prepare-2026-11-21-box.json',
    );
    expect(resultFileName('plugin-prepare', date, 'box', 2)).toBe(
      'plugin-prepare-2026-11-21-box-2.json',
    );
  });

  it('escapes pipes in the headline so the markdown table holds', () => {
    const row = indexRow(envelope('2026-11-21T08:01:02.000Z'), 'box', 'f.json', 'a | b');
    expect(row).toBe('| 2026-11-21 08:01 | demo-bench | box | a \\| b | [f.json](f.json) |\n');
  });
});

describe('writeResult', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'bench-record-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('writes the JSON, creates the index once and appends one row per run', () => {
    const result = envelope('2026-11-21T08:00:00.000Z');
    const first = writeResult(dir, result, 'box', 'p99 1 ms');
    const second = writeResult(dir, result, 'box', 'p99 2 ms');
    expect(first).toBe(join(dir, 'demo-bench-2026-11-21-box.json'));
    expect(second).toBe(join(dir, 'demo-bench-2026-11-21-box-2.json'));
    expect(JSON.parse(readFileSync(first, 'utf8'))).toEqual(result);
    const index = readFileSync(join(dir, INDEX_FILE), 'utf8');
    expect(index.match(/^# Recorded benchmark results/gm)).toHaveLength(1);
    const rows = index.split('\n').filter((l) => l.startsWith('| 2026'));
    expect(rows).toEqual([
      '| 2026-11-21 08:00 | demo-bench | box | p99 1 ms | [demo-bench-2026-11-21-box.json](demo-bench-2026-11-21-box.json) |',
      '| 2026-11-21 08:00 | demo-bench | box | p99 2 ms | [demo-bench-2026-11-21-box-2.json](demo-bench-2026-11-21-box-2.json) |',
    ]);
    expect(readdirSync(dir).sort()).toEqual([
      INDEX_FILE,
      'demo-bench-2026-11-21-box-2.json',
      'demo-bench-2026-11-21-box.json',
    ]);
  });
});

describe('formatting recorded files', () => {
  it('keeps only paths inside the root, relative to it', () => {
    expect(
      pathsInside('/repo', ['/repo/bench/results/a.json', '/tmp/b.json', '/repo', '/repo2/c']),
    ).toEqual(['bench/results/a.json']);
  });

  it('does nothing for files outside the root', () => {
    expect(formatWithBiome('/nonexistent-repo', ['/tmp/x.json'])).toBe(false);
  });

  it('passes the result file and the index to the formatter', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bench-format-'));
    try {
      const seen: string[][] = [];
      const path = writeResult(dir, envelope('2026-11-21T08:00:00.000Z'), 'box', 'h', (paths) =>
        seen.push(paths),
      );
      expect(seen).toEqual([[path, join(dir, INDEX_FILE)]]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('runs the repository’s Biome on files inside the root', () => {
    // A throwaway root with the project's node_modules and a default Biome config.
    const root = mkdtempSync(join(tmpdir(), 'bench-format-root-'));
    try {
      symlinkSync(join(process.cwd(), 'node_modules'), join(root, 'node_modules'));
      writeFileSync(join(root, 'biome.json'), '{}\n');
      const path = writeResult(
        join(root, 'results'),
        envelope('2026-11-21T08:00:00.000Z'),
        'box',
        'h',
      );
      const before = readFileSync(path, 'utf8');
      expect(formatWithBiome(root, [path])).toBe(true);
      // Biome puts short arrays on one line; JSON.stringify(…, 2) does not.
      expect(readFileSync(path, 'utf8')).not.toBe(before);
      expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual(JSON.parse(before));
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
