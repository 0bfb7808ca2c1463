import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  attrs,
  el,
  escapeXml,
  idFragment,
  linearScale,
  linePath,
  niceDomain,
  niceStep,
  niceTicks,
  num,
  svgRoot,
  tickLabel,
} from '../../../../src/simulator/html/svg.ts';
import { xmlProblems } from './xml.ts';

describe('escapeXml', () => {
  it('escapes the five markup characters', () => {
    expect(escapeXml(`<a href="x">Tom & 'Jerry'</a>`)).toBe(
      '&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt;',
    );
  });

  it('replaces characters XML forbids and keeps tab and newline', () => {
    expect(escapeXml('a\u0000b\u001Fc\td\ne')).toBe('a\uFFFDb\uFFFDc\td\ne');
    expect(escapeXml('x\uD800y😀')).toBe('x\uFFFDy😀');
  });

  it('produces well-formed element content for any string', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        expect(xmlProblems(el('t', { a: s }, escapeXml(s)))).toEqual([]);
      }),
    );
  });
});

describe('num and attrs', () => {
  it('rounds to two decimals without trailing zeros or -0', () => {
    expect(num(1.005)).toBe('1');
    expect(num(12.3456)).toBe('12.35');
    expect(num(-0.001)).toBe('0');
    expect(num(40)).toBe('40');
    expect(num(Number.NaN)).toBe('0');
  });

  it('leaves out undefined attributes and escapes values', () => {
    expect(attrs({ a: 1.5, b: undefined, c: 'x"y' })).toBe(' a="1.5" c="x&quot;y"');
    expect(el('g', {})).toBe('<g/>');
    expect(el('g', { id: 'k' }, '<x/>')).toBe('<g id="k"><x/></g>');
  });
});

describe('linearScale', () => {
  it('maps the domain onto the range, inverted ranges included', () => {
    const s = linearScale([0, 100], [300, 20]);
    expect(s(0)).toBe(300);
    expect(s(100)).toBe(20);
    expect(s(50)).toBe(160);
  });

  it('maps a zero-width domain to the middle of the range', () => {
    expect(linearScale([5, 5], [0, 10])(5)).toBe(5);
  });
});

// Chart data: values with up to three decimals, as the report's percentages and seconds have.
const VALUE = fc.integer({ min: -1e9, max: 1e9 }).map((i) => i / 1000);
const SPAN = fc.integer({ min: 1, max: 1e9 }).map((i) => i / 1000);

describe('nice ticks', () => {
  it('picks 1, 2 or 5 times a power of ten', () => {
    expect(niceStep(100, 6)).toBe(20);
    expect(niceStep(130, 10)).toBe(20);
    expect(niceStep(1, 6)).toBe(0.2);
    expect(niceStep(7, 8)).toBe(1);
  });

  it('lists round ticks inside the range', () => {
    expect(niceTicks(0, 100)).toEqual([0, 20, 40, 60, 80, 100]);
    expect(niceTicks(0, 130, 10)).toEqual([0, 20, 40, 60, 80, 100, 120]);
    expect(niceTicks(0.1, 0.7, 4)).toEqual([0.2, 0.4, 0.6]);
    expect(niceTicks(5, 5)).toEqual([5]);
    expect(niceTicks(10, 0, 3)).toEqual([0, 5, 10]);
    // Two ticks at most, and no step multiple inside: the ends stand in.
    expect(niceTicks(0.3, 0.9, 2)).toEqual([0.3, 0.9]);
  });

  it('widens a domain outward to tick multiples', () => {
    expect(niceDomain(3.2, 96.1)).toEqual([0, 100]);
    expect(niceDomain(84.2, 95.6)).toEqual([80, 100]);
    expect(niceDomain(84.2, 95.6, 12)).toEqual([84, 96]);
    expect(niceDomain(0, 0)).toEqual([0, 1]);
    expect(niceDomain(-3, 7)).toEqual([-4, 8]);
  });

  it('ticks are evenly spaced, inside the range, at most maxTicks', () => {
    fc.assert(
      fc.property(VALUE, SPAN, fc.integer({ min: 4, max: 12 }), (min, span, maxTicks) => {
        const ticks = niceTicks(min, min + span, maxTicks);
        expect(ticks.length).toBeGreaterThanOrEqual(1);
        expect(ticks.length).toBeLessThanOrEqual(maxTicks);
        // Relative to the step, but never finer than doubles resolve at this magnitude.
        const ulps = 4 * Number.EPSILON * (Math.abs(min) + span);
        const tol = Math.max(niceStep(span, maxTicks) * 1e-6, ulps);
        for (const t of ticks) {
          expect(t).toBeGreaterThanOrEqual(min - tol);
          expect(t).toBeLessThanOrEqual(min + span + tol);
        }
        const steps = ticks.slice(1).map((t, i) => t - (ticks[i] ?? 0));
        const step = steps[0] ?? 0;
        for (const s of steps)
          expect(Math.abs(s - step)).toBeLessThanOrEqual(Math.max(step * 1e-6, ulps));
        if (ticks.length > 1) {
          const k = Math.round(Math.log10(step));
          const nice = [k - 1, k].flatMap((e) => [1, 2, 5].map((m) => m * 10 ** e));
          expect(nice.some((n) => Math.abs(step - n) <= Math.max(n * 1e-6, ulps))).toBe(true);
        }
      }),
    );
  });

  it('nice domains contain the data', () => {
    fc.assert(
      fc.property(VALUE, SPAN, (min, span) => {
        const [lo, hi] = niceDomain(min, min + span);
        expect(lo).toBeLessThanOrEqual(min);
        expect(hi).toBeGreaterThanOrEqual(min + span);
      }),
    );
  });

  it('labels ticks with the decimals their step needs', () => {
    expect(tickLabel(20, [0, 20, 40])).toBe('20');
    expect(tickLabel(0.4, [0.2, 0.4])).toBe('0.4');
    expect(tickLabel(0.05, [0, 0.05])).toBe('0.05');
  });
});

describe('linePath', () => {
  const sx = linearScale([0, 10], [0, 100]);
  const sy = linearScale([0, 1], [50, 0]);

  it('draws the points in order', () => {
    const d = linePath(
      [
        { x: 0, y: 0 },
        { x: 5, y: 0.5 },
        { x: 10, y: 1 },
      ],
      sx,
      sy,
    );
    expect(d).toBe('M0 50L50 25L100 0');
  });

  it('breaks the line at a missing value', () => {
    const d = linePath(
      [
        { x: 0, y: 0 },
        { x: 2, y: Number.NaN },
        { x: 4, y: 0.2 },
        { x: 6, y: 0.4 },
      ],
      sx,
      sy,
    );
    expect(d).toBe('M0 50M40 40L60 30');
    expect(linePath([], sx, sy)).toBe('');
  });
});

describe('svgRoot', () => {
  it('is labelled by its title and described by its desc, both escaped', () => {
    const svg = svgRoot(
      { id: '1 chart', title: 'A <b>', description: 'x & y', width: 10, height: 20, kind: 'line' },
      '<g/>',
    );
    expect(svg).toContain('id="c-1-chart"');
    expect(svg).toContain('aria-labelledby="c-1-chart-title c-1-chart-desc"');
    expect(svg).toContain('<title id="c-1-chart-title">A &lt;b&gt;</title>');
    expect(svg).toContain('<desc id="c-1-chart-desc">x &amp; y</desc>');
    expect(svg).toContain('role="img"');
    expect(svg).toContain('viewBox="0 0 10 20"');
    expect(xmlProblems(svg)).toEqual([]);
  });

  it('makes ids from any text', () => {
    expect(idFragment('occupancy-best-fit (seed 1)')).toBe('occupancy-best-fit-seed-1');
    expect(idFragment('---')).toBe('c-');
  });
});

describe('the test XML checker', () => {
  it('finds the faults it exists to find', () => {
    expect(xmlProblems('<a><b/></a>')).toEqual([]);
    expect(xmlProblems('<a><b></a>')).not.toEqual([]);
    expect(xmlProblems('<a x="1" x="2"/>')).not.toEqual([]);
    expect(xmlProblems('<a>&nbsp;</a>')).not.toEqual([]);
    expect(xmlProblems('<a>1 < 2</a>')).not.toEqual([]);
    expect(xmlProblems('<a x=1/>')).not.toEqual([]);
    expect(xmlProblems('<a/><b/>')).not.toEqual([]);
  });
});
