import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FlagError, parseCommandLine, usage } from '../../../src/config/flags.ts';
import { METRICS_DOC, metricsReference } from '../../../src/config/metrics-reference.ts';
import { PLUGIN_FLAGS } from '../../../src/config/plugin.ts';
import { CONFIGURATION_DOC, configurationReference } from '../../../src/config/reference.ts';

describe('flags with env twins', () => {
  it('uses the default when neither flag nor env is set', () => {
    const { values } = parseCommandLine('plugin', PLUGIN_FLAGS, [], {});
    expect(values['kubelet-root']).toBe('/var/lib/kubelet');
    expect(values['prepare-timeout']).toBe(30);
    expect(values['device-taints']).toBe(true);
  });

  it('takes the env twin over the default and the flag over the env twin', () => {
    const env = { PHALANX_KUBELET_ROOT: '/env/root', NODE_NAME: 'n1' };
    expect(parseCommandLine('plugin', PLUGIN_FLAGS, [], env).values['kubelet-root']).toBe(
      '/env/root',
    );
    const both = parseCommandLine('plugin', PLUGIN_FLAGS, ['--kubelet-root', '/flag/root'], env);
    expect(both.values['kubelet-root']).toBe('/flag/root');
    expect(both.values['node-name']).toBe('n1');
  });

  it('converts numbers and booleans from env', () => {
    const { values } = parseCommandLine('plugin', PLUGIN_FLAGS, [], {
      PHALANX_PREPARE_TIMEOUT_SECONDS: '12',
      PHALANX_DEVICE_TAINTS: 'off',
    });
    expect(values['prepare-timeout']).toBe(12);
    expect(values['device-taints']).toBe(false);
  });

  it('rejects bad values with the flag, the origin and what is allowed', () => {
    expect(() =>
      parseCommandLine('plugin', PLUGIN_FLAGS, [], { PHALANX_PREPARE_TIMEOUT_SECONDS: 'soon' }),
    ).toThrow(
      '--prepare-timeout (env PHALANX_PREPARE_TIMEOUT_SECONDS): expected a number, got "soon"',
    );
    expect(() => parseCommandLine('plugin', PLUGIN_FLAGS, ['--prepare-timeout', '60'], {})).toThrow(
      '--prepare-timeout (flag): must be at most 44, got 60',
    );
    expect(() => parseCommandLine('plugin', PLUGIN_FLAGS, ['--slice-layout', 'big'], {})).toThrow(
      'use one of auto, combined, split, whole-gpus',
    );
    expect(() => parseCommandLine('plugin', PLUGIN_FLAGS, ['--nope'], {})).toThrow(FlagError);
  });

  it('documents every flag with its env twin and default in --help', () => {
    const text = usage('plugin', 'summary', PLUGIN_FLAGS);
    for (const [name, spec] of Object.entries(PLUGIN_FLAGS)) {
      expect(text).toContain(`--${name}  [${spec.env}]`);
    }
  });

  it('keeps docs/configuration.md and docs/metrics.md in sync with the code (run npm run gen:docs)', async () => {
    expect(readFileSync(CONFIGURATION_DOC, 'utf8')).toBe(configurationReference());
    // docs/metrics.md likewise, from the metrics each program registers.
    const metrics = await metricsReference();
    expect(readFileSync(METRICS_DOC, 'utf8')).toBe(metrics);
    expect(metrics).toMatch(/`phalanx_extender_request_duration_seconds` \| histogram/);
  });
});
