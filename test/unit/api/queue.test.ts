import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type JsonSchemaProps,
  QUEUE_CRD_MANIFEST,
  queueCrd,
  renderQueueCrdYaml,
} from '../../../src/api/scheduling/v1alpha1/crd.ts';
import {
  decodeQueue,
  defaultQueue,
  isQuotaResource,
  isSubdomain,
  MAX_DEVICE_COUNT,
  MAX_QUOTAS,
  mergeConditions,
  QueueValidationError,
  RESOURCE_PATTERN,
  SUBDOMAIN_PATTERN,
  validateQueue,
} from '../../../src/api/scheduling/v1alpha1/queue.ts';

const typeMeta = { apiVersion: 'scheduling.phalanx.dev/v1alpha1', kind: 'Queue' } as const;

function queue(spec: unknown, name = 'team-a'): Record<string, unknown> {
  return { ...typeMeta, metadata: { name }, spec };
}

function errorOf(fn: () => unknown): QueueValidationError {
  try {
    fn();
  } catch (err) {
    if (err instanceof QueueValidationError) return err;
    throw err;
  }
  throw new Error('expected a QueueValidationError');
}

/** `spec.quotas[0].nominal: ...`, `spec["odd key"]: ...`. */
const PATH_AND_SENTENCE = /^[\w$-]*(\.[\w$-]+|\[\d+\]|\[".*"\])*: \S/;

describe('validateQueue', () => {
  it('accepts a minimal queue and a full one', () => {
    expect(validateQueue({ ...typeMeta, metadata: { name: 'q' } })).toEqual([]);
    const full = queue({
      cohort: 'research',
      priority: -5,
      weight: 2.5,
      quotas: [
        { resource: 'gpu.phalanx.dev', nominal: 16, borrowingLimit: 8, lendingLimit: 4 },
        { resource: 'partition.gpu.phalanx.dev/1g.10gb', nominal: 0 },
        { resource: 'partition.gpu.phalanx.dev/1g.10gb+me', nominal: 7, lendingLimit: 7 },
      ],
      preemption: { reclaimWithinCohort: 'LowerPriority', withinQueue: 'Never' },
    });
    expect(validateQueue(full)).toEqual([]);
    expect(validateQueue({ ...full, status: { admittedGangs: 3 } })).toEqual([]);
  });

  it('names the field path and the bad value of a negative nominal', () => {
    const obj = queue({
      quotas: [
        { resource: 'gpu.phalanx.dev', nominal: 4 },
        { resource: 'partition.gpu.phalanx.dev', nominal: -2 },
      ],
    });
    expect(validateQueue(obj)).toEqual([
      'spec.quotas[1].nominal: must be a non-negative integer, got -2',
    ]);
  });

  it('rejects fractional, textual and oversized device counts', () => {
    const obj = queue({
      quotas: [
        { resource: 'gpu.phalanx.dev', nominal: 1.5, borrowingLimit: '3' },
        { resource: 'partition.gpu.phalanx.dev', nominal: MAX_DEVICE_COUNT + 1 },
      ],
    });
    expect(validateQueue(obj)).toEqual([
      'spec.quotas[0].nominal: must be a non-negative integer, got 1.5',
      'spec.quotas[0].borrowingLimit: must be a non-negative integer, got "3"',
      `spec.quotas[1].nominal: must be at most ${MAX_DEVICE_COUNT}, got ${MAX_DEVICE_COUNT + 1}`,
    ]);
  });

  it('rejects duplicate resources, naming the first occurrence', () => {
    const obj = queue({
      quotas: [
        { resource: 'gpu.phalanx.dev', nominal: 4 },
        { resource: 'partition.gpu.phalanx.dev', nominal: 2 },
        { resource: 'gpu.phalanx.dev', nominal: 8 },
      ],
    });
    expect(validateQueue(obj)).toEqual([
      'spec.quotas[2].resource: duplicate resource "gpu.phalanx.dev", already in spec.quotas[0]; list each resource once',
    ]);
  });

  it('rejects a lendingLimit above nominal and accepts one equal to it', () => {
    const over = queue({ quotas: [{ resource: 'gpu.phalanx.dev', nominal: 4, lendingLimit: 6 }] });
    expect(validateQueue(over)).toEqual([
      'spec.quotas[0].lendingLimit: must not exceed nominal (4), got 6; a queue can only lend its own quota',
    ]);
    const equal = queue({ quotas: [{ resource: 'gpu.phalanx.dev', nominal: 4, lendingLimit: 4 }] });
    expect(validateQueue(equal)).toEqual([]);
  });

  it('rejects unknown fields at every level', () => {
    const obj = {
      ...queue({
        cohrt: 'x',
        quotas: [{ resource: 'gpu.phalanx.dev', nominal: 1, borrowLimit: 2 }],
        preemption: { reclaim: 'Any' },
      }),
      extra: true,
    };
    expect(validateQueue(obj)).toEqual([
      'extra: unknown field; remove it or fix its spelling (known: apiVersion, kind, metadata, spec, status)',
      'spec.cohrt: unknown field; remove it or fix its spelling (known: cohort, priority, weight, quotas, preemption)',
      'spec.quotas[0].borrowLimit: unknown field; remove it or fix its spelling (known: resource, nominal, borrowingLimit, lendingLimit)',
      'spec.preemption.reclaim: unknown field; remove it or fix its spelling (known: reclaimWithinCohort, withinQueue)',
    ]);
  });

  it('checks names, type meta and scope', () => {
    const rule =
      "must be a DNS-1123 subdomain (at most 253 lowercase letters, digits, '-' and '.', starting and ending with a letter or digit)";
    expect(
      validateQueue({
        apiVersion: 'scheduling.phalanx.dev/v1',
        kind: 'ClusterQueue',
        metadata: { name: 'Team_A', namespace: 'ml' },
        spec: { cohort: '-research' },
      }),
    ).toEqual([
      'apiVersion: must be scheduling.phalanx.dev/v1alpha1, got "scheduling.phalanx.dev/v1"',
      'kind: must be Queue, got "ClusterQueue"',
      `metadata.name: ${rule}, got "Team_A"`,
      'metadata.namespace: must not be set, Queue is cluster-scoped; got "ml"',
      `spec.cohort: ${rule}, got "-research"`,
    ]);
    expect(validateQueue({ ...typeMeta })).toEqual(['metadata: is required']);
    expect(validateQueue({ ...typeMeta, metadata: {} })).toEqual(['metadata.name: is required']);
    expect(validateQueue({ ...queue({ 'odd key': 1 }) })).toEqual([
      'spec["odd key"]: unknown field; remove it or fix its spelling (known: cohort, priority, weight, quotas, preemption)',
    ]);
    expect(validateQueue(queue({}, 'a'.repeat(254)))).toHaveLength(1);
  });

  it('checks priority, weight, preemption policies and resource names', () => {
    const obj = queue({
      priority: 2 ** 31,
      weight: 0,
      quotas: [{ resource: 'GPU', nominal: 1 }, { nominal: 1 }, { resource: 'gpu.phalanx.dev' }],
      preemption: { reclaimWithinCohort: 'Always', withinQueue: 'Any' },
    });
    expect(validateQueue(obj)).toEqual([
      'spec.priority: must be an integer between -2147483648 and 2147483647, got 2147483648',
      'spec.weight: must be a number greater than 0, got 0',
      'spec.quotas[0].resource: must be a device class name or <deviceClass>/<partition profile>, e.g. gpu.phalanx.dev or partition.gpu.phalanx.dev/1g.10gb, got "GPU"',
      'spec.quotas[1].resource: is required',
      'spec.quotas[2].nominal: is required',
      'spec.preemption.reclaimWithinCohort: must be one of Never, LowerPriority, Any, got "Always"',
      'spec.preemption.withinQueue: must be one of Never, LowerPriority, got "Any"',
    ]);
  });

  it('reports wrong shapes instead of throwing', () => {
    expect(validateQueue('queue')).toEqual([
      'object: must be a Queue object with apiVersion scheduling.phalanx.dev/v1alpha1, got "queue"',
    ]);
    expect(validateQueue(queue([]))).toEqual(['spec: must be an object, got a list']);
    expect(validateQueue(queue({ quotas: { gpu: 1 }, preemption: 'Any' }))).toEqual([
      'spec.quotas: must be a list, got an object',
      'spec.preemption: must be an object, got "Any"',
    ]);
    expect(validateQueue(queue({ quotas: [null] }))).toEqual([
      'spec.quotas[0]: must be an object, got null',
    ]);
    expect(validateQueue({ ...queue({}), status: 3 })).toEqual([
      'status: must be an object, got 3',
    ]);
  });

  it('limits the number of quota entries', () => {
    const quotas = Array.from({ length: MAX_QUOTAS + 1 }, (_, i) => ({
      resource: `class-${i}.example.com`,
      nominal: 1,
    }));
    expect(validateQueue(queue({ quotas }))).toEqual([
      `spec.quotas: must have at most ${MAX_QUOTAS} entries, got ${MAX_QUOTAS + 1}`,
    ]);
  });

  it('never throws on arbitrary input and words every error as "<path>: <sentence>"', () => {
    fc.assert(
      fc.property(fc.oneof(fc.anything(), fc.record({ spec: fc.anything() })), (value) => {
        for (const error of validateQueue(value)) expect(error).toMatch(PATH_AND_SENTENCE);
      }),
      { numRuns: 300 },
    );
  });
});

describe('decodeQueue and defaultQueue', () => {
  it('fills in defaults without touching what is set', () => {
    const decoded = decodeQueue(queue({ quotas: [{ resource: 'gpu.phalanx.dev', nominal: 2 }] }));
    expect(decoded.spec).toEqual({
      priority: 0,
      weight: 1,
      quotas: [{ resource: 'gpu.phalanx.dev', nominal: 2 }],
      preemption: { reclaimWithinCohort: 'Any', withinQueue: 'LowerPriority' },
    });
    expect(decodeQueue({ ...typeMeta, metadata: { name: 'q' } }).spec.quotas).toEqual([]);
    const set = defaultQueue({ cohort: 'c', priority: 3, weight: 0.5, preemption: {} });
    expect(set).toMatchObject({ cohort: 'c', priority: 3, weight: 0.5 });
    expect(set.preemption).toEqual({ reclaimWithinCohort: 'Any', withinQueue: 'LowerPriority' });
  });

  it('does not mutate or alias its input', () => {
    const spec = { quotas: [{ resource: 'gpu.phalanx.dev', nominal: 2 }] };
    const before = structuredClone(spec);
    const defaulted = defaultQueue(spec);
    expect(spec).toEqual(before);
    expect(defaulted.quotas[0]).not.toBe(spec.quotas[0]);
  });

  it('throws every error at once, naming the queue', () => {
    const err = errorOf(() =>
      decodeQueue(queue({ weight: -1, quotas: [{ resource: 'gpu.phalanx.dev', nominal: -2 }] })),
    );
    expect(err.errors).toHaveLength(2);
    expect(err.message).toBe(
      'Queue team-a is invalid: spec.weight: must be a number greater than 0, got -1; spec.quotas[0].nominal: must be a non-negative integer, got -2',
    );
  });

  const name = fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,10}[a-z0-9])?$/);
  const count = fc.oneof(fc.integer({ min: 0, max: 64 }), fc.integer({ min: -3, max: -1 }));
  const quota = fc.record(
    {
      resource: fc.oneof(
        fc.constantFrom('gpu.phalanx.dev', 'partition.gpu.phalanx.dev', 'GPU'),
        fc
          .constantFrom('1g.10gb', '2g.20gb', '7g.80gb')
          .map((p) => `partition.gpu.phalanx.dev/${p}`),
      ),
      nominal: count,
      borrowingLimit: count,
      lendingLimit: count,
    },
    { requiredKeys: ['resource', 'nominal'] },
  );
  const spec = fc.record(
    {
      cohort: name,
      priority: fc.oneof(fc.integer({ min: -1000, max: 1000 }), fc.double()),
      weight: fc.oneof(
        fc.double({ min: -1, max: 10, noNaN: true }),
        fc.integer({ min: 1, max: 9 }),
      ),
      quotas: fc.array(quota, { maxLength: 4 }),
      preemption: fc.record(
        {
          reclaimWithinCohort: fc.constantFrom('Never', 'LowerPriority', 'Any', 'Sometimes'),
          withinQueue: fc.constantFrom('Never', 'LowerPriority'),
        },
        { requiredKeys: [] },
      ),
    },
    { requiredKeys: [] },
  );

  it('round-trips every accepted queue through defaulting unchanged on a second pass', () => {
    let accepted = 0;
    fc.assert(
      fc.property(name, spec, (n, s) => {
        const obj = queue(s, n);
        if (validateQueue(obj).length > 0) return;
        accepted++;
        const once = decodeQueue(obj);
        expect(validateQueue(once)).toEqual([]);
        const twice = decodeQueue(structuredClone(once));
        expect(twice).toEqual(once);
        expect(defaultQueue(once.spec)).toEqual(once.spec);
        // Defaulting only adds: every field the user set survives as set.
        expect(once.spec).toMatchObject(s);
      }),
      { numRuns: 400 },
    );
    expect(accepted).toBeGreaterThan(20);
  });
});

describe('mergeConditions', () => {
  it('keeps the transition time of unchanged conditions and stamps changed ones', () => {
    const previous = [
      {
        type: 'Active',
        status: 'True' as const,
        reason: 'Ready',
        message: 'm',
        lastTransitionTime: 't0',
      },
      {
        type: 'Borrowing',
        status: 'False' as const,
        reason: 'WithinNominalQuota',
        message: 'm',
        lastTransitionTime: 't0',
      },
    ];
    const next = mergeConditions(
      previous,
      [
        { type: 'Active', status: 'True', reason: 'Ready', message: 'new words' },
        { type: 'Borrowing', status: 'True', reason: 'BorrowingFromCohort', message: 'm' },
        { type: 'QuotaExhausted', status: 'False', reason: 'QuotaAvailable', message: 'm' },
      ],
      't1',
    );
    expect(next.map((c) => [c.type, c.lastTransitionTime, c.message])).toEqual([
      ['Active', 't0', 'new words'],
      ['Borrowing', 't1', 'm'],
      ['QuotaExhausted', 't1', 'm'],
    ]);
  });
});

/** Every schema node below the root, with its path. */
function* nodes(schema: JsonSchemaProps, path: string): Generator<[string, JsonSchemaProps]> {
  yield [path, schema];
  for (const [key, child] of Object.entries(schema.properties ?? {})) {
    yield* nodes(child, `${path}.${key}`);
  }
  if (schema.items !== undefined) yield* nodes(schema.items, `${path}[]`);
}

describe('the Queue CRD', () => {
  const crd = queueCrd();
  const version = crd.spec.versions[0];
  const root = version?.schema.openAPIV3Schema;

  it('is committed as rendered (run `node src/api/scheduling/v1alpha1/crd.ts` to update)', () => {
    expect(readFileSync(QUEUE_CRD_MANIFEST, 'utf8')).toBe(renderQueueCrdYaml());
    expect(renderQueueCrdYaml()).toMatch(
      /^# Generated by `node src\/api\/scheduling\/v1alpha1\/crd\.ts`/,
    );
  });

  it('names the cluster-scoped Queue kind with a status subresource and printer columns', () => {
    expect(crd.metadata.name).toBe('queues.scheduling.phalanx.dev');
    expect(crd.spec.scope).toBe('Cluster');
    expect(crd.spec.names).toMatchObject({ kind: 'Queue', plural: 'queues', shortNames: ['pq'] });
    expect(version?.subresources).toEqual({ status: {} });
    expect(version?.additionalPrinterColumns.map((c) => c.name)).toEqual([
      'Cohort',
      'Weight',
      'Priority',
      'Admitted',
      'Pending',
      'Age',
    ]);
  });

  it('is structural: every node has a type, and list-map keys are required fields', () => {
    expect(root).toBeDefined();
    for (const [path, node] of nodes(root ?? {}, '')) {
      expect(node.type, `type at ${path}`).toBeDefined();
      for (const key of node['x-kubernetes-list-map-keys'] ?? []) {
        expect(node.items?.required, `map key ${key} at ${path}`).toContain(key);
      }
    }
  });

  it('carries the same limits as validateQueue', () => {
    const quota = root?.properties?.spec?.properties?.quotas;
    expect(quota?.maxItems).toBe(MAX_QUOTAS);
    expect(quota?.items?.properties?.nominal).toMatchObject({
      minimum: 0,
      maximum: MAX_DEVICE_COUNT,
    });
    expect(quota?.items?.properties?.resource?.pattern).toBe(RESOURCE_PATTERN);
    expect(quota?.items?.['x-kubernetes-validations']?.[0]?.rule).toBe(
      '!has(self.lendingLimit) || self.lendingLimit <= self.nominal',
    );
    expect(root?.properties?.spec?.properties?.cohort?.pattern).toBe(SUBDOMAIN_PATTERN);
  });

  it('has patterns that agree with validateQueue on names and resources', () => {
    const subdomain = new RegExp(SUBDOMAIN_PATTERN);
    const resource = new RegExp(RESOURCE_PATTERN);
    const samples = [
      'gpu.phalanx.dev',
      'partition.gpu.phalanx.dev/1g.10gb',
      'partition.gpu.phalanx.dev/1g.10gb+me',
      'a',
      'team-a',
      'GPU',
      '-a',
      'a-',
      'a..b',
      'a/b/c',
      'a/',
      '/b',
      'a/B',
      'x.y/1g_10gb',
    ];
    for (const s of samples) {
      expect(subdomain.test(s), s).toBe(isSubdomain(s));
      expect(resource.test(s), s).toBe(isQuotaResource(s));
    }
  });
});
