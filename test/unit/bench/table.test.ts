import { describe, expect, it } from 'vitest';
import { formatMs, formatRate, formatTable } from '../../../bench/lib/table.ts';

describe('formatTable', () => {
  it('pads columns to the widest cell, right-aligns numbers and rules the header', () => {
    const text = formatTable(
      [
        { header: 'scenario' },
        { header: 'n', align: 'right' },
        { header: 'p50 ms', align: 'right' },
      ],
      [
        ['prepare', '1000', '0.412'],
        ['unprepare, 8 devices', '5', '12.35'],
      ],
    );
    expect(text.split('\n')).toEqual([
      'scenario                 n  p50 ms',
      '--------------------  ----  ------',
      'prepare               1000   0.412',
      'unprepare, 8 devices     5   12.35',
    ]);
  });

  it('trims trailing spaces of a left-aligned last column and fills missing cells', () => {
    const text = formatTable([{ header: 'a' }, { header: 'bbbb' }], [['x'], ['y', 'z']]);
    expect(text.split('\n')).toEqual(['a  bbbb', '-  ----', 'x', 'y  z']);
  });
});

describe('cell formats', () => {
  it('shows milliseconds with precision that shrinks as values grow', () => {
    expect(formatMs(0.41234)).toBe('0.412');
    expect(formatMs(12.345)).toBe('12.35');
    expect(formatMs(1234.5)).toBe('1235');
    expect(formatMs(Number.NaN)).toBe('-');
  });

  it('shows rates as whole numbers with thousands separators', () => {
    expect(formatRate(2345.6)).toBe('2,346');
    expect(formatRate(12)).toBe('12');
    expect(formatRate(Number.POSITIVE_INFINITY)).toBe('-');
  });
});
