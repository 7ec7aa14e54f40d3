// Thrift transports: framed (int32 size prefix), unframed (nothing) and header (THeader).
//
// Facts (envoy source/extensions/filters/network/thrift_proxy/):
//   framed_transport_impl.{h,cc}  size ≤ 0 or > MaxFrameSize (0xFA0000) is
//                                 "invalid thrift framed transport frame size {size}"
//   header_transport_impl.cc      int32 size (≥ 14) | magic 0x0FFF | int16 flags | int32 seq id |
//                                 int16 header size / 4 (≤ 64 KiB, ≠ 0) | header data: varint
//                                 protocol id (0 binary, 2 compact; else "Unknown protocol {id}"),
//                                 varint transform count (any transform: "Unknown transform {id}",
//                                 answered as a TApplicationException), info blocks (id 1: varint
//                                 count, then varint-length key/value strings; any other id ends
//                                 the blocks), padding.
// apache/thrift doc/specs/HeaderFormat.md describes the same layout.
import { be16 } from "../detect/bytes";
import { varint32, varintSize, varintValue } from "./protocol";

/** Envoy's FramedTransportImpl::MaxFrameSize (and the header transport's). */
export const ENVOY_MAX_FRAME_SIZE: u32 = 0xfa0000;
/** Our default limit on one frame (or one unframed message's strings/containers): 16 MiB. */
export const DEFAULT_MAX_FRAME_SIZE: u32 = 16 * 1024 * 1024;

export const HEADER_MAGIC: u32 = 0x0fff;
/** Frame size (4) + magic, flags, seq id, header size (10). */
export const HEADER_FIXED: i32 = 14;
/** Envoy MaxHeadersSize. */
export const HEADER_MAX_SIZE: i32 = 65536;
/** Envoy MinFrameStartSize: 10 fixed bytes + at least 4 of header data. */
export const HEADER_MIN_FRAME: i32 = 14;

/** THeader protocol ids (apache/thrift lib/cpp/src/thrift/protocol/TProtocolTypes.h). */
export const HEADER_PROTOCOL_BINARY: i32 = 0;
export const HEADER_PROTOCOL_COMPACT: i32 = 2;

/** THeader info block id for key/value headers (Envoy reads only this one). */
const INFO_KEYVALUE: i32 = 1;

/**
 * What a THeader frame start carried. Header keys and values are offsets into the caller's
 * buffer (valid while it keeps those bytes); the offset arrays grow to the largest header count
 * seen and are reused, so a connection allocates them once.
 */
export class ThriftHeaderFrame {
  flags: u32 = 0;
  /** The THeader sequence id (the protocol message has its own). */
  seqId: i32 = 0;
  protocolId: i32 = -1;
  /** Transforms announced (zlib 1, hmac 2, snappy 3); the payload cannot be read when > 0. */
  transforms: i32 = 0;
  /** The first transform id when `transforms` > 0. */
  transformId: i32 = 0;
  /** Bytes of header data (header size words × 4). */
  headerSize: i32 = 0;
  count: i32 = 0;
  keyOffset: StaticArray<i32> = new StaticArray<i32>(8);
  keyLength: StaticArray<i32> = new StaticArray<i32>(8);
  valueOffset: StaticArray<i32> = new StaticArray<i32>(8);
  valueLength: StaticArray<i32> = new StaticArray<i32>(8);
  /** Set when parse() answers false with an error (not on "need more data"). */
  error: string = "";

  reset(): void {
    this.flags = 0;
    this.seqId = 0;
    this.protocolId = -1;
    this.transforms = 0;
    this.transformId = 0;
    this.headerSize = 0;
    this.count = 0;
    if (this.error.length != 0) this.error = "";
  }

  /** Shifts every recorded offset by -n (the caller dropped n bytes before them). */
  rebase(n: i32): void {
    for (let i = 0; i < this.count; i++) {
      this.keyOffset[i] -= n;
      this.valueOffset[i] -= n;
    }
  }

  private add(ko: i32, kl: i32, vo: i32, vl: i32): void {
    const n = this.count;
    if (n == this.keyOffset.length) {
      const cap = n << 1;
      this.keyOffset = grow(this.keyOffset, cap);
      this.keyLength = grow(this.keyLength, cap);
      this.valueOffset = grow(this.valueOffset, cap);
      this.valueLength = grow(this.valueLength, cap);
    }
    this.keyOffset[n] = ko;
    this.keyLength[n] = kl;
    this.valueOffset[n] = vo;
    this.valueLength[n] = vl;
    this.count = n + 1;
  }

  /**
   * Reads the header data [o, o + size) (all of it present: the caller waits for it, as Envoy
   * does). Returns false with `error` set on a malformed block.
   */
  parseData(p: usize, o: i32, size: i32): bool {
    const end = o + size;
    let i = o;
    let r = varint32(p, i, end);
    if (r < 0) return this.fail(HeaderErr.Small, What.ProtocolId, 0);
    const proto = varintValue(r);
    if (proto > 32767) return this.fail(HeaderErr.ExceedsI16, What.ProtocolId, proto);
    i += varintSize(r);
    this.protocolId = proto;
    if (proto != HEADER_PROTOCOL_BINARY && proto != HEADER_PROTOCOL_COMPACT) return this.fail(HeaderErr.UnknownProtocol, What.ProtocolId, proto);
    r = varint32(p, i, end);
    if (r < 0) return this.fail(HeaderErr.Small, What.TransformCount, 0);
    const xforms = varintValue(r);
    i += varintSize(r);
    if (xforms < 0 || xforms > 32767) return this.fail(HeaderErr.TransformCount, What.TransformCount, xforms);
    if (xforms > 0) {
      r = varint32(p, i, end);
      if (r < 0) return this.fail(HeaderErr.Small, What.TransformId, 0);
      this.transforms = xforms;
      this.transformId = varintValue(r);
      return this.fail(HeaderErr.UnknownTransform, What.TransformId, this.transformId);
    }
    while (i < end) {
      r = varint32(p, i, end);
      if (r < 0) return this.fail(HeaderErr.Small, What.InfoId, 0);
      i += varintSize(r);
      // 0 is padding; unknown ids are skipped with the rest of the header (Envoy does the same).
      if (varintValue(r) != INFO_KEYVALUE) break;
      r = varint32(p, i, end);
      if (r < 0) return this.fail(HeaderErr.Small, What.HeaderCount, 0);
      i += varintSize(r);
      const n = varintValue(r);
      if (n < 0) return this.fail(HeaderErr.HeaderCount, What.HeaderCount, n);
      for (let k = 0; k < n; k++) {
        // Key, then value: a varint length (≤ i16) and that many bytes, inside the header.
        r = varint32(p, i, end);
        if (r < 0) return this.fail(HeaderErr.Small, What.Key, 0);
        const kl = varintValue(r);
        if (kl < 0 || kl > 32767) return this.fail(HeaderErr.ExceedsI16, What.Key, kl);
        const ko = i + varintSize(r);
        if (kl > end - ko) return this.fail(HeaderErr.Small, What.Key, 0);
        i = ko + kl;
        r = varint32(p, i, end);
        if (r < 0) return this.fail(HeaderErr.Small, What.Value, 0);
        const vl = varintValue(r);
        if (vl < 0 || vl > 32767) return this.fail(HeaderErr.ExceedsI16, What.Value, vl);
        const vo = i + varintSize(r);
        if (vl > end - vo) return this.fail(HeaderErr.Small, What.Value, 0);
        i = vo + vl;
        this.add(ko, kl, vo, vl);
      }
    }
    return true;
  }

  /** Records error `e` about field `w` (value `v`); the text is built out of the parsing path. */
  private fail(e: HeaderErr, w: What, v: i32): bool {
    setHeaderError(this, e, w, v);
    return false;
  }
}

const enum HeaderErr { Small, ExceedsI16, UnknownProtocol, TransformCount, UnknownTransform, HeaderCount }
const enum What { ProtocolId, TransformCount, TransformId, InfoId, HeaderCount, Key, Value }

function whatName(w: What): string {
  switch (w) {
    case What.ProtocolId: return "protocol id";
    case What.TransformCount: return "transform count";
    case What.TransformId: return "transform id";
    case What.InfoId: return "info id";
    case What.HeaderCount: return "header count";
    case What.Key: return "header key";
    default: return "header value";
  }
}

/** Envoy's texts (header_transport_impl.cc drainVarIntI16/I32, drainVarString, decodeFrameStart). */
function setHeaderError(h: ThriftHeaderFrame, e: HeaderErr, w: What, v: i32): void {
  const x = v.toString();
  switch (e) {
    case HeaderErr.Small: h.error = "unable to read header transport " + whatName(w) + ": header too small"; break;
    case HeaderErr.ExceedsI16: h.error = "header transport " + whatName(w) + ": value " + x + " exceeds max i16 (32767)"; break;
    case HeaderErr.UnknownProtocol: h.error = "Unknown protocol " + x; break;
    case HeaderErr.TransformCount: h.error = "invalid header transport transform count " + x; break;
    case HeaderErr.UnknownTransform: h.error = "Unknown transform " + x; break;
    default: h.error = "invalid header transport header count " + x;
  }
}

function grow(a: StaticArray<i32>, cap: i32): StaticArray<i32> {
  const b = new StaticArray<i32>(cap);
  memory.copy(changetype<usize>(b), changetype<usize>(a), <usize>a.length << 2);
  return b;
}

/** Whether the 16 bits at `o` are the THeader magic. */
@inline export function isHeaderMagic(p: usize, o: i32): bool {
  return be16(p, o) == HEADER_MAGIC;
}
