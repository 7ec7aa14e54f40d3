import { detectTls, TlsInfo } from "../index";
import { Decision } from "../../detect/result";
import { capture, Capture } from "../../__fixtures__/captures";
import { bytes, latin1, ptr } from "../../__fixtures__/bytes";

function parse(p: usize, len: i32): TlsInfo {
  const info = new TlsInfo();
  const d = detectTls(p, len, info);
  expect<i32>(d).toBe(Decision.Match);
  return info;
}

function alpnList(p: usize, info: TlsInfo): string {
  let out = "";
  let i = info.alpnOffset;
  const end = info.alpnOffset + info.alpnLength;
  while (i >= 0 && i < end) {
    const n = <i32>load<u8>(p + <usize>i);
    if (out.length > 0) out += ",";
    out += latin1(p, i + 1, n);
    i += 1 + n;
  }
  return out;
}

function copy(c: Capture): StaticArray<u8> {
  return bytes().raw(c.bytes).build();
}

describe("tls ClientHello", () => {
  it("extracts SNI and the ALPN list from node's TLS 1.3 ClientHello", () => {
    const c = capture("tls-sni-alpn-h2");
    const info = parse(c.ptr, c.length);
    expect(info.complete).toBe(true);
    expect(latin1(c.ptr, info.sniOffset, info.sniLength)).toBe("api.example.com");
    expect(alpnList(c.ptr, info)).toBe("h2,http/1.1");
    expect(info.alpnCount(c.ptr)).toBe(2);
    expect(info.recordVersion).toBe(0x0301);
    expect(info.legacyVersion).toBe(0x0303);
  });

  it("extracts SNI and ALPN from a TLS 1.2-only ClientHello", () => {
    const c = capture("tls12-sni");
    const info = parse(c.ptr, c.length);
    expect(latin1(c.ptr, info.sniOffset, info.sniLength)).toBe("legacy.example.com");
    expect(alpnList(c.ptr, info)).toBe("http/1.1");
  });

  it("answers TLS without SNI when the client sent none", () => {
    const c = capture("tls-no-sni");
    const info = parse(c.ptr, c.length);
    expect(info.sniOffset).toBe(-1);
    expect(info.complete).toBe(true);
    expect(alpnList(c.ptr, info)).toBe("grpc-exp,h2");
  });

  it("needs the whole ClientHello and skips re-parsing until it can have arrived", () => {
    const c = capture("tls-sni-alpn-h2");
    const info = new TlsInfo();
    expect<i32>(detectTls(c.ptr, 11, info)).toBe(Decision.NeedMoreData);
    expect(info.needUntil).toBe(c.length);
    expect<i32>(detectTls(c.ptr, c.length - 1, info)).toBe(Decision.NeedMoreData);
    expect<i32>(detectTls(c.ptr, c.length, info)).toBe(Decision.Match);
  });

  it("answers NoMatch when an inner length is corrupt", () => {
    const c = capture("tls-sni-alpn-h2");
    // session id length (offset 43) above 32
    const a = copy(c);
    a[43] = 33;
    expect<i32>(detectTls(ptr(a), a.length, new TlsInfo())).toBe(Decision.NoMatch);
    // cipher suites length odd
    const b = copy(c);
    const csAt = 44 + <i32>b[43];
    b[csAt + 1] = b[csAt + 1] ^ 1;
    expect<i32>(detectTls(ptr(b), b.length, new TlsInfo())).toBe(Decision.NoMatch);
  });

  it("keeps every extracted offset inside the buffer whatever byte is corrupted", () => {
    const c = capture("tls-sni-alpn-h2");
    for (let i = 0; i < c.length; i++) {
      const m = copy(c);
      m[i] = m[i] ^ 0xff;
      const info = new TlsInfo();
      const d = detectTls(ptr(m), m.length, info);
      if (d == Decision.Match && info.complete) {
        expect(info.sniOffset + info.sniLength).toBeLessThanOrEqual(m.length, "byte " + i.toString());
        expect(info.alpnOffset + info.alpnLength).toBeLessThanOrEqual(m.length, "byte " + i.toString());
      }
    }
  });

  it("reassembles a ClientHello split over two records and reads its SNI and ALPN", () => {
    const c = capture("tls-sni-alpn-h2");
    const rec = (<u32>c.bytes[3] << 8) | <u32>c.bytes[4];
    const first: u32 = 100;
    const split = bytes().u8(0x16).u8(3).u8(1).be16(first);
    for (let i = 5; i < 5 + <i32>first; i++) split.u8(c.bytes[i]);
    split.u8(0x16).u8(3).u8(1).be16(rec - first);
    for (let i = 5 + <i32>first; i < 5 + <i32>rec; i++) split.u8(c.bytes[i]);
    const b = split.build();
    const info = new TlsInfo();
    expect<i32>(detectTls(ptr(b), 200, info)).toBe(Decision.NeedMoreData);
    expect<i32>(detectTls(ptr(b), b.length - 1, info)).toBe(Decision.NeedMoreData);
    expect<i32>(detectTls(ptr(b), b.length, info)).toBe(Decision.Match);
    expect(info.spansRecords).toBe(true);
    expect(info.complete).toBe(true);
    expect(latin1(info.dataPtr(ptr(b)), info.sniOffset, info.sniLength)).toBe("api.example.com");
    expect(info.alpnCount(ptr(b))).toBe(2);
  });

  it("rejects non-handshake records and SSLv2 hellos early", () => {
    const alert = bytes().u8(0x15).u8(3).u8(3).be16(2).u8(2).u8(40).build();
    expect<i32>(detectTls(ptr(alert), 1, new TlsInfo())).toBe(Decision.NoMatch);
    const v2 = bytes().u8(0x80).u8(0x2e).u8(0x01).u8(0x03).u8(0x01).build();
    expect<i32>(detectTls(ptr(v2), v2.length, new TlsInfo())).toBe(Decision.NoMatch);
  });
});
