// A TApplicationException reply in the transport and protocol of the call it answers: how the
// filter says "denied" to a Thrift client, since proxy-wasm cannot write to the downstream on its
// own (the reply replaces the upstream's answer to the call, see index.ts). Pure code.
//
// Layouts (apache/thrift doc/specs/thrift-binary-protocol.md, thrift-compact-protocol.md,
// HeaderFormat.md; the exception struct is lib/nodejs/lib/thrift/thrift.js TApplicationException:
// 1: string message, 2: i32 type):
//   binary    80 01 00 03 | i32 name length | name | i32 seq id | 0B 0001 <string> | 08 0002 <i32> | 00
//   lax       i32 name length | name | 03 | i32 seq id | same struct
//   compact   82 | 0x61 (type 3 << 5 | version 1) | varint seq id | varint name length | name |
//             18 <varint length> message | 15 <zigzag varint type> | 00
//   framed    i32 size | message;  THeader: the reply's own header with the new size | message
import { ThriftProtocol, ThriftTransport } from "../../codecs/thrift/index";

export class ByteWriter {
  buf: ArrayBuffer;
  len: i32 = 0;

  constructor(cap: i32) {
    this.buf = new ArrayBuffer(cap);
  }

  u8(v: u32): void {
    if (this.len >= this.buf.byteLength) {
      const next = new ArrayBuffer(this.buf.byteLength * 2 + 16);
      memory.copy(changetype<usize>(next), changetype<usize>(this.buf), <usize>this.len);
      this.buf = next;
    }
    store<u8>(changetype<usize>(this.buf) + <usize>this.len, <u8>v);
    this.len++;
  }

  i32be(v: i32): void {
    this.u8((<u32>v >>> 24) & 0xff);
    this.u8((<u32>v >>> 16) & 0xff);
    this.u8((<u32>v >>> 8) & 0xff);
    this.u8(<u32>v & 0xff);
  }

  varint(v: u32): void {
    while (v >= 0x80) {
      this.u8((v & 0x7f) | 0x80);
      v >>>= 7;
    }
    this.u8(v);
  }

  bytes(p: usize, n: i32): void {
    for (let i = 0; i < n; i++) this.u8(load<u8>(p + <usize>i));
  }

  /** The written bytes, exactly. */
  take(): ArrayBuffer {
    return this.buf.slice(0, this.len);
  }
}

const EXCEPTION: u32 = 3;

/** The protocol message (no transport) of a TApplicationException. */
export function writeAppException(w: ByteWriter, protocol: ThriftProtocol, name: ArrayBuffer, seqId: i32, type: i32, message: string): void {
  const msg = String.UTF8.encode(message);
  const np = changetype<usize>(name);
  const nl = name.byteLength;
  if (protocol == ThriftProtocol.Compact) {
    w.u8(0x82);
    w.u8((EXCEPTION << 5) | 1);
    w.varint(<u32>seqId);
    w.varint(<u32>nl);
    w.bytes(np, nl);
    w.u8(0x18); // field delta 1, compact type BINARY (8)
    w.varint(<u32>msg.byteLength);
    w.bytes(changetype<usize>(msg), msg.byteLength);
    w.u8(0x15); // field delta 1, compact type I32 (5)
    w.varint(<u32>((type << 1) ^ (type >> 31)));
    w.u8(0);
    return;
  }
  if (protocol == ThriftProtocol.LaxBinary) {
    w.i32be(nl);
    w.bytes(np, nl);
    w.u8(EXCEPTION);
  } else {
    w.u8(0x80);
    w.u8(0x01);
    w.u8(0);
    w.u8(EXCEPTION);
    w.i32be(nl);
    w.bytes(np, nl);
  }
  w.i32be(seqId);
  w.u8(11);
  w.u8(0);
  w.u8(1);
  w.i32be(msg.byteLength);
  w.bytes(changetype<usize>(msg), msg.byteLength);
  w.u8(8);
  w.u8(0);
  w.u8(2);
  w.i32be(type);
  w.u8(0);
}

/**
 * The whole reply: `headerP/headerLen` are the THeader bytes after the size word up to the payload
 * (the upstream reply's own header, so flags, seq id and info headers stay the server's).
 */
export function encodeAppException(
  transport: ThriftTransport, protocol: ThriftProtocol, name: ArrayBuffer, seqId: i32, type: i32, message: string,
  headerP: usize, headerLen: i32,
): ArrayBuffer {
  const body = new ByteWriter(64 + name.byteLength + message.length * 3);
  writeAppException(body, protocol, name, seqId, type, message);
  if (transport == ThriftTransport.Unframed) return body.take();
  const w = new ByteWriter(body.len + headerLen + 4);
  if (transport == ThriftTransport.Header) {
    w.i32be(headerLen + body.len);
    w.bytes(headerP, headerLen);
  } else {
    w.i32be(body.len);
  }
  w.bytes(changetype<usize>(body.buf), body.len);
  return w.take();
}
