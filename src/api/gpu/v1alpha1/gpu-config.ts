/**
 * `gpu.phalanx.dev/v1alpha1` `GpuConfig`: the opaque device configuration users put in a
 * ResourceClaim (`spec.devices.config[].opaque.parameters`) or a DeviceClass.
 *
 * One code path for the kubelet plugin and the admission webhook:
 * decode (strict schema, unknown fields rejected) → default → normalize → validate, which yields
 * the `SharingSettings` the GPU backend applies.
 *
 * ```yaml
 * apiVersion: gpu.phalanx.dev/v1alpha1
 * kind: GpuConfig
 * sharing:
 *   strategy: TimeSlicing          # Exclusive (default) | TimeSlicing | SpacePartitioning
 *   timeSlicing: { interval: Short }        # Default | Short | Medium | Long
 *   # spacePartitioning: { partitionCount: 4 }  # 1..16, only with SpacePartitioning
 * ```
 */
import { type Static, type TSchema, Type } from 'typebox';
import { Compile } from 'typebox/compile';
import type { SharingSettings } from '../../../devices/types.ts';
import { isRecord } from '../../json.ts';

export const GPU_CONFIG_GROUP = 'gpu.phalanx.dev';
export const GPU_CONFIG_API_VERSION = 'gpu.phalanx.dev/v1alpha1';
export const GPU_CONFIG_KIND = 'GpuConfig';

export const SHARING_STRATEGIES = ['Exclusive', 'TimeSlicing', 'SpacePartitioning'] as const;
export const TIME_SLICE_INTERVALS = ['Default', 'Short', 'Medium', 'Long'] as const;
export const MIN_PARTITION_COUNT = 1;
export const MAX_PARTITION_COUNT = 16;

export const TimeSlicingConfigSchema = Type.Object(
  {
    interval: Type.Optional(
      Type.Union([
        Type.Literal('Default'),
        Type.Literal('Short'),
        Type.Literal('Medium'),
        Type.Literal('Long'),
      ]),
    ),
  },
  { additionalProperties: false },
);

export const SpacePartitioningConfigSchema = Type.Object(
  {
    partitionCount: Type.Optional(
      Type.Integer({ minimum: MIN_PARTITION_COUNT, maximum: MAX_PARTITION_COUNT }),
    ),
  },
  { additionalProperties: false },
);

export const SharingConfigSchema = Type.Object(
  {
    strategy: Type.Union([
      Type.Literal('Exclusive'),
      Type.Literal('TimeSlicing'),
      Type.Literal('SpacePartitioning'),
    ]),
    timeSlicing: Type.Optional(TimeSlicingConfigSchema),
    spacePartitioning: Type.Optional(SpacePartitioningConfigSchema),
  },
  { additionalProperties: false },
);

export const GpuConfigSchema = Type.Object(
  {
    apiVersion: Type.Literal(GPU_CONFIG_API_VERSION),
    kind: Type.Literal(GPU_CONFIG_KIND),
    sharing: Type.Optional(SharingConfigSchema),
  },
  { additionalProperties: false },
);

export type SharingStrategy = (typeof SHARING_STRATEGIES)[number];
export type TimeSliceInterval = (typeof TIME_SLICE_INTERVALS)[number];
export type GpuConfig = Static<typeof GpuConfigSchema>;
export type SharingConfig = Static<typeof SharingConfigSchema>;

/** A GpuConfig that cannot be used. `path` is the offending field (dotted), when known. */
export class GpuConfigError extends Error {
  readonly path: string | undefined;
  constructor(message: string, path?: string) {
    super(message);
    this.name = 'GpuConfigError';
    this.path = path;
  }
}

const validator = Compile(GpuConfigSchema);

function fail(message: string, path?: string): never {
  throw new GpuConfigError(`${GPU_CONFIG_KIND}: ${message}`, path);
}

/**
 * Checks that opaque parameters are addressed to this API (`apiVersion`/`kind`) before any field
 * is looked at, so a config meant for another driver version gets a clear message.
 */
export function checkApiVersionKind(parameters: unknown): void {
  if (!isRecord(parameters)) {
    fail(
      `parameters must be an object with apiVersion ${GPU_CONFIG_API_VERSION} and kind ${GPU_CONFIG_KIND}`,
    );
  }
  const { apiVersion, kind } = parameters;
  if (apiVersion !== GPU_CONFIG_API_VERSION) {
    const got =
      apiVersion === undefined ? 'no apiVersion' : `apiVersion ${JSON.stringify(apiVersion)}`;
    fail(`${got} is not supported; set apiVersion to ${GPU_CONFIG_API_VERSION}`, 'apiVersion');
  }
  if (kind !== GPU_CONFIG_KIND) {
    const got = kind === undefined ? 'no kind' : `kind ${JSON.stringify(kind)}`;
    fail(
      `${got} is not supported by ${GPU_CONFIG_API_VERSION}; set kind to ${GPU_CONFIG_KIND}`,
      'kind',
    );
  }
}

/** Decodes opaque parameters strictly: wrong apiVersion/kind, unknown fields and bad values throw. */
export function decodeGpuConfig(parameters: unknown): GpuConfig {
  checkApiVersionKind(parameters);
  if (validator.Check(parameters)) return parameters;
  throw describeSchemaErrors(parameters);
}

/** The configuration a device gets when no GpuConfig applies to it. */
export function defaultGpuConfig(): GpuConfig {
  return {
    apiVersion: GPU_CONFIG_API_VERSION,
    kind: GPU_CONFIG_KIND,
    sharing: { strategy: 'Exclusive' },
  };
}

/**
 * Fills in defaults: no `sharing` means Exclusive; TimeSlicing without an interval gets `Default`;
 * SpacePartitioning without a count gets 1. Exclusive drops the other blocks (they have no effect).
 */
export function normalizeGpuConfig(config: GpuConfig): GpuConfig {
  const sharing = config.sharing ?? { strategy: 'Exclusive' };
  const base = { apiVersion: config.apiVersion, kind: config.kind };
  switch (sharing.strategy) {
    case 'Exclusive':
      return { ...base, sharing: { strategy: 'Exclusive' } };
    case 'TimeSlicing':
      return {
        ...base,
        sharing: {
          ...sharing,
          timeSlicing: { interval: sharing.timeSlicing?.interval ?? 'Default' },
        },
      };
    case 'SpacePartitioning':
      return {
        ...base,
        sharing: {
          ...sharing,
          spacePartitioning: {
            partitionCount: sharing.spacePartitioning?.partitionCount ?? MIN_PARTITION_COUNT,
          },
        },
      };
  }
}

/** Validates a normalized config and returns the sharing settings it asks for. */
export function validateGpuConfig(config: GpuConfig): SharingSettings {
  const sharing = config.sharing ?? { strategy: 'Exclusive' };
  switch (sharing.strategy) {
    case 'Exclusive':
      return { strategy: 'Exclusive' };
    case 'TimeSlicing':
      if (sharing.spacePartitioning !== undefined)
        fail(
          'sharing.spacePartitioning must not be set with strategy TimeSlicing; remove it or set strategy to SpacePartitioning',
          'sharing.spacePartitioning',
        );
      return { strategy: 'TimeSlicing', interval: sharing.timeSlicing?.interval ?? 'Default' };
    case 'SpacePartitioning': {
      if (sharing.timeSlicing !== undefined)
        fail(
          'sharing.timeSlicing must not be set with strategy SpacePartitioning; remove it or set strategy to TimeSlicing',
          'sharing.timeSlicing',
        );
      const count = sharing.spacePartitioning?.partitionCount ?? MIN_PARTITION_COUNT;
      checkPartitionCount(count);
      return { strategy: 'SpacePartitioning', partitionCount: count };
    }
  }
}

function checkPartitionCount(count: number): void {
  const path = 'sharing.spacePartitioning.partitionCount';
  if (!Number.isInteger(count)) fail(`${path} must be an integer, got ${count}`, path);
  if (count < MIN_PARTITION_COUNT || count > MAX_PARTITION_COUNT)
    fail(
      `${path} must be between ${MIN_PARTITION_COUNT} and ${MAX_PARTITION_COUNT}, got ${count}`,
      path,
    );
}

/** Decode → normalize → validate in one step (what the driver and the webhook run). */
export function sharingFromParameters(parameters: unknown): SharingSettings {
  return validateGpuConfig(normalizeGpuConfig(decodeGpuConfig(parameters)));
}

/**
 * The sharing settings for one device, given the configs that apply to it in precedence order
 * (class configs before claim configs, each in listed order): the last one wins as a whole.
 * No config means the default (Exclusive).
 */
export function resolveSharing(configs: readonly GpuConfig[]): SharingSettings {
  const last = configs.at(-1) ?? defaultGpuConfig();
  return validateGpuConfig(normalizeGpuConfig(last));
}

// ---- schema error messages -------------------------------------------------------------------

interface SchemaError {
  readonly keyword: string;
  readonly schemaPath: string;
  readonly instancePath: string;
  readonly params: object;
}

/** `/sharing/timeSlicing` → `sharing.timeSlicing`. */
function dotted(pointer: string): string {
  return pointer
    .split('/')
    .slice(1)
    .map((part) => part.replaceAll('~1', '/').replaceAll('~0', '~'))
    .join('.');
}

function at(root: unknown, pointer: string): unknown {
  let node: unknown = root;
  for (const part of pointer.split('/').slice(1)) {
    const key = part.replaceAll('~1', '/').replaceAll('~0', '~');
    node = isRecord(node) ? node[key] : undefined;
  }
  return node;
}

function schemaAt(schemaPath: string): TSchema | undefined {
  const node = at(GpuConfigSchema, schemaPath.replace(/^#/, ''));
  return isRecord(node) ? (node as TSchema) : undefined;
}

/** A failed union of string literals (our enums): reported as "must be one of". */
const isEnumError = (e: SchemaError): boolean =>
  e.keyword === 'anyOf' ||
  ((e.keyword === 'const' || e.keyword === 'type') && e.schemaPath.includes('/anyOf/'));

const join = (path: string, key: string) => (path === '' ? key : `${path}.${key}`);

function describeOne(error: SchemaError, value: unknown, all: readonly SchemaError[]): string {
  const path = dotted(error.instancePath);
  const got = JSON.stringify(at(value, error.instancePath));
  const params = error.params as Record<string, unknown>;
  if (isEnumError(error)) {
    const allowed = all
      .filter((e) => e.keyword === 'const' && e.instancePath === error.instancePath)
      .map((e) => String((e.params as { allowedValue?: unknown }).allowedValue));
    return `${path} must be one of ${allowed.join(', ')}, got ${got}`;
  }
  switch (error.keyword) {
    case 'additionalProperties': {
      const names = (params.additionalProperties as string[] | undefined) ?? [];
      const fields = names.map((n) => join(path, n)).join(', ');
      return `unknown field ${fields}; remove it (check the spelling against ${GPU_CONFIG_API_VERSION} ${GPU_CONFIG_KIND})`;
    }
    case 'required': {
      const names = (params.requiredProperties as string[] | undefined) ?? [];
      return `${names.map((n) => join(path, n)).join(', ')} is required`;
    }
    case 'minimum':
    case 'maximum': {
      const schema = schemaAt(error.schemaPath) as
        | { minimum?: number; maximum?: number }
        | undefined;
      return `${path} must be between ${schema?.minimum} and ${schema?.maximum}, got ${got}`;
    }
    case 'type':
      return `${path} must be of type ${String(params.type)}, got ${got}`;
    default:
      return `${path === '' ? 'parameters' : path} is invalid (${error.keyword}), got ${got}`;
  }
}

/** Picks the most useful schema error and turns it into one sentence. */
function describeSchemaErrors(value: unknown): GpuConfigError {
  const errors: SchemaError[] = validator.Errors(value);
  const rank = (e: SchemaError): number => {
    if (e.keyword === 'additionalProperties') return 0;
    if (e.keyword === 'required') return 1;
    if (isEnumError(e)) return 2;
    if (e.keyword === 'boolean') return 9;
    return 3;
  };
  const best = [...errors].sort((a, b) => rank(a) - rank(b))[0];
  if (best === undefined) return new GpuConfigError(`${GPU_CONFIG_KIND}: parameters are invalid`);
  const path = dotted(best.instancePath);
  return new GpuConfigError(
    `${GPU_CONFIG_KIND}: ${describeOne(best, value, errors)}`,
    path === '' ? undefined : path,
  );
}

/** The GpuConfig that yields a sharing setting: the inverse of {@link sharingFromParameters}. */
export function encodeGpuConfig(sharing: SharingSettings): GpuConfig {
  const base = { apiVersion: GPU_CONFIG_API_VERSION, kind: GPU_CONFIG_KIND } as const;
  switch (sharing.strategy) {
    case 'Exclusive':
      return { ...base, sharing: { strategy: 'Exclusive' } };
    case 'TimeSlicing':
      return {
        ...base,
        sharing: { strategy: 'TimeSlicing', timeSlicing: { interval: sharing.interval } },
      };
    case 'SpacePartitioning':
      return {
        ...base,
        sharing: {
          strategy: 'SpacePartitioning',
          spacePartitioning: { partitionCount: sharing.partitionCount },
        },
      };
  }
}
