import { detectPostgres, PostgresInfo, PostgresKind } from "../index";
import { Decision } from "../../detect/result";
import { capture } from "../../__fixtures__/captures";
import { bytes, ptr } from "../../__fixtures__/bytes";

function kindOf(b: StaticArray<u8>): i32 {
  const info = new PostgresInfo();
  const d = detectPostgres(ptr(b), b.length, info);
  return d == Decision.Match ? <i32>info.kind : -<i32>d;
}

describe("postgres", () => {
  it("matches node-postgres' StartupMessage (3.0) and SSLRequest", () => {
    const s = capture("postgres-startup");
    const info = new PostgresInfo();
    expect<i32>(detectPostgres(s.ptr, s.length, info)).toBe(Decision.Match);
    expect<i32>(info.kind).toBe(PostgresKind.Startup);
    expect(info.minor).toBe(0);
    const r = capture("postgres-sslrequest");
    const info2 = new PostgresInfo();
    expect<i32>(detectPostgres(r.ptr, r.length, info2)).toBe(Decision.Match);
    expect<i32>(info2.kind).toBe(PostgresKind.SslRequest);
  });

  it("matches GSSENCRequest, CancelRequest and a 3.2 startup", () => {
    expect(kindOf(bytes().be32(8).be32(80877104).build())).toBe(PostgresKind.GssEncRequest);
    expect(kindOf(bytes().be32(16).be32(80877102).be32(42).be32(7).build())).toBe(PostgresKind.CancelRequest);
    expect(kindOf(bytes().be32(20).be32(196610).text("user\0u\0\0").build())).toBe(PostgresKind.Startup);
  });

  it("rejects wrong lengths, versions and parameter names", () => {
    expect(kindOf(bytes().be32(9).be32(80877103).build())).toBe(-Decision.NoMatch); // SSLRequest length 9
    expect(kindOf(bytes().be32(20).be32(131072).text("user\0u\0\0").build())).toBe(-Decision.NoMatch); // protocol 2.0
    expect(kindOf(bytes().be32(20).be32(196608).text("\0u\0\0\0\0\0\0").build())).toBe(-Decision.NoMatch); // empty name
    expect(kindOf(bytes().be32(20).be32(196608).text("us r\0u\0\0").build())).toBe(-Decision.NoMatch); // space in name
    expect(kindOf(bytes().be32(16).be32(196608).text("user").build())).toBe(-Decision.NeedMoreData);
  });
});
