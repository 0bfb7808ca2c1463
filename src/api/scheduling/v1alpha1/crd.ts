/**
 * The Queue CustomResourceDefinition (`apiextensions.k8s.io/v1`), built from the same limits as
 * `validateQueue`, so the API server rejects what the webhook rejects wherever OpenAPI (and CEL)
 * can say it. Run as a script it writes deploy/manifests/15-queue-crd.yaml; a unit test fails
 * when the committed file is stale.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import {
  DEFAULT_PRIORITY,
  DEFAULT_RECLAIM_WITHIN_COHORT,
  DEFAULT_WEIGHT,
  DEFAULT_WITHIN_QUEUE,
  MAX_DEVICE_COUNT,
  MAX_PRIORITY,
  MAX_QUOTAS,
  MAX_RESOURCE_LENGTH,
  MAX_SUBDOMAIN_LENGTH,
  MIN_PRIORITY,
  QUEUE_GROUP,
  QUEUE_KIND,
  QUEUE_PLURAL,
  QUEUE_SHORT_NAME,
  QUEUE_SINGULAR,
  QUEUE_VERSION,
  RECLAIM_WITHIN_COHORT_POLICIES,
  RESOURCE_PATTERN,
  SUBDOMAIN_PATTERN,
  WITHIN_QUEUE_POLICIES,
} from './queue.ts';

export const QUEUE_CRD_MANIFEST = join(
  import.meta.dirname,
  '..',
  '..',
  '..',
  '..',
  'deploy',
  'manifests',
  '15-queue-crd.yaml',
);

const GENERATE_COMMAND = 'node src/api/scheduling/v1alpha1/crd.ts';

/** The parts of apiextensions.k8s.io/v1 JSONSchemaProps this CRD uses. */
export interface JsonSchemaProps {
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  description?: string;
  format?: string;
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: boolean;
  enum?: readonly (string | number)[];
  default?: unknown;
  items?: JsonSchemaProps;
  maxItems?: number;
  properties?: Record<string, JsonSchemaProps>;
  required?: readonly string[];
  'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  'x-kubernetes-list-map-keys'?: readonly string[];
  'x-kubernetes-validations'?: readonly {
    rule: string;
    message: string;
    fieldPath?: string;
    reason?: string;
  }[];
}

export interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  jsonPath: string;
  description?: string;
  priority?: number;
}

export interface CustomResourceDefinition {
  apiVersion: 'apiextensions.k8s.io/v1';
  kind: 'CustomResourceDefinition';
  metadata: { name: string; labels?: Record<string, string> };
  spec: {
    group: string;
    scope: 'Cluster' | 'Namespaced';
    names: {
      kind: string;
      listKind: string;
      plural: string;
      singular: string;
      shortNames: string[];
      categories?: string[];
    };
    versions: {
      name: string;
      served: boolean;
      storage: boolean;
      schema: { openAPIV3Schema: JsonSchemaProps };
      subresources: { status: Record<string, never> };
      additionalPrinterColumns: PrinterColumn[];
    }[];
  };
}

const deviceCount = (description: string): JsonSchemaProps => ({
  type: 'integer',
  format: 'int32',
  minimum: 0,
  maximum: MAX_DEVICE_COUNT,
  description,
});

function quotaSchema(): JsonSchemaProps {
  return {
    type: 'object',
    description: 'Device quota for one resource.',
    required: ['resource', 'nominal'],
    properties: {
      resource: {
        type: 'string',
        maxLength: MAX_RESOURCE_LENGTH,
        pattern: RESOURCE_PATTERN,
        description:
          'A device class name (gpu.phalanx.dev, partition.gpu.phalanx.dev) or <deviceClass>/<partition profile> (partition.gpu.phalanx.dev/1g.10gb).',
      },
      nominal: deviceCount('Devices guaranteed to this queue.'),
      borrowingLimit: deviceCount(
        'Most devices this queue may borrow above nominal from its cohort. Unset: all the cohort lends.',
      ),
      lendingLimit: deviceCount(
        'Most of its unused nominal this queue lends to its cohort. Unset: all of it.',
      ),
    },
    'x-kubernetes-validations': [
      {
        rule: '!has(self.lendingLimit) || self.lendingLimit <= self.nominal',
        message: 'lendingLimit must not exceed nominal; a queue can only lend its own quota',
        fieldPath: '.lendingLimit',
        reason: 'FieldValueInvalid',
      },
    ],
  };
}

function specSchema(): JsonSchemaProps {
  return {
    type: 'object',
    default: {},
    properties: {
      cohort: {
        type: 'string',
        maxLength: MAX_SUBDOMAIN_LENGTH,
        pattern: SUBDOMAIN_PATTERN,
        description: 'Queues in one cohort lend unused nominal quota to each other.',
      },
      priority: {
        type: 'integer',
        format: 'int32',
        minimum: MIN_PRIORITY,
        maximum: MAX_PRIORITY,
        default: DEFAULT_PRIORITY,
        description: 'Gangs of higher-priority queues are served first.',
      },
      weight: {
        type: 'number',
        minimum: 0,
        exclusiveMinimum: true,
        default: DEFAULT_WEIGHT,
        description: 'Fair-share weight: a queue with weight 2 gets twice the share of weight 1.',
      },
      quotas: {
        type: 'array',
        maxItems: MAX_QUOTAS,
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['resource'],
        items: quotaSchema(),
      },
      preemption: {
        type: 'object',
        default: {},
        properties: {
          reclaimWithinCohort: {
            type: 'string',
            enum: RECLAIM_WITHIN_COHORT_POLICIES,
            default: DEFAULT_RECLAIM_WITHIN_COHORT,
            description:
              'Which gangs of borrowing queues in the cohort may be preempted to reclaim nominal quota.',
          },
          withinQueue: {
            type: 'string',
            enum: WITHIN_QUEUE_POLICIES,
            default: DEFAULT_WITHIN_QUEUE,
            description: 'Which gangs of this queue a pending gang may preempt.',
          },
        },
      },
    },
  };
}

function conditionsSchema(): JsonSchemaProps {
  return {
    type: 'array',
    'x-kubernetes-list-type': 'map',
    'x-kubernetes-list-map-keys': ['type'],
    items: {
      type: 'object',
      required: ['type', 'status', 'lastTransitionTime', 'reason', 'message'],
      properties: {
        type: {
          type: 'string',
          maxLength: 316,
          pattern:
            '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$',
        },
        status: { type: 'string', enum: ['True', 'False', 'Unknown'] },
        observedGeneration: { type: 'integer', format: 'int64', minimum: 0 },
        lastTransitionTime: { type: 'string', format: 'date-time' },
        reason: {
          type: 'string',
          minLength: 1,
          maxLength: 1024,
          pattern: '^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$',
        },
        message: { type: 'string', maxLength: 32768 },
      },
    },
  };
}

function statusSchema(): JsonSchemaProps {
  const nonNegative: JsonSchemaProps = { type: 'integer', format: 'int32', minimum: 0 };
  return {
    type: 'object',
    properties: {
      usage: {
        type: 'array',
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['resource'],
        items: {
          type: 'object',
          required: ['resource', 'admitted', 'borrowed'],
          properties: {
            resource: { type: 'string', maxLength: MAX_RESOURCE_LENGTH },
            admitted: { ...nonNegative, description: 'Devices held by admitted gangs.' },
            borrowed: { ...nonNegative, description: 'The part of admitted above nominal.' },
          },
        },
      },
      admittedGangs: nonNegative,
      pendingGangs: nonNegative,
      fairShare: {
        type: 'number',
        minimum: 0,
        description: 'Dominant share of quota in use, divided by weight.',
      },
      conditions: conditionsSchema(),
    },
  };
}

function printerColumns(): PrinterColumn[] {
  return [
    { name: 'Cohort', type: 'string', jsonPath: '.spec.cohort' },
    { name: 'Weight', type: 'number', jsonPath: '.spec.weight' },
    { name: 'Priority', type: 'integer', jsonPath: '.spec.priority' },
    { name: 'Admitted', type: 'integer', jsonPath: '.status.admittedGangs' },
    { name: 'Pending', type: 'integer', jsonPath: '.status.pendingGangs' },
    { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
  ];
}

/** The Queue CRD object. */
export function queueCrd(): CustomResourceDefinition {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${QUEUE_PLURAL}.${QUEUE_GROUP}`,
      labels: { 'app.kubernetes.io/part-of': 'phalanx' },
    },
    spec: {
      group: QUEUE_GROUP,
      scope: 'Cluster',
      names: {
        kind: QUEUE_KIND,
        listKind: `${QUEUE_KIND}List`,
        plural: QUEUE_PLURAL,
        singular: QUEUE_SINGULAR,
        shortNames: [QUEUE_SHORT_NAME],
      },
      versions: [
        {
          name: QUEUE_VERSION,
          served: true,
          storage: true,
          schema: {
            openAPIV3Schema: {
              type: 'object',
              description:
                'A cluster-scoped quota of GPU devices that gangs are admitted against, in queue order.',
              properties: {
                apiVersion: { type: 'string' },
                kind: { type: 'string' },
                metadata: { type: 'object' },
                spec: specSchema(),
                status: statusSchema(),
              },
            },
          },
          subresources: { status: {} },
          additionalPrinterColumns: printerColumns(),
        },
      ],
    },
  };
}

/** The manifest file's content: a header comment and the CRD as YAML. */
export function renderQueueCrdYaml(): string {
  const header = [
    `# Generated by \`${GENERATE_COMMAND}\` from src/api/scheduling/v1alpha1/{queue,crd}.ts;`,
    '# do not edit by hand. The Queue API: cluster-scoped GPU device quotas that gangs are',
    '# admitted against, with cohort lending and borrowing and DRF fair share.',
  ].join('\n');
  return `${header}\n${stringify(queueCrd(), { lineWidth: 0, aliasDuplicateObjects: false })}`;
}

if (import.meta.main) {
  writeFileSync(QUEUE_CRD_MANIFEST, renderQueueCrdYaml());
  process.stdout.write(`wrote ${QUEUE_CRD_MANIFEST}\n`);
}
