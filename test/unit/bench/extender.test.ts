import { describe, expect, it } from 'vitest';
import {
  benchNode,
  benchNodeName,
  benchPod,
  markdownReport,
  runExtenderBench,
  ScenarioPayloads,
  survivorsOf,
  takeQuickFlag,
  trivialExtender,
} from '../../../bench/extender.ts';
import type { ExtenderDecider } from '../../../src/extender/decider.ts';
import { decodeExtenderArgs } from '../../../src/extender/wire.ts';

describe('payloads', () => {
  it('are valid ExtenderArgs in both modes, with the pod of each call', () => {
    const cache = new ScenarioPayloads({ id: 'c', mode: 'cache', nodes: 3 }, benchPod);
    const a = decodeExtenderArgs(JSON.parse(cache.args(7, cache.names).toString()));
    expect(a.mode).toBe('cache');
    expect(a.nodes.names).toEqual([benchNodeName(0), benchNodeName(1), benchNodeName(2)]);
    expect(a.pod.uid).toBe((benchPod(7).metadata as { uid: string }).uid);
    const full = new ScenarioPayloads({ id: 'f', mode: 'full', nodes: 3 }, benchPod);
    const b = decodeExtenderArgs(JSON.parse(full.args(1, [benchNodeName(2)]).toString()));
    expect(b.mode).toBe('full');
    expect(b.nodes.names).toEqual([benchNodeName(2)]);
    expect(b.nodes.nodes).toEqual([benchNode(2)]);
  });

  it('use nodes of realistic size and distinct pods', () => {
    const bytes = JSON.stringify(benchNode(4321)).length;
    expect(bytes).toBeGreaterThan(2500);
    expect(bytes).toBeLessThan(5000);
    expect(benchPod(1)).not.toEqual(benchPod(2));
    expect(benchNodeName(41)).toBe('node-r01-0041');
  });

  it('survivorsOf reads both reply modes', () => {
    expect(survivorsOf({ Nodes: null, NodeNames: ['a'] })).toEqual(['a']);
    expect(
      survivorsOf({ Nodes: { items: [{ metadata: { name: 'b' } }] }, NodeNames: null }),
    ).toEqual(['b']);
  });
});

describe('the trivial route', () => {
  it('passes every node before the first extender reply, then echoes the latest one', async () => {
    const mirror: { filter?: unknown } = {};
    const app = trivialExtender(mirror);
    const body = '{"Pod":{},"Nodes":null,"NodeNames":["a","b"]}';
    const call = () =>
      app.inject({
        method: 'POST',
        url: '/scheduler/filter',
        headers: { 'content-type': 'application/json' },
        payload: body,
      });
    expect(JSON.parse((await call()).body)).toMatchObject({ NodeNames: ['a', 'b'] });
    mirror.filter = { NodeNames: ['b'] };
    expect(JSON.parse((await call()).body)).toEqual({ NodeNames: ['b'] });
    await app.close();
  });
});

describe('runExtenderBench', () => {
  it('measures both servers per scenario with the injected decider', async () => {
    const seen: number[] = [];
    const onlyFirst = (names: readonly string[]): ExtenderDecider => {
      seen.push(names.length);
      return {
        filter: (_pod, n) => ({
          feasible: n.names.slice(0, 1),
          failed: {},
          unresolvable: {},
          others: { message: 'reserved', unresolvable: false },
        }),
        prioritize: (_pod, n) => n.names.map((host) => ({ host, score: 5 })),
        preempt: (_pod, c) => new Map(c),
        ready: () => true,
      };
    };
    const results = await runExtenderBench({
      deciderFor: onlyFirst,
      iterations: 4,
      warmup: 1,
      scenarios: [
        { id: 'cache-20', mode: 'cache', nodes: 20 },
        { id: 'full-5', mode: 'full', nodes: 5 },
      ],
    });
    expect(seen).toEqual([20, 5]);
    expect(results.map((r) => r.scenario.id)).toEqual(['cache-20', 'full-5']);
    for (const r of results) {
      expect(r.extender.filter.n).toBe(4);
      expect(r.extender.prioritizeSkipped).toBe(4); // one survivor: no prioritize, as upstream
      expect(r.trivial.perPod.n).toBe(4);
      expect(r.ratio.p50).toBeGreaterThan(0);
    }
    const md = markdownReport(results, 'test');
    expect(md).toContain('| cache-20 | extender | filter | 4 |');
  });
});

describe('takeQuickFlag', () => {
  it('removes --quick and says whether it was there', () => {
    expect(takeQuickFlag(['--quick', '--warmup', '2'])).toEqual({
      quick: true,
      rest: ['--warmup', '2'],
    });
    expect(takeQuickFlag(['--no-record'])).toEqual({ quick: false, rest: ['--no-record'] });
  });
});
