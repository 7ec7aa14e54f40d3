import { ProtoWriter, encodeSetEnvoyFilterStateArguments } from "../protobuf";
import { LifeSpan } from "../enums";

function hex(b: ArrayBuffer): string {
  const v = Uint8Array.wrap(b);
  let s = "";
  for (let i = 0; i < v.length; i++) {
    const x = v[i];
    s += (x < 16 ? "0" : "") + x.toString(16);
  }
  return s;
}

describe("SetEnvoyFilterStateArguments", () => {
  it("encodes path, value and span DownstreamConnection", () => {
    // 0a 17 "envoy.tcp_proxy.cluster" (23 bytes), 12 04 "echo", 18 02
    const b = encodeSetEnvoyFilterStateArguments("envoy.tcp_proxy.cluster", "echo", LifeSpan.DownstreamConnection);
    expect(hex(b)).toBe("0a17656e766f792e7463705f70726f78792e636c7573746572" + "12046563686f" + "1802");
  });

  it("omits the default span FilterChain and empty strings", () => {
    expect(hex(encodeSetEnvoyFilterStateArguments("k", "", LifeSpan.FilterChain))).toBe("0a016b");
  });

  it("encodes span DownstreamRequest as 1", () => {
    expect(hex(encodeSetEnvoyFilterStateArguments("a", "b", LifeSpan.DownstreamRequest))).toBe("0a01611201621801");
  });

  it("uses a two-byte length for values of 128 bytes", () => {
    const value = "x".repeat(128);
    const b = encodeSetEnvoyFilterStateArguments("p", value, LifeSpan.FilterChain);
    expect(hex(b).slice(0, 12)).toBe("0a0170" + "128001");
    expect(b.byteLength).toBe(3 + 3 + 128);
  });
});

describe("ProtoWriter", () => {
  it("encodes varints like protobuf", () => {
    const w = new ProtoWriter();
    w.varint(0);
    w.varint(1);
    w.varint(127);
    w.varint(128);
    w.varint(300);
    w.varint(0xffffffffffffffff);
    expect(hex(w.finish())).toBe("00017f8001ac02ffffffffffffffffff01");
  });

  it("grows past its initial capacity", () => {
    const w = new ProtoWriter();
    const big = new ArrayBuffer(1000);
    w.bytesField(5, big);
    const out = w.finish();
    expect(out.byteLength).toBe(1 + 2 + 1000);
    expect(Uint8Array.wrap(out)[0]).toBe(0x2a);
  });
});
