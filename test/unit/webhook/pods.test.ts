import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { applyJsonPatch } from '../../../src/webhook/admission.ts';
import {
  addGatePatch,
  DEFAULT_EXCLUDED_NAMESPACES,
  gangSizeProblem,
  mapNamespaceLabels,
  podMutation,
} from '../../../src/webhook/pods.ts';
import { pod } from './reviews.ts';

const GATE = 'phalanx.dev/gang-planner';
const namespaces = mapNamespaceLabels(
  new Map([
    ['team-a', {}],
    ['research', { 'phalanx.dev/queue': 'research' }],
  ]),
);
const config = { excludedNamespaces: DEFAULT_EXCLUDED_NAMESPACES };

describe('podMutation', () => {
  it('names where gang and queue membership came from', () => {
    expect(
      podMutation(
        pod('w', { 'phalanx.dev/gang': 'g', 'phalanx.dev/gang-size': '2' }, {}, 'research'),
        namespaces,
        config,
      ).reason,
    ).toBe('gated: gang g (label phalanx.dev/gang), queue research (namespace research default)');
    expect(
      podMutation(
        pod(
          'w',
          { 'scheduling.x-k8s.io/pod-group': 'pg' },
          { schedulingGroup: { podGroupName: 'n' } },
        ),
        namespaces,
        config,
      ).reason,
    ).toBe('gated: gang n (spec.schedulingGroup.podGroupName)');
  });

  it('prefers the pod queue label over the namespace default', () => {
    const m = podMutation(
      pod('w', { 'phalanx.dev/queue': 'own' }, {}, 'research'),
      namespaces,
      config,
    );
    expect(m.reason).toBe('gated: queue own (label phalanx.dev/queue)');
  });

  it('says why a member is left alone', () => {
    const m = podMutation(
      pod('w', { 'phalanx.dev/queue': 'q' }, { nodeName: 'node-a' }),
      namespaces,
      config,
    );
    expect(m.patch).toBeUndefined();
    expect(m.reason).toContain('bound to node node-a');
  });

  it('denies a bad gang size even on a bound pod, but not in an excluded namespace', () => {
    const labels = { 'phalanx.dev/gang': 'g' };
    expect(podMutation(pod('w', labels, { nodeName: 'n' }), namespaces, config).deny).toBeDefined();
    expect(
      podMutation(pod('w', labels, {}, 'kube-system'), namespaces, config).deny,
    ).toBeUndefined();
  });

  it('warns when the namespace is unknown and the pod would not be gated otherwise', () => {
    const m = podMutation(pod('w', {}, {}, 'brand-new'), namespaces, config);
    expect(m.patch).toBeUndefined();
    expect(m.warnings?.[0]).toContain('namespace brand-new is unknown to the Phalanx webhook');
    const member = podMutation(
      pod('w', { 'phalanx.dev/queue': 'q' }, {}, 'brand-new'),
      namespaces,
      config,
    );
    expect(member.warnings).toBeUndefined();
    expect(member.patch).toBeDefined();
  });

  it('reads odd objects without throwing', () => {
    for (const odd of [
      null,
      42,
      'pod',
      [],
      { metadata: 'x', spec: [] },
      { spec: { schedulingGates: 'g' } },
    ])
      expect(podMutation(odd, namespaces, config).reason).toBeTypeOf('string');
  });

  it('gates any member exactly once: applying the patch yields one gate, and a second pass adds none', () => {
    const gates = fc.option(fc.array(fc.record({ name: fc.stringMatching(/^[a-z]{1,8}$/) })), {
      nil: undefined,
    });
    fc.assert(
      fc.property(gates, fc.constantFrom('gang', 'queue', 'group'), (existing, how) => {
        const labels: Record<string, string> =
          how === 'gang'
            ? { 'phalanx.dev/gang': 'g', 'phalanx.dev/gang-size': '4' }
            : how === 'queue'
              ? { 'phalanx.dev/queue': 'q' }
              : { 'scheduling.x-k8s.io/pod-group': 'pg' };
        const input = pod('w', labels, existing === undefined ? {} : { schedulingGates: existing });
        const first = podMutation(input, namespaces, config);
        expect(first.patch).toBeDefined();
        const out = applyJsonPatch(input, first.patch ?? []) as {
          spec: { schedulingGates: { name: string }[] };
        };
        expect(out.spec.schedulingGates.filter((g) => g.name === GATE)).toHaveLength(1);
        expect(out.spec.schedulingGates.slice(0, -1)).toEqual(existing ?? []);
        expect(podMutation(out, namespaces, config).patch).toBeUndefined();
      }),
    );
  });
});

describe('gangSizeProblem', () => {
  it('accepts 1..10000 and nothing else', () => {
    const at = (size: string) =>
      gangSizeProblem({ 'phalanx.dev/gang': 'g', 'phalanx.dev/gang-size': size }, 'ns/p');
    expect(at('1')).toBeUndefined();
    expect(at('10000')).toBeUndefined();
    for (const bad of ['', '0', '10001', '99999', '1e3', ' 4', '4 ', '+4', '0x10'])
      expect(at(bad), bad).toBeDefined();
  });

  it('ignores pods without phalanx.dev/gang', () => {
    expect(gangSizeProblem({ 'phalanx.dev/gang-size': 'x' }, 'ns/p')).toBeUndefined();
  });
});

describe('addGatePatch', () => {
  it('creates the list when absent and appends otherwise', () => {
    expect(addGatePatch(undefined)).toEqual([
      { op: 'add', path: '/spec/schedulingGates', value: [{ name: GATE }] },
    ]);
    expect(addGatePatch([])).toEqual([
      { op: 'add', path: '/spec/schedulingGates/-', value: { name: GATE } },
    ]);
  });
});
