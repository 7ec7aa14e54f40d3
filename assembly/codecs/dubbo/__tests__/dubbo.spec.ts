import { detectDubbo, DubboInfo } from "../index";
import { Decision } from "../../detect/result";
import { capture } from "../../__fixtures__/captures";
import { bytes, ptr } from "../../__fixtures__/bytes";

describe("dubbo", () => {
  it("matches a hessian2 request frame and reads its flags and body length", () => {
    const c = capture("dubbo-hessian2-request");
    const info = new DubboInfo();
    expect<i32>(detectDubbo(c.ptr, c.length, info)).toBe(Decision.Match);
    expect(info.serialization).toBe(2);
    expect(info.twoWay).toBe(true);
    expect(info.event).toBe(false);
    expect(info.bodyLength).toBe(<u32>(c.length - 16));
    expect<i32>(detectDubbo(c.ptr, 15, new DubboInfo())).toBe(Decision.NeedMoreData);
  });

  it("matches a heartbeat event request", () => {
    const hb = bytes().u8(0xda).u8(0xbb).u8(0xe2).u8(0).be32(0).be32(9).be32(1).u8(0x4e).build();
    const info = new DubboInfo();
    expect<i32>(detectDubbo(ptr(hb), hb.length, info)).toBe(Decision.Match);
    expect(info.event).toBe(true);
  });

  it("rejects a wrong magic and a missing serialization id", () => {
    const magic = bytes().u8(0xda).u8(0xbc).build();
    expect<i32>(detectDubbo(ptr(magic), magic.length, new DubboInfo())).toBe(Decision.NoMatch);
    const noSer = bytes().u8(0xda).u8(0xbb).u8(0xc0).build();
    expect<i32>(detectDubbo(ptr(noSer), noSer.length, new DubboInfo())).toBe(Decision.NoMatch);
  });
});
