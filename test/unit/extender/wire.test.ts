import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ExtenderInputError } from '../../../src/extender/decider.ts';
import {
  clampCount,
  clampScore,
  decodeExtenderArgs,
  decodePod,
  decodePreemptionArgs,
  encodeHostPriorities,
  encodePreemptionResult,
  type FilterVerdict,
  filterResultJson,
  wireField,
} from '../../../src/extender/wire.ts';

const pod = (meta: string) => JSON.parse(`{"metadata":${meta},"spec":{}}`) as unknown;
const POD = pod('{"name":"w-0","namespace":"ml","uid":"u-0"}');

function inputError(fn: () => unknown): ExtenderInputError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ExtenderInputError) return err;
    throw err;
  }
  throw new Error('expected an ExtenderInputError');
}

describe('wireField', () => {
  it('matches keys case-insensitively, the last variant winning as in Go', () => {
    expect(wireField({ pod: 1 }, 'Pod')).toBe(1);
    expect(wireField({ Pod: 1, POD: 2 }, 'Pod')).toBe(2);
    expect(wireField({ POD: 2, Pod: 1 }, 'Pod')).toBe(1);
    expect(wireField({ Pods: 1 }, 'Pod')).toBeUndefined();
  });

  it('treats null like an absent key', () => {
    expect(wireField({ Nodes: null }, 'Nodes')).toBeUndefined();
  });
});

describe('decodePod', () => {
  it('reads namespace, name, uid, labels and annotations and keeps the raw object', () => {
    const raw = pod(
      '{"name":"w-1","namespace":"ml","uid":"u-1","labels":{"phalanx.dev/gang":"g"},"annotations":{"a":null}}',
    );
    expect(decodePod(raw)).toEqual({
      namespace: 'ml',
      name: 'w-1',
      uid: 'u-1',
      labels: { 'phalanx.dev/gang': 'g' },
      annotations: { a: '' },
      raw,
    });
  });

  it('defaults an empty namespace to "default" and null maps to {}', () => {
    const p = decodePod(pod('{"name":"w","uid":"u","labels":null}'));
    expect(p.namespace).toBe('default');
    expect(p.labels).toEqual({});
    expect(p.annotations).toEqual({});
  });

  it('names the missing or mistyped field', () => {
    expect(inputError(() => decodePod(undefined)).message).toBe('Pod is missing');
    expect(inputError(() => decodePod([])).message).toBe('Pod is not an object (a v1.Pod)');
    expect(inputError(() => decodePod({})).message).toBe('Pod.metadata is missing');
    expect(inputError(() => decodePod(pod('{"uid":"u"}'))).message).toBe(
      'Pod.metadata.name is missing',
    );
    expect(inputError(() => decodePod(pod('{"name":"w","uid":5}'))).message).toBe(
      'Pod.metadata.uid is not a string',
    );
    expect(
      inputError(() => decodePod(pod('{"name":"w","uid":"u","labels":{"a":1}}'))).message,
    ).toBe('Pod.metadata.labels["a"] is not a string');
  });
});

describe('decodeExtenderArgs', () => {
  it('detects cache mode from NodeNames and keeps the names in order', () => {
    const args = decodeExtenderArgs({ Pod: POD, Nodes: null, NodeNames: ['b', 'a'] });
    expect(args.mode).toBe('cache');
    expect(args.nodes).toEqual({ names: ['b', 'a'] });
  });

  it('detects full mode from Nodes and aligns names with the node objects', () => {
    const items = [{ metadata: { name: 'n1' } }, { metadata: { name: 'n2' }, spec: {} }];
    const args = decodeExtenderArgs({ Pod: POD, Nodes: { items }, NodeNames: null });
    expect(args.mode).toBe('full');
    expect(args.nodes).toEqual({ names: ['n1', 'n2'], nodes: items });
  });

  it('prefers NodeNames when both are set', () => {
    const args = decodeExtenderArgs({ Pod: POD, Nodes: { items: [] }, NodeNames: ['x'] });
    expect(args.mode).toBe('cache');
  });

  it('rejects malformed node input with the path of the offending value', () => {
    const bad = (body: unknown) => inputError(() => decodeExtenderArgs(body)).message;
    expect(bad({ Pod: POD })).toMatch(/^neither Nodes nor NodeNames is set/);
    expect(bad({ Pod: POD, NodeNames: 'n1' })).toBe('NodeNames is not an array of node names');
    expect(bad({ Pod: POD, NodeNames: ['a', 'b', 'c', null] })).toBe(
      'NodeNames[3] is not a string',
    );
    expect(bad({ Pod: POD, Nodes: [] })).toBe('Nodes is not an object (a v1.NodeList)');
    expect(bad({ Pod: POD, Nodes: { items: {} } })).toBe('Nodes.items is not an array');
    expect(bad({ Pod: POD, Nodes: { items: [{ metadata: {} }] } })).toBe(
      'Nodes.items[0].metadata.name is missing',
    );
    expect(bad(null)).toMatch(/^request body is empty/);
    expect(bad('x')).toMatch(/^request body is not a JSON object/);
  });

  it('answers with status 400', () => {
    expect(inputError(() => decodeExtenderArgs({})).status).toBe(400);
  });
});

describe('decodePreemptionArgs', () => {
  it('reads meta victims (cache mode) with null Pods and NumPDBViolations as empty and 0', () => {
    const args = decodePreemptionArgs({
      Pod: POD,
      NodeNameToVictims: null,
      NodeNameToMetaVictims: {
        n1: { Pods: [{ UID: 'a' }, { uid: 'b' }], NumPDBViolations: 2 },
        n2: { Pods: null, NumPDBViolations: null },
        n3: null,
      },
    });
    expect(args.mode).toBe('cache');
    expect([...args.candidates]).toEqual([
      ['n1', { podUids: ['a', 'b'], numPDBViolations: 2 }],
      ['n2', { podUids: [], numPDBViolations: 0 }],
      ['n3', { podUids: [], numPDBViolations: 0 }],
    ]);
  });

  it('reduces full victim pods (full mode) to their UIDs', () => {
    const args = decodePreemptionArgs({
      Pod: POD,
      NodeNameToVictims: { n1: { Pods: [pod('{"name":"v","uid":"v-1"}')], NumPDBViolations: 0 } },
      NodeNameToMetaVictims: null,
    });
    expect(args.mode).toBe('full');
    expect(args.candidates.get('n1')).toEqual({ podUids: ['v-1'], numPDBViolations: 0 });
  });

  it('rejects malformed victims with their path', () => {
    const bad = (body: unknown) => inputError(() => decodePreemptionArgs(body)).message;
    expect(bad({ Pod: POD })).toMatch(/^neither NodeNameToVictims nor NodeNameToMetaVictims/);
    expect(bad({ Pod: POD, NodeNameToMetaVictims: { n1: { NumPDBViolations: 1.5 } } })).toBe(
      'NodeNameToMetaVictims["n1"].NumPDBViolations is not an integer',
    );
    expect(bad({ Pod: POD, NodeNameToVictims: { n1: { Pods: [{ metadata: {} }] } } })).toBe(
      'NodeNameToVictims["n1"].Pods[0].metadata.uid is missing',
    );
    expect(bad({ Pod: POD, NodeNameToMetaVictims: [] })).toBe(
      'NodeNameToMetaVictims is not an object of node name to victims',
    );
  });
});

describe('encoders', () => {
  const none = { names: [], messages: [] };
  const verdict: FilterVerdict = {
    feasible: ['n1'],
    failed: { names: ['n2'], messages: ['busy'] },
    unresolvable: none,
  };

  it('writes the filter result in the mode of the call', () => {
    expect(filterResultJson('cache', verdict, { names: ['n1', 'n2'] })).toBe(
      '{"Nodes":null,"NodeNames":["n1"],"FailedNodes":{"n2":"busy"},"FailedAndUnresolvableNodes":{},"Error":""}',
    );
    const nodes = [{ metadata: { name: 'n1' }, x: 1 }, { metadata: { name: 'n2' } }];
    expect(filterResultJson('full', verdict, { names: ['n1', 'n2'], nodes })).toBe(
      '{"Nodes":{"items":[{"metadata":{"name":"n1"},"x":1}]},"NodeNames":null,"FailedNodes":{"n2":"busy"},"FailedAndUnresolvableNodes":{},"Error":""}',
    );
  });

  it('writes the same JSON as JSON.stringify of the wire object, for any names and messages', () => {
    const pairs = fc.uniqueArray(fc.tuple(fc.string({ unit: 'binary' }), fc.string()), {
      selector: ([name]) => name,
    });
    fc.assert(
      fc.property(fc.array(fc.string({ unit: 'grapheme' })), pairs, pairs, (feasible, f, u) => {
        const messages = (p: [string, string][]) => ({
          names: p.map(([n]) => n),
          messages: p.map(([, m]) => m),
        });
        const json = filterResultJson(
          'cache',
          { feasible, failed: messages(f), unresolvable: messages(u) },
          { names: [] },
        );
        const object = {
          Nodes: null,
          NodeNames: feasible,
          FailedNodes: Object.fromEntries(f),
          FailedAndUnresolvableNodes: Object.fromEntries(u),
          Error: '',
        };
        expect(JSON.parse(json)).toEqual(object);
      }),
    );
  });

  it('writes a map whose nodes share one message exactly, whatever the names hold', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.string({ unit: 'binary' })),
        fc.string({ unit: 'binary' }),
        (names, message) => {
          const json = filterResultJson(
            'cache',
            {
              feasible: [],
              failed: none,
              unresolvable: { names, messages: names.map(() => message) },
            },
            { names },
          );
          const parsed = JSON.parse(json) as { FailedAndUnresolvableNodes: object };
          expect(parsed.FailedAndUnresolvableNodes).toEqual(
            Object.fromEntries(names.map((n) => [n, message])),
          );
        },
      ),
    );
    const tricky = ['a","b', 'c\\', '","', 'd"'];
    const json = filterResultJson(
      'cache',
      {
        feasible: [],
        failed: { names: tricky, messages: tricky.map(() => 'm') },
        unresolvable: none,
      },
      { names: tricky },
    );
    expect(Object.keys((JSON.parse(json) as { FailedNodes: object }).FailedNodes)).toEqual(tricky);
  });

  it('encodes priorities with integer scores', () => {
    expect(
      encodeHostPriorities([
        { host: 'a', score: 7.5 },
        { host: 'b', score: -3 },
      ]),
    ).toEqual([
      { Host: 'a', Score: 8 },
      { Host: 'b', Score: 0 },
    ]);
  });

  it('encodes preemption results in the meta form, {} when empty', () => {
    expect(JSON.stringify(encodePreemptionResult(new Map()))).toBe('{"NodeNameToMetaVictims":{}}');
    const one = new Map([['n1', { podUids: ['a'], numPDBViolations: 1 }]]);
    expect(JSON.stringify(encodePreemptionResult(one))).toBe(
      '{"NodeNameToMetaVictims":{"n1":{"Pods":[{"UID":"a"}],"NumPDBViolations":1}}}',
    );
  });

  it('clampScore always yields an integer in 0..10 that rounds in-range values', () => {
    fc.assert(
      fc.property(fc.double(), (x) => {
        const s = clampScore(x);
        expect(Number.isInteger(s) && s >= 0 && s <= 10).toBe(true);
        expect(Object.is(s, -0)).toBe(false);
        if (x >= 0 && x <= 10) expect(s).toBe(Math.round(x) || 0);
      }),
    );
    expect(clampScore(Number.NaN)).toBe(0);
    expect(clampScore(Number.POSITIVE_INFINITY)).toBe(10);
  });

  it('clampCount yields a whole number >= 0', () => {
    expect(clampCount(2.4)).toBe(2);
    expect(clampCount(-1)).toBe(0);
    expect(clampCount(Number.NaN)).toBe(0);
  });
});
