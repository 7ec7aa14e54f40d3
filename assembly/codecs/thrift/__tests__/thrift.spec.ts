import { detectThrift, ThriftInfo, ThriftProtocol, ThriftTransport } from "../index";
import { Decision } from "../../detect/result";
import { capture } from "../../__fixtures__/captures";
import { bytes, latin1, ptr } from "../../__fixtures__/bytes";
import { THRIFT_FIXTURES } from "../__fixtures__/messages";
import { classifyPtr, Protocol, SniffState } from "../../detect/index";

class Case {
  constructor(public name: string, public transport: ThriftTransport, public protocol: ThriftProtocol, public method: string) {}
}

const CASES: Case[] = [
  new Case("thrift-framed-binary", ThriftTransport.Framed, ThriftProtocol.Binary, "ping"),
  new Case("thrift-buffered-binary", ThriftTransport.Unframed, ThriftProtocol.Binary, "ping"),
  new Case("thrift-framed-compact", ThriftTransport.Framed, ThriftProtocol.Compact, "ping"),
  new Case("thrift-buffered-compact", ThriftTransport.Unframed, ThriftProtocol.Compact, "ping"),
  new Case("thrift-header-binary", ThriftTransport.Header, ThriftProtocol.Binary, ""),
];

describe("thrift", () => {
  it("reports transport, protocol and method name of real apache/thrift clients", () => {
    for (let i = 0; i < CASES.length; i++) {
      const k = CASES[i];
      const c = capture(k.name);
      const info = new ThriftInfo();
      expect<i32>(detectThrift(c.ptr, c.length, info)).toBe(Decision.Match, k.name);
      expect<i32>(info.transport).toBe(k.transport, k.name);
      expect<i32>(info.protocol).toBe(k.protocol, k.name);
      if (k.method.length > 0) expect(latin1(c.ptr, info.nameOffset, info.nameLength)).toBe(k.method, k.name);
    }
  });

  it("reads the THeader protocol id (compact = 2)", () => {
    const b = bytes().be32(30).be16(0x0fff).be16(0).be32(1).be16(1).u8(2).u8(0).zeros(2).u8(0x82).u8(0x21).build();
    const info = new ThriftInfo();
    expect<i32>(detectThrift(ptr(b), b.length, info)).toBe(Decision.Match);
    expect<i32>(info.protocol).toBe(ThriftProtocol.Compact);
  });

  it("rejects invalid frame sizes as Envoy's framed transport does", () => {
    const neg = bytes().be32(0xffffffff).u8(0x80).u8(1).u8(0).u8(1).build();
    expect<i32>(detectThrift(ptr(neg), neg.length, new ThriftInfo())).toBe(Decision.NoMatch);
    const zero = bytes().be32(0).u8(0x80).u8(1).u8(0).u8(1).build();
    expect<i32>(detectThrift(ptr(zero), zero.length, new ThriftInfo())).toBe(Decision.NoMatch);
  });

  it("rejects server-side message types (REPLY, EXCEPTION) and JSON THeader payloads", () => {
    const reply = bytes().u8(0x80).u8(1).u8(0).u8(2).be32(4).text("ping").build();
    expect<i32>(detectThrift(ptr(reply), reply.length, new ThriftInfo())).toBe(Decision.NoMatch);
    const json = bytes().be32(30).be16(0x0fff).be16(0).be32(1).be16(1).u8(1).zeros(3).build();
    expect<i32>(detectThrift(ptr(json), json.length, new ThriftInfo())).toBe(Decision.NoMatch);
  });

  it("needs more data on a matching prefix", () => {
    const c = capture("thrift-framed-compact");
    for (let n = 0; n < 7; n++) {
      expect<i32>(detectThrift(c.ptr, n, new ThriftInfo())).toBe(Decision.NeedMoreData, n.toString());
    }
  });

  it("recognises lax (non-strict) binary calls written by apache thrift, framed and unframed", () => {
    let seen = 0;
    for (let i = 0; i < THRIFT_FIXTURES.length; i++) {
      const f = THRIFT_FIXTURES[i];
      if (f.protocol != ThriftProtocol.LaxBinary) continue;
      const info = new ThriftInfo();
      const d = detectThrift(f.ptr, f.length, info);
      // A client's first message is a call or oneway: replies and exceptions are not clients.
      const client = f.messageType == 1 || f.messageType == 4;
      expect<i32>(d).toBe(client ? Decision.Match : Decision.NoMatch, f.label);
      if (!client) continue;
      seen++;
      expect<i32>(info.protocol).toBe(ThriftProtocol.LaxBinary, f.label);
      expect<i32>(info.transport).toBe(f.transport, f.label);
      expect(latin1(f.ptr, info.nameOffset, info.nameLength)).toBe(f.name, f.label);
      // Fragmentation stability: NeedMoreData on every prefix up to the decision, then Match.
      let decided = false;
      for (let n = 0; n <= f.length; n++) {
        const r = detectThrift(f.ptr, n, new ThriftInfo());
        if (decided) {
          expect<i32>(r).toBe(Decision.Match, f.label + " prefix " + n.toString());
        } else if (r != Decision.NeedMoreData) {
          expect<i32>(r).toBe(Decision.Match, f.label + " prefix " + n.toString());
          decided = true;
        }
      }
      // Through the sniffer: thrift at every split, never another protocol first.
      for (let n = 1; n <= f.length; n++) {
        const st = new SniffState();
        let r = classifyPtr(st, f.ptr, n, 64, 0);
        if (n < f.length) r = classifyPtr(st, f.ptr, f.length, 64, 0);
        expect<i32>(st.protocol).toBe(Protocol.Thrift, f.label + " classify split " + n.toString());
      }
    }
    expect<i32>(seen).toBe(10);
  });

  it("keeps Postgres and Kafka first messages out of lax binary", () => {
    // Postgres 3.0 startup: length, 00 03 00 00, "user\0"
    const pg = bytes().be32(41).be32(0x00030000).text("user").u8(0).text("postgres").u8(0).zeros(20).build();
    expect<i32>(detectThrift(ptr(pg), pg.length, new ThriftInfo())).toBe(Decision.NoMatch);
    // Kafka ApiVersions v3 and Produce v9 (correlation id 1): api key / version where a lax name length would be
    const apiVersions = bytes().be32(30).be16(18).be16(3).be32(1).be16(7).text("rdkafka").zeros(10).build();
    expect<i32>(detectThrift(ptr(apiVersions), apiVersions.length, new ThriftInfo())).toBe(Decision.NoMatch);
    const produce = bytes().be32(60).be16(0).be16(9).be32(1).be16(7).text("rdkafka").zeros(40).build();
    expect<i32>(detectThrift(ptr(produce), produce.length, new ThriftInfo())).toBe(Decision.NoMatch);
    // A name byte outside printable ASCII, and a reply type byte
    const ctl = bytes().be32(3).u8(0x67).u8(0x0a).u8(0x74).u8(1).be32(0).build();
    expect<i32>(detectThrift(ptr(ctl), ctl.length, new ThriftInfo())).toBe(Decision.NoMatch);
    const reply = bytes().be32(3).text("get").u8(2).be32(0).build();
    expect<i32>(detectThrift(ptr(reply), reply.length, new ThriftInfo())).toBe(Decision.NoMatch);
    // Framed lax whose name would run past the frame
    const short = bytes().be32(8).be32(3).text("get").u8(1).be32(0).build();
    expect<i32>(detectThrift(ptr(short), short.length, new ThriftInfo())).toBe(Decision.NoMatch);
  });
});
