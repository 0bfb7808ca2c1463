/**
 * `phalanx scheduler` settings: the flag table and the topology levels given inline or in a file.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseCommandLine } from '../../../src/config/flags.ts';
import { loadTopologyLevels, SCHEDULER_FLAGS } from '../../../src/config/scheduler.ts';

const dir = mkdtempSync(join(tmpdir(), 'phalanx-sched-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('scheduler flags', () => {
  it('has one distinct env twin per flag and the documented defaults', () => {
    const envs = Object.values(SCHEDULER_FLAGS).map((f) => f.env);
    expect(new Set(envs).size).toBe(envs.length);
    const { values } = parseCommandLine('scheduler', SCHEDULER_FLAGS, [], {});
    expect(values['extender-address']).toBe('127.0.0.1:8888');
    expect(values['url-prefix']).toBe('/scheduler');
    expect(values['leader-elect']).toBe(true);
    expect(values['plan-ttl']).toBe(300);
    expect(values['round-period']).toBe(10);
  });

  it('takes env twins and refuses an unknown policy with the list of names', () => {
    const { values } = parseCommandLine('scheduler', SCHEDULER_FLAGS, ['--plan-ttl=60'], {
      PHALANX_LEADER_ELECT: 'false',
      PHALANX_POLICY: 'fgd',
    });
    expect(values['leader-elect']).toBe(false);
    expect(values.policy).toBe('fgd');
    expect(values['plan-ttl']).toBe(60);
    expect(() => parseCommandLine('scheduler', SCHEDULER_FLAGS, ['--policy=magic'], {})).toThrow(
      /"magic" is not allowed; use one of .*best-fit/,
    );
  });
});

describe('loadTopologyLevels', () => {
  it('uses the built-in levels when empty', () => {
    expect(loadTopologyLevels('')).toBeUndefined();
    expect(loadTopologyLevels('  ')).toBeUndefined();
  });

  it('reads inline JSON and YAML files', () => {
    expect(
      loadTopologyLevels('[{"name":"rack","labels":["example.com/rack"],"unlabelled":"own"}]'),
    ).toEqual([{ name: 'rack', labels: ['example.com/rack'], unlabelled: 'own' }]);
    const file = join(dir, 'levels.yaml');
    writeFileSync(
      file,
      '- name: zone\n  labels: [topology.kubernetes.io/zone]\n- name: rack\n  labels: [example.com/rack]\n',
    );
    expect(loadTopologyLevels(file)?.map((l) => l.name)).toEqual(['zone', 'rack']);
  });

  it.each([
    ['[]', 'inline JSON): must be a non-empty list of levels'],
    ['[{"name":"rack"}]', 'level "rack": labels must be a list of node label keys'],
    [
      '[{"name":"rack","labels":["a"],"unlabelled":"maybe"}]',
      'unlabelled must be "shared" or "own"',
    ],
    [
      '[{"name":"rack","labels":["a"]},{"name":"rack","labels":["b"]}]',
      'topology level "rack" is listed twice',
    ],
    ['[not json', 'inline JSON): cannot be read'],
    ['/nonexistent/levels.yaml', '--topology-levels (/nonexistent/levels.yaml): cannot be read'],
  ])('%s → %s', (value, message) => {
    expect(() => loadTopologyLevels(value)).toThrow(message);
  });
});
