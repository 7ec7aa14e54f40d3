// Hand-built ClientHellos: each malformation BoringSSL rejects, each split across records, the
// size bounds, and the SNI / ALPN publication rules. Every case is fed whole, split at every
// byte boundary (two calls on the growing buffer), and one byte per call.
import {
  detectTls, TlsInfo, TlsFields, TlsError, TlsState, tlsErrorText, tlsStateName, alpnTextLength, writeAlpnText,
  lowerAscii, TLS_MAX_CLIENT_HELLO,
} from "../index";
import { Decision } from "../../detect/result";
import { bytes, Bytes, latin1, ptr } from "../../__fixtures__/bytes";

function ext(type: u32, body: Bytes): Bytes {
  return bytes().be16(type).be16(body.length).raw(body.build());
}

/** server_name with the given (name_type, name) entries. */
function sni(types: u32[], names: string[]): Bytes {
  const list = bytes();
  for (let i = 0; i < names.length; i++) list.u8(types[i]).be16(names[i].length).text(names[i]);
  return ext(0, bytes().be16(list.length).raw(list.build()));
}

function host(name: string): Bytes {
  return sni([0], [name]);
}

function alpn(protos: string[]): Bytes {
  const list = bytes();
  for (let i = 0; i < protos.length; i++) list.u8(protos[i].length).text(protos[i]);
  return ext(16, bytes().be16(list.length).raw(list.build()));
}

class Body {
  version: u32 = 0x0303;
  sid: i32 = 32;
  suites: i32 = 2;
  comp: u8[] = [0];
  /** Extensions block; null = none at all. */
  exts: Bytes | null = bytes();
  /** Added after the extensions block, inside the message. */
  tail: i32 = 0;
  /** Extensions block length field delta. */
  extLenDelta: i32 = 0;

  build(): Bytes {
    const b = bytes().be16(this.version);
    for (let i = 0; i < 32; i++) b.u8(i);
    b.u8(this.sid).zeros(this.sid);
    b.be16(this.suites * 2);
    for (let i = 0; i < this.suites; i++) b.be16(0x1301 + i);
    b.u8(this.comp.length);
    for (let i = 0; i < this.comp.length; i++) b.u8(this.comp[i]);
    const e = this.exts;
    if (e !== null) b.be16(e.length + this.extLenDelta).raw(e.build());
    return b.zeros(this.tail);
  }
}

function body(exts: Bytes): Body {
  const b = new Body();
  b.exts = exts;
  return b;
}

function noExtensions(): Body {
  const b = new Body();
  b.exts = null;
  return b;
}

function head(a: StaticArray<u8>, n: i32): Bytes {
  const b = bytes();
  for (let i = 0; i < n; i++) b.u8(a[i]);
  return b;
}

function cat(a: Bytes, b: Bytes): Bytes {
  return bytes().raw(a.build()).raw(b.build());
}

/** The handshake message (type 1) around `body`, in records of `sizes` bytes (the last takes the rest). */
function wire(body: Bytes, sizes: i32[] = [], extraInLast: i32 = 0, recordDelta: i32 = 0): StaticArray<u8> {
  const msg = bytes().u8(1).be24(body.length).raw(body.build()).zeros(extraInLast).build();
  const out = bytes();
  let o = 0;
  for (let i = 0; i <= sizes.length; i++) {
    const n = i < sizes.length ? sizes[i] : msg.length - o;
    out.u8(0x16).u8(3).u8(1).be16(n + (i == sizes.length ? recordDelta : 0));
    for (let k = 0; k < n; k++) out.u8(msg[o + k]);
    o += n;
  }
  return out.build();
}

class Case {
  constructor(
    public name: string,
    public input: StaticArray<u8>,
    /** Decision after all bytes: Match or NoMatch (NeedMoreData: waits for bytes that never come). */
    public decision: Decision,
    public error: TlsError = TlsError.None,
    /** The host_name read (null: none), whether it is published as a host name, the ALPN text. */
    public sni: string | null = null,
    public sniHostName: bool = true,
    public alpn: string | null = null,
    public complete: bool = true,
  ) {}
}

const BIG = 16384 - 4; // the largest body one record can carry
function bigBody(n: i32): Bytes {
  // Pads with an unknown extension (type 0xffce) so the body is n bytes with an SNI.
  const base = body(host("big.example")).build().length;
  const pad = n - base - 4; // the pad extension's own header
  return body(cat(host("big.example"), ext(0xffce, bytes().zeros(pad)))).build();
}

function cases(): Case[] {
  const ok = body(cat(host("api.example.com"), alpn(["h2", "http/1.1"]))).build();
  const c: Case[] = [];
  c.push(new Case("valid", wire(ok), Decision.Match, TlsError.None, "api.example.com", true, "h2,http/1.1"));
  c.push(new Case("no extensions", wire(noExtensions().build()), Decision.Match));
  c.push(new Case("empty extensions block", wire(body(bytes()).build()), Decision.Match));
  // Malformed server_name: BoringSSL extract_sni fails the handshake.
  c.push(new Case("unknown name_type then host_name", wire(body(sni([1, 0], ["x.test", "api.example.com"])).build()),
    Decision.NoMatch, TlsError.ServerNameList));
  c.push(new Case("unknown name_type alone", wire(body(sni([1], ["x.test"])).build()), Decision.NoMatch, TlsError.ServerNameType));
  c.push(new Case("two host_name entries", wire(body(sni([0, 0], ["a.test", "b.test"])).build()), Decision.NoMatch,
    TlsError.ServerNameList));
  c.push(new Case("empty server_name_list", wire(body(ext(0, bytes().be16(0))).build()), Decision.NoMatch, TlsError.ServerNameList));
  c.push(new Case("empty server_name extension", wire(body(ext(0, bytes())).build()), Decision.NoMatch, TlsError.ServerNameList));
  c.push(new Case("empty host_name", wire(body(sni([0], [""])).build()), Decision.NoMatch, TlsError.HostNameLength));
  c.push(new Case("host_name of 256 bytes", wire(body(host("a".repeat(256))).build()), Decision.NoMatch, TlsError.HostNameLength));
  c.push(new Case("host_name with NUL", wire(body(host("a\x00b.test")).build()), Decision.NoMatch, TlsError.HostNameNul));
  c.push(new Case("duplicate server_name", wire(body(cat(host("a.test"), host("b.test"))).build()), Decision.NoMatch,
    TlsError.DuplicateExtension));
  c.push(new Case("empty server_name then another", wire(body(cat(ext(0, bytes()), host("b.test"))).build()),
    Decision.NoMatch, TlsError.DuplicateExtension));
  c.push(new Case("duplicate unknown extension", wire(body(cat(ext(0x1234, bytes()), ext(0x1234, bytes().u8(1)))).build()),
    Decision.NoMatch, TlsError.DuplicateExtension));
  c.push(new Case("duplicate ALPN", wire(body(cat(alpn(["h2"]), alpn(["http/1.1"]))).build()), Decision.NoMatch,
    TlsError.DuplicateExtension));
  // Framing.
  c.push(new Case("bytes after the ClientHello in its record", wire(ok, [], 1), Decision.NoMatch, TlsError.ExcessData));
  c.push(new Case("record one byte longer than what arrived", wire(ok, [], 0, 1), Decision.NoMatch, TlsError.ExcessData));
  // The record ends one byte early: the message's last byte is read as the next record's type.
  c.push(new Case("record one byte short", wire(ok, [], 0, -1), Decision.NoMatch, TlsError.RecordType));
  const tail = body(host("a.test"));
  tail.tail = 1;
  c.push(new Case("byte after the extensions block", wire(tail.build()), Decision.NoMatch, TlsError.ExtensionsLength));
  const long = body(host("a.test"));
  long.extLenDelta = 1;
  c.push(new Case("extensions length one too long", wire(long.build()), Decision.NoMatch, TlsError.ExtensionsLength));
  const sid = body(host("a.test"));
  sid.sid = 33;
  c.push(new Case("session id 33", wire(sid.build()), Decision.NoMatch, TlsError.SessionId));
  const nocomp = body(host("a.test"));
  nocomp.comp = [1];
  c.push(new Case("compression without null", wire(nocomp.build()), Decision.NoMatch, TlsError.NoNullCompression));
  const ver = body(host("a.test"));
  ver.version = 0x0205;
  c.push(new Case("legacy_version 2.5", wire(ver.build()), Decision.NoMatch, TlsError.LegacyVersion));
  c.push(new Case("record length 16385", bytes().u8(0x16).u8(3).u8(1).be16(16385).build(), Decision.NoMatch, TlsError.RecordLength));
  c.push(new Case("record type 23 after the first", cat(head(wire(ok, [6]), 11),
    bytes().u8(23).u8(3).u8(1).be16(2).u8(0).u8(0)).build(), Decision.NoMatch, TlsError.RecordType));
  c.push(new Case("handshake type 2", bytes().u8(0x16).u8(3).u8(1).be16(4).u8(2).be24(100).build(), Decision.NoMatch,
    TlsError.HandshakeType));
  c.push(new Case("ClientHello length 16385", bytes().u8(0x16).u8(3).u8(1).be16(4).u8(1).be24(16385).build(),
    Decision.NoMatch, TlsError.HelloLength));
  // Malformed ALPN: Envoy's onALPN drops it, the hello stays TLS.
  c.push(new Case("ALPN with an empty protocol", wire(body(cat(host("a.test"), ext(16, bytes().be16(3).u8(2).text("h2").u8(0)))).build()),
    Decision.Match, TlsError.None, "a.test"));
  c.push(new Case("ALPN list of length 0", wire(body(cat(host("a.test"), ext(16, bytes().be16(0)))).build()),
    Decision.Match, TlsError.None, "a.test"));
  // SNI publication.
  c.push(new Case("host name with a trailing dot", wire(body(host("api.example.com.")).build()), Decision.Match,
    TlsError.None, "api.example.com.", false));
  c.push(new Case("host name with a non-ASCII byte", wire(body(host("caf\xe9.test")).build()), Decision.Match,
    TlsError.None, "caf\xe9.test", false));
  c.push(new Case("host name with a space", wire(body(host("a b.test")).build()), Decision.Match, TlsError.None, "a b.test", false));
  c.push(new Case("upper-case host name", wire(body(host("API.Example.COM")).build()), Decision.Match, TlsError.None, "API.Example.COM"));
  // ALPN publication.
  c.push(new Case("ALPN protocol with a comma", wire(body(alpn(["a,b", "h2"])).build()), Decision.Match, TlsError.None, null,
    true, "a%2Cb,h2"));
  c.push(new Case("ALPN protocol with % and a space", wire(body(alpn(["x%y z", "\x01"])).build()), Decision.Match,
    TlsError.None, null, true, "x%25y%20z,%01"));
  // Splits across records.
  for (let first = 1; first <= 8; first++) {
    c.push(new Case("first record " + first.toString() + " bytes", wire(ok, [first]), Decision.Match, TlsError.None,
      "api.example.com", true, "h2,http/1.1"));
  }
  c.push(new Case("three records", wire(ok, [5, 40]), Decision.Match, TlsError.None, "api.example.com", true, "h2,http/1.1"));
  c.push(new Case("an empty record first", wire(ok, [0]), Decision.Match, TlsError.None, "api.example.com", true, "h2,http/1.1"));
  c.push(new Case("split with a byte after the ClientHello", wire(ok, [6], 1), Decision.NoMatch, TlsError.ExcessData));
  c.push(new Case("split record one byte longer", wire(ok, [6], 0, 1), Decision.NoMatch, TlsError.ExcessData));
  const empties: i32[] = [];
  for (let i = 0; i < 33; i++) empties.push(0);
  c.push(new Case("33 empty records", wire(ok, empties), Decision.NoMatch, TlsError.EmptyRecords));
  const many: i32[] = [];
  for (let i = 0; i < 64; i++) many.push(1);
  c.push(new Case("65 records", wire(ok, many), Decision.Match, TlsError.None, null, true, null, false));
  // Size bounds.
  for (let n = BIG - 4; n <= BIG; n++) {
    c.push(new Case("one record of " + (n + 4).toString() + " bytes", wire(bigBody(n)), Decision.Match, TlsError.None, "big.example"));
  }
  c.push(new Case("16384-byte body over two records", wire(bigBody(16384), [16384]), Decision.Match, TlsError.None, "big.example"));
  return c;
}

function alpnText(d: usize, info: TlsInfo): string | null {
  if (info.alpnOffset < 0) return null;
  const n = alpnTextLength(d, info.alpnOffset, info.alpnLength);
  const out = new StaticArray<u8>(n);
  writeAlpnText(d, info.alpnOffset, info.alpnLength, ptr(out));
  return latin1(ptr(out), 0, n);
}

function check(c: Case, info: TlsInfo, d: Decision, how: string): void {
  const label = c.name + " (" + how + ", state " + tlsStateName(info.state) + ", " +
    tlsErrorText(info.error, info.errorValue) + ")";
  expect<i32>(d).toBe(c.decision, label);
  expect<i32>(info.error).toBe(c.error, label);
  if (d != Decision.Match) return;
  expect(info.complete).toBe(c.complete, label);
  const p = info.dataPtr(ptr(c.input));
  const want = c.sni;
  if (want === null) {
    expect(info.sniOffset).toBe(-1, label);
  } else {
    expect(latin1(p, info.sniOffset, info.sniLength)).toBe(want, label);
    expect(info.sniHostName).toBe(c.sniHostName, label);
    if (info.sniHostName) expect(info.sniUpper).toBe(hasUpper(want), label);
  }
  const a = alpnText(p, info);
  const wantAlpn = c.alpn;
  if (wantAlpn === null) {
    expect(a === null).toBe(true, label);
  } else {
    expect(a).toBe(wantAlpn, label);
    // Plain: the text is the entries joined with ',' (one byte fewer than the list).
    expect(info.alpnPlain).toBe(alpnTextLength(p, info.alpnOffset, info.alpnLength) == info.alpnLength - 1, label);
  }
}

function hasUpper(s: string): bool {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x41 && s.charCodeAt(i) <= 0x5a) return true;
  return false;
}

/** A single-record hello whose host_name is `name` and whose one ALPN protocol is `proto`. */
function helloWith(name: StaticArray<u8>, proto: StaticArray<u8>): StaticArray<u8> {
  const server = bytes().u8(0).be16(name.length).raw(name);
  const protos = bytes().u8(proto.length).raw(proto);
  const exts = cat(
    ext(0, bytes().be16(server.length).raw(server.build())),
    ext(16, bytes().be16(protos.length).raw(protos.build())),
  );
  return wire(body(exts).build());
}

/** A byte value at the edge of a class the SWAR tests tell apart (printable, upper case, escaped). */
function classEdge(v: i32): bool {
  return v == 0 || v == 0x20 || v == 0x21 || v == 0x24 || v == 0x25 || v == 0x26 || v == 0x2b || v == 0x2c ||
    v == 0x2d || v == 0x40 || v == 0x41 || v == 0x5a || v == 0x5b || v == 0x60 || v == 0x61 || v == 0x7e ||
    v == 0x7f || v == 0x80 || v == 0xff;
}

/** `n` bytes 'q', byte `v` at `at`. */
function nameWith(n: i32, at: i32, v: u32): StaticArray<u8> {
  const b = new StaticArray<u8>(n);
  for (let i = 0; i < n; i++) b[i] = 0x71;
  b[at] = <u8>v;
  return b;
}

describe("tls ClientHello rules (BoringSSL / tls_inspector)", () => {
  it("decides each case the same whole, split at every byte and one byte per call", () => {
    const all = cases();
    for (let k = 0; k < all.length; k++) {
      const c = all[k];
      const p = ptr(c.input);
      const n = c.input.length;
      const whole = new TlsInfo();
      check(c, whole, detectTls(p, n, whole), "whole");
      // Split at every boundary (the big cases at a few, to keep the run short).
      const step = n > 4096 ? 997 : 1;
      for (let s = 1; s < n; s += step) {
        const info = new TlsInfo();
        const first = detectTls(p, s, info);
        if (first != Decision.NeedMoreData) {
          check(c, info, first, "decided at " + s.toString());
          continue;
        }
        check(c, info, detectTls(p, n, info), "split at " + s.toString());
      }
      if (n <= 4096) {
        const info = new TlsInfo();
        let d = Decision.NeedMoreData;
        for (let s = 1; s <= n && d == Decision.NeedMoreData; s++) d = detectTls(p, s, info);
        check(c, info, d, "byte by byte");
      }
    }
  });

  it("ignores bytes after the ClientHello's last record (the next record, application data)", () => {
    const ok = body(host("api.example.com")).build();
    const b = cat(bytes().raw(wire(ok, [6])), bytes().u8(23).u8(3).u8(3).be16(3).text("abc")).build();
    const info = new TlsInfo();
    expect<i32>(detectTls(ptr(b), b.length, info)).toBe(Decision.Match);
    expect(latin1(info.dataPtr(ptr(b)), info.sniOffset, info.sniLength)).toBe("api.example.com");
  });

  it("answers TLS without SNI for a hello above the cap, as soon as its length is known", () => {
    const ok = body(host("api.example.com")).build();
    const b = wire(ok);
    const info = new TlsInfo();
    expect<i32>(detectTls(ptr(b), 9, info, 40 + 1)).toBe(Decision.Match);
    expect(info.complete).toBe(false);
    expect(info.sniOffset).toBe(-1);
    const fits = new TlsInfo();
    expect<i32>(detectTls(ptr(b), b.length, fits, ok.length)).toBe(Decision.Match);
    expect(fits.complete).toBe(true);
    expect<i32>(TLS_MAX_CLIENT_HELLO).toBe(16384);
  });

  it("reuses its reassembly buffer after reset and reads no byte of the earlier hello", () => {
    const info = new TlsInfo();
    const a = wire(body(host("first.example.com")).build(), [7]);
    expect<i32>(detectTls(ptr(a), a.length, info)).toBe(Decision.Match);
    info.reset();
    expect<i32>(info.state).toBe(TlsState.Header);
    const b = wire(body(host("b.test")).build(), [7]);
    expect<i32>(detectTls(ptr(b), b.length, info)).toBe(Decision.Match);
    expect(latin1(info.dataPtr(ptr(b)), info.sniOffset, info.sniLength)).toBe("b.test");
  });

  it("notes an upper-case host name and an ALPN name to escape: any byte at any position, names of 1 to 17 bytes", () => {
    const info = new TlsInfo();
    const h2 = nameWith(2, 0, 0x68);
    const plainName = nameWith(3, 0, 0x71);
    for (let n = 1; n <= 17; n++) {
      // Every byte value where a word boundary falls differently (under 8 bytes, 8, 9, 17);
      // the class edges for the other lengths.
      const every = n == 1 || n == 7 || n == 8 || n == 9 || n == 17;
      for (let at = 0; at < n; at++) {
        for (let v = 0; v < 256; v++) {
          if (!every && !classEdge(v)) continue;
          // Host name: printable bytes only (any other is not a host name and never published),
          // and no trailing dot.
          if (v >= 0x21 && v <= 0x7e && !(v == 0x2e && at == n - 1)) {
            info.reset();
            const a = helloWith(nameWith(n, at, v), h2);
            const ok = detectTls(ptr(a), a.length, info) == Decision.Match && info.sniHostName &&
              info.sniUpper == (v >= 0x41 && v <= 0x5a) && info.alpnPlain;
            if (!ok) expect(v).toBe(-1, "host name of " + n.toString() + " bytes, byte " + v.toString() + " at " + at.toString());
          }
          info.reset();
          const b = helloWith(plainName, nameWith(n, at, v));
          const escapes = v < 0x21 || v > 0x7e || v == 0x2c || v == 0x25;
          const ok = detectTls(ptr(b), b.length, info) == Decision.Match && info.alpnOffset >= 0 &&
            info.alpnPlain == !escapes && !info.sniUpper;
          if (!ok) expect(v).toBe(-1, "ALPN name of " + n.toString() + " bytes, byte " + v.toString() + " at " + at.toString());
        }
      }
    }
  });

  it("lower-cases a host name in place", () => {
    const b = bytes().text("API.Example-1.COM").build();
    lowerAscii(ptr(b), 0, b.length);
    expect(latin1(ptr(b), 0, b.length)).toBe("api.example-1.com");
  });

  it("lower-cases exactly 'A'..'Z', any byte at any position of names up to 20 bytes, nothing outside", () => {
    for (let n = 1; n <= 20; n++) {
      for (let at = 0; at < n; at++) {
        for (let v = 0; v < 256; v++) {
          // One guard byte 'Q' each side: never touched.
          const b = new StaticArray<u8>(n + 2);
          for (let i = 0; i < n + 2; i++) b[i] = 0x51;
          b[1 + at] = <u8>v;
          lowerAscii(ptr(b), 1, n);
          let ok = b[0] == 0x51 && b[n + 1] == 0x51;
          for (let i = 1; i <= n; i++) {
            const was = i == 1 + at ? <u8>v : <u8>0x51;
            ok = ok && b[i] == (was >= 0x41 && was <= 0x5a ? was + 0x20 : was);
          }
          // The label is built only for a failure: this loop runs about 54,000 times.
          if (!ok) expect(latin1(ptr(b), 0, n + 2)).toBe("?", "length " + n.toString() + ", byte " + v.toString() + " at " + at.toString());
        }
      }
    }
  });
});

/** Everything a reader of a TlsInfo sees after a decision, as text. */
function outcome(info: TlsInfo, d: Decision, p: usize): string {
  let s = (<i32>d).toString() + " state=" + tlsStateName(info.state) + " " + tlsErrorText(info.error, info.errorValue) +
    " complete=" + (info.complete ? "1" : "0") + " spans=" + (info.spansRecords ? "1" : "0") +
    " plausible=" + (info.plausible ? "1" : "0") + " versions=" + info.recordVersion.toString() + "," +
    info.legacyVersion.toString() + " needUntil=" + info.needUntil.toString();
  if (d == Decision.Match && info.complete) {
    const q = info.dataPtr(p);
    s += " sni=" + (info.sniOffset < 0 ? "-" : latin1(q, info.sniOffset, info.sniLength) + (info.sniHostName ? "" : " (not a host name)"));
    const a = alpnText(q, info);
    s += " alpn=" + (a === null ? "-" : a);
  }
  return s;
}

describe("tls decoder state", () => {
  it("TlsFields has TlsInfo's layout (the decoder reads and writes a TlsInfo through it)", () => {
    expect(offsetof<TlsFields>()).toBe(offsetof<TlsInfo>());
    expect(offsetof<TlsFields>("state")).toBe(offsetof<TlsInfo>("state"));
    expect(offsetof<TlsFields>("error")).toBe(offsetof<TlsInfo>("error"));
    expect(offsetof<TlsFields>("errorValue")).toBe(offsetof<TlsInfo>("errorValue"));
    expect(offsetof<TlsFields>("pos")).toBe(offsetof<TlsInfo>("pos"));
    expect(offsetof<TlsFields>("recEnd")).toBe(offsetof<TlsInfo>("recEnd"));
    expect(offsetof<TlsFields>("records")).toBe(offsetof<TlsInfo>("records"));
    expect(offsetof<TlsFields>("emptyRun")).toBe(offsetof<TlsInfo>("emptyRun"));
    expect(offsetof<TlsFields>("hdrGot")).toBe(offsetof<TlsInfo>("hdrGot"));
    expect(offsetof<TlsFields>("hdr")).toBe(offsetof<TlsInfo>("hdr"));
    expect(offsetof<TlsFields>("bodyLen")).toBe(offsetof<TlsInfo>("bodyLen"));
    expect(offsetof<TlsFields>("bodyGot")).toBe(offsetof<TlsInfo>("bodyGot"));
    expect(offsetof<TlsFields>("bodyAt")).toBe(offsetof<TlsInfo>("bodyAt"));
    expect(offsetof<TlsFields>("recordVersion")).toBe(offsetof<TlsInfo>("recordVersion"));
    expect(offsetof<TlsFields>("legacyVersion")).toBe(offsetof<TlsInfo>("legacyVersion"));
    expect(offsetof<TlsFields>("sniOffset")).toBe(offsetof<TlsInfo>("sniOffset"));
    expect(offsetof<TlsFields>("sniLength")).toBe(offsetof<TlsInfo>("sniLength"));
    expect(offsetof<TlsFields>("alpnOffset")).toBe(offsetof<TlsInfo>("alpnOffset"));
    expect(offsetof<TlsFields>("alpnLength")).toBe(offsetof<TlsInfo>("alpnLength"));
    expect(offsetof<TlsFields>("needUntil")).toBe(offsetof<TlsInfo>("needUntil"));
    expect(offsetof<TlsFields>("inPlace")).toBe(offsetof<TlsInfo>("inPlace"));
    expect(offsetof<TlsFields>("sniHostName")).toBe(offsetof<TlsInfo>("sniHostName"));
    expect(offsetof<TlsFields>("complete")).toBe(offsetof<TlsInfo>("complete"));
    expect(offsetof<TlsFields>("spansRecords")).toBe(offsetof<TlsInfo>("spansRecords"));
    expect(offsetof<TlsFields>("sniUpper")).toBe(offsetof<TlsInfo>("sniUpper"));
    expect(offsetof<TlsFields>("alpnPlain")).toBe(offsetof<TlsInfo>("alpnPlain"));
    expect(offsetof<TlsFields>("scratch")).toBe(offsetof<TlsInfo>("scratch"));
    // reset() clears the four flags with one 4-byte store.
    expect(offsetof<TlsInfo>("sniHostName")).toBe(offsetof<TlsInfo>("inPlace") + 1);
    expect(offsetof<TlsInfo>("complete")).toBe(offsetof<TlsInfo>("inPlace") + 2);
    expect(offsetof<TlsInfo>("spansRecords")).toBe(offsetof<TlsInfo>("inPlace") + 3);
  });

  it("after reset, decides every case as a fresh state does, whatever the previous connection was", () => {
    const all = cases();
    const info = new TlsInfo();
    for (let j = 0; j < all.length; j++) {
      const c = all[j];
      const fresh = new TlsInfo();
      const want = outcome(fresh, detectTls(ptr(c.input), c.input.length, fresh), ptr(c.input));
      for (let i = 0; i < all.length; i++) {
        const before = all[i];
        info.reset();
        // The previous connection: whole, or cut after its first 7 bytes (left mid-way).
        const cut = (j & 1) == 0 ? before.input.length : min(7, before.input.length);
        detectTls(ptr(before.input), cut, info);
        info.reset();
        const got = outcome(info, detectTls(ptr(c.input), c.input.length, info), ptr(c.input));
        expect(got).toBe(want, before.name + " then " + c.name);
      }
    }
  });

  it("judges a host name of every length with a byte of each class at every position", () => {
    // Bytes and what one of them does to the name: 0 = NUL (error), 1 = not a host name, 2 = fine.
    const probes: u8[] = [0x00, 0x01, 0x20, 0x21, 0x2d, 0x41, 0x5a, 0x7e, 0x7f, 0x80, 0xff];
    const effect: i32[] = [0, 1, 1, 2, 2, 2, 2, 2, 1, 1, 1];
    for (let n = 1; n <= 40; n++) {
      for (let at = 0; at < n; at++) {
        for (let k = 0; k < probes.length; k++) {
          const name = new Array<u8>(n).fill(0x61);
          name[at] = probes[k];
          const list = bytes().u8(0).be16(n);
          for (let i = 0; i < n; i++) list.u8(name[i]);
          const b = wire(body(ext(0, bytes().be16(list.length).raw(list.build()))).build());
          const info = new TlsInfo();
          const d = detectTls(ptr(b), b.length, info);
          const label = "length " + n.toString() + ", byte " + probes[k].toString() + " at " + at.toString();
          if (effect[k] == 0) {
            expect<i32>(d).toBe(Decision.NoMatch, label);
            expect<i32>(info.error).toBe(TlsError.HostNameNul, label);
            expect(info.errorValue).toBe(at, label);
          } else {
            expect<i32>(d).toBe(Decision.Match, label);
            expect(info.sniLength).toBe(n, label);
            expect(info.sniHostName).toBe(effect[k] == 2, label);
          }
        }
      }
      // A trailing dot (a name of dots alone too) is never a host name.
      const dotted = wire(body(host("a".repeat(n - 1) + ".")).build());
      const info = new TlsInfo();
      expect<i32>(detectTls(ptr(dotted), dotted.length, info)).toBe(Decision.Match);
      expect(info.sniHostName).toBe(false, "length " + n.toString() + " ending in a dot");
    }
  });

  it("tells repeated from distinct types ≥ 64 across more hellos than the table's stamps (65535)", () => {
    // Every hello takes a stamp; 65535 hellos later the stamp value comes round again, so a type
    // seen only in the first and the last of them is a repeat unless the wrap cleared the table.
    const plain = wire(body(cat(ext(0x4469, bytes()), host("a.test"))).build());
    const marked = wire(body(cat(cat(ext(0x4469, bytes()), ext(0x5a5a, bytes())), host("a.test"))).build());
    const twice = wire(body(cat(cat(ext(0x4469, bytes()), ext(0xff01, bytes())), ext(0x4469, bytes()))).build());
    const info = new TlsInfo();
    for (let i = 0; i <= 65535 + 1000; i++) {
      info.reset();
      const repeat = i % 1000 == 999;
      const b = repeat ? twice : i == 0 || i == 65535 ? marked : plain;
      const d = detectTls(ptr(b), b.length, info);
      if (repeat) {
        expect<i32>(info.error).toBe(TlsError.DuplicateExtension, "hello " + i.toString());
        expect(info.errorValue).toBe(0x4469, "hello " + i.toString());
      } else if (d != Decision.Match) {
        expect<i32>(d).toBe(Decision.Match, "hello " + i.toString() + ": " + tlsErrorText(info.error, info.errorValue));
      }
    }
  });

  it("names the first repeated extension type, below and above 64, before a later malformed extension", () => {
    const t = (exts: Bytes, error: TlsError, value: i32): void => {
      const b = wire(body(exts).build());
      const info = new TlsInfo();
      expect<i32>(detectTls(ptr(b), b.length, info)).toBe(Decision.NoMatch);
      const label = tlsErrorText(info.error, info.errorValue);
      expect<i32>(info.error).toBe(error, label);
      expect(info.errorValue).toBe(value, label);
    };
    const e = (type: u32): Bytes => ext(type, bytes());
    const D = TlsError.DuplicateExtension;
    t(cat(cat(e(10), e(0x4469)), cat(e(10), e(0x4469))), D, 10);
    t(cat(cat(e(10), e(0x4469)), cat(e(0x4469), e(10))), D, 0x4469);
    t(cat(cat(e(63), e(11)), e(63)), D, 63);
    t(cat(cat(e(64), e(11)), e(64)), D, 64);
    t(cat(cat(e(0xff01), e(0xfe0d)), cat(e(0xfe0d), e(0xff01))), D, 0xfe0d);
    // A repeat below 64 is the first error even when a later extension is truncated...
    const truncated = cat(cat(e(11), e(11)), bytes().be16(12).be16(40).u8(0));
    t(truncated, D, 11);
    // ...and a truncated extension before any repeat is reported as truncated.
    const early = body(cat(e(11), bytes().be16(12).be16(40).u8(0))).build();
    const b = wire(early);
    const info = new TlsInfo();
    expect<i32>(detectTls(ptr(b), b.length, info)).toBe(Decision.NoMatch);
    expect<i32>(info.error).toBe(TlsError.Truncated);
    // The same types once each, and 0 and 63 next to 64 and 0xffff: no repeat.
    const ok = wire(body(cat(cat(cat(e(63), e(64)), cat(e(0xffff), e(1))), cat(host("a.test"), e(0x41)))).build());
    const fine = new TlsInfo();
    expect<i32>(detectTls(ptr(ok), ok.length, fine)).toBe(Decision.Match);
    expect(latin1(fine.dataPtr(ptr(ok)), fine.sniOffset, fine.sniLength)).toBe("a.test");
  });
});

