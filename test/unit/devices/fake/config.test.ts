import { describe, expect, it } from 'vitest';
import {
  FakeConfigError,
  parseFakeBackendConfig,
  parseFakeBackendFlag,
} from '../../../../src/devices/fake/config.ts';

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(FakeConfigError);
    return (e as Error).message;
  }
  throw new Error('expected an error');
}

describe('parseFakeBackendConfig', () => {
  it('accepts YAML with faults', () => {
    const config = parseFakeBackendConfig(
      [
        'profile: sxm8-80g',
        'gpus: 4',
        'faults:',
        '  - { gpu: 2, kind: unhealthy, message: "XID 48" }',
        '  - { gpu: 3, kind: slowPrepare, delayMs: 2000 }',
        '  - { gpu: 1, kind: failPrepare, count: 2 }',
      ].join('\n'),
      'fake-gpus.yaml',
    );
    expect(config).toEqual({
      profile: 'sxm8-80g',
      gpus: 4,
      faults: [
        { gpu: 2, kind: 'unhealthy', message: 'XID 48' },
        { gpu: 3, kind: 'slowPrepare', delayMs: 2000 },
        { gpu: 1, kind: 'failPrepare', count: 2 },
      ],
    });
  });

  it('accepts JSON', () => {
    const config = parseFakeBackendConfig(
      '{"profile":"nvl4-rack","rackDomain":"rack-7","cliqueId":"c.1"}',
      'fake.json',
    );
    expect(config).toEqual({ profile: 'nvl4-rack', rackDomain: 'rack-7', cliqueId: 'c.1' });
  });

  it('names the source and lists the profiles for an unknown profile', () => {
    expect(errorOf(() => parseFakeBackendConfig('profile: foo', 'fake-gpus.yaml'))).toBe(
      'fake-gpus.yaml: profile "foo" is unknown; use one of sxm8-80g, pcie4-48g, nvl4-rack',
    );
  });

  it('names the path of a bad field', () => {
    const msg = errorOf(() =>
      parseFakeBackendConfig('profile: sxm8-80g\nfaults: [{gpu: 1, kind: melt}]', 'f.yaml'),
    );
    expect(msg).toBe(
      'f.yaml: faults[0].kind must be one of unhealthy, lost, slowPrepare, failPrepare',
    );
  });

  it('rejects unknown fields, bad counts and wrong types', () => {
    expect(errorOf(() => parseFakeBackendConfig('profile: sxm8-80g\ncolour: red', 'a.yaml'))).toBe(
      'a.yaml: unknown field "colour"; remove it',
    );
    expect(errorOf(() => parseFakeBackendConfig('profile: sxm8-80g\ngpus: 0', 'a.yaml'))).toMatch(
      /^a\.yaml: gpus must be >= 1/,
    );
    expect(errorOf(() => parseFakeBackendConfig('profile: sxm8-80g\ngpus: 65', 'a.yaml'))).toMatch(
      /^a\.yaml: gpus must be <= 64/,
    );
    expect(errorOf(() => parseFakeBackendConfig('gpus: 2', 'a.yaml'))).toBe(
      'a.yaml: missing profile; add it',
    );
    expect(errorOf(() => parseFakeBackendConfig('- 1', 'a.yaml'))).toMatch(
      /^a\.yaml: the document must be object/,
    );
  });

  it('rejects faults on GPUs the node does not have', () => {
    expect(
      errorOf(() =>
        parseFakeBackendConfig('profile: pcie4-48g\nfaults: [{gpu: 4, kind: lost}]', 'a.yaml'),
      ),
    ).toBe('a.yaml: faults[0].gpu 4 does not exist; profile pcie4-48g with 4 GPUs has GPUs 0..3');
  });

  it('requires delayMs for slowPrepare and rack options only on the rack profile', () => {
    expect(
      errorOf(() =>
        parseFakeBackendConfig(
          'profile: sxm8-80g\nfaults: [{gpu: 1, kind: slowPrepare}]',
          'a.yaml',
        ),
      ),
    ).toBe('a.yaml: faults[0]: slowPrepare needs delayMs; add delayMs (milliseconds)');
    expect(
      errorOf(() => parseFakeBackendConfig('profile: sxm8-80g\nrackDomain: r', 'a.yaml')),
    ).toBe('a.yaml: rackDomain applies only to profile nvl4-rack; remove it or change the profile');
  });

  it('reports syntax errors and empty files', () => {
    expect(errorOf(() => parseFakeBackendConfig('profile: [', 'a.yaml'))).toMatch(
      /^a\.yaml: not valid YAML or JSON \(.+\); fix the syntax$/,
    );
    expect(errorOf(() => parseFakeBackendConfig('', 'a.yaml'))).toBe(
      'a.yaml: the file is empty; set at least "profile"',
    );
  });
});

describe('parseFakeBackendFlag', () => {
  it('parses key=value pairs and repeated faults', () => {
    expect(
      parseFakeBackendFlag(
        'profile=sxm8-80g,gpus=4,fault=unhealthy:2,fault=slowPrepare:3:250,fault=failPrepare:1:2',
      ),
    ).toEqual({
      profile: 'sxm8-80g',
      gpus: 4,
      faults: [
        { kind: 'unhealthy', gpu: 2 },
        { kind: 'slowPrepare', gpu: 3, delayMs: 250 },
        { kind: 'failPrepare', gpu: 1, count: 2 },
      ],
    });
  });

  it('accepts a bare profile name', () => {
    expect(parseFakeBackendFlag('pcie4-48g')).toEqual({ profile: 'pcie4-48g' });
  });

  it('explains bad flags', () => {
    expect(errorOf(() => parseFakeBackendFlag('gpus=2'))).toMatch(
      /profile is missing; add profile=/,
    );
    expect(errorOf(() => parseFakeBackendFlag('profile=sxm8-80g,colour=red'))).toMatch(
      /unknown key "colour"; use profile, gpus, rackDomain, cliqueId or fault/,
    );
    expect(errorOf(() => parseFakeBackendFlag('profile=sxm8-80g,gpus=two'))).toBe(
      '--fake-gpus: gpus="two" is not a whole number',
    );
    expect(errorOf(() => parseFakeBackendFlag('profile=sxm8-80g,fault=melt:1'))).toMatch(
      /unknown kind "melt"/,
    );
    expect(errorOf(() => parseFakeBackendFlag('profile=sxm8-80g,fault=lost:1:5'))).toMatch(
      /lost takes no parameter/,
    );
    expect(errorOf(() => parseFakeBackendFlag('profile=bogus'))).toMatch(
      /^--fake-gpus: profile "bogus" is unknown/,
    );
  });
});
