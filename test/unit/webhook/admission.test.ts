import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  allow,
  allowWithPatch,
  applyJsonPatch,
  cleanWarning,
  decodePatch,
  deny,
  encodePatch,
  type JsonPatchOp,
  jsonPointer,
  MAX_WARNING_LENGTH,
  parseAdmissionReview,
  reviewResponse,
} from '../../../src/webhook/admission.ts';
import { admissionReview } from './reviews.ts';

describe('parseAdmissionReview', () => {
  it('reads the fields the webhook uses from a full review', () => {
    const parsed = parseAdmissionReview(
      admissionReview({
        kind: 'Pod',
        resource: 'pods',
        namespace: 'team-a',
        name: 'p',
        object: { metadata: { name: 'p' } },
      }),
    );
    expect(parsed).toEqual({
      ok: true,
      request: {
        uid: '705ab4f5-6393-11e8-b7cc-42010a800002',
        kind: { group: '', version: 'v1', kind: 'Pod' },
        resource: { group: '', version: 'v1', resource: 'pods' },
        operation: 'CREATE',
        name: 'p',
        namespace: 'team-a',
        userInfo: { username: 'admin', groups: ['system:masters', 'system:authenticated'] },
        object: { metadata: { name: 'p' } },
      },
    });
  });

  it.each([
    [null, 'the body must be a JSON object, got null'],
    [
      { apiVersion: 'admission.k8s.io/v1', kind: 'Review', request: {} },
      'kind must be AdmissionReview',
    ],
    [
      { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: 'u' } },
      'request.kind must be an object {group, version, kind}, got none',
    ],
    [
      {
        apiVersion: 'admission.k8s.io/v1',
        kind: 'AdmissionReview',
        request: { uid: 'u', kind: { group: '', version: 'v1', kind: 'Pod' }, operation: 'PATCH' },
      },
      'request.operation must be one of CREATE, UPDATE, DELETE, CONNECT, got "PATCH"',
    ],
  ])('rejects %j with a sentence', (body, expected) => {
    const parsed = parseAdmissionReview(body);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.message).toContain(expected);
  });

  it('never throws, whatever the body', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (body) => {
        const parsed = parseAdmissionReview(body);
        expect(typeof parsed.ok).toBe('boolean');
      }),
    );
  });
});

describe('response builders', () => {
  it('allow echoes the uid and carries no status', () => {
    expect(allow('u-1')).toEqual({ uid: 'u-1', allowed: true });
  });

  it('deny carries code and message', () => {
    expect(deny('u-1', 'fix it')).toEqual({
      uid: 'u-1',
      allowed: false,
      status: { code: 422, reason: 'Invalid', message: 'fix it' },
    });
  });

  it('allowWithPatch sends base64 JSONPatch with patchType, and nothing for an empty patch', () => {
    const ops: JsonPatchOp[] = [{ op: 'add', path: '/a', value: 1 }];
    const response = allowWithPatch('u', ops);
    expect(response.patchType).toBe('JSONPatch');
    expect(JSON.parse(Buffer.from(response.patch ?? '', 'base64').toString())).toEqual(ops);
    expect(allowWithPatch('u', [])).toEqual({ uid: 'u', allowed: true });
  });

  it('wraps responses in an AdmissionReview v1', () => {
    expect(reviewResponse(allow('u'))).toEqual({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      response: { uid: 'u', allowed: true },
    });
  });

  it('keeps warnings on one bounded line', () => {
    expect(cleanWarning('a\n  b\tc ')).toBe('a b c');
    const long = cleanWarning('x'.repeat(1000));
    expect(long).toHaveLength(MAX_WARNING_LENGTH);
    expect(long.endsWith('...')).toBe(true);
    expect(allow('u', ['', ' '])).toEqual({ uid: 'u', allowed: true });
  });
});

describe('JSONPatch', () => {
  it('escapes pointer segments', () => {
    expect(jsonPointer(['metadata', 'labels', 'phalanx.dev/gang', 'a~b'])).toBe(
      '/metadata/labels/phalanx.dev~1gang/a~0b',
    );
  });

  it('round-trips through base64', () => {
    const ops: JsonPatchOp[] = [
      { op: 'add', path: '/spec/schedulingGates', value: [{ name: 'g' }] },
      { op: 'remove', path: '/x' },
    ];
    expect(decodePatch(encodePatch(ops))).toEqual(ops);
  });

  it('applies add, replace, remove and test without touching the input', () => {
    const doc = { a: { b: [1, 2] }, 'c/d': 'x' };
    const out = applyJsonPatch(doc, [
      { op: 'add', path: '/a/b/-', value: 3 },
      { op: 'add', path: '/a/b/0', value: 0 },
      { op: 'replace', path: '/c~1d', value: 'y' },
      { op: 'remove', path: '/a/b/1' },
      { op: 'test', path: '/a/b', value: [0, 2, 3] },
      { op: 'add', path: '/e', value: { f: true } },
    ]);
    expect(out).toEqual({ a: { b: [0, 2, 3] }, 'c/d': 'y', e: { f: true } });
    expect(doc).toEqual({ a: { b: [1, 2] }, 'c/d': 'x' });
  });

  it.each<[string, JsonPatchOp]>([
    ['a missing parent', { op: 'add', path: '/missing/x', value: 1 }],
    ['an index past the end', { op: 'add', path: '/list/5', value: 1 }],
    ['a removed missing key', { op: 'remove', path: '/nope' }],
    ['a failed test', { op: 'test', path: '/list', value: [] }],
    ['a pointer without a leading slash', { op: 'add', path: 'list', value: 1 }],
  ])('throws on %s', (_name, op) => {
    expect(() => applyJsonPatch({ list: [1] }, [op])).toThrow();
  });
});
