import { DecodeStatus } from "../../decoder";
import {
  DecodeMode,
  MessageType,
  ReplyKind,
  ThriftDecoder,
  ThriftDecoderConfig,
  ThriftErrorKind,
  ThriftState,
  thriftStateName,
  THRIFT_STATE_NAMES,
} from "../decoder";
import { ThriftProtocol, ThriftTransport } from "../index";
import { APP_EXCEPTION_MESSAGE, THRIFT_FIXTURES, ThriftFixture } from "../__fixtures__/messages";
import { bytes, latin1, ptr } from "../../__fixtures__/bytes";

function config(transport: i32, protocol: i32, mode: DecodeMode = DecodeMode.Full): ThriftDecoderConfig {
  const c = new ThriftDecoderConfig();
  c.transport = <ThriftTransport>transport;
  // THeader's protocol id decides; configuring it too is checked in its own case.
  c.protocol = transport == ThriftTransport.Header ? ThriftProtocol.None : <ThriftProtocol>protocol;
  c.mode = mode;
  return c;
}

function decoderFor(f: ThriftFixture, mode: DecodeMode = DecodeMode.Full): ThriftDecoder {
  return new ThriftDecoder(config(f.transport, f.protocol, mode));
}

/** Checks the message fields of a Done decoder against fixture `f` whose first byte is at `base`. */
function checkMessage(d: ThriftDecoder, f: ThriftFixture, p: usize, base: i32, why: string): void {
  expect<i32>(d.messageType).toBe(f.messageType, why);
  expect<i32>(d.seqId).toBe(f.seqId, why);
  expect<i32>(d.transport).toBe(f.transport, why);
  expect<i32>(d.protocol).toBe(f.protocol, why);
  expect(latin1(p, d.nameOffset, d.nameLength)).toBe(f.name, why);
  expect<i32>(d.messageStart).toBe(base, why);
  expect<i32>(d.pos).toBe(base + f.length, why);
  expect<bool>(d.messageBeginReady).toBe(true, why);
  expect<i32>(d.replyKind).toBe(f.reply, why);
  const colon = f.name.indexOf(":");
  if (colon >= 0) {
    expect(latin1(p, d.nameOffset, d.serviceLength)).toBe(f.name.substring(0, colon), why);
    expect(latin1(p, d.methodOffset, d.methodLength)).toBe(f.name.substring(colon + 1), why);
  } else {
    expect<i32>(d.serviceLength).toBe(0, why);
    expect(latin1(p, d.methodOffset, d.methodLength)).toBe(f.name, why);
  }
  expect<i32>(d.header.count * 2).toBe(f.headers.length, why);
  for (let i = 0; i < d.header.count; i++) {
    expect(latin1(p, d.header.keyOffset[i], d.header.keyLength[i])).toBe(f.headers[2 * i], why);
    expect(latin1(p, d.header.valueOffset[i], d.header.valueLength[i])).toBe(f.headers[2 * i + 1], why);
  }
}

/** The message fields checkMessage compares, without building strings (for the per-byte loops). */
function same(d: ThriftDecoder, f: ThriftFixture, p: usize, base: i32): bool {
  if (<i32>d.messageType != f.messageType || d.seqId != f.seqId || <i32>d.replyKind != f.reply) return false;
  if (d.messageStart != base || d.pos != base + f.length || d.nameLength != f.name.length) return false;
  if (<i32>d.transport != f.transport || <i32>d.protocol != f.protocol || d.header.count * 2 != f.headers.length) return false;
  for (let i = 0; i < d.nameLength; i++) {
    if (<i32>load<u8>(p + <usize>(d.nameOffset + i)) != f.name.charCodeAt(i)) return false;
  }
  return true;
}

/** checkMessage's verdict as one expectation, with the full comparison only when it fails. */
function expectSame(d: ThriftDecoder, f: ThriftFixture, p: usize, base: i32, why: string): void {
  if (!same(d, f, p, base)) checkMessage(d, f, p, base, why);
}

function concat(parts: StaticArray<u8>[]): StaticArray<u8> {
  let n = 0;
  for (let i = 0; i < parts.length; i++) n += parts[i].length;
  const out = new StaticArray<u8>(n);
  let o = 0;
  for (let i = 0; i < parts.length; i++) {
    memory.copy(changetype<usize>(out) + <usize>o, changetype<usize>(parts[i]), <usize>parts[i].length);
    o += parts[i].length;
  }
  return out;
}

function stackOf(label: string): string {
  // "framed-binary-call-get" → "framed-binary"
  const a = label.indexOf("-");
  return label.substring(0, label.indexOf("-", a + 1));
}

function decodeError(b: StaticArray<u8>, transport: ThriftTransport, protocol: ThriftProtocol): ThriftDecoder {
  const c = new ThriftDecoderConfig();
  c.transport = transport;
  c.protocol = protocol;
  const d = new ThriftDecoder(c);
  expect<i32>(d.decode(ptr(b), b.length)).toBe(DecodeStatus.Error, d.error);
  return d;
}

describe("thrift decoder: messages written by apache thrift (npm 0.24)", () => {
  it("has a fixture for every transport × protocol pair and message kind", () => {
    expect<i32>(THRIFT_FIXTURES.length).toBe(72);
  });

  it("decodes each message in one read", () => {
    for (let i = 0; i < THRIFT_FIXTURES.length; i++) {
      const f = THRIFT_FIXTURES[i];
      const d = decoderFor(f);
      expect<i32>(d.decode(f.ptr, f.length)).toBe(DecodeStatus.Done, f.label + " " + d.error);
      checkMessage(d, f, f.ptr, 0, f.label);
      if (f.messageType == MessageType.Exception) {
        // The npm library writes no type field (its write() reads `this.code`, never set).
        expect<i32>(d.appExceptionType).toBe(-1, f.label);
        expect(latin1(f.ptr, d.appExceptionMessageOffset, d.appExceptionMessageLength)).toBe(APP_EXCEPTION_MESSAGE, f.label);
      }
    }
  });

  it("needs more data on every proper prefix and decodes the rest after a split at every byte", () => {
    for (let i = 0; i < THRIFT_FIXTURES.length; i++) {
      const f = THRIFT_FIXTURES[i];
      for (let k = 0; k < f.length; k++) {
        const d = decoderFor(f);
        const a = d.decode(f.ptr, k);
        const b = d.decode(f.ptr, f.length);
        if (a != DecodeStatus.NeedMoreData || b != DecodeStatus.Done) {
          const why = f.label + " split at " + k.toString() + " " + d.error;
          expect<i32>(a).toBe(DecodeStatus.NeedMoreData, why);
          expect<i32>(b).toBe(DecodeStatus.Done, why);
        }
        expectSame(d, f, f.ptr, 0, f.label + " split at " + k.toString());
      }
    }
  });

  it("decodes a buffer growing one byte per read (resumes mid-struct, never re-reads)", () => {
    for (let i = 0; i < THRIFT_FIXTURES.length; i++) {
      const f = THRIFT_FIXTURES[i];
      const d = decoderFor(f);
      let last = d.pos;
      for (let k = 1; k < f.length; k++) {
        const s = d.decode(f.ptr, k);
        if (s != DecodeStatus.NeedMoreData) expect<i32>(s).toBe(DecodeStatus.NeedMoreData, f.label + " at " + k.toString() + " " + d.error);
        if (!(d.pos >= last && d.pos <= k)) expect<i32>(d.pos).toBe(last, f.label + " offset moves forward within the bytes seen");
        last = d.pos;
      }
      expect<i32>(d.decode(f.ptr, f.length)).toBe(DecodeStatus.Done, f.label + " " + d.error);
      checkMessage(d, f, f.ptr, 0, f.label);
    }
  });

  it("decodes several messages packed in one buffer, split at every byte", () => {
    // One buffer per stack: all nine messages of that transport × protocol back to back.
    let start = 0;
    while (start < THRIFT_FIXTURES.length) {
      const stack = stackOf(THRIFT_FIXTURES[start].label);
      let end = start;
      const parts: StaticArray<u8>[] = [];
      while (end < THRIFT_FIXTURES.length && stackOf(THRIFT_FIXTURES[end].label) == stack) {
        parts.push(THRIFT_FIXTURES[end].bytes);
        end++;
      }
      const buf = concat(parts);
      const p = ptr(buf);
      // Whole buffer at once.
      const d = decoderFor(THRIFT_FIXTURES[start]);
      let base = 0;
      for (let i = start; i < end; i++) {
        const f = THRIFT_FIXTURES[i];
        expect<i32>(d.decode(p, buf.length)).toBe(DecodeStatus.Done, stack + " packed " + f.label + " " + d.error);
        checkMessage(d, f, p, base, stack + " packed " + f.label);
        base += f.length;
      }
      expect<i32>(d.decode(p, buf.length)).toBe(DecodeStatus.NeedMoreData, stack + " after the last message");
      // Growing by one byte: each message is Done exactly when its last byte arrives.
      const g = decoderFor(THRIFT_FIXTURES[start]);
      let next = start;
      let nextEnd = THRIFT_FIXTURES[start].length;
      for (let k = 1; k <= buf.length; k++) {
        const s = g.decode(p, k);
        if (k == nextEnd) {
          if (s != DecodeStatus.Done) expect<i32>(s).toBe(DecodeStatus.Done, stack + " grown to " + k.toString() + " " + g.error);
          expectSame(g, THRIFT_FIXTURES[next], p, k - THRIFT_FIXTURES[next].length, stack + " grown");
          next++;
          if (next < end) nextEnd += THRIFT_FIXTURES[next].length;
          // Done leaves the next message's bytes unread: the same length must not finish another.
          const again = g.decode(p, k);
          if (again != DecodeStatus.NeedMoreData) expect<i32>(again).toBe(DecodeStatus.NeedMoreData, stack + " no second Done at " + k.toString());
        } else if (s != DecodeStatus.NeedMoreData) {
          expect<i32>(s).toBe(DecodeStatus.NeedMoreData, stack + " grown to " + k.toString() + " " + g.error);
        }
      }
      expect<i32>(next).toBe(end);
      start = end;
    }
  });

  it("discard(n) rebases offsets when the caller drops consumed bytes", () => {
    const a = THRIFT_FIXTURES[0];
    const b = THRIFT_FIXTURES[1];
    const buf = concat([a.bytes, b.bytes]);
    const d = decoderFor(a);
    expect<i32>(d.decode(ptr(buf), buf.length)).toBe(DecodeStatus.Done);
    // Drop the first message: the second now starts at 0 in a new buffer.
    d.discard(d.pos);
    expect<i32>(d.pos).toBe(0);
    expect<i32>(d.decode(b.ptr, b.length)).toBe(DecodeStatus.Done, d.error);
    checkMessage(d, b, b.ptr, 0, "after discard");
  });

  it("auto-detects transport and protocol (binary, compact; header by its magic)", () => {
    for (let i = 0; i < THRIFT_FIXTURES.length; i++) {
      const f = THRIFT_FIXTURES[i];
      if (f.protocol == ThriftProtocol.LaxBinary) continue; // never auto-detected, as in Envoy
      const d = new ThriftDecoder(new ThriftDecoderConfig());
      expect<i32>(d.decode(f.ptr, f.length)).toBe(DecodeStatus.Done, f.label + " " + d.error);
      checkMessage(d, f, f.ptr, 0, f.label + " auto");
    }
  });

  it("message-begin mode skips framed payloads by length and still classifies replies", () => {
    for (let i = 0; i < THRIFT_FIXTURES.length; i++) {
      const f = THRIFT_FIXTURES[i];
      for (let k = 0; k < f.length; k++) {
        const d = decoderFor(f, DecodeMode.MessageBegin);
        const a = d.decode(f.ptr, k);
        const b = d.decode(f.ptr, f.length);
        if (a != DecodeStatus.NeedMoreData || b != DecodeStatus.Done) {
          expect<i32>(a).toBe(DecodeStatus.NeedMoreData, f.label + " skip split " + k.toString() + " " + d.error);
          expect<i32>(b).toBe(DecodeStatus.Done, f.label + " skip " + d.error);
        }
        expectSame(d, f, f.ptr, 0, f.label + " skip split " + k.toString());
      }
    }
  });

  it("skipUnread hands the rest of a frame's payload to the caller as a count (filters skip it uncopied)", () => {
    for (let i = 0; i < THRIFT_FIXTURES.length; i++) {
      const f = THRIFT_FIXTURES[i];
      // Two of the message back to back: the caller skips the first's payload, then reads on.
      const two = new StaticArray<u8>(2 * f.length);
      memory.copy(changetype<usize>(two), f.ptr, <usize>f.length);
      memory.copy(changetype<usize>(two) + <usize>f.length, f.ptr, <usize>f.length);
      const p = changetype<usize>(two);
      for (let k = 0; k < f.length; k++) {
        const d = decoderFor(f, DecodeMode.MessageBegin);
        const why = f.label + " skip uncopied at " + k.toString();
        expect<i32>(d.decode(p, k)).toBe(DecodeStatus.NeedMoreData, why + " " + d.error);
        const n = d.skipUnread();
        if (f.transport == ThriftTransport.Unframed || d.state != ThriftState.SkipFrame) {
          // Unframed, or the begin (and a reply's first field) not all read yet: nothing to skip.
          expect<i32>(n).toBe(0, why);
          continue;
        }
        expect<i32>(n).toBe(f.length - k, why);
        expect<i32>(d.pos).toBe(k, why);
        expect<i32>(d.skipUnread()).toBe(0, why + " twice");
        // The caller drops what was read and the n skipped bytes: its buffer starts at the second message.
        d.discard(k);
        expect<i32>(d.decode(p + <usize>f.length, f.length)).toBe(DecodeStatus.Done, why + " first " + d.error);
        expect<i32>(d.pos).toBe(0, why);
        expect<i32>(d.decode(p + <usize>f.length, f.length)).toBe(DecodeStatus.Done, why + " second " + d.error);
        expectSame(d, f, p + <usize>f.length, 0, why + " second");
      }
    }
  });

  it("reports the message begin before the frame is complete", () => {
    const f = THRIFT_FIXTURES[1]; // framed-binary-call-put
    const d = decoderFor(f, DecodeMode.MessageBegin);
    expect<i32>(d.decode(f.ptr, 20)).toBe(DecodeStatus.NeedMoreData);
    expect<bool>(d.messageBeginReady).toBe(true);
    expect(latin1(f.ptr, d.methodOffset, d.methodLength)).toBe("put");
    expect<i32>(d.pos).toBe(19);
  });
});

describe("thrift decoder: hand-built THeader and lax binary frames", () => {
  it("reads THeader info headers, flags, seq id and a compact payload", () => {
    // header data: protocol 2, 0 transforms, info 1 with one header, info 0 (padding)
    const b = bytes()
      .be32(0).be16(0x0fff).be16(0x0001).be32(42).be16(4)
      .u8(2).u8(0).u8(1).u8(1).u8(1).text("k").u8(2).text("vv").u8(0).zeros(6)
      .u8(0x82).u8(0x81).u8(0x05).u8(4).text("ping").u8(0)
      .build();
    b[3] = <u8>(b.length - 4);
    const d = decodeOk(b, ThriftTransport.Header, ThriftProtocol.None);
    expect<i32>(d.header.flags).toBe(1);
    expect<i32>(d.header.seqId).toBe(42);
    expect<i32>(d.header.protocolId).toBe(2);
    expect<i32>(d.header.count).toBe(1);
    expect(latin1(ptr(b), d.header.keyOffset[0], d.header.keyLength[0])).toBe("k");
    expect(latin1(ptr(b), d.header.valueOffset[0], d.header.valueLength[0])).toBe("vv");
    expect<i32>(d.messageType).toBe(MessageType.Oneway);
    expect<bool>(d.oneway).toBe(true);
    expect<i32>(d.seqId).toBe(5);
    expect<i32>(d.protocol).toBe(ThriftProtocol.Compact);
  });

  it("grows the header offset arrays past their first capacity", () => {
    const bb = bytes().be32(0).be16(0x0fff).be16(0).be32(0).be16(0);
    const h = bytes().u8(0).u8(0).u8(1).u8(20);
    for (let i = 0; i < 20; i++) h.u8(1).u8(0x61 + i).u8(1).u8(0x30 + (i % 10));
    while (h.length % 4 != 0) h.u8(0);
    const words = h.length / 4;
    const hb = h.build();
    bb.raw(hb).u8(0x80).u8(1).u8(0).u8(1).be32(1).text("m").be32(0).u8(0);
    const b = bb.build();
    b[3] = <u8>(b.length - 4);
    b[13] = <u8>words;
    const d = decodeOk(b, ThriftTransport.Header, ThriftProtocol.Binary);
    expect<i32>(d.header.count).toBe(20);
    expect(latin1(ptr(b), d.header.keyOffset[19], 1)).toBe("t");
    expect(latin1(ptr(b), d.header.valueOffset[19], 1)).toBe("9");
  });

  it("reads lax binary (no version word), framed and unframed", () => {
    const unframed = bytes().be32(4).text("Echo").u8(1).be32(77).u8(0x0b).be16(1).be32(2).text("hi").u8(0).build();
    const d = decodeOk(unframed, ThriftTransport.Unframed, ThriftProtocol.LaxBinary);
    expect<i32>(d.seqId).toBe(77);
    expect(latin1(ptr(unframed), d.nameOffset, d.nameLength)).toBe("Echo");
    const framed = bytes().be32(unframed.length).raw(unframed).build();
    const f = decodeOk(framed, ThriftTransport.Framed, ThriftProtocol.LaxBinary);
    expect<i32>(f.frameSize).toBe(unframed.length);
    expect<i32>(f.messageType).toBe(MessageType.Call);
  });

  it("reads a TApplicationException's type and message (binary and compact)", () => {
    const bin = bytes().u8(0x80).u8(1).u8(0).u8(3).be32(1).text("m").be32(4)
      .u8(0x0b).be16(1).be32(2).text("no").u8(0x08).be16(2).be32(6).u8(0).build();
    const d = decodeOk(bin, ThriftTransport.Unframed, ThriftProtocol.Binary);
    expect<i32>(d.replyKind).toBe(ReplyKind.AppException);
    expect<i32>(d.appExceptionType).toBe(6);
    expect(latin1(ptr(bin), d.appExceptionMessageOffset, d.appExceptionMessageLength)).toBe("no");
    // compact: 0x82, type 3 << 5 | 1, seq 4, name "m", field 1 string "no", field 2 i32 zigzag(6) = 12
    const cpt = bytes().u8(0x82).u8(0x61).u8(4).u8(1).text("m").u8(0x18).u8(2).text("no").u8(0x15).u8(12).u8(0).build();
    const c = decodeOk(cpt, ThriftTransport.Unframed, ThriftProtocol.Compact);
    expect<i32>(c.appExceptionType).toBe(6);
    expect(latin1(ptr(cpt), c.appExceptionMessageOffset, c.appExceptionMessageLength)).toBe("no");
  });

  it("checks a configured protocol against THeader's protocol id", () => {
    const f = THRIFT_FIXTURES[54]; // header-binary-call-get
    expect(f.label).toBe("header-binary-call-get");
    const d = decodeError(f.bytes, ThriftTransport.Header, ThriftProtocol.Compact);
    expect(d.error).toBe("transport reports protocol binary, but configured for compact");
  });
});

function decodeOk(b: StaticArray<u8>, transport: ThriftTransport, protocol: ThriftProtocol): ThriftDecoder {
  const c = new ThriftDecoderConfig();
  c.transport = transport;
  c.protocol = protocol;
  for (let k = 0; k < b.length; k++) {
    const d = new ThriftDecoder(c);
    expect<i32>(d.decode(ptr(b), k)).toBe(DecodeStatus.NeedMoreData, "prefix " + k.toString() + " " + d.error);
  }
  const d = new ThriftDecoder(c);
  expect<i32>(d.decode(ptr(b), b.length)).toBe(DecodeStatus.Done, d.error);
  expect<i32>(d.pos).toBe(b.length);
  return d;
}

class Bad {
  constructor(
    public name: string,
    public bytes: StaticArray<u8>,
    public transport: ThriftTransport,
    public protocol: ThriftProtocol,
    public error: string,
    public kind: ThriftErrorKind,
  ) {}
}

const BAD: Bad[] = [
  new Bad("framed size -1", bytes().be32(0xffffffff).u8(0x80).build(), ThriftTransport.Framed, ThriftProtocol.Binary,
    "invalid thrift framed transport frame size -1", ThriftErrorKind.TooLarge),
  new Bad("framed size 0", bytes().be32(0).build(), ThriftTransport.Framed, ThriftProtocol.Binary,
    "invalid thrift framed transport frame size 0", ThriftErrorKind.TooLarge),
  new Bad("framed size over 16 MiB", bytes().be32(0x1000001).build(), ThriftTransport.Framed, ThriftProtocol.Binary,
    "invalid thrift framed transport frame size 16777217", ThriftErrorKind.TooLarge),
  new Bad("binary version", bytes().u8(0x80).u8(0x02).u8(0).u8(1).build(), ThriftTransport.Unframed, ThriftProtocol.Binary,
    "invalid binary protocol version 0x8002 != 0x8001", ThriftErrorKind.Protocol),
  new Bad("binary message type", bytes().u8(0x80).u8(0x01).u8(0).u8(5).be32(1).build(), ThriftTransport.Unframed, ThriftProtocol.Binary,
    "invalid binary protocol message type 5", ThriftErrorKind.Protocol),
  new Bad("lax message type", bytes().be32(1).text("m").u8(9).be32(0).build(), ThriftTransport.Unframed, ThriftProtocol.LaxBinary,
    "invalid (lax) binary protocol message type 9", ThriftErrorKind.Protocol),
  new Bad("compact version", bytes().u8(0x82).u8(0x22).u8(0).u8(0).build(), ThriftTransport.Unframed, ThriftProtocol.Compact,
    "invalid compact protocol version 0x8202 != 0x8201", ThriftErrorKind.Protocol),
  new Bad("compact message type", bytes().u8(0x82).u8(0xa1).u8(0).u8(0).build(), ThriftTransport.Unframed, ThriftProtocol.Compact,
    "invalid compact protocol message type 5", ThriftErrorKind.Protocol),
  new Bad("compact seq id varint", bytes().u8(0x82).u8(0x21).u8(0xff).u8(0xff).u8(0xff).u8(0xff).u8(0xff).u8(0x01).build(),
    ThriftTransport.Unframed, ThriftProtocol.Compact, "invalid compact protocol varint i32 (seq id)", ThriftErrorKind.Protocol),
  new Bad("negative string", bytes().u8(0x80).u8(1).u8(0).u8(1).be32(1).text("m").be32(0).u8(0x0b).be16(1).be32(0xfffffffe).build(),
    ThriftTransport.Unframed, ThriftProtocol.Binary, "negative binary protocol string/binary length -2", ThriftErrorKind.Protocol),
  new Bad("negative list", bytes().u8(0x80).u8(1).u8(0).u8(1).be32(1).text("m").be32(0).u8(0x0f).be16(1).u8(8).be32(0xffffffff).build(),
    ThriftTransport.Unframed, ThriftProtocol.Binary, "negative binary protocol list/set size -1", ThriftErrorKind.Protocol),
  new Bad("negative map", bytes().u8(0x80).u8(1).u8(0).u8(1).be32(1).text("m").be32(0).u8(0x0d).be16(1).u8(8).u8(8).be32(0x80000000).build(),
    ThriftTransport.Unframed, ThriftProtocol.Binary, "negative binary protocol map size -2147483648", ThriftErrorKind.Protocol),
  new Bad("unknown field type", bytes().u8(0x80).u8(1).u8(0).u8(1).be32(1).text("m").be32(0).u8(0x07).be16(1).build(),
    ThriftTransport.Unframed, ThriftProtocol.Binary, "unknown field type 7", ThriftErrorKind.Protocol),
  new Bad("unknown list element type", bytes().u8(0x80).u8(1).u8(0).u8(1).be32(1).text("m").be32(0).u8(0x0f).be16(1).u8(0x10).be32(1).build(),
    ThriftTransport.Unframed, ThriftProtocol.Binary, "unknown field type 16", ThriftErrorKind.Protocol),
  new Bad("list of type 0 (stop)", bytes().u8(0x80).u8(1).u8(0).u8(1).be32(1).text("m").be32(0).u8(0x0f).be16(1).u8(0).be32(2).build(),
    ThriftTransport.Unframed, ThriftProtocol.Binary, "unknown field type 0", ThriftErrorKind.Protocol),
  new Bad("map value of type 0 (stop)", bytes().u8(0x80).u8(1).u8(0).u8(1).be32(1).text("m").be32(0).u8(0x0d).be16(1).u8(8).u8(0).be32(1).be32(5).build(),
    ThriftTransport.Unframed, ThriftProtocol.Binary, "unknown field type 0", ThriftErrorKind.Protocol),
  new Bad("compact field type 13", bytes().u8(0x82).u8(0x21).u8(1).u8(1).text("m").u8(0x1d).build(),
    ThriftTransport.Unframed, ThriftProtocol.Compact, "unknown compact protocol field type 13", ThriftErrorKind.Protocol),
  new Bad("compact i16 range", bytes().u8(0x82).u8(0x21).u8(1).u8(1).text("m").u8(0x14).u8(0x80).u8(0x80).u8(0x04).build(),
    ThriftTransport.Unframed, ThriftProtocol.Compact, "compact protocol i16 exceeds allowable range 32768", ThriftErrorKind.Protocol),
  new Bad("message past its frame", bytes().be32(13).u8(0x80).u8(1).u8(0).u8(1).be32(1).text("m").be32(0).u8(0x08).be16(1).build(),
    ThriftTransport.Framed, ThriftProtocol.Binary, "thrift message exceeds its transport frame size 13", ThriftErrorKind.Protocol),
  new Bad("frame longer than its message", bytes().be32(16).u8(0x80).u8(1).u8(0).u8(1).be32(1).text("m").be32(0).u8(0).u8(0).u8(0).build(),
    ThriftTransport.Framed, ThriftProtocol.Binary, "thrift message ends 2 bytes before its transport frame (size 16)", ThriftErrorKind.Protocol),
  new Bad("auto transport", bytes().be32(20).u8(0x41).u8(0x42).build(), ThriftTransport.None, ThriftProtocol.None,
    "unknown thrift auto transport frame start 00 00 00 14 41 42", ThriftErrorKind.Transport),
  new Bad("auto protocol", bytes().be32(20).u8(0x41).u8(0x42).build(), ThriftTransport.Framed, ThriftProtocol.None,
    "unknown thrift auto protocol message start 4142", ThriftErrorKind.Protocol),
  new Bad("header frame size", bytes().be32(13).be16(0x0fff).be16(0).be32(0).be16(1).build(), ThriftTransport.Header, ThriftProtocol.None,
    "invalid thrift header transport frame size 13", ThriftErrorKind.TooLarge),
  new Bad("header magic", bytes().be32(20).be16(0x0ffe).be16(0).be32(0).be16(1).build(), ThriftTransport.Header, ThriftProtocol.None,
    "invalid thrift header transport magic 0ffe", ThriftErrorKind.Transport),
  new Bad("header no data", bytes().be32(20).be16(0x0fff).be16(0).be32(0).be16(0).build(), ThriftTransport.Header, ThriftProtocol.None,
    "no header data", ThriftErrorKind.Transport),
  new Bad("header size negative", bytes().be32(20).be16(0x0fff).be16(0).be32(0).be16(0xffff).build(), ThriftTransport.Header, ThriftProtocol.None,
    "invalid thrift header transport header size -4 (ffff)", ThriftErrorKind.Transport),
  new Bad("header JSON protocol", bytes().be32(20).be16(0x0fff).be16(0).be32(0).be16(1).u8(1).u8(0).zeros(2).build(), ThriftTransport.Header, ThriftProtocol.None,
    "Unknown protocol 1", ThriftErrorKind.Transport),
  new Bad("header transform", bytes().be32(20).be16(0x0fff).be16(0).be32(0).be16(1).u8(0).u8(1).u8(1).u8(0).build(), ThriftTransport.Header, ThriftProtocol.None,
    "Unknown transform 1", ThriftErrorKind.UnknownTransform),
  new Bad("header key too long for the header", bytes().be32(20).be16(0x0fff).be16(0).be32(0).be16(1).u8(0).u8(0).u8(1).u8(1).build(),
    ThriftTransport.Header, ThriftProtocol.None, "unable to read header transport header key: header too small", ThriftErrorKind.Transport),
];

describe("thrift decoder: errors are values in Envoy's words", () => {
  it("names the bad value", () => {
    for (let i = 0; i < BAD.length; i++) {
      const b = BAD[i];
      const d = decodeError(b.bytes, b.transport, b.protocol);
      expect(d.error).toBe(b.error, b.name);
      expect<i32>(d.errorKind).toBe(b.kind, b.name);
      // Sticky: a broken stream stays broken.
      expect<i32>(d.decode(ptr(b.bytes), b.bytes.length)).toBe(DecodeStatus.Error, b.name);
      expect<i32>(d.state).toBe(ThriftState.Failed, b.name);
    }
  });

  it("limits nesting with the fixed frame stack", () => {
    const c = new ThriftDecoderConfig();
    c.transport = ThriftTransport.Unframed;
    c.protocol = ThriftProtocol.Binary;
    c.maxDepth = 4;
    const b = bytes().u8(0x80).u8(1).u8(0).u8(1).be32(1).text("m").be32(0);
    for (let i = 0; i < 4; i++) b.u8(0x0c).be16(1); // struct in struct ...
    const buf = b.build();
    const d = new ThriftDecoder(c);
    expect<i32>(d.decode(ptr(buf), buf.length)).toBe(DecodeStatus.Error);
    expect(d.error).toBe("thrift nesting depth exceeds 4");
    expect<i32>(d.errorKind).toBe(ThriftErrorKind.TooDeep);
    expect(thriftStateName(d.errorState)).toBe("FieldValue");
  });

  it("applies a configured max frame size (Envoy's 0xFA0000)", () => {
    const c = new ThriftDecoderConfig();
    c.transport = ThriftTransport.Framed;
    c.maxFrameSize = 0xfa0000;
    const b = bytes().be32(0xfa0001).build();
    const d = new ThriftDecoder(c);
    expect<i32>(d.decode(ptr(b), b.length)).toBe(DecodeStatus.Error);
    expect(d.error).toBe("invalid thrift framed transport frame size 16384001");
  });

  it("never reads outside the caller's bytes when the caller breaks the contract", () => {
    const f = THRIFT_FIXTURES[2]; // framed-binary-oneway-ping
    const d = decoderFor(f);
    expect<i32>(d.decode(f.ptr, 10)).toBe(DecodeStatus.NeedMoreData);
    // A shrinking buffer, a negative length, a discard past what was consumed.
    expect<i32>(d.decode(f.ptr, 3)).toBe(DecodeStatus.NeedMoreData);
    expect<i32>(d.decode(f.ptr, -5)).toBe(DecodeStatus.NeedMoreData);
    d.discard(1000);
    expect<i32>(d.pos).toBe(0);
  });

  it("names every state once", () => {
    expect<i32>(THRIFT_STATE_NAMES.length).toBe(<i32>ThriftState.Failed + 1);
    expect(thriftStateName(ThriftState.MapValue)).toBe("MapValue");
    expect(thriftStateName(ThriftState.SkipFrame)).toBe("SkipFrame");
  });

  it("reset() starts a new connection", () => {
    const bad = BAD[0];
    const d = decodeError(bad.bytes, bad.transport, bad.protocol);
    d.reset();
    const f = THRIFT_FIXTURES[0];
    expect<i32>(d.decode(f.ptr, f.length)).toBe(DecodeStatus.Done, d.error);
    expect<i32>(d.replyKind).toBe(ReplyKind.None);
  });
});
