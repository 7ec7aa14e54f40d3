// PostgreSQL client-first messages (protocol docs "Message Formats": StartupMessage,
// SSLRequest, GSSENCRequest, CancelRequest). Each starts with an Int32 length that counts
// itself, then an Int32 code:
//   StartupMessage  length ≤ 10000 (MAX_STARTUP_PACKET_LENGTH, postgres src/include/libpq/pqcomm.h),
//                   code = major 3 << 16 | minor (196608 = 3.0; PostgreSQL 18 adds 3.2),
//                   then name\0value\0 pairs and a final \0; "user" is required.
//   SSLRequest      length 8,  code 80877103 (1234 << 16 | 5679)
//   GSSENCRequest   length 8,  code 80877104 (1234 << 16 | 5680)
//   CancelRequest   length 16 (3.0; up to 12 + 256 with 3.2's longer keys), code 80877102.
import { Decision } from "../detect/result";
import { at, be32 } from "../detect/bytes";

export const enum PostgresKind {
  None = 0,
  Startup = 1,
  SslRequest = 2,
  GssEncRequest = 3,
  CancelRequest = 4,
}

export const PG_MAX_STARTUP_PACKET_LENGTH: u32 = 10000;
export const PG_SSL_REQUEST_CODE: u32 = 80877103;
export const PG_GSSENC_REQUEST_CODE: u32 = 80877104;
export const PG_CANCEL_REQUEST_CODE: u32 = 80877102;
/** NAMEDATALEN - 1 in a default build; a longer parameter name is not a client we know. */
const PG_MAX_NAME = 63;

export class PostgresInfo {
  kind: PostgresKind = PostgresKind.None;
  /** Minor protocol version asked for by a StartupMessage (0 for 3.0, 2 for 3.2). */
  minor: u32 = 0;
  reset(): void {
    this.kind = PostgresKind.None;
    this.minor = 0;
  }
}

@inline function isNameByte(b: u32): bool {
  // GUC and startup parameter names: letters, digits, '_' and '.' ("_pq_.xyz" extensions).
  return (b | 0x20) - 0x61 < 26 || b - 0x30 < 10 || b == 0x5f || b == 0x2e;
}

export function detectPostgres(p: usize, len: i32, info: PostgresInfo): Decision {
  // The length is at most 10000 = 0x2710, so its first two bytes are 0x00 and ≤ 0x27.
  if (len >= 1 && at(p, 0) != 0) return Decision.NoMatch;
  if (len >= 2 && at(p, 1) > 0x27) return Decision.NoMatch;
  // Code high half: 0x0003 (protocol 3) or 0x04d2 (1234, the special requests).
  if (len >= 5) {
    const c0 = at(p, 4);
    if (c0 != 0x00 && c0 != 0x04) return Decision.NoMatch;
  }
  if (len < 8) return Decision.NeedMoreData;
  const length = be32(p, 0);
  const code = be32(p, 4);
  if (code == PG_SSL_REQUEST_CODE || code == PG_GSSENC_REQUEST_CODE) {
    if (length != 8) return Decision.NoMatch;
    info.kind = code == PG_SSL_REQUEST_CODE ? PostgresKind.SslRequest : PostgresKind.GssEncRequest;
    return Decision.Match;
  }
  if (code == PG_CANCEL_REQUEST_CODE) {
    if (length < 16 || length > 12 + 256) return Decision.NoMatch;
    info.kind = PostgresKind.CancelRequest;
    return Decision.Match;
  }
  if (code >> 16 != 3 || (code & 0xffff) > 0xff) return Decision.NoMatch;
  // Smallest useful startup: header 8 + "user\0" + 1-byte value + "\0" + final "\0".
  if (length < 16 || length > PG_MAX_STARTUP_PACKET_LENGTH) return Decision.NoMatch;
  // The first parameter name must be a name followed by \0 inside the message. This is what
  // separates a startup from a Kafka Metadata request (api_key 3, version n reads as "3.n").
  const end = <i32>length < len ? <i32>length : len;
  for (let i = 8; i < end; i++) {
    const b = at(p, i);
    if (b == 0) {
      if (i == 8) return Decision.NoMatch;
      info.kind = PostgresKind.Startup;
      info.minor = code & 0xffff;
      return Decision.Match;
    }
    if (!isNameByte(b) || i - 8 >= PG_MAX_NAME) return Decision.NoMatch;
  }
  return end == <i32>length ? Decision.NoMatch : Decision.NeedMoreData;
}
