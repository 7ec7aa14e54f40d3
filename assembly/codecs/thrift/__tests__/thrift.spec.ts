import { detectThrift, ThriftInfo, ThriftProtocol, ThriftTransport } from "../index";
import { Decision } from "../../detect/result";
import { capture } from "../../__fixtures__/captures";
import { bytes, latin1, ptr } from "../../__fixtures__/bytes";

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
});
