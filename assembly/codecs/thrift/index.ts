// Apache Thrift on TCP. Transports and protocols as Envoy's thrift_proxy auto-detects them
// (envoy source/extensions/filters/network/thrift_proxy/{framed_transport_impl.cc,
// unframed_transport_impl.cc, header_transport_impl.cc, binary_protocol_impl.cc,
// compact_protocol_impl.cc, auto_transport_impl.cc}; apache/thrift doc/specs/thrift-binary-protocol.md,
// thrift-compact-protocol.md, HeaderFormat.md):
//   framed    int32 frame size, 0 < size ≤ 0xFA0000 (Envoy MaxFrameSize: "invalid thrift framed
//             transport frame size -1"), then a binary or compact message
//   header    int32 size | 0x0FFF magic | int16 flags | int32 seq id | int16 header size/4 |
//             varint protocol id (0 binary, 2 compact) | ...
//   unframed  the message directly
//   binary    strict: 0x80 0x01 | 0x00 | message type | int32 name length | name ...
//   compact   0x82 | type << 5 | version 1 | varint seq id | varint name length | name ...
//   lax binary (non-strict, Envoy's LAX_BINARY): int32 name length | name | int8 type | int32 seq id
// A client's first message is a CALL (1) or ONEWAY (4). A lax binary message has no magic: it is
// claimed only with a name length ≤ 0xFFFF, a name of printable ASCII and a CALL/ONEWAY type byte,
// which no Postgres or Kafka first message has (their bytes 4.. are a protocol code or api key).
// The full decoder is ./decoder.ts.
import { Decision } from "../detect/result";
import { at, be16, be32 } from "../detect/bytes";

export const enum ThriftTransport {
  None = 0,
  Framed = 1,
  Unframed = 2,
  Header = 3,
}

export const enum ThriftProtocol {
  None = 0,
  Binary = 1,
  Compact = 2,
  /** Non-strict binary: no version word (Envoy LAX_BINARY; never auto-detected by Envoy). */
  LaxBinary = 3,
}

export const THRIFT_MAX_FRAME_SIZE: u32 = 0xfa0000;
export const THRIFT_HEADER_MAGIC: u32 = 0x0fff;
const CALL: u32 = 1;
const ONEWAY: u32 = 4;
/** A method name longer than this is not a client we know (Envoy has no limit; be generous). */
const MAX_NAME: u32 = 64 * 1024;
/** Lax binary has no magic: a shorter name bound keeps Kafka/Postgres headers out (see above). */
const MAX_LAX_NAME: u32 = 0xffff;

export class ThriftInfo {
  transport: ThriftTransport = ThriftTransport.None;
  protocol: ThriftProtocol = ThriftProtocol.None;
  /** Offset of the method name in the buffer (binary/compact inside framed or unframed), or -1. */
  nameOffset: i32 = -1;
  nameLength: i32 = 0;
  reset(): void {
    this.transport = ThriftTransport.None;
    this.protocol = ThriftProtocol.None;
    this.nameOffset = -1;
    this.nameLength = 0;
  }
}

@inline function isClientType(t: u32): bool {
  return t == CALL || t == ONEWAY;
}

/** Strict binary message header at `o`. */
function binaryMessage(p: usize, len: i32, o: i32, info: ThriftInfo): Decision {
  if (len > o + 1 && at(p, o + 1) != 0x01) return Decision.NoMatch;
  if (len > o + 2 && at(p, o + 2) != 0x00) return Decision.NoMatch;
  if (len > o + 3 && !isClientType(at(p, o + 3))) return Decision.NoMatch;
  if (len < o + 8) return Decision.NeedMoreData;
  const nameLen = be32(p, o + 4);
  if (nameLen == 0 || nameLen > MAX_NAME) return Decision.NoMatch;
  info.protocol = ThriftProtocol.Binary;
  info.nameOffset = o + 8;
  info.nameLength = <i32>nameLen;
  return Decision.Match;
}

/** Compact message header at `o` (o points at 0x82). */
function compactMessage(p: usize, len: i32, o: i32, info: ThriftInfo): Decision {
  if (len > o + 1) {
    const tv = at(p, o + 1);
    if ((tv & 0x1f) != 1 || !isClientType(tv >> 5)) return Decision.NoMatch;
  }
  // seq id: varint32 (≤ 5 bytes)
  let i = o + 2;
  let n = 0;
  while (true) {
    if (i >= len) return Decision.NeedMoreData;
    if (n == 5) return Decision.NoMatch;
    const b = at(p, i++);
    n++;
    if ((b & 0x80) == 0) break;
  }
  // name length: varint32
  let nameLen: u32 = 0;
  let shift: u32 = 0;
  n = 0;
  while (true) {
    if (i >= len) return Decision.NeedMoreData;
    if (n == 5) return Decision.NoMatch;
    const b = at(p, i++);
    nameLen |= (b & 0x7f) << shift;
    shift += 7;
    n++;
    if ((b & 0x80) == 0) break;
  }
  if (nameLen == 0 || nameLen > MAX_NAME) return Decision.NoMatch;
  info.protocol = ThriftProtocol.Compact;
  info.nameOffset = i;
  info.nameLength = <i32>nameLen;
  return Decision.Match;
}

/** A method-name byte of a lax binary message: printable ASCII without space. */
@inline function isNameByte(b: u32): bool {
  return b - 0x21 < 0x5e;
}

/**
 * Lax (non-strict) binary message at `o`: int32 name length, name, int8 type (Envoy
 * binary_protocol_impl.cc LaxBinaryProtocolImpl::readMessageBegin). `end` is the frame end
 * (framed) or -1. Decides at the type byte.
 */
function laxMessage(p: usize, len: i32, o: i32, end: i32, info: ThriftInfo): Decision {
  if (len < o + 4) return Decision.NeedMoreData;
  const nameLen = be32(p, o);
  if (nameLen == 0 || nameLen > MAX_LAX_NAME) return Decision.NoMatch;
  const typeAt = o + 4 + <i32>nameLen;
  // name, type, seq id must fit in the frame
  if (end >= 0 && typeAt + 5 > end) return Decision.NoMatch;
  for (let i = o + 4; i < typeAt; i++) {
    if (i >= len) return Decision.NeedMoreData;
    if (!isNameByte(at(p, i))) return Decision.NoMatch;
  }
  if (len <= typeAt) return Decision.NeedMoreData;
  if (!isClientType(at(p, typeAt))) return Decision.NoMatch;
  info.protocol = ThriftProtocol.LaxBinary;
  info.nameOffset = o + 4;
  info.nameLength = <i32>nameLen;
  return Decision.Match;
}

function headerTransport(p: usize, len: i32, info: ThriftInfo): Decision {
  // 4 size | 2 magic | 2 flags | 4 seq | 2 header words | varint protocol id at 14
  if (len < 15) return Decision.NeedMoreData;
  const size = be32(p, 0);
  const headerBytes = be16(p, 12) * 4;
  // The header must fit in the frame after the 10 fixed bytes (HeaderFormat.md).
  if (headerBytes == 0 || headerBytes + 10 > size) return Decision.NoMatch;
  const protocolId = at(p, 14);
  if (protocolId == 0) info.protocol = ThriftProtocol.Binary;
  else if (protocolId == 2) info.protocol = ThriftProtocol.Compact;
  else return Decision.NoMatch; // 1 = JSON, which Envoy's header transport rejects too
  return Decision.Match;
}

export function detectThrift(p: usize, len: i32, info: ThriftInfo): Decision {
  if (len < 1) return Decision.NeedMoreData;
  const b0 = at(p, 0);
  if (b0 == 0x80) {
    info.transport = ThriftTransport.Unframed;
    return binaryMessage(p, len, 0, info);
  }
  if (b0 == 0x82) {
    info.transport = ThriftTransport.Unframed;
    return compactMessage(p, len, 0, info);
  }
  // Framed or header: a frame size ≤ 0xFA0000 has a zero first byte.
  if (b0 != 0) return Decision.NoMatch;
  if (len < 5) return Decision.NeedMoreData;
  const size = be32(p, 0);
  if (size == 0 || size > THRIFT_MAX_FRAME_SIZE) return Decision.NoMatch;
  const b4 = at(p, 4);
  if (b4 == 0x00) {
    info.transport = ThriftTransport.Framed;
    return laxMessage(p, len, 4, 4 + <i32>size, info);
  }
  if (isNameByte(b4)) {
    // Unframed lax binary: the first word was the name length, b4 the name's first byte.
    info.transport = ThriftTransport.Unframed;
    return laxMessage(p, len, 0, -1, info);
  }
  if (b4 == 0x80) {
    info.transport = ThriftTransport.Framed;
    return binaryMessage(p, len, 4, info);
  }
  if (b4 == 0x82) {
    info.transport = ThriftTransport.Framed;
    return compactMessage(p, len, 4, info);
  }
  if (b4 == 0x0f) {
    if (len < 6) return Decision.NeedMoreData;
    if (at(p, 5) != 0xff) return Decision.NoMatch;
    info.transport = ThriftTransport.Header;
    return headerTransport(p, len, info);
  }
  return Decision.NoMatch;
}
