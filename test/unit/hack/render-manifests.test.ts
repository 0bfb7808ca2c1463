import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import {
  CHART_CRD,
  CHART_DIR,
  CRD_MANIFEST,
  DEPLOY_DOC,
  driftOf,
  generatedFiles,
  HEADER,
  helmBinary,
  manifestText,
  parseRenderArgs,
  REPO_ROOT,
  splitHelmOutput,
  VALUES_END,
  VALUES_START,
  valuesTable,
  withValuesTable,
} from '../../../hack/render-manifests.ts';
import { PLUGIN_FLAGS } from '../../../src/config/plugin.ts';
import { SCHEDULER_FLAGS } from '../../../src/config/scheduler.ts';
import { POLICY_NAMES } from '../../../src/scheduling/policies/index.ts';

const HELM_OUTPUT = `---
# Source: phalanx/templates/10-rbac.yaml
# A comment that belongs to the account.
apiVersion: v1
kind: ServiceAccount
metadata:
  name: a

---
# Source: phalanx/templates/60-scheduler.yaml
apiVersion: v1
kind: Service
metadata:
  name: s
---
# Source: phalanx/templates/10-rbac.yaml
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: r
`;

describe('parseRenderArgs', () => {
  it('reads --check and --helm', () => {
    expect(parseRenderArgs([])).toEqual({ check: false });
    expect(parseRenderArgs(['--check'])).toEqual({ check: true });
    expect(parseRenderArgs(['--check', '--helm=/opt/helm'])).toEqual({
      check: true,
      helm: '/opt/helm',
    });
    expect(parseRenderArgs(['-h'])).toBe('help');
  });

  it('refuses unknown arguments and an empty --helm with a usage line', () => {
    expect(() => parseRenderArgs(['--chek'])).toThrow(/--chek.*usage: node hack\/render-manifests/);
    expect(() => parseRenderArgs(['out'])).toThrow(/usage:/);
    expect(() => parseRenderArgs(['--helm='])).toThrow('--helm needs the path of a helm binary');
  });

  it('takes helm from --helm, then $HELM', () => {
    expect(helmBinary({ check: false, helm: '/a/helm' }, { HELM: '/b/helm' })).toBe('/a/helm');
    expect(helmBinary({ check: false }, { HELM: '/b/helm' })).toBe('/b/helm');
  });
});

describe('splitHelmOutput and manifestText', () => {
  it('groups documents by template, in output order, without the Source lines', () => {
    const files = splitHelmOutput(HELM_OUTPUT);
    expect([...files.keys()]).toEqual(['10-rbac.yaml', '60-scheduler.yaml']);
    const rbac = files.get('10-rbac.yaml') ?? [];
    expect(rbac).toHaveLength(2);
    expect(rbac[0]).toMatch(/^# A comment that belongs to the account\.\napiVersion: v1/);
    expect(rbac.join('\n')).not.toContain('# Source');
  });

  it('refuses a document without a Source line', () => {
    expect(() => splitHelmOutput('apiVersion: v1\nkind: Namespace\n')).toThrow(
      /without a "# Source:" line/,
    );
  });

  it('writes the header first and separates documents with ---', () => {
    const text = manifestText(['kind: A', 'kind: B']);
    expect(text.split('\n')[0]).toBe(`# ${HEADER}`);
    expect(text.endsWith('kind: A\n---\nkind: B\n')).toBe(true);
  });

  it('names every generated file and sorts them; the CRD goes to the chart and the manifests', () => {
    const doc = `# Deploy\n${VALUES_START}\nold\n${VALUES_END}\ntail\n`;
    const files = generatedFiles(HELM_OUTPUT, 'crd: yes\n', doc, '| t |');
    expect([...files.keys()]).toEqual([
      CHART_CRD,
      'deploy/manifests/10-rbac.yaml',
      CRD_MANIFEST,
      'deploy/manifests/60-scheduler.yaml',
      DEPLOY_DOC,
    ]);
    expect(files.get(CHART_CRD)).toBe('crd: yes\n');
    expect(files.get(CRD_MANIFEST)).toBe('crd: yes\n');
    expect(files.get(DEPLOY_DOC)).toBe(`# Deploy\n${VALUES_START}\n| t |\n${VALUES_END}\ntail\n`);
  });
});

describe('driftOf', () => {
  const expected = new Map([
    ['deploy/manifests/a.yaml', 'A'],
    ['deploy/manifests/b.yaml', 'B'],
  ]);

  it('is empty when every file matches', () => {
    expect(driftOf(expected, new Map(expected))).toEqual([]);
  });

  it('names changed, missing and extra files', () => {
    const actual = new Map<string, string | undefined>([
      ['deploy/manifests/a.yaml', 'A edited'],
      ['deploy/manifests/b.yaml', undefined],
      ['deploy/manifests/old.yaml', 'stale'],
    ]);
    expect(driftOf(expected, actual)).toEqual([
      { file: 'deploy/manifests/a.yaml', why: 'differs' },
      { file: 'deploy/manifests/b.yaml', why: 'missing' },
      { file: 'deploy/manifests/old.yaml', why: 'not generated' },
    ]);
  });
});

describe('values table', () => {
  it('lists every leaf with its type, default and description', () => {
    const schema = {
      properties: {
        image: {
          type: 'object',
          properties: {
            tag: { type: 'string', description: 'Tag; a|b.' },
            pullPolicy: { type: 'string', enum: ['Always', 'Never'], description: 'Policy.' },
          },
        },
        commonLabels: { type: 'object', description: 'Labels.' },
      },
    };
    const table = valuesTable(schema, {
      image: { tag: '', pullPolicy: 'Never' },
      commonLabels: {},
    });
    expect(table.split('\n')).toEqual([
      '| value | type | default | description |',
      '|---|---|---|---|',
      '| `image.tag` | string | `""` | Tag; a\\|b. |',
      '| `image.pullPolicy` | Always \\| Never | `"Never"` | Policy. |',
      '| `commonLabels` | object | `{}` | Labels. |',
    ]);
  });

  it('needs both markers in the document', () => {
    expect(() => withValuesTable('# no markers\n', '| t |')).toThrow(/lacks the markers/);
  });
});

describe('the chart values against the programs', () => {
  const schema = JSON.parse(
    readFileSync(join(REPO_ROOT, CHART_DIR, 'values.schema.json'), 'utf8'),
  ) as { properties: Record<string, { properties: Record<string, { enum?: string[] }> }> };
  const values = parseYaml(readFileSync(join(REPO_ROOT, CHART_DIR, 'values.yaml'), 'utf8')) as {
    scheduler: { policy: string };
    kubeletPlugin: { fakeGpus: string; sliceLayout: string };
  };

  it('offers exactly the placement policies and slice layouts the programs accept', () => {
    expect(schema.properties.scheduler?.properties.policy?.enum).toEqual([...POLICY_NAMES]);
    expect(schema.properties.kubeletPlugin?.properties.sliceLayout?.enum).toEqual(
      PLUGIN_FLAGS['slice-layout'].choices,
    );
  });

  it("defaults to the programs' own defaults", () => {
    expect(values.kubeletPlugin.fakeGpus).toBe(PLUGIN_FLAGS['fake-gpus'].default);
    expect(values.kubeletPlugin.sliceLayout).toBe(PLUGIN_FLAGS['slice-layout'].default);
    expect(values.scheduler.policy).toBe(SCHEDULER_FLAGS.policy.default);
  });
});
