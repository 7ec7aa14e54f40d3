import { detectMysql, MysqlInfo, MysqlKind, MYSQL_CLIENT_PROTOCOL_41 } from "../index";
import { Decision } from "../../detect/result";
import { capture } from "../../__fixtures__/captures";
import { bytes, ptr } from "../../__fixtures__/bytes";

describe("mysql (after a server greeting)", () => {
  it("matches mysql2's HandshakeResponse41 and SSLRequest", () => {
    const r = capture("mysql-handshake-response41");
    const info = new MysqlInfo();
    expect<i32>(detectMysql(r.ptr, r.length, info)).toBe(Decision.Match);
    expect<i32>(info.kind).toBe(MysqlKind.HandshakeResponse41);
    expect(info.capabilities & MYSQL_CLIENT_PROTOCOL_41).toBe(MYSQL_CLIENT_PROTOCOL_41);
    expect(info.needsServerFirstContext).toBe(true);
    const s = capture("mysql-sslrequest");
    const info2 = new MysqlInfo();
    expect<i32>(detectMysql(s.ptr, s.length, info2)).toBe(Decision.Match);
    expect<i32>(info2.kind).toBe(MysqlKind.SslRequest);
  });

  it("accepts MariaDB's extended capabilities in the last 4 filler bytes when CLIENT_MYSQL is clear", () => {
    // mysql2 against MariaDB: caps 0x08baf3ce (bit 0 clear), extended caps 0x00000008 at 32..35.
    const maria = bytes().le24(60).u8(1).le32(0x08baf3ce).le32(0x1000000).u8(33).zeros(19).le32(8).zeros(24).build();
    const info = new MysqlInfo();
    expect<i32>(detectMysql(ptr(maria), maria.length, info)).toBe(Decision.Match);
    expect<i32>(info.kind).toBe(MysqlKind.HandshakeResponse41);
    // With CLIENT_MYSQL set those bytes are filler again and must be zero.
    const mysql = bytes().le24(60).u8(1).le32(0x08baf3cf).le32(0x1000000).u8(33).zeros(19).le32(8).zeros(24).build();
    expect<i32>(detectMysql(ptr(mysql), mysql.length, new MysqlInfo())).toBe(Decision.NoMatch);
    // Still zero before 32 either way.
    const dirty = bytes().le24(60).u8(1).le32(0x08baf3ce).le32(0x1000000).u8(33).zeros(18).u8(1).le32(8).zeros(24).build();
    expect<i32>(detectMysql(ptr(dirty), dirty.length, new MysqlInfo())).toBe(Decision.NoMatch);
  });

  it("needs 36 bytes and rejects a wrong sequence id, a missing CLIENT_PROTOCOL_41 or a dirty filler", () => {
    const r = capture("mysql-handshake-response41");
    expect<i32>(detectMysql(r.ptr, 35, new MysqlInfo())).toBe(Decision.NeedMoreData);
    const seq = bytes().le24(60).u8(0).le32(0x000fa28d).le32(0x1000000).u8(33).zeros(23).build();
    expect<i32>(detectMysql(ptr(seq), seq.length, new MysqlInfo())).toBe(Decision.NoMatch);
    const old = bytes().le24(60).u8(1).le32(0x0000008d).le32(0x1000000).u8(33).zeros(23).build();
    expect<i32>(detectMysql(ptr(old), old.length, new MysqlInfo())).toBe(Decision.NoMatch);
    const dirty = bytes().le24(60).u8(1).le32(0x000fa28d).le32(0x1000000).u8(33).zeros(22).u8(1).build();
    expect<i32>(detectMysql(ptr(dirty), dirty.length, new MysqlInfo())).toBe(Decision.NoMatch);
  });
});
