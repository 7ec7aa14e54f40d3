// TLS ClientHello, parsed (not guessed) far enough to extract SNI and ALPN.
// RFC 8446 §5.1 (record: type 22 handshake, legacy_record_version 0x03xx, length ≤ 2^14),
// §4 (handshake: msg_type 1 ClientHello, uint24 length), §4.1.2 (ClientHello: legacy_version,
// random[32], session id <0..32>, cipher suites <2..2^16-2>, compression methods <1..2^8-1>,
// extensions <8..2^16-1>); RFC 6066 §3 (server_name, type 0: server_name_list of
// {name_type, opaque HostName<1..2^16-1>}, host_name = 0); RFC 7301 §3.1 (ALPN, type 16:
// ProtocolNameList of opaque ProtocolName<1..2^8-1>). Envoy's tls_inspector hands the same
// bytes to BoringSSL and waits for at most 16 KiB (TLS_MAX_CLIENT_HELLO =
// SSL3_RT_MAX_PLAIN_LENGTH, source/extensions/filters/listener/tls_inspector/tls_inspector.h).
//
// Only a ClientHello inside its first record is parsed. One that spans several records is
// recognised as TLS once all of its records have arrived, but without SNI/ALPN (complete=false).
import { Decision } from "../detect/result";
import { at, be16, be24 } from "../detect/bytes";

export const TLS_MAX_RECORD: u32 = 16384;
/** Envoy tls_inspector's ClientHello bound; the default for SniffState.tlsCap. */
export const TLS_MAX_CLIENT_HELLO: i32 = 16384;
/** Record header 5 + handshake header 4 + legacy_version 2. */
export const TLS_MIN_BYTES: i32 = 11;
const EXT_SERVER_NAME: u32 = 0;
const EXT_ALPN: u32 = 16;

export class TlsInfo {
  recordVersion: u32 = 0;
  legacyVersion: u32 = 0;
  /** SNI host name: offset in the buffer, or -1 when absent. */
  sniOffset: i32 = -1;
  sniLength: i32 = 0;
  /** ALPN ProtocolNameList body (the entries, each a 1-byte length + name), or -1. */
  alpnOffset: i32 = -1;
  alpnLength: i32 = 0;
  /** The whole ClientHello was parsed (false: it spans records, or was cut by cap/timeout). */
  complete: bool = false;
  /** The ClientHello spans more than one record. */
  spansRecords: bool = false;
  /** Do not parse again before the buffer reaches this length. */
  needUntil: i32 = 0;
  reset(): void {
    this.recordVersion = 0;
    this.legacyVersion = 0;
    this.sniOffset = -1;
    this.sniLength = 0;
    this.alpnOffset = -1;
    this.alpnLength = 0;
    this.complete = false;
    this.spansRecords = false;
    this.needUntil = 0;
  }
  /** Number of ALPN protocols offered. */
  alpnCount(p: usize): i32 {
    let n = 0;
    let i = this.alpnOffset;
    const end = this.alpnOffset + this.alpnLength;
    if (i < 0) return 0;
    while (i < end) {
      i += 1 + <i32>at(p, i);
      n++;
    }
    return n;
  }
}

/**
 * The first bytes form a plausible ClientHello start: record header, handshake header and
 * legacy_version all fit. Used to answer "TLS without SNI" when the cap or timeout cuts the
 * ClientHello short.
 */
export function tlsHeaderValid(p: usize, len: i32): bool {
  return len >= TLS_MIN_BYTES && headerCheck(p, len) == Decision.NeedMoreData;
}

function headerCheck(p: usize, len: i32): Decision {
  if (len >= 1 && at(p, 0) != 0x16) return Decision.NoMatch;
  if (len >= 2 && at(p, 1) != 0x03) return Decision.NoMatch;
  if (len >= 3 && at(p, 2) > 0x04) return Decision.NoMatch;
  if (len >= 5) {
    const rec = be16(p, 3);
    if (rec < 4 || rec > TLS_MAX_RECORD) return Decision.NoMatch;
  }
  if (len >= 6 && at(p, 5) != 0x01) return Decision.NoMatch;
  if (len >= 9 && be24(p, 6) < 41) return Decision.NoMatch; // smallest legal ClientHello body
  if (len >= 10 && at(p, 9) != 0x03) return Decision.NoMatch;
  if (len >= 11 && at(p, 10) > 0x04) return Decision.NoMatch;
  return Decision.NeedMoreData;
}

export function detectTls(p: usize, len: i32, info: TlsInfo): Decision {
  if (len < info.needUntil) return Decision.NeedMoreData;
  if (headerCheck(p, len) == Decision.NoMatch) return Decision.NoMatch;
  if (len < TLS_MIN_BYTES) return Decision.NeedMoreData;
  info.recordVersion = be16(p, 1);
  info.legacyVersion = be16(p, 9);
  const rec = <i32>be16(p, 3);
  const hsLen = <i32>be24(p, 6);
  if (4 + hsLen > rec) return spanningHello(p, len, info, 4 + hsLen);
  const end = 9 + hsLen;
  if (len < end) {
    info.needUntil = end;
    return Decision.NeedMoreData;
  }
  return parseHello(p, end, info);
}

/** Waits until every record carrying the handshake message has arrived. */
function spanningHello(p: usize, len: i32, info: TlsInfo, need: i32): Decision {
  info.spansRecords = true;
  let got = 0;
  let o = 0;
  while (got < need) {
    if (o + 5 > len) {
      info.needUntil = o + 5;
      return Decision.NeedMoreData;
    }
    if (at(p, o) != 0x16 || at(p, o + 1) != 0x03) return Decision.NoMatch;
    const rec = <i32>be16(p, o + 3);
    if (rec == 0 || rec > <i32>TLS_MAX_RECORD) return Decision.NoMatch;
    got += rec;
    o += 5 + rec;
  }
  if (o > len) {
    info.needUntil = o;
    return Decision.NeedMoreData;
  }
  return Decision.Match;
}

/** Parses the ClientHello body [11, end); every read is bounds-checked against `end`. */
function parseHello(p: usize, end: i32, info: TlsInfo): Decision {
  let o = 11 + 32; // random
  if (o + 1 > end) return Decision.NoMatch;
  const sid = <i32>at(p, o);
  if (sid > 32) return Decision.NoMatch;
  o += 1 + sid;
  if (o + 2 > end) return Decision.NoMatch;
  const cs = <i32>be16(p, o);
  if (cs < 2 || (cs & 1) != 0) return Decision.NoMatch;
  o += 2 + cs;
  if (o + 1 > end) return Decision.NoMatch;
  const comp = <i32>at(p, o);
  if (comp < 1) return Decision.NoMatch;
  o += 1 + comp;
  if (o > end) return Decision.NoMatch;
  if (o == end) {
    // No extensions (SSL 3.0 / early TLS 1.0 clients).
    info.complete = true;
    return Decision.Match;
  }
  if (o + 2 > end) return Decision.NoMatch;
  const extEnd = o + 2 + <i32>be16(p, o);
  if (extEnd != end) return Decision.NoMatch;
  o += 2;
  while (o < extEnd) {
    if (o + 4 > extEnd) return Decision.NoMatch;
    const type = be16(p, o);
    const elen = <i32>be16(p, o + 2);
    const body = o + 4;
    if (body + elen > extEnd) return Decision.NoMatch;
    if (type == EXT_SERVER_NAME && info.sniOffset < 0) {
      if (!parseServerName(p, body, body + elen, info)) return Decision.NoMatch;
    } else if (type == EXT_ALPN && info.alpnOffset < 0) {
      if (!parseAlpn(p, body, body + elen, info)) return Decision.NoMatch;
    }
    o = body + elen;
  }
  info.complete = true;
  return Decision.Match;
}

function parseServerName(p: usize, o: i32, end: i32, info: TlsInfo): bool {
  if (o + 2 > end) return false;
  const listEnd = o + 2 + <i32>be16(p, o);
  if (listEnd != end) return false;
  o += 2;
  while (o < listEnd) {
    if (o + 3 > listEnd) return false;
    const nameType = at(p, o);
    const nlen = <i32>be16(p, o + 1);
    if (nlen == 0 || o + 3 + nlen > listEnd) return false;
    if (nameType == 0 && info.sniOffset < 0) {
      info.sniOffset = o + 3;
      info.sniLength = nlen;
    }
    o += 3 + nlen;
  }
  return true;
}

function parseAlpn(p: usize, o: i32, end: i32, info: TlsInfo): bool {
  if (o + 2 > end) return false;
  const listLen = <i32>be16(p, o);
  const listEnd = o + 2 + listLen;
  if (listLen < 2 || listEnd != end) return false;
  let i = o + 2;
  while (i < listEnd) {
    const n = <i32>at(p, i);
    if (n == 0 || i + 1 + n > listEnd) return false;
    i += 1 + n;
  }
  info.alpnOffset = o + 2;
  info.alpnLength = listLen;
  return true;
}
