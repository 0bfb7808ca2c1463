/**
 * AdmissionReview `admission.k8s.io/v1` as the API server sends and expects it, the response
 * builders the webhook routes answer with, and the small JSONPatch (RFC 6902) toolkit a mutating
 * webhook needs: build, encode as the base64 the review carries, decode, apply (tests and checks).
 *
 * The review is parsed by hand rather than with a schema so that a malformed one gets a sentence
 * naming the field to fix, and nothing here can throw on odd input.
 */

import { isDeepStrictEqual } from 'node:util';
import { isRecord } from '../api/json.ts';

export const ADMISSION_API_VERSION = 'admission.k8s.io/v1';
export const ADMISSION_REVIEW_KIND = 'AdmissionReview';

export interface GroupVersionKind {
  readonly group: string;
  readonly version: string;
  readonly kind: string;
}

export interface GroupVersionResource {
  readonly group: string;
  readonly version: string;
  readonly resource: string;
}

export const OPERATIONS = ['CREATE', 'UPDATE', 'DELETE', 'CONNECT'] as const;
export type Operation = (typeof OPERATIONS)[number];

export interface UserInfo {
  readonly username?: string;
  readonly uid?: string;
  readonly groups?: readonly string[];
  readonly extra?: Readonly<Record<string, readonly string[]>>;
}

/** The request half of an AdmissionReview (the fields Phalanx reads, plus what it echoes). */
export interface AdmissionRequest {
  readonly uid: string;
  readonly kind: GroupVersionKind;
  readonly resource?: GroupVersionResource;
  readonly subResource?: string;
  readonly name?: string;
  readonly namespace?: string;
  readonly operation: Operation;
  readonly userInfo?: UserInfo;
  readonly object?: unknown;
  readonly oldObject?: unknown;
  readonly dryRun?: boolean;
}

export interface AdmissionStatus {
  readonly code?: number;
  readonly message?: string;
  readonly reason?: string;
}

export const PATCH_TYPE_JSON_PATCH = 'JSONPatch';

/** The response half: `uid` echoes the request's. */
export interface AdmissionResponse {
  readonly uid: string;
  readonly allowed: boolean;
  readonly status?: AdmissionStatus;
  /** Base64 of a JSONPatch document. */
  readonly patch?: string;
  readonly patchType?: typeof PATCH_TYPE_JSON_PATCH;
  readonly warnings?: readonly string[];
}

export interface AdmissionReviewResponse {
  readonly apiVersion: typeof ADMISSION_API_VERSION;
  readonly kind: typeof ADMISSION_REVIEW_KIND;
  readonly response: AdmissionResponse;
}

/** HTTP-like code a denial carries: the object is invalid and must be changed. */
export const DENIED_CODE = 422;
export const DENIED_REASON = 'Invalid';

// ---- parsing --------------------------------------------------------------------------------

export type ParsedReview =
  | { readonly ok: true; readonly request: AdmissionRequest }
  | { readonly ok: false; readonly message: string };

const NOT_A_REVIEW = 'request body is not an AdmissionReview v1';

function invalid(detail: string): ParsedReview {
  return { ok: false, message: `${NOT_A_REVIEW}: ${detail}` };
}

function describe(value: unknown): string {
  if (value === undefined) return 'none';
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function parseKind(value: unknown): GroupVersionKind | string {
  if (!isRecord(value))
    return `request.kind must be an object {group, version, kind}, got ${describe(value)}`;
  const { group, version, kind } = value;
  if (typeof kind !== 'string' || kind === '')
    return 'request.kind.kind must be a non-empty string';
  if (typeof version !== 'string') return 'request.kind.version must be a string';
  if (group !== undefined && typeof group !== 'string')
    return 'request.kind.group must be a string';
  return { group: group ?? '', version, kind };
}

function parseResource(value: unknown): GroupVersionResource | undefined {
  if (!isRecord(value)) return undefined;
  const { group, version, resource } = value;
  if (typeof resource !== 'string') return undefined;
  return {
    group: typeof group === 'string' ? group : '',
    version: typeof version === 'string' ? version : '',
    resource,
  };
}

const optionalString = (value: unknown): string | undefined =>
  typeof value === 'string' && value !== '' ? value : undefined;

function checkEnvelope(body: unknown): Record<string, unknown> | string {
  if (!isRecord(body)) return `the body must be a JSON object, got ${describe(body)}`;
  if (body.apiVersion !== ADMISSION_API_VERSION)
    return `apiVersion must be ${ADMISSION_API_VERSION}, got ${describe(body.apiVersion)}; set admissionReviewVersions: ["v1"] in the webhook configuration`;
  if (body.kind !== ADMISSION_REVIEW_KIND)
    return `kind must be ${ADMISSION_REVIEW_KIND}, got ${describe(body.kind)}`;
  if (!isRecord(body.request)) return 'it has no request object';
  return body.request;
}

/** Reads an AdmissionReview body; never throws. */
export function parseAdmissionReview(body: unknown): ParsedReview {
  const request = checkEnvelope(body);
  if (typeof request === 'string') return invalid(request);
  const { uid, operation } = request;
  if (typeof uid !== 'string' || uid === '')
    return invalid('request.uid must be a non-empty string');
  const kind = parseKind(request.kind);
  if (typeof kind === 'string') return invalid(kind);
  if (!(OPERATIONS as readonly unknown[]).includes(operation))
    return invalid(
      `request.operation must be one of ${OPERATIONS.join(', ')}, got ${describe(operation)}`,
    );
  return { ok: true, request: buildRequest(request, uid, kind, operation as Operation) };
}

function buildRequest(
  raw: Record<string, unknown>,
  uid: string,
  kind: GroupVersionKind,
  operation: Operation,
): AdmissionRequest {
  const resource = parseResource(raw.resource);
  const subResource = optionalString(raw.subResource);
  const name = optionalString(raw.name);
  const namespace = optionalString(raw.namespace);
  return {
    uid,
    kind,
    operation,
    ...(resource === undefined ? {} : { resource }),
    ...(subResource === undefined ? {} : { subResource }),
    ...(name === undefined ? {} : { name }),
    ...(namespace === undefined ? {} : { namespace }),
    ...(isRecord(raw.userInfo) ? { userInfo: raw.userInfo as UserInfo } : {}),
    ...(raw.object === undefined || raw.object === null ? {} : { object: raw.object }),
    ...(raw.oldObject === undefined || raw.oldObject === null ? {} : { oldObject: raw.oldObject }),
    ...(raw.dryRun === true ? { dryRun: true } : {}),
  };
}

// ---- response builders ----------------------------------------------------------------------

/**
 * Warnings reach kubectl users as `Warning: ...` lines. The API server asks for single lines of
 * about 120 characters and may truncate ones over 256, so whitespace is collapsed and the length
 * bounded here, where the cut is visible.
 */
export const MAX_WARNING_LENGTH = 256;

export function cleanWarning(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > MAX_WARNING_LENGTH ? `${line.slice(0, MAX_WARNING_LENGTH - 3)}...` : line;
}

function withWarnings(warnings: readonly string[] | undefined): { warnings?: string[] } {
  const cleaned = (warnings ?? []).map(cleanWarning).filter((w) => w !== '');
  return cleaned.length === 0 ? {} : { warnings: cleaned };
}

/** Admits the object unchanged. */
export function allow(uid: string, warnings?: readonly string[]): AdmissionResponse {
  return { uid, allowed: true, ...withWarnings(warnings) };
}

/** Rejects the object; `message` is what the user reads after "denied the request: ". */
export function deny(
  uid: string,
  message: string,
  code: number = DENIED_CODE,
  warnings?: readonly string[],
): AdmissionResponse {
  return {
    uid,
    allowed: false,
    status: { code, reason: code === DENIED_CODE ? DENIED_REASON : 'Forbidden', message },
    ...withWarnings(warnings),
  };
}

/** Admits the object with a JSONPatch applied (no patch field at all when `ops` is empty). */
export function allowWithPatch(
  uid: string,
  ops: readonly JsonPatchOp[],
  warnings?: readonly string[],
): AdmissionResponse {
  if (ops.length === 0) return allow(uid, warnings);
  return {
    uid,
    allowed: true,
    patchType: PATCH_TYPE_JSON_PATCH,
    patch: encodePatch(ops),
    ...withWarnings(warnings),
  };
}

/** Wraps a response in the AdmissionReview envelope the API server expects back. */
export function reviewResponse(response: AdmissionResponse): AdmissionReviewResponse {
  return { apiVersion: ADMISSION_API_VERSION, kind: ADMISSION_REVIEW_KIND, response };
}

// ---- JSONPatch --------------------------------------------------------------------------------

export type JsonPatchOp =
  | { readonly op: 'add' | 'replace' | 'test'; readonly path: string; readonly value: unknown }
  | { readonly op: 'remove'; readonly path: string };

/** Escapes one JSON Pointer segment (RFC 6901): `~` → `~0`, `/` → `~1`. */
export function escapePointerSegment(segment: string): string {
  return segment.replaceAll('~', '~0').replaceAll('/', '~1');
}

/** A JSON Pointer from raw segments, e.g. `['metadata', 'labels', 'a/b']` → `/metadata/labels/a~1b`. */
export function jsonPointer(segments: readonly string[]): string {
  return segments.map((s) => `/${escapePointerSegment(s)}`).join('');
}

export function encodePatch(ops: readonly JsonPatchOp[]): string {
  return Buffer.from(JSON.stringify(ops), 'utf8').toString('base64');
}

export function decodePatch(base64: string): JsonPatchOp[] {
  const parsed: unknown = JSON.parse(Buffer.from(base64, 'base64').toString('utf8'));
  if (!Array.isArray(parsed)) throw new Error('a JSONPatch document must be an array');
  return parsed as JsonPatchOp[];
}

function parsePointer(path: string): string[] {
  if (path === '') return [];
  if (!path.startsWith('/')) throw new Error(`JSON Pointer "${path}" must start with "/"`);
  return path
    .slice(1)
    .split('/')
    .map((s) => s.replaceAll('~1', '/').replaceAll('~0', '~'));
}

type Container = Record<string, unknown> | unknown[];

function arrayIndex(array: readonly unknown[], segment: string, forInsert: boolean): number {
  if (forInsert && segment === '-') return array.length;
  if (!/^(0|[1-9]\d*)$/.test(segment)) throw new Error(`"${segment}" is not an array index`);
  const index = Number(segment);
  const max = forInsert ? array.length : array.length - 1;
  if (index > max) throw new Error(`array index ${index} is out of bounds`);
  return index;
}

function child(node: unknown, segment: string): unknown {
  if (Array.isArray(node)) return node[arrayIndex(node, segment, false)];
  if (isRecord(node) && Object.hasOwn(node, segment)) return node[segment];
  throw new Error(`path segment "${segment}" does not exist`);
}

function parentOf(doc: unknown, segments: readonly string[]): Container {
  let node = doc;
  for (const segment of segments.slice(0, -1)) node = child(node, segment);
  if (Array.isArray(node) || isRecord(node)) return node;
  throw new Error('the parent of the target is not an object or array');
}

function applyAdd(parent: Container, key: string, value: unknown): void {
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, key, true), 0, value);
  else parent[key] = value;
}

function applyRemove(parent: Container, key: string): unknown {
  if (Array.isArray(parent)) return parent.splice(arrayIndex(parent, key, false), 1)[0];
  if (!Object.hasOwn(parent, key)) throw new Error(`path segment "${key}" does not exist`);
  const old = parent[key];
  delete parent[key];
  return old;
}

function applyOne(doc: unknown, op: JsonPatchOp): unknown {
  const segments = parsePointer(op.path);
  const key = segments.at(-1);
  if (key === undefined) {
    if (op.op === 'remove') return undefined;
    if (op.op === 'test') return checkEqual(doc, op.value, op.path, doc);
    return structuredClone(op.value);
  }
  const parent = parentOf(doc, segments);
  switch (op.op) {
    case 'add':
      applyAdd(parent, key, structuredClone(op.value));
      break;
    case 'remove':
      applyRemove(parent, key);
      break;
    case 'replace':
      applyRemove(parent, key);
      applyAdd(parent, key, structuredClone(op.value));
      break;
    case 'test':
      checkEqual(child(parent, key), op.value, op.path, doc);
      break;
  }
  return doc;
}

function checkEqual(actual: unknown, expected: unknown, path: string, doc: unknown): unknown {
  if (!isDeepStrictEqual(actual, expected))
    throw new Error(`test at "${path}" failed: ${describe(actual)} is not ${describe(expected)}`);
  return doc;
}

/** Applies a JSONPatch to a copy of `doc`; throws on the first operation that does not apply. */
export function applyJsonPatch<T>(doc: T, ops: readonly JsonPatchOp[]): unknown {
  let result: unknown = structuredClone(doc);
  for (const op of ops) result = applyOne(result, op);
  return result;
}
