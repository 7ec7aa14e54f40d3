// TLS ClientHello, parsed (not guessed) the way Envoy's tls_inspector sees it: Envoy hands the
// first bytes to BoringSSL (source/extensions/filters/listener/tls_inspector/tls_inspector.cc,
// Filter::parseClientHello → SSL_do_handshake) and reports "tls" only when BoringSSL reaches its
// servername callback, i.e. when the records, the ClientHello and its server_name extension all
// parsed. The rules below are BoringSSL's (google/boringssl):
//   - records (ssl/tls_record.cc tls_open_record, ssl/s3_both.cc tls_open_handshake): type 22,
//     only the version's major byte (3) is checked before a version is negotiated, length
//     ≤ 2^14 (SSL3_RT_MAX_PLAIN_LENGTH), empty records accepted up to 32 in a row
//     (kMaxEmptyRecords); every record body is appended to one handshake buffer, so a message
//     may be split anywhere across records;
//   - the message (ssl/s3_both.cc parse_message, tls_can_accept_handshake_data;
//     ssl/handshake.cc ssl_max_handshake_message_len): type 1, uint24 length ≤ 16384
//     (kMaxMessageLen); bytes after it in the record that completes it are an error
//     (ssl/handshake_server.cc do_read_client_hello: SSL_R_EXCESS_HANDSHAKE_DATA);
//   - the body (ssl/extensions.cc ssl_parse_client_hello_with_trailing_data, SSL_parse_client_hello):
//     version, random[32], session id ≤ 32, cipher suites even and ≥ 2, compression methods ≥ 1,
//     then nothing or exactly one extensions block with no duplicate type
//     (tls1_check_duplicate_extensions); compression must offer null (handshake_server.cc
//     do_read_client_hello_after_ech, SSL_R_INVALID_COMPRESSION_LIST);
//   - server_name (ssl/handshake_server.cc extract_sni): exactly one entry, name_type host_name
//     (0), 1..255 bytes (TLSEXT_MAXLEN_host_name), no NUL; anything else fails the handshake;
//   - ALPN: BoringSSL negotiates it after the servername callback, and Envoy's onALPN only
//     publishes a well-formed list (u16 list ≥ 2 bytes ending the extension, entries 1..255
//     bytes); a malformed list leaves the hello TLS without ALPN.
// Deliberate differences are listed in ../README.md ("TLS: where we differ from Envoy").
//
// Incremental: record headers and the handshake header are consumed as they arrive (state
// Header / Body, `pos` = next unread byte), so a growing buffer is never re-read from 0. A
// ClientHello inside one record is parsed in place once its record is complete; one spread over
// several records is copied record by record into `scratch` and parsed there.
import { Decision } from "../detect/result";
import { at, be16 } from "../detect/bytes";

/** Largest record body (RFC 8446 §5.1; BoringSSL SSL3_RT_MAX_PLAIN_LENGTH). */
export const TLS_MAX_RECORD: i32 = 16384;
/**
 * Largest ClientHello body (BoringSSL ssl_max_handshake_message_len, kMaxMessageLen); the
 * default and maximum of SniffState.tlsCap / the sniffer's `max_tls_bytes`.
 */
export const TLS_MAX_CLIENT_HELLO: i32 = 16384;
/** Records a ClientHello may span before we stop waiting for it (treated as over the cap). */
export const TLS_MAX_HELLO_RECORDS: i32 = 64;
/** BoringSSL kMaxEmptyRecords: more consecutive empty records fail the connection. */
export const TLS_MAX_EMPTY_RECORDS: i32 = 32;
/** Smallest legal ClientHello body: version 2, random 32, three length bytes, one suite, one method. */
export const TLS_MIN_HELLO: i32 = 41;
/** Longest host_name BoringSSL accepts (TLSEXT_MAXLEN_host_name). */
export const TLS_MAX_HOST_NAME: i32 = 255;
const EXT_SERVER_NAME: u32 = 0;
const EXT_ALPN: u32 = 16;
const RECORD_HEADER: i32 = 5;
const HANDSHAKE_HEADER: i32 = 4;

/**
 * Wire bytes a ClientHello of at most `cap` body bytes can take: its handshake header and up to
 * TLS_MAX_HELLO_RECORDS record headers. The sniffer keeps this many bytes while TLS is alive.
 */
export function tlsWireLimit(cap: i32): i32 {
  return cap + HANDSHAKE_HEADER + RECORD_HEADER * TLS_MAX_HELLO_RECORDS;
}

/** Decoder states (TlsInfo.state); tlsStateName gives the name logged and shown in tests. */
export const enum TlsState {
  /** Waiting for the record header at `pos`. */
  Header = 0,
  /** Inside a record body (until `recEnd`), collecting handshake bytes. */
  Body = 1,
  /** Decided: a ClientHello (complete=true: SNI/ALPN read; false: over the cap). */
  Done = 2,
  /** Decided: not a ClientHello Envoy would accept; `error` and `errorValue` say why. */
  Failed = 3,
}

export function tlsStateName(s: TlsState): string {
  switch (s) {
    case TlsState.Header: return "header";
    case TlsState.Body: return "body";
    case TlsState.Done: return "done";
    case TlsState.Failed: return "failed";
    default: return "unknown";
  }
}

/** Why a ClientHello was rejected; `errorValue` holds the bad value. */
export const enum TlsError {
  None = 0,
  RecordType,
  RecordVersion,
  RecordLength,
  EmptyRecords,
  HandshakeType,
  HelloLength,
  ExcessData,
  LegacyVersion,
  Truncated,
  SessionId,
  CipherSuites,
  Compression,
  NoNullCompression,
  ExtensionsLength,
  DuplicateExtension,
  ServerNameList,
  ServerNameType,
  HostNameLength,
  HostNameNul,
}

/** The rejection as text naming the bad value (for logs and test messages; allocates). */
export function tlsErrorText(e: TlsError, v: i32): string {
  const n = v.toString();
  switch (e) {
    case TlsError.None: return "";
    case TlsError.RecordType: return "tls record type " + n + " is not handshake (22)";
    case TlsError.RecordVersion: return "tls record version 0x" + v.toString(16) + " has major version other than 3";
    case TlsError.RecordLength: return "tls record length " + n + " above 16384";
    case TlsError.EmptyRecords: return "tls: " + n + " empty records in a row (limit 32)";
    case TlsError.HandshakeType: return "tls handshake type " + n + " is not ClientHello (1)";
    case TlsError.HelloLength: return "tls ClientHello length " + n + " outside 41..16384";
    case TlsError.ExcessData: return "tls: " + n + " bytes after the ClientHello in its record";
    case TlsError.LegacyVersion: return "tls ClientHello legacy_version 0x" + v.toString(16) + " outside 0x0300..0x0304";
    case TlsError.Truncated: return "tls ClientHello field at offset " + n + " runs past the message";
    case TlsError.SessionId: return "tls session id length " + n + " above 32";
    case TlsError.CipherSuites: return "tls cipher suites length " + n + " odd or below 2";
    case TlsError.Compression: return "tls compression methods length " + n + " below 1";
    case TlsError.NoNullCompression: return "tls compression methods (" + n + ") without null";
    case TlsError.ExtensionsLength: return "tls extensions length " + n + " does not end the ClientHello";
    case TlsError.DuplicateExtension: return "tls extension type " + n + " repeated";
    case TlsError.ServerNameList: return "tls server_name list of length " + n + " is not exactly one entry";
    case TlsError.ServerNameType: return "tls server_name name_type " + n + " is not host_name (0)";
    case TlsError.HostNameLength: return "tls host_name length " + n + " outside 1..255";
    case TlsError.HostNameNul: return "tls host_name has NUL at byte " + n;
    default: return "tls error " + (<i32>e).toString();
  }
}

export class TlsInfo {
  state: TlsState = TlsState.Header;
  error: TlsError = TlsError.None;
  errorValue: i32 = 0;
  /** Next unread wire byte. */
  pos: i32 = 0;
  /** End of the current record (state Body). */
  recEnd: i32 = 0;
  records: i32 = 0;
  emptyRun: i32 = 0;
  /** Handshake header bytes seen (0..4) and their value. */
  hdrGot: i32 = 0;
  hdr: u32 = 0;
  /** ClientHello body length, -1 until its handshake header is in. */
  bodyLen: i32 = -1;
  /** Body bytes collected (split hellos: copied into scratch). */
  bodyGot: i32 = 0;
  /** The body is contiguous in the caller's buffer at `bodyAt`; otherwise in `scratch`. */
  inPlace: bool = false;
  bodyAt: i32 = 0;
  /** The body of a hello spread over records (reused while ≤ SCRATCH_KEEP bytes). */
  scratch: ArrayBuffer | null = null;
  recordVersion: u32 = 0;
  legacyVersion: u32 = 0;
  /** host_name: offset in dataPtr(), or -1 when absent. */
  sniOffset: i32 = -1;
  sniLength: i32 = 0;
  /** The host_name is a host name (printable ASCII, no trailing dot: RFC 6066 §3) we publish. */
  sniHostName: bool = false;
  /** ALPN ProtocolNameList body (the entries, each a 1-byte length + name) in dataPtr(), or -1. */
  alpnOffset: i32 = -1;
  alpnLength: i32 = 0;
  /** The whole ClientHello was parsed (false: cut by the cap, the timeout or end of stream). */
  complete: bool = false;
  /** The ClientHello spans more than one record. */
  spansRecords: bool = false;
  /** Do not look again before the buffer reaches this length. */
  needUntil: i32 = 0;

  reset(): void {
    this.state = TlsState.Header;
    this.error = TlsError.None;
    this.errorValue = 0;
    this.pos = 0;
    this.recEnd = 0;
    this.records = 0;
    this.emptyRun = 0;
    this.hdrGot = 0;
    this.hdr = 0;
    this.bodyLen = -1;
    this.bodyGot = 0;
    this.inPlace = false;
    this.bodyAt = 0;
    const s = this.scratch;
    if (s !== null && s.byteLength > SCRATCH_KEEP) this.scratch = null;
    this.recordVersion = 0;
    this.legacyVersion = 0;
    this.sniOffset = -1;
    this.sniLength = 0;
    this.sniHostName = false;
    this.alpnOffset = -1;
    this.alpnLength = 0;
    this.complete = false;
    this.spansRecords = false;
    this.needUntil = 0;
  }

  /** Where sniOffset / alpnOffset point: the caller's buffer `p`, or the reassembled body. */
  @inline dataPtr(p: usize): usize {
    return this.inPlace ? p : changetype<usize>(this.scratch);
  }

  /** The record and handshake headers were valid: TLS without SNI if the rest never comes. */
  get plausible(): bool {
    return this.state != TlsState.Failed && this.bodyLen >= 0;
  }

  /** Number of ALPN protocols offered. */
  alpnCount(p: usize): i32 {
    const d = this.dataPtr(p);
    let n = 0;
    let i = this.alpnOffset;
    const end = this.alpnOffset + this.alpnLength;
    if (i < 0) return 0;
    while (i < end) {
      i += 1 + <i32>at(d, i);
      n++;
    }
    return n;
  }
}

const SCRATCH_KEEP: i32 = 2048;

@inline function fail(info: TlsInfo, e: TlsError, v: i32): Decision {
  info.state = TlsState.Failed;
  info.error = e;
  info.errorValue = v;
  return Decision.NoMatch;
}

/** Over the cap: TLS, without SNI/ALPN (as when the cap cuts a hello short). */
@inline function overCap(info: TlsInfo): Decision {
  info.state = TlsState.Done;
  info.complete = false;
  return Decision.Match;
}

/**
 * Feeds the first `len` bytes at `p` (a stable, growing buffer) to the decoder. `cap` bounds the
 * ClientHello body (≤ TLS_MAX_CLIENT_HELLO); a hello above it is TLS without SNI/ALPN.
 */
export function detectTls(p: usize, len: i32, info: TlsInfo, cap: i32 = TLS_MAX_CLIENT_HELLO): Decision {
  const state = info.state;
  if (state == TlsState.Done) return Decision.Match;
  if (state == TlsState.Failed) return Decision.NoMatch;
  if (len < info.needUntil) return Decision.NeedMoreData;
  let pos = info.pos;
  if (pos == 0 && len >= RECORD_HEADER + HANDSHAKE_HEADER) {
    // The usual first call: the ClientHello in one record whose headers are all here.
    const d = firstRecord(p, len, info, cap);
    if (d != Decision.NeedMoreData || info.pos != 0) return d;
  }
  while (true) {
    if (info.state == TlsState.Header) {
      if (pos + RECORD_HEADER > len) {
        // Judge what arrived of the header now, so non-TLS bytes are ruled out early.
        const d = partialHeader(p, pos, len, info);
        info.pos = pos;
        info.needUntil = len + 1; // each new header byte can rule the bytes out
        return d;
      }
      const type = <i32>at(p, pos);
      if (type != 22) return fail(info, TlsError.RecordType, type);
      const version = <i32>be16(p, pos + 1);
      if ((version >> 8) != 3) return fail(info, TlsError.RecordVersion, version);
      const rec = <i32>be16(p, pos + 3);
      if (rec > TLS_MAX_RECORD) return fail(info, TlsError.RecordLength, rec);
      if (info.records == 0) info.recordVersion = <u32>version;
      info.records++;
      if (info.records > TLS_MAX_HELLO_RECORDS) return overCap(info);
      if (rec == 0) {
        info.emptyRun++;
        if (info.emptyRun > TLS_MAX_EMPTY_RECORDS) return fail(info, TlsError.EmptyRecords, info.emptyRun);
      } else {
        info.emptyRun = 0;
      }
      if (info.records > 1 && (info.hdrGot > 0 || info.bodyGot > 0)) info.spansRecords = true;
      pos += RECORD_HEADER;
      info.recEnd = pos + rec;
      info.state = TlsState.Body;
      if (info.bodyLen >= 0) {
        const d = checkExcess(info, pos);
        if (d != Decision.NeedMoreData) return d;
      }
      continue;
    }
    // TlsState.Body
    const recEnd = info.recEnd;
    if (info.hdrGot < HANDSHAKE_HEADER) {
      while (info.hdrGot < HANDSHAKE_HEADER && pos < recEnd && pos < len) {
        const b = at(p, pos);
        if (info.hdrGot == 0 && b != 1) return fail(info, TlsError.HandshakeType, <i32>b);
        info.hdr = (info.hdr << 8) | b;
        info.hdrGot++;
        pos++;
      }
      if (info.hdrGot == HANDSHAKE_HEADER) {
        const n = <i32>(info.hdr & 0xffffff);
        if (n < TLS_MIN_HELLO || n > TLS_MAX_CLIENT_HELLO) return fail(info, TlsError.HelloLength, n);
        info.bodyLen = n;
        if (n > cap) return overCap(info);
        const d = checkExcess(info, pos);
        if (d != Decision.NeedMoreData) return d;
        if (!info.spansRecords && pos + n == recEnd) {
          info.inPlace = true;
          info.bodyAt = pos;
        }
      }
    }
    if (info.bodyLen >= 0) {
      if (info.inPlace) {
        if (len < recEnd) {
          info.pos = pos;
          info.needUntil = recEnd;
          return Decision.NeedMoreData;
        }
        info.pos = recEnd;
        return finishHello(p, info.bodyAt, info);
      }
      // Split hello: copy what arrived of this record's share of the body.
      const until = len < recEnd ? len : recEnd;
      if (until > pos) {
        const s = scratchFor(info);
        memory.copy(changetype<usize>(s) + <usize>info.bodyGot, p + <usize>pos, <usize>(until - pos));
        info.bodyGot += until - pos;
        pos = until;
      }
      if (info.bodyGot == info.bodyLen) {
        info.spansRecords = true;
        info.pos = pos;
        return finishHello(changetype<usize>(info.scratch), 0, info);
      }
    }
    if (pos < recEnd) {
      // The record is not all here yet.
      info.pos = pos;
      info.needUntil = pos + 1;
      return Decision.NeedMoreData;
    }
    info.state = TlsState.Header;
  }
  return Decision.NeedMoreData;
}

/**
 * The state after the first record's header and a whole handshake header in it, when the
 * ClientHello fits that record exactly (the common case): no per-byte header loop. Leaves
 * `info.pos` 0 (and decides nothing) for every other shape, which the general loop handles.
 */
function firstRecord(p: usize, len: i32, info: TlsInfo, cap: i32): Decision {
  const version = <i32>be16(p, 1);
  const rec = <i32>be16(p, 3);
  if (at(p, 0) != 22 || (version >> 8) != 3 || rec > TLS_MAX_RECORD || rec < HANDSHAKE_HEADER || at(p, 5) != 1) {
    return Decision.NeedMoreData;
  }
  const n = <i32>(be16(p, 7) | (at(p, 6) << 16));
  if (n < TLS_MIN_HELLO || n > TLS_MAX_CLIENT_HELLO || n > cap || 4 + n != rec) return Decision.NeedMoreData;
  info.recordVersion = <u32>version;
  info.records = 1;
  info.hdrGot = HANDSHAKE_HEADER;
  info.hdr = (1 << 24) | <u32>n;
  info.bodyLen = n;
  info.inPlace = true;
  info.bodyAt = RECORD_HEADER + HANDSHAKE_HEADER;
  const recEnd = RECORD_HEADER + rec;
  info.recEnd = recEnd;
  info.state = TlsState.Body;
  info.pos = RECORD_HEADER + HANDSHAKE_HEADER;
  if (len < recEnd) {
    info.needUntil = recEnd;
    return Decision.NeedMoreData;
  }
  info.pos = recEnd;
  return finishHello(p, RECORD_HEADER + HANDSHAKE_HEADER, info);
}

/** A record reaching past the end of the ClientHello: BoringSSL's excess handshake data. */
function checkExcess(info: TlsInfo, pos: i32): Decision {
  const left = info.bodyLen - info.bodyGot;
  const inRecord = info.recEnd - pos;
  if (inRecord > left) return fail(info, TlsError.ExcessData, inRecord - left);
  return Decision.NeedMoreData;
}

function scratchFor(info: TlsInfo): ArrayBuffer {
  let s = info.scratch;
  if (s === null || s.byteLength < info.bodyLen) {
    const next = new ArrayBuffer(info.bodyLen);
    if (s !== null && info.bodyGot > 0) {
      memory.copy(changetype<usize>(next), changetype<usize>(s), <usize>info.bodyGot);
    }
    info.scratch = next;
    s = next;
  }
  return s;
}

/** The bytes of a record header that arrived so far (pos + avail < pos + 5). */
function partialHeader(p: usize, pos: i32, len: i32, info: TlsInfo): Decision {
  const n = len - pos;
  if (n >= 1) {
    const type = <i32>at(p, pos);
    if (type != 22) return fail(info, TlsError.RecordType, type);
  }
  if (n >= 2 && at(p, pos + 1) != 3) return fail(info, TlsError.RecordVersion, <i32>(at(p, pos + 1) << 8));
  if (n >= 4 && at(p, pos + 3) > 0x40) return fail(info, TlsError.RecordLength, <i32>(at(p, pos + 3) << 8));
  return Decision.NeedMoreData;
}

@inline function finishHello(d: usize, o: i32, info: TlsInfo): Decision {
  const e = parseHello(d, o, o + info.bodyLen, info);
  if (e != TlsError.None) return fail(info, e, info.errorValue);
  info.state = TlsState.Done;
  info.complete = true;
  return Decision.Match;
}

/**
 * Extension types seen in the ClientHello being parsed: SEEN[type] == stamp. A new stamp per
 * ClientHello clears the table without touching it; the table is zeroed when the stamp wraps.
 */
const SEEN = new StaticArray<u16>(65536);
let seenStamp: u32 = 0;

@inline function nextStamp(): u32 {
  let s = seenStamp + 1;
  if (s > 0xffff) {
    memory.fill(changetype<usize>(SEEN), 0, 65536 << 1);
    s = 1;
  }
  seenStamp = s;
  return s;
}

@inline function bad(info: TlsInfo, v: i32): i32 {
  info.errorValue = v;
  return v;
}

/** Parses the ClientHello body [o, end) in `d`; every read is bounds-checked against `end`. */
function parseHello(d: usize, o: i32, end: i32, info: TlsInfo): TlsError {
  const version = <i32>be16(d, o);
  info.legacyVersion = <u32>version;
  if ((version >> 8) != 3 || (version & 0xff) > 4) { bad(info, version); return TlsError.LegacyVersion; }
  o += 2 + 32;
  const sid = <i32>at(d, o); // o + 1 ≤ end: the body is at least TLS_MIN_HELLO bytes
  if (sid > 32) { bad(info, sid); return TlsError.SessionId; }
  o += 1 + sid;
  if (o + 2 > end) { bad(info, o); return TlsError.Truncated; }
  const cs = <i32>be16(d, o);
  if (cs < 2 || (cs & 1) != 0) { bad(info, cs); return TlsError.CipherSuites; }
  o += 2 + cs;
  if (o + 1 > end) { bad(info, o); return TlsError.Truncated; }
  const comp = <i32>at(d, o);
  if (comp < 1) { bad(info, comp); return TlsError.Compression; }
  if (o + 1 + comp > end) { bad(info, o); return TlsError.Truncated; }
  let hasNull = false;
  for (let i = o + 1; i < o + 1 + comp; i++) {
    if (at(d, i) == 0) { hasNull = true; break; }
  }
  if (!hasNull) { bad(info, comp); return TlsError.NoNullCompression; }
  o += 1 + comp;
  if (o == end) return TlsError.None; // no extensions (SSL 3.0 / early TLS 1.0 clients)
  if (o + 2 > end) { bad(info, o); return TlsError.Truncated; }
  const extLen = <i32>be16(d, o);
  const extEnd = o + 2 + extLen;
  if (extEnd != end) { bad(info, extLen); return TlsError.ExtensionsLength; }
  o += 2;
  const stamp = nextStamp();
  let sni = -1;
  let sniLen = 0;
  let alpn = -1;
  let alpnLen = 0;
  let e = TlsError.None;
  while (o < extEnd) {
    if (o + 4 > extEnd) { bad(info, o); e = TlsError.Truncated; break; }
    const type = be16(d, o);
    const elen = <i32>be16(d, o + 2);
    const body = o + 4;
    if (body + elen > extEnd) { bad(info, o); e = TlsError.Truncated; break; }
    const seen = changetype<usize>(SEEN) + (<usize>type << 1);
    if (<u32>load<u16>(seen) == stamp) { bad(info, <i32>type); e = TlsError.DuplicateExtension; break; }
    store<u16>(seen, <u16>stamp);
    if (type == EXT_SERVER_NAME) {
      sni = body;
      sniLen = elen;
    } else if (type == EXT_ALPN) {
      alpn = body;
      alpnLen = elen;
    }
    o = body + elen;
  }
  if (e != TlsError.None) return e;
  // BoringSSL parses server_name only after the whole ClientHello passed
  // (do_read_client_hello: SSL_parse_client_hello, then extract_sni).
  if (sni >= 0) {
    e = parseServerName(d, sni, sni + sniLen, info);
    if (e != TlsError.None) return e;
  }
  if (alpn >= 0) parseAlpn(d, alpn, alpn + alpnLen, info);
  return TlsError.None;
}

/** BoringSSL extract_sni: exactly one entry, host_name, 1..255 bytes, no NUL. */
function parseServerName(d: usize, o: i32, end: i32, info: TlsInfo): TlsError {
  if (o + 2 > end) { bad(info, end - o); return TlsError.ServerNameList; }
  const listLen = <i32>be16(d, o);
  // name_type(1) + length(2) + name, and nothing after it in the list or the extension.
  if (o + 2 + listLen != end || listLen < 3) { bad(info, listLen); return TlsError.ServerNameList; }
  const type = <i32>at(d, o + 2);
  const n = <i32>be16(d, o + 3);
  if (3 + n != listLen) { bad(info, listLen); return TlsError.ServerNameList; }
  if (type != 0) { bad(info, type); return TlsError.ServerNameType; }
  if (n < 1 || n > TLS_MAX_HOST_NAME) { bad(info, n); return TlsError.HostNameLength; }
  const name = o + 5;
  let hostName = true;
  for (let i = 0; i < n; i++) {
    const b = at(d, name + i);
    if (b == 0) { bad(info, i); return TlsError.HostNameNul; }
    if (b < 0x21 || b > 0x7e) hostName = false;
  }
  if (at(d, name + n - 1) == 0x2e) hostName = false; // trailing dot
  info.sniOffset = name;
  info.sniLength = n;
  info.sniHostName = hostName;
  return TlsError.None;
}

/** Envoy's Filter::onALPN: a u16 list ≥ 2 bytes ending the extension, entries 1..255 bytes. */
function parseAlpn(d: usize, o: i32, end: i32, info: TlsInfo): void {
  if (o + 2 > end) return;
  const listLen = <i32>be16(d, o);
  const listEnd = o + 2 + listLen;
  if (listLen < 2 || listEnd != end) return;
  let i = o + 2;
  while (i < listEnd) {
    const n = <i32>at(d, i);
    if (n == 0 || i + 1 + n > listEnd) return;
    i += 1 + n;
  }
  info.alpnOffset = o + 2;
  info.alpnLength = listLen;
}

// ALPN publication. The list is joined with ',' (the common case: `h2,http/1.1`). A name with
// a byte outside printable ASCII (0x21..0x7e), ',' or '%' would make that ambiguous, so such
// bytes are written %XX (upper-case hex), the percent-encoding RFC 7639 §2 uses for ALPN
// identifiers in text; bytes that need no escape are unchanged, so `http/1.1` stays readable.

@inline function alpnEscapes(b: u32): bool {
  return b < 0x21 || b > 0x7e || b == 0x2c || b == 0x25;
}

/** Length of the published ALPN text for the entries [o, o + len) in `d`. */
export function alpnTextLength(d: usize, o: i32, len: i32): i32 {
  const end = o + len;
  let out = 0;
  let i = o;
  while (i < end) {
    const n = <i32>at(d, i);
    if (out > 0) out++;
    for (let k = i + 1; k <= i + n; k++) out += alpnEscapes(at(d, k)) ? 3 : 1;
    i += 1 + n;
  }
  return out;
}

/** The entries need no escaping (the published text is the list joined with ','). */
export function alpnPlain(d: usize, o: i32, len: i32): bool {
  const end = o + len;
  let i = o;
  while (i < end) {
    const n = <i32>at(d, i);
    for (let k = i + 1; k <= i + n; k++) if (alpnEscapes(at(d, k))) return false;
    i += 1 + n;
  }
  return true;
}

const HEX: StaticArray<u8> = [0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46];

/** Writes the published ALPN text (alpnTextLength bytes) at `out`. */
export function writeAlpnText(d: usize, o: i32, len: i32, out: usize): void {
  const end = o + len;
  let w: usize = 0;
  let i = o;
  while (i < end) {
    const n = <i32>at(d, i);
    if (i > o) { store<u8>(out + w, 0x2c); w++; }
    for (let k = i + 1; k <= i + n; k++) {
      const b = at(d, k);
      if (alpnEscapes(b)) {
        store<u8>(out + w, 0x25);
        store<u8>(out + w + 1, unchecked(HEX[b >> 4]));
        store<u8>(out + w + 2, unchecked(HEX[b & 15]));
        w += 3;
      } else {
        store<u8>(out + w, <u8>b);
        w++;
      }
    }
    i += 1 + n;
  }
}

/** ASCII lower-case in place (Envoy keeps the requested server name lower-case). */
export function lowerAscii(d: usize, o: i32, len: i32): void {
  for (let i = o; i < o + len; i++) {
    const b = at(d, i);
    if (b - 0x41 < 26) store<u8>(d + <usize>i, <u8>(b + 0x20));
  }
}
