import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  claimRefOf,
  decodeClaimName,
  encodeClaimName,
  MAX_CLAIM_NAME_LENGTH,
  NameDerivedClaimGetter,
} from '../../../bench/lib/claim-names.ts';
import { wholeGpuDeviceName } from '../../../src/devices/naming.ts';
import { uidOf } from '../../helpers/claims.ts';

const DNS_SUBDOMAIN_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** DNS labels of 1–20 characters: alphanumeric ends, dashes inside. */
const label = fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,18}[a-z0-9])?$/);

describe('claim name encoding', () => {
  it('encodes the sequence number, the request and the devices as DNS labels', () => {
    expect(encodeClaimName({ n: 42, request: 'gpus', devices: ['gpu-0', 'gpu-3-1g-10gb-2'] })).toBe(
      'c42.gpus.gpu-0.gpu-3-1g-10gb-2',
    );
  });

  it('round-trips every encodable spec and always yields a DNS subdomain of ≤ 253 characters', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
        label,
        fc.array(label, { minLength: 1, maxLength: 8 }),
        (n, request, devices) => {
          const name = encodeClaimName({ n, request, devices });
          expect(name.length).toBeLessThanOrEqual(MAX_CLAIM_NAME_LENGTH);
          expect(name).toMatch(DNS_SUBDOMAIN_RE);
          expect(decodeClaimName(name)).toEqual({ n, request, devices });
        },
      ),
    );
  });

  it('fits the benchmark claims: 8 whole GPUs at a large sequence number', () => {
    const devices = Array.from({ length: 8 }, (_, i) => wholeGpuDeviceName(i));
    const name = encodeClaimName({ n: 9_999_999, request: 'gpus', devices });
    expect(name.length).toBeLessThan(80);
    expect(decodeClaimName(name)?.devices).toEqual(devices);
  });

  it('refuses specs it cannot encode, saying what to change', () => {
    expect(() => encodeClaimName({ n: 0, request: 'gpu', devices: ['gpu-0'] })).toThrow(
      'claim number 0 cannot be encoded; use a whole number ≥ 1',
    );
    expect(() => encodeClaimName({ n: 1, request: 'gpu', devices: [] })).toThrow(
      'claim c1 has no devices; a benchmark claim needs at least one',
    );
    expect(() => encodeClaimName({ n: 1, request: 'gpu', devices: ['GPU.0'] })).toThrow(
      'claim c1: "GPU.0" is not a DNS label, so it cannot be in a name',
    );
    const devices = Array.from({ length: 40 }, (_, i) => `gpu-${i}-1g-10gb-0`);
    expect(() => encodeClaimName({ n: 1, request: 'gpus', devices })).toThrow(
      /^claim c1: 40 devices make a \d+-character name; the limit is 253, so use fewer devices per claim$/,
    );
  });

  it('decodes nothing from names that are not benchmark claim names', () => {
    for (const name of [
      '',
      'c1',
      'c1.gpu',
      'claim-1.gpu.gpu-0',
      'c0.gpu.gpu-0',
      'c01.gpu.gpu-0',
      'c9007199254740993.gpu.gpu-0',
      'c1.gpu..gpu-0',
      'c1.gpu.gpu-0-',
      `c1.gpu.${'g'.repeat(64)}`,
      `c1.gpu.${Array.from({ length: 60 }, () => 'gpu-0').join('.')}`,
    ])
      expect(decodeClaimName(name), name).toBeUndefined();
  });

  it('gives the kubelet reference with the UID of the sequence number', () => {
    expect(claimRefOf('bench', { n: 7, request: 'gpu', devices: ['gpu-1'] })).toEqual({
      namespace: 'bench',
      name: 'c7.gpu.gpu-1',
      uid: uidOf(7),
    });
  });
});

describe('NameDerivedClaimGetter', () => {
  it('returns the allocated claim the name describes, from the node pool', async () => {
    const getter = new NameDerivedClaimGetter('node-x');
    const claim = await getter.get('bench', 'c3.gpus.gpu-0.gpu-5');
    expect(claim?.metadata).toMatchObject({ namespace: 'bench', name: 'c3.gpus.gpu-0.gpu-5' });
    expect(claim?.metadata.uid).toBe(uidOf(3));
    expect(
      claim?.status?.allocation?.devices?.results?.map((r) => [r.request, r.device, r.pool]),
    ).toEqual([
      ['gpus', 'gpu-0', 'node-x'],
      ['gpus', 'gpu-5', 'node-x'],
    ]);
  });

  it('hands out a fresh object per GET, and nothing for unknown names', async () => {
    const getter = new NameDerivedClaimGetter('node-x');
    const a = await getter.get('bench', 'c1.gpu.gpu-0');
    const b = await getter.get('bench', 'c1.gpu.gpu-0');
    expect(a).toEqual(b);
    expect(a).not.toBe(b);
    await expect(getter.get('bench', 'gone')).resolves.toBeUndefined();
  });
});
