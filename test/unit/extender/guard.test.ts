import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  guardFilterOutcome,
  guardPreemption,
  guardPriorities,
  NO_VERDICT_MESSAGE,
} from '../../../src/extender/guard.ts';

describe('guardFilterOutcome', () => {
  it('passes a valid outcome through unchanged, in input order, with no problems', () => {
    const g = guardFilterOutcome(['a', 'b', 'c'], {
      feasible: ['c', 'a'],
      failed: { b: 'full' },
      unresolvable: {},
    });
    expect(g.value).toEqual({
      feasible: ['a', 'c'],
      failed: { names: ['b'], messages: ['full'] },
      unresolvable: { names: [], messages: [] },
    });
    expect(g.problems).toEqual([]);
  });

  it('drops unknown nodes, fails silent nodes and keeps the strictest verdict', () => {
    const g = guardFilterOutcome(['a', 'b', 'c', 'd'], {
      feasible: ['a', 'b', 'zz'],
      failed: { b: 'busy', c: 'busy' },
      unresolvable: { c: 'never', yy: 'x' },
    });
    expect(g.value.feasible).toEqual(['a']);
    expect(g.value.failed).toEqual({ names: ['b', 'd'], messages: ['busy', NO_VERDICT_MESSAGE] });
    expect(g.value.unresolvable).toEqual({ names: ['c'], messages: ['never'] });
    expect(g.problems).toEqual([
      'filter: dropped nodes that were not in the input: "yy", "zz"',
      'filter: nodes given more than one verdict (kept the strictest): "c", "b"',
      'filter: nodes given no verdict (failed them): "d"',
    ]);
  });

  it('answers a node listed twice in the input once', () => {
    const g = guardFilterOutcome(['a', 'a', 'b'], {
      feasible: ['a'],
      failed: { b: 'x' },
      unresolvable: {},
    });
    expect(g.value.feasible).toEqual(['a']);
  });

  it('gives every unnamed node the `others` verdict, on the walk and on the general path', () => {
    const others = { message: 'reserved for plan p-1', unresolvable: true };
    const walked = guardFilterOutcome(['a', 'b', 'c'], {
      feasible: ['b'],
      failed: {},
      unresolvable: {},
      others,
    });
    expect(walked.value.unresolvable).toEqual({
      names: ['a', 'c'],
      messages: [others.message, others.message],
    });
    expect(walked.problems).toEqual([]);
    const general = guardFilterOutcome(['a', 'b', 'c'], {
      feasible: ['c', 'a'],
      failed: {},
      unresolvable: {},
      others: { message: 'busy', unresolvable: false },
    });
    expect(general.value.feasible).toEqual(['a', 'c']);
    expect(general.value.failed).toEqual({ names: ['b'], messages: ['busy'] });
    expect(general.problems).toEqual([]);
  });

  it('shortens long problem lists', () => {
    const names = Array.from({ length: 12 }, (_, i) => `n${i}`);
    const g = guardFilterOutcome([], { feasible: names, failed: {}, unresolvable: {} });
    expect(g.problems[0]).toMatch(/"n4" and 7 more$/);
  });

  it('whatever the decider says, every input node gets exactly one verdict', () => {
    // Input names are distinct, as kube-scheduler sends them.
    const name = fc.constantFrom('a', 'b', 'c', 'd', 'e', 'x', 'y');
    const others = fc.option(fc.record({ message: fc.string(), unresolvable: fc.boolean() }), {
      nil: undefined,
    });
    fc.assert(
      fc.property(
        fc.uniqueArray(name),
        fc.array(name),
        fc.dictionary(name, fc.string()),
        fc.dictionary(name, fc.string()),
        others,
        (input, feasible, failed, unresolvable, rest) => {
          const outcome = { feasible, failed, unresolvable, ...(rest ? { others: rest } : {}) };
          const { value } = guardFilterOutcome(input, outcome);
          const all = [...value.feasible, ...value.failed.names, ...value.unresolvable.names];
          expect([...all].sort()).toEqual([...input].sort());
        },
      ),
    );
  });

  it('takes the walk for an answer in input order and gives the same verdict as the general path', () => {
    const input = ['a', 'b', 'c', 'd'];
    const inOrder = { feasible: ['a', 'd'], failed: { b: 'busy' }, unresolvable: { c: 'never' } };
    const shuffled = { feasible: ['d', 'a'], failed: { b: 'busy' }, unresolvable: { c: 'never' } };
    expect(guardFilterOutcome(input, inOrder).value).toEqual(
      guardFilterOutcome(input, shuffled).value,
    );
  });
});

describe('guardPriorities', () => {
  it('drops unknown and repeated hosts and clamps scores', () => {
    const g = guardPriorities(
      ['a', 'b', 'c'],
      [
        { host: 'a', score: 3 },
        { host: 'x', score: 5 },
        { host: 'a', score: 9 },
        { host: 'c', score: 12.2 },
      ],
    );
    expect(g.value).toEqual([
      { host: 'a', score: 3 },
      { host: 'c', score: 10 },
    ]);
    expect(g.problems).toHaveLength(3);
  });
});

describe('guardPreemption', () => {
  it('keeps only proposed nodes and whole PDB counts', () => {
    const candidates = new Map([['n1', { podUids: ['p'], numPDBViolations: 0 }]]);
    const result = new Map([
      ['n1', { podUids: ['p'], numPDBViolations: 1.2 }],
      ['n9', { podUids: ['q'], numPDBViolations: 0 }],
    ]);
    const g = guardPreemption(candidates, result);
    expect([...g.value]).toEqual([['n1', { podUids: ['p'], numPDBViolations: 1 }]]);
    expect(g.problems).toEqual(['preempt: dropped nodes that were not candidates: "n9"']);
  });
});
