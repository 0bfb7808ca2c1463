import { describe, expect, it } from 'vitest';
import { type BenchDefaults, intFlag, parseBenchArgs, usage } from '../../../bench/lib/args.ts';

const DEFAULTS: BenchDefaults = {
  iterations: 1000,
  concurrency: 32,
  warmup: 100,
  out: 'bench/results',
};

describe('parseBenchArgs', () => {
  it('uses the defaults when no flag is given, and records by default', () => {
    expect(parseBenchArgs([], DEFAULTS)).toEqual({
      iterations: 1000,
      concurrency: 32,
      warmup: 100,
      out: 'bench/results',
      dataDir: '',
      record: true,
      help: false,
    });
  });

  it('reads every flag, in both --flag value and --flag=value forms', () => {
    const args = parseBenchArgs(
      [
        '--iterations',
        '2000',
        '--concurrency=8',
        '--warmup',
        '0',
        '--out',
        '/x',
        '--data-dir=/d',
        '--no-record',
      ],
      DEFAULTS,
    );
    expect(args).toEqual({
      iterations: 2000,
      concurrency: 8,
      warmup: 0,
      out: '/x',
      dataDir: '/d',
      record: false,
      help: false,
    });
  });

  it('rejects values that are not whole numbers, or too small, naming the flag', () => {
    expect(() => parseBenchArgs(['--iterations', 'many'], DEFAULTS)).toThrow(
      '--iterations "many" is not a whole number; pass e.g. --iterations 1000',
    );
    expect(() => parseBenchArgs(['--iterations', '1.5'], DEFAULTS)).toThrow('not a whole number');
    expect(() => parseBenchArgs(['--concurrency', '0'], DEFAULTS)).toThrow(
      '--concurrency 0 is too small; it must be at least 1',
    );
  });

  it('rejects unknown flags and stray arguments', () => {
    expect(() => parseBenchArgs(['--iteration', '5'], DEFAULTS)).toThrow();
    expect(() => parseBenchArgs(['1000'], DEFAULTS)).toThrow('unexpected argument "1000"');
  });

  it('recognises --help and -h', () => {
    expect(parseBenchArgs(['--help'], DEFAULTS).help).toBe(true);
    expect(parseBenchArgs(['-h'], DEFAULTS).help).toBe(true);
  });
});

describe('intFlag', () => {
  it('returns the fallback for a missing flag and the number otherwise', () => {
    expect(intFlag('n', undefined, 7, 1)).toBe(7);
    expect(intFlag('n', '42', 7, 1)).toBe(42);
    expect(intFlag('n', '0', 7, 0)).toBe(0);
  });
});

describe('usage', () => {
  it('lists every flag with this benchmark’s defaults', () => {
    const text = usage('npm run bench:plugin --', DEFAULTS);
    for (const flag of [
      '--iterations',
      '--concurrency',
      '--warmup',
      '--out',
      '--data-dir',
      '--no-record',
    ])
      expect(text).toContain(flag);
    expect(text).toContain('(default 1000)');
    expect(text).toContain('(default 32)');
  });
});
