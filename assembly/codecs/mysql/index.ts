// MySQL client's first packet after the server's HandshakeV10 greeting (MySQL source docs,
// "Protocol::HandshakeResponse41" and "Protocol::SSLRequest"; envoy
// source/extensions/filters/network/mysql_proxy/mysql_codec_clogin.cc reads the same):
//   3-byte little-endian payload length | sequence id 1 | capability flags (LE32, must carry
//   CLIENT_PROTOCOL_41 0x200) | max packet size (LE32) | character set | 23 zero bytes | ...
// MariaDB reuses the last 4 filler bytes (32..35) for its extended capabilities when the client
// clears CLIENT_MYSQL (capability bit 0): mysql2 against MariaDB sends them (mysql2
// lib/packets/handshake_response.js, ssl_request.js), so only 13..31 must be zero then.
// SSLRequest stops after the filler (payload exactly 32) and carries CLIENT_SSL (0x800).
// MySQL is server-first: these bytes mean MySQL only after a greeting, so `classify` runs this
// detector only when asked to (see ClassifyFlags.AfterServerGreeting).
import { Decision } from "../detect/result";
import { at, le24, le32 } from "../detect/bytes";

export const MYSQL_CLIENT_PROTOCOL_41: u32 = 0x200;
export const MYSQL_CLIENT_SSL: u32 = 0x800;
/** Capability bit 0: set by MySQL clients; clear means the last 4 filler bytes are MariaDB's. */
export const MYSQL_CLIENT_MYSQL: u32 = 0x1;
/** Where MariaDB's extended capabilities start inside the filler. */
const MARIADB_EXT_CAPS_AT: i32 = 32;
/** Header 4 + caps 4 + max packet 4 + charset 1 + filler 23. */
export const MYSQL_MIN_BYTES: i32 = 36;

export const enum MysqlKind {
  None = 0,
  HandshakeResponse41 = 1,
  SslRequest = 2,
}

export class MysqlInfo {
  kind: MysqlKind = MysqlKind.None;
  capabilities: u32 = 0;
  /** Always true: a MySQL match is only meaningful after a server greeting. */
  readonly needsServerFirstContext: bool = true;
  reset(): void {
    this.kind = MysqlKind.None;
    this.capabilities = 0;
  }
}

export function detectMysql(p: usize, len: i32, info: MysqlInfo): Decision {
  if (len >= 4 && at(p, 3) != 1) return Decision.NoMatch;
  if (len >= 6 && (at(p, 5) & 0x02) == 0) return Decision.NoMatch; // CLIENT_PROTOCOL_41
  if (len >= 4 && le24(p, 0) < 32) return Decision.NoMatch;
  // The filler: 23 zero bytes at 13..35, or 19 at 13..31 + MariaDB's extended capabilities.
  let fillEnd = len < MYSQL_MIN_BYTES ? len : MYSQL_MIN_BYTES;
  if (len >= 5 && (at(p, 4) & MYSQL_CLIENT_MYSQL) == 0 && fillEnd > MARIADB_EXT_CAPS_AT) fillEnd = MARIADB_EXT_CAPS_AT;
  for (let i = 13; i < fillEnd; i++) {
    if (at(p, i) != 0) return Decision.NoMatch;
  }
  if (len < MYSQL_MIN_BYTES) return Decision.NeedMoreData;
  const payload = le24(p, 0);
  const caps = le32(p, 4);
  if (payload == 32) {
    if ((caps & MYSQL_CLIENT_SSL) == 0) return Decision.NoMatch;
    info.kind = MysqlKind.SslRequest;
  } else {
    info.kind = MysqlKind.HandshakeResponse41;
  }
  info.capabilities = caps;
  return Decision.Match;
}
