/**
 * A minimal protobuf wire-format encoder/decoder written from the encoding spec
 * (https://protobuf.dev/programming-guides/encoding/), independent of protobufjs, so tests can
 * check the bytes the plugin sends against field numbers alone.
 *
 * - varint: 7 bits per byte, least significant group first, high bit = "more bytes follow";
 *   negative int64 values are sent as their 64-bit two's complement (10 bytes).
 * - tag: varint of (field_number << 3) | wire_type.
 * - wire types: 0 VARINT, 1 I64, 2 LEN (strings, bytes, embedded messages, packed), 5 I32.
 * - map<K, V>: a repeated embedded message { K key = 1; V value = 2; }.
 */

export const WIRE = { VARINT: 0, I64: 1, LEN: 2, I32: 5 } as const;
export type WireType = (typeof WIRE)[keyof typeof WIRE];

const MAX_FIELD = 2 ** 29 - 1;
const U64 = (1n << 64n) - 1n;

// ---------------------------------------------------------------------------------------------
// Encoding

export function encodeVarint(value: number | bigint): Buffer {
  let v = BigInt(value);
  if (v < 0n) v &= U64; // two's complement as uint64
  if (v > U64) throw new Error(`varint ${value} does not fit in 64 bits`);
  const bytes: number[] = [];
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v !== 0n) byte |= 0x80;
    bytes.push(byte);
  } while (v !== 0n);
  return Buffer.from(bytes);
}

export function encodeTag(field: number, wireType: WireType): Buffer {
  if (!Number.isInteger(field) || field < 1 || field > MAX_FIELD)
    throw new Error(`invalid field number ${field}`);
  return encodeVarint((BigInt(field) << 3n) | BigInt(wireType));
}

/** A VARINT field (int32/int64/uint/bool/enum). */
export function varintField(field: number, value: number | bigint | boolean): Buffer {
  const v = typeof value === 'boolean' ? (value ? 1 : 0) : value;
  return Buffer.concat([encodeTag(field, WIRE.VARINT), encodeVarint(v)]);
}

/** A LEN field with raw bytes. */
export function bytesField(field: number, bytes: Uint8Array): Buffer {
  return Buffer.concat([encodeTag(field, WIRE.LEN), encodeVarint(bytes.length), bytes]);
}

/** A string field (UTF-8). */
export function stringField(field: number, value: string): Buffer {
  return bytesField(field, Buffer.from(value, 'utf8'));
}

/** An embedded message field whose body is the concatenation of `parts`. */
export function messageField(field: number, ...parts: readonly Uint8Array[]): Buffer {
  return bytesField(field, Buffer.concat(parts));
}

/** A message body: its encoded fields, in order. */
export function message(...parts: readonly Uint8Array[]): Buffer {
  return Buffer.concat(parts);
}

/** One entry of a map<string, Message> field. */
export function stringMessageMapEntry(
  field: number,
  key: string,
  ...valueParts: readonly Uint8Array[]
): Buffer {
  return messageField(field, stringField(1, key), messageField(2, ...valueParts));
}

// ---------------------------------------------------------------------------------------------
// Decoding

export type WireField =
  | { readonly field: number; readonly wireType: 0; readonly value: bigint }
  | { readonly field: number; readonly wireType: 1 | 2 | 5; readonly value: Buffer };

export function decodeVarint(buf: Uint8Array, offset: number): { value: bigint; next: number } {
  let value = 0n;
  let shift = 0n;
  for (let i = offset; i < buf.length && i < offset + 10; i++) {
    const byte = buf[i] ?? 0;
    value |= BigInt(byte & 0x7f) << shift;
    if ((byte & 0x80) === 0) return { value: value & U64, next: i + 1 };
    shift += 7n;
  }
  throw new Error(`truncated or overlong varint at offset ${offset}`);
}

function take(buf: Buffer, offset: number, length: number): Buffer {
  if (offset + length > buf.length)
    throw new Error(`field of ${length} bytes at offset ${offset} runs past the end`);
  return buf.subarray(offset, offset + length);
}

function readField(buf: Buffer, offset: number): { field: WireField; next: number } {
  const tag = decodeVarint(buf, offset);
  const field = Number(tag.value >> 3n);
  const wireType = Number(tag.value & 7n);
  if (field < 1) throw new Error(`field number 0 at offset ${offset}`);
  let pos = tag.next;
  switch (wireType) {
    case WIRE.VARINT: {
      const v = decodeVarint(buf, pos);
      return { field: { field, wireType: 0, value: v.value }, next: v.next };
    }
    case WIRE.I64:
      return { field: { field, wireType: 1, value: take(buf, pos, 8) }, next: pos + 8 };
    case WIRE.I32:
      return { field: { field, wireType: 5, value: take(buf, pos, 4) }, next: pos + 4 };
    case WIRE.LEN: {
      const len = decodeVarint(buf, pos);
      pos = len.next;
      const n = Number(len.value);
      return { field: { field, wireType: 2, value: take(buf, pos, n) }, next: pos + n };
    }
    default:
      throw new Error(`unsupported wire type ${wireType} at offset ${offset}`);
  }
}

/** All fields of a message body, in wire order. Throws on malformed input. */
export function decodeFields(bytes: Uint8Array): WireField[] {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fields: WireField[] = [];
  let offset = 0;
  while (offset < buf.length) {
    const { field, next } = readField(buf, offset);
    fields.push(field);
    offset = next;
  }
  return fields;
}

/** A decoded message with typed accessors by field number. */
export class Decoded {
  readonly fields: readonly WireField[];

  constructor(bytes: Uint8Array) {
    this.fields = decodeFields(bytes);
  }

  /** Field numbers present, in wire order, with repeats. */
  numbers(): number[] {
    return this.fields.map((f) => f.field);
  }

  has(field: number): boolean {
    return this.fields.some((f) => f.field === field);
  }

  #len(field: number): Buffer[] {
    return this.fields
      .map((f) => {
        if (f.field !== field) return undefined;
        if (f.wireType !== 2)
          throw new Error(`field ${field} has wire type ${f.wireType}, not LEN`);
        return f.value;
      })
      .filter((v): v is Buffer => v !== undefined);
  }

  strings(field: number): string[] {
    return this.#len(field).map((b) => b.toString('utf8'));
  }

  /** The last occurrence (proto3 "last one wins"), or undefined. */
  string(field: number): string | undefined {
    return this.strings(field).at(-1);
  }

  messages(field: number): Decoded[] {
    return this.#len(field).map((b) => new Decoded(b));
  }

  message(field: number): Decoded | undefined {
    return this.messages(field).at(-1);
  }

  varints(field: number): bigint[] {
    return this.fields
      .map((f) => {
        if (f.field !== field) return undefined;
        if (f.wireType !== 0)
          throw new Error(`field ${field} has wire type ${f.wireType}, not VARINT`);
        return f.value;
      })
      .filter((v): v is bigint => v !== undefined);
  }

  varint(field: number): bigint | undefined {
    return this.varints(field).at(-1);
  }

  /** A map<string, Message> field as key → value message (an absent value is an empty message). */
  stringMessageMap(field: number): Map<string, Decoded> {
    const out = new Map<string, Decoded>();
    for (const entry of this.messages(field))
      out.set(entry.string(1) ?? '', entry.message(2) ?? new Decoded(new Uint8Array()));
    return out;
  }

  /** Keys of a map field in wire order (to check every key is present exactly once). */
  mapKeys(field: number): string[] {
    return this.messages(field).map((entry) => entry.string(1) ?? '');
  }
}

export function decode(bytes: Uint8Array): Decoded {
  return new Decoded(bytes);
}
