import { detectRedis, RedisInfo, RedisKind } from "../index";
import { Decision } from "../../detect/result";
import { capture } from "../../__fixtures__/captures";
import { ptr, text } from "../../__fixtures__/bytes";

function detect(s: string): Decision {
  const b = text(s);
  return detectRedis(ptr(b), b.length, new RedisInfo());
}

describe("redis", () => {
  it("matches ioredis' RESP array and reports the argument count", () => {
    const c = capture("redis-resp-ioredis");
    const info = new RedisInfo();
    expect<i32>(detectRedis(c.ptr, c.length, info)).toBe(Decision.Match);
    expect<i32>(info.kind).toBe(RedisKind.Array);
    expect(info.count).toBe(4);
  });

  it("decides a RESP array after *<n>\\r\\n$", () => {
    expect<i32>(detect("*3\r\n")).toBe(Decision.NeedMoreData);
    expect<i32>(detect("*3\r\n$")).toBe(Decision.Match);
    expect<i32>(detect("*3\r\n+")).toBe(Decision.NoMatch);
    expect<i32>(detect("*3\n")).toBe(Decision.NoMatch);
    expect<i32>(detect("*x")).toBe(Decision.NoMatch);
  });

  it("matches allowlisted inline commands only, case-insensitively", () => {
    expect<i32>(detect("PING\r\n")).toBe(Decision.Match);
    expect<i32>(detect("ping\r\n")).toBe(Decision.Match);
    expect<i32>(detect("AUTH secret\r\n")).toBe(Decision.Match);
    expect<i32>(detect("HELLO 3\r\n")).toBe(Decision.Match);
    expect<i32>(detect("PIN")).toBe(Decision.NeedMoreData);
    expect<i32>(detect("PINGX\r\n")).toBe(Decision.NoMatch);
    expect<i32>(detect("SET k v\r\n")).toBe(Decision.NoMatch);
    expect<i32>(detect("EHLO x\r\n")).toBe(Decision.NoMatch);
  });
});
