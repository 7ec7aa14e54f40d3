// Thrift protocol constants and the small readers the decoder's state machine shares: message
// and field types, the compact protocol's type codes, varints and error-text helpers. Pure
// functions over a raw byte view; every read is preceded by a length check in the caller or
// here (length → peek → bounds-check → consume).
//
// Sources: apache/thrift doc/specs/thrift-binary-protocol.md and thrift-compact-protocol.md;
// envoy source/extensions/filters/network/thrift_proxy/{thrift.h (MessageType, FieldType),
// binary_protocol_impl.cc, compact_protocol_impl.cc (CompactFieldType), buffer_helper.cc (varints)}.
import { at, be16, be32 } from "../detect/bytes";

/** TMessageType (thrift.h MessageType): the message begin's type. */
export const enum MessageType {
  None = 0,
  Call = 1,
  Reply = 2,
  Exception = 3,
  Oneway = 4,
}

export function messageTypeName(t: MessageType): string {
  switch (t) {
    case MessageType.Call: return "call";
    case MessageType.Reply: return "reply";
    case MessageType.Exception: return "exception";
    case MessageType.Oneway: return "oneway";
    default: return "none";
  }
}

/** TType (thrift.h FieldType), the binary protocol's type byte. */
export const enum FieldType {
  Stop = 0,
  Void = 1,
  Bool = 2,
  Byte = 3,
  Double = 4,
  I16 = 6,
  I32 = 8,
  I64 = 10,
  String = 11,
  Struct = 12,
  Map = 13,
  Set = 14,
  List = 15,
  /** Not a wire type: a compact type code that maps to nothing. */
  Invalid = 255,
}

/** Whether a binary-protocol type byte names a value the decoder can skip (Envoy's handleValue set). */
@inline export function isValueType(t: u32): bool {
  return t == FieldType.Bool || t == FieldType.Byte || t == FieldType.Double || t == FieldType.I16 ||
    t == FieldType.I32 || t == FieldType.I64 || t == FieldType.String || t == FieldType.Struct ||
    t == FieldType.Map || t == FieldType.Set || t == FieldType.List;
}

/**
 * Compact type code (thrift-compact-protocol.md; Envoy CompactFieldType) → FieldType. BOOLEAN_TRUE
 * (1) and BOOLEAN_FALSE (2) are both Bool; 0 is Stop only in a field header; anything else
 * (13 = UUID, which Envoy does not know either) is Invalid.
 */
export function compactToFieldType(c: u32): FieldType {
  switch (c) {
    case 1: case 2: return FieldType.Bool;
    case 3: return FieldType.Byte;
    case 4: return FieldType.I16;
    case 5: return FieldType.I32;
    case 6: return FieldType.I64;
    case 7: return FieldType.Double;
    case 8: return FieldType.String;
    case 9: return FieldType.List;
    case 10: return FieldType.Set;
    case 11: return FieldType.Map;
    case 12: return FieldType.Struct;
    default: return FieldType.Invalid;
  }
}

/** Strict binary version word (TBinaryProtocol VERSION_1 >> 16; Envoy BinaryProtocolImpl::Magic). */
export const BINARY_MAGIC: u32 = 0x8001;
/** Compact protocol id byte and version (Envoy CompactProtocolImpl::Magic / MagicMask). */
export const COMPACT_PROTOCOL_ID: u32 = 0x82;
export const COMPACT_VERSION: u32 = 1;

/**
 * Varint reads answer a packed i64: NEED_MORE, TOO_LONG, or (size << 32) | value. Size ≤ 5 for
 * 32-bit varints (Envoy BufferHelper::peekVarIntI32), ≤ 10 for 64-bit ones (only skipped).
 */
export const VARINT_NEED_MORE: i64 = -1;
export const VARINT_TOO_LONG: i64 = -2;

/** An unsigned LEB128 varint of at most 5 bytes at `o`, read below `lim`. */
export function varint32(p: usize, o: i32, lim: i32): i64 {
  let v: u32 = 0;
  for (let i = 0; i < 5; i++) {
    if (o + i >= lim) return VARINT_NEED_MORE;
    const b = at(p, o + i);
    v |= (b & 0x7f) << (<u32>(7 * i));
    if ((b & 0x80) == 0) return (<i64>(i + 1) << 32) | <i64>v;
  }
  return VARINT_TOO_LONG;
}

/** Length of a 64-bit varint (≤ 10 bytes) at `o`, or NEED_MORE / TOO_LONG. The value is not kept. */
export function varint64Size(p: usize, o: i32, lim: i32): i32 {
  for (let i = 0; i < 10; i++) {
    if (o + i >= lim) return <i32>VARINT_NEED_MORE;
    if ((at(p, o + i) & 0x80) == 0) return i + 1;
  }
  return <i32>VARINT_TOO_LONG;
}

@inline export function varintSize(r: i64): i32 {
  return <i32>(r >> 32);
}

@inline export function varintValue(r: i64): i32 {
  return <i32>(<u32>r);
}

@inline export function zigzag32(v: u32): i32 {
  return <i32>((v >>> 1) ^ (0 - (v & 1)));
}

@inline export function bi16(p: usize, o: i32): i32 {
  return <i32>(<i16>be16(p, o));
}

@inline export function bi32(p: usize, o: i32): i32 {
  return <i32>be32(p, o);
}

/** `v` as lower-case hex, zero-padded to `width` digits (error texts like Envoy's "0x{:04x}"). */
export function hex(v: u32, width: i32): string {
  let s = "";
  let x = v;
  do {
    const d = x & 0xf;
    s = String.fromCharCode(d < 10 ? 0x30 + d : 0x57 + d) + s;
    x >>>= 4;
  } while (x != 0);
  while (s.length < width) s = "0" + s;
  return s;
}
