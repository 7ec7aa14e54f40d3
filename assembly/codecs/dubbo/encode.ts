// Frames the Dubbo filter writes itself: an error response carrying a message, and a request
// rewritten in place into a heartbeat request with the same id. Pure code (as-pect tests it).
//
// Error response (apache/dubbo dubbo-remoting/dubbo-remoting-api/.../exchange/codec/ExchangeCodec.java
// encodeResponse: for a status other than OK the body is `out.writeUTF(res.getErrorMessage())`,
// one string in the response's serialization; the header flag is the serialization id, no request
// bit, no event bit):
//   da bb | serialization id | status | int64 request id | int32 body length | Hessian2 string
// A Java consumer reads it in dubbo-rpc/dubbo-rpc-dubbo/.../protocol/dubbo/DubboCodec.java
// decodeBody (`status != Response.OK` → `res.setErrorMessage(in.readUTF())`) and fails the call
// in exchange/support/DefaultFuture.java doReceived: CLIENT_TIMEOUT / SERVER_TIMEOUT become a
// TimeoutException, every other status a RemotingException with that message.
//
// Heartbeat request (ExchangeCodec.encodeRequest: flag = FLAG_REQUEST | serialization, | FLAG_TWOWAY,
// | FLAG_EVENT; a heartbeat's data is null, Hessian2 'N'): the provider's HeartbeatHandler
// (exchange/support/header/HeartbeatHandler.java received) answers a two-way one with a heartbeat
// response of the same id, and Envoy's dubbo_proxy answers it locally the same way
// (source/extensions/filters/network/dubbo_proxy/conn_manager.cc onHeartbeat).
import { DUBBO_HEADER_SIZE, DUBBO_MAGIC, DUBBO_SERIALIZATION_HESSIAN2 } from "./decoder";

/** A heartbeat request frame: the header and a one-byte Hessian2 null body. */
export const DUBBO_HEARTBEAT_FRAME_LENGTH: i32 = DUBBO_HEADER_SIZE + 1;
const FLAG_REQUEST: u32 = 0x80;
const FLAG_TWO_WAY: u32 = 0x40;
const FLAG_EVENT: u32 = 0x20;
const HESSIAN2_NULL: u8 = 0x4e;
/**
 * UTF-16 code units per Hessian2 string chunk (com.caucho.hessian.io.Hessian2Output writeString
 * splits at 0x8000 and never between the halves of a surrogate pair).
 */
const CHUNK: i32 = 0x8000;

/** Bytes of one UTF-16 code unit in Hessian2's UTF-8: surrogates one by one, 3 bytes each, as Java writes them. */
@inline function unitBytes(c: u32): i32 {
  return c < 0x80 ? 1 : c < 0x800 ? 2 : 3;
}

/** Where the chunk starting at unit `from` ends (exclusive). */
function chunkEnd(s: string, from: i32): i32 {
  let end = from + CHUNK;
  if (end >= s.length) return s.length;
  const last = s.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return end;
}

/** Bytes `s` takes as a Hessian2 string, chunk tags included. */
export function hessianStringSize(s: string): i32 {
  let n = 0;
  let from = 0;
  do {
    const end = chunkEnd(s, from);
    const len = end - from;
    n += len <= 31 ? 1 : len <= 1023 ? 2 : 3;
    for (let i = from; i < end; i++) n += unitBytes(<u32>s.charCodeAt(i));
    from = end;
  } while (from < s.length);
  return n;
}

/**
 * Writes `s` as a Hessian2 string at `p` (hessianStringSize(s) bytes): compact forms 0x00-0x1f
 * (length < 32) and 0x30-0x33 (< 1024), 'S' for a final chunk, 'R' for the others. Returns the
 * byte count.
 */
export function writeHessianString(p: usize, s: string): i32 {
  let at: usize = 0;
  let from = 0;
  do {
    const end = chunkEnd(s, from);
    const len = <u32>(end - from);
    const last = end == s.length;
    if (last && len <= 31) {
      store<u8>(p + at++, <u8>len);
    } else if (last && len <= 1023) {
      store<u8>(p + at++, <u8>(0x30 + (len >>> 8)));
      store<u8>(p + at++, <u8>(len & 0xff));
    } else {
      store<u8>(p + at++, last ? 0x53 : 0x52);
      store<u8>(p + at++, <u8>(len >>> 8));
      store<u8>(p + at++, <u8>(len & 0xff));
    }
    for (let i = from; i < end; i++) {
      const c = <u32>s.charCodeAt(i);
      if (c < 0x80) {
        store<u8>(p + at++, <u8>c);
      } else if (c < 0x800) {
        store<u8>(p + at++, <u8>(0xc0 | (c >>> 6)));
        store<u8>(p + at++, <u8>(0x80 | (c & 0x3f)));
      } else {
        store<u8>(p + at++, <u8>(0xe0 | (c >>> 12)));
        store<u8>(p + at++, <u8>(0x80 | ((c >>> 6) & 0x3f)));
        store<u8>(p + at++, <u8>(0x80 | (c & 0x3f)));
      }
    }
    from = end;
  } while (from < s.length);
  return <i32>at;
}

@inline function writeHeader(p: usize, flags: u32, status: u32, requestId: i64, bodyLength: i32): void {
  store<u8>(p, <u8>(DUBBO_MAGIC >>> 8));
  store<u8>(p, <u8>(DUBBO_MAGIC & 0xff), 1);
  store<u8>(p, <u8>flags, 2);
  store<u8>(p, <u8>status, 3);
  store<u64>(p, bswap<u64>(<u64>requestId), 4);
  store<u32>(p, bswap<u32>(<u32>bodyLength), 12);
}

/**
 * A Hessian2 response frame with `status` (not OK: see the file head) whose body is the string
 * `message`: what a Java consumer surfaces as the call's RemotingException message.
 */
export function encodeDubboErrorResponse(requestId: i64, status: u32, message: string): ArrayBuffer {
  const body = hessianStringSize(message);
  const out = new ArrayBuffer(DUBBO_HEADER_SIZE + body);
  const p = changetype<usize>(out);
  writeHeader(p, DUBBO_SERIALIZATION_HESSIAN2, status, requestId, body);
  writeHessianString(p + <usize>DUBBO_HEADER_SIZE, message);
  return out;
}

/**
 * Rewrites the request frame whose header starts at `p` into a two-way Hessian2 heartbeat request
 * with the same request id, in place: its first DUBBO_HEARTBEAT_FRAME_LENGTH bytes become the whole
 * heartbeat frame and the caller drops the rest of the old frame. Every valid frame has room: its
 * body is at least one byte. Two-way even for a oneway request, so the heartbeat is answered (the
 * filter drops that answer).
 */
export function rewriteAsHeartbeat(p: usize): void {
  const requestId = <i64>bswap<u64>(load<u64>(p, 4));
  writeHeader(p, FLAG_REQUEST | FLAG_TWO_WAY | FLAG_EVENT | DUBBO_SERIALIZATION_HESSIAN2, 0, requestId, 1);
  store<u8>(p + <usize>DUBBO_HEADER_SIZE, HESSIAN2_NULL);
}

/** A two-way Hessian2 heartbeat request frame with `requestId` (rewriteAsHeartbeat's output). */
export function encodeHeartbeatRequest(requestId: i64): ArrayBuffer {
  const out = new ArrayBuffer(DUBBO_HEARTBEAT_FRAME_LENGTH);
  const p = changetype<usize>(out);
  writeHeader(p, 0, 0, requestId, 0);
  rewriteAsHeartbeat(p);
  return out;
}
