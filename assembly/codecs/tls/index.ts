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
import { hex } from "../../runtime/hex";

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
    case TlsError.RecordVersion: return "tls record version 0x" + hex(<u32>v) + " has major version other than 3";
    case TlsError.RecordLength: return "tls record length " + n + " above 16384";
    case TlsError.EmptyRecords: return "tls: " + n + " empty records in a row (limit 32)";
    case TlsError.HandshakeType: return "tls handshake type " + n + " is not ClientHello (1)";
    case TlsError.HelloLength: return "tls ClientHello length " + n + " outside 41..16384";
    case TlsError.ExcessData: return "tls: " + n + " bytes after the ClientHello in its record";
    case TlsError.LegacyVersion: return "tls ClientHello legacy_version 0x" + hex(<u32>v) + " outside 0x0300..0x0304";
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

/**
 * A connection's ClientHello decoder state and what it found. Fields are in TlsFields order (the
 * decoder's view of the same object; the layout is checked in __tests__/tls.spec.ts).
 */
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
  bodyAt: i32 = 0;
  recordVersion: u32 = 0;
  legacyVersion: u32 = 0;
  /** host_name: offset in dataPtr(), or -1 when absent. */
  sniOffset: i32 = -1;
  sniLength: i32 = 0;
  /** ALPN ProtocolNameList body (the entries, each a 1-byte length + name) in dataPtr(), or -1. */
  alpnOffset: i32 = -1;
  alpnLength: i32 = 0;
  /** Do not look again before the buffer reaches this length. */
  needUntil: i32 = 0;
  /** The body is contiguous in the caller's buffer at `bodyAt`; otherwise in `scratch`. */
  inPlace: bool = false;
  /** The host_name is a host name (printable ASCII, no trailing dot: RFC 6066 §3) we publish. */
  sniHostName: bool = false;
  /** The whole ClientHello was parsed (false: cut by the cap, the timeout or end of stream). */
  complete: bool = false;
  /** The ClientHello spans more than one record. */
  spansRecords: bool = false;
  /**
   * Set with sniOffset (meaningless while it is -1): the host name has an ASCII upper-case
   * letter, so publishing it lower-cases it (lowerAscii); without one it is published as is.
   */
  sniUpper: bool = false;
  /**
   * Set with alpnOffset (meaningless while it is -1): no protocol name has a byte that the
   * published text escapes, so that text is the entries joined with ','.
   */
  alpnPlain: bool = false;
  /** The body of a hello spread over records (reused while ≤ SCRATCH_KEEP bytes). */
  scratch: ArrayBuffer | null = null;

  /**
   * Ready for a new connection. Restores what a reader sees (state, error, offsets, lengths,
   * versions, flags); the decoder's bookkeeping (records, headers, body progress) is set by
   * detectTls when it starts on byte 0, so a connection pays for it only on the path it takes.
   */
  reset(): void {
    const t = fieldsOf(this);
    t.state = TlsState.Header;
    t.error = TlsError.None;
    t.pos = 0;
    t.bodyLen = -1;
    t.recordVersion = 0;
    t.legacyVersion = 0;
    t.sniOffset = -1;
    t.sniLength = 0;
    t.alpnOffset = -1;
    t.alpnLength = 0;
    t.needUntil = 0;
    // complete, spansRecords, inPlace, sniHostName: four bools, one store.
    store<u32>(changetype<usize>(t), 0, offsetof<TlsFields>("inPlace"));
    if (t.scratch != 0) this.trimScratch();
  }

  /** Drops a reassembly buffer above SCRATCH_KEEP bytes, so an idle reused state stays small. */
  private trimScratch(): void {
    const s = this.scratch;
    if (s !== null && s.byteLength > SCRATCH_KEEP) this.scratch = null;
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

/**
 * TlsInfo's fields at the same offsets, as an unmanaged record: the decoder reads and writes a
 * TlsInfo through this view of its address. AssemblyScript stores a managed reference to the
 * shadow stack at every field access (and zeroes a frame for them per function); through an
 * unmanaged view a field is one load or store. `scratch` is an address here and is written only
 * through TlsInfo, so the collector sees the store.
 */
@unmanaged export class TlsFields {
  state: TlsState;
  error: TlsError;
  errorValue: i32;
  pos: i32;
  recEnd: i32;
  records: i32;
  emptyRun: i32;
  hdrGot: i32;
  hdr: u32;
  bodyLen: i32;
  bodyGot: i32;
  bodyAt: i32;
  recordVersion: u32;
  legacyVersion: u32;
  sniOffset: i32;
  sniLength: i32;
  alpnOffset: i32;
  alpnLength: i32;
  needUntil: i32;
  inPlace: bool;
  sniHostName: bool;
  complete: bool;
  spansRecords: bool;
  sniUpper: bool;
  alpnPlain: bool;
  scratch: usize;
}

@inline export function fieldsOf(info: TlsInfo): TlsFields {
  return changetype<TlsFields>(changetype<usize>(info));
}

const SCRATCH_KEEP: i32 = 2048;

@inline function fail(t: TlsFields, e: TlsError, v: i32): Decision {
  t.state = TlsState.Failed;
  t.error = e;
  t.errorValue = v;
  return Decision.NoMatch;
}

/** Over the cap: TLS, without SNI/ALPN (as when the cap cuts a hello short). */
@inline function overCap(t: TlsFields): Decision {
  t.state = TlsState.Done;
  t.complete = false;
  return Decision.Match;
}

/**
 * Feeds the first `len` bytes at `p` (a stable, growing buffer) to the decoder. `cap` bounds the
 * ClientHello body (≤ TLS_MAX_CLIENT_HELLO); a hello above it is TLS without SNI/ALPN.
 */
@inline export function detectTls(p: usize, len: i32, info: TlsInfo, cap: i32 = TLS_MAX_CLIENT_HELLO): Decision {
  return decode(p, len, fieldsOf(info), cap);
}

function decode(p: usize, len: i32, t: TlsFields, cap: i32): Decision {
  const state = t.state;
  if (state == TlsState.Done) return Decision.Match;
  if (state == TlsState.Failed) return Decision.NoMatch;
  if (len < t.needUntil) return Decision.NeedMoreData;
  let pos = t.pos;
  if (pos == 0) {
    // The first look at byte 0 (reset() left this bookkeeping to us).
    if (len >= RECORD_HEADER + HANDSHAKE_HEADER) {
      // The usual first call: the ClientHello in one record whose headers are all here.
      const d = firstRecord(p, len, t, cap);
      if (d != Decision.NeedMoreData || t.pos != 0) return d;
    }
    t.errorValue = 0;
    t.recEnd = 0;
    t.records = 0;
    t.emptyRun = 0;
    t.hdrGot = 0;
    t.hdr = 0;
    t.bodyGot = 0;
    t.bodyAt = 0;
  }
  while (true) {
    if (t.state == TlsState.Header) {
      if (pos + RECORD_HEADER > len) {
        // Judge what arrived of the header now, so non-TLS bytes are ruled out early.
        const d = partialHeader(p, pos, len, t);
        t.pos = pos;
        t.needUntil = len + 1; // each new header byte can rule the bytes out
        return d;
      }
      const type = <i32>at(p, pos);
      if (type != 22) return fail(t, TlsError.RecordType, type);
      const version = <i32>be16(p, pos + 1);
      if ((version >> 8) != 3) return fail(t, TlsError.RecordVersion, version);
      const rec = <i32>be16(p, pos + 3);
      if (rec > TLS_MAX_RECORD) return fail(t, TlsError.RecordLength, rec);
      if (t.records == 0) t.recordVersion = <u32>version;
      t.records++;
      if (t.records > TLS_MAX_HELLO_RECORDS) return overCap(t);
      if (rec == 0) {
        t.emptyRun++;
        if (t.emptyRun > TLS_MAX_EMPTY_RECORDS) return fail(t, TlsError.EmptyRecords, t.emptyRun);
      } else {
        t.emptyRun = 0;
      }
      if (t.records > 1 && (t.hdrGot > 0 || t.bodyGot > 0)) t.spansRecords = true;
      pos += RECORD_HEADER;
      t.recEnd = pos + rec;
      t.state = TlsState.Body;
      if (t.bodyLen >= 0) {
        const d = checkExcess(t, pos);
        if (d != Decision.NeedMoreData) return d;
      }
      continue;
    }
    // TlsState.Body
    const recEnd = t.recEnd;
    if (t.hdrGot < HANDSHAKE_HEADER) {
      while (t.hdrGot < HANDSHAKE_HEADER && pos < recEnd && pos < len) {
        const b = at(p, pos);
        if (t.hdrGot == 0 && b != 1) return fail(t, TlsError.HandshakeType, <i32>b);
        t.hdr = (t.hdr << 8) | b;
        t.hdrGot++;
        pos++;
      }
      if (t.hdrGot == HANDSHAKE_HEADER) {
        const n = <i32>(t.hdr & 0xffffff);
        if (n < TLS_MIN_HELLO || n > TLS_MAX_CLIENT_HELLO) return fail(t, TlsError.HelloLength, n);
        t.bodyLen = n;
        if (n > cap) return overCap(t);
        const d = checkExcess(t, pos);
        if (d != Decision.NeedMoreData) return d;
        if (!t.spansRecords && pos + n == recEnd) {
          t.inPlace = true;
          t.bodyAt = pos;
        }
      }
    }
    if (t.bodyLen >= 0) {
      if (t.inPlace) {
        if (len < recEnd) {
          t.pos = pos;
          t.needUntil = recEnd;
          return Decision.NeedMoreData;
        }
        t.pos = recEnd;
        return finishHello(p, t.bodyAt, t);
      }
      // Split hello: copy what arrived of this record's share of the body.
      const until = len < recEnd ? len : recEnd;
      if (until > pos) {
        const s = scratchFor(t);
        memory.copy(s + <usize>t.bodyGot, p + <usize>pos, <usize>(until - pos));
        t.bodyGot += until - pos;
        pos = until;
      }
      if (t.bodyGot == t.bodyLen) {
        t.spansRecords = true;
        t.pos = pos;
        return finishHello(t.scratch, 0, t);
      }
    }
    if (pos < recEnd) {
      // The record is not all here yet.
      t.pos = pos;
      t.needUntil = pos + 1;
      return Decision.NeedMoreData;
    }
    t.state = TlsState.Header;
  }
  return Decision.NeedMoreData;
}

/**
 * The first record's header and a whole handshake header in it, when the ClientHello fits that
 * record exactly (the common case): every field the general loop would set, set at once. Leaves
 * `pos` 0 (and decides nothing) for every other shape, which the general loop handles.
 */
function firstRecord(p: usize, len: i32, t: TlsFields, cap: i32): Decision {
  const version = <i32>be16(p, 1);
  const rec = <i32>be16(p, 3);
  if (at(p, 0) != 22 || (version >> 8) != 3 || rec > TLS_MAX_RECORD || rec < HANDSHAKE_HEADER || at(p, 5) != 1) {
    return Decision.NeedMoreData;
  }
  const n = <i32>(be16(p, 7) | (at(p, 6) << 16));
  if (n < TLS_MIN_HELLO || n > TLS_MAX_CLIENT_HELLO || n > cap || HANDSHAKE_HEADER + n != rec) return Decision.NeedMoreData;
  const body = RECORD_HEADER + HANDSHAKE_HEADER;
  const recEnd = RECORD_HEADER + rec;
  t.recordVersion = <u32>version;
  t.bodyLen = n;
  t.inPlace = true;
  if (len >= recEnd) {
    // Decided in this call: the record and header bookkeeping is never read again.
    t.pos = recEnd;
    return finishHello(p, body, t);
  }
  t.records = 1;
  t.emptyRun = 0;
  t.hdrGot = HANDSHAKE_HEADER;
  t.hdr = (1 << 24) | <u32>n;
  t.bodyGot = 0;
  t.bodyAt = body;
  t.recEnd = recEnd;
  t.state = TlsState.Body;
  t.pos = body;
  t.needUntil = recEnd;
  return Decision.NeedMoreData;
}

/** A record reaching past the end of the ClientHello: BoringSSL's excess handshake data. */
function checkExcess(t: TlsFields, pos: i32): Decision {
  const left = t.bodyLen - t.bodyGot;
  const inRecord = t.recEnd - pos;
  if (inRecord > left) return fail(t, TlsError.ExcessData, inRecord - left);
  return Decision.NeedMoreData;
}

/** The reassembly buffer, grown to the body length (stored through TlsInfo for the collector). */
function scratchFor(t: TlsFields): usize {
  const info = changetype<TlsInfo>(changetype<usize>(t));
  let s = info.scratch;
  if (s === null || s.byteLength < t.bodyLen) {
    const next = new ArrayBuffer(t.bodyLen);
    if (s !== null && t.bodyGot > 0) {
      memory.copy(changetype<usize>(next), changetype<usize>(s), <usize>t.bodyGot);
    }
    info.scratch = next;
    s = next;
  }
  return changetype<usize>(s);
}

/** The bytes of a record header that arrived so far (pos + avail < pos + 5). */
function partialHeader(p: usize, pos: i32, len: i32, t: TlsFields): Decision {
  const n = len - pos;
  if (n >= 1) {
    const type = <i32>at(p, pos);
    if (type != 22) return fail(t, TlsError.RecordType, type);
  }
  if (n >= 2 && at(p, pos + 1) != 3) return fail(t, TlsError.RecordVersion, <i32>(at(p, pos + 1) << 8));
  if (n >= 4 && at(p, pos + 3) > 0x40) return fail(t, TlsError.RecordLength, <i32>(at(p, pos + 3) << 8));
  return Decision.NeedMoreData;
}

@inline function finishHello(d: usize, o: i32, t: TlsFields): Decision {
  const e = parseHello(d, o, o + t.bodyLen, t);
  if (e != TlsError.None) {
    t.state = TlsState.Failed;
    t.error = e;
    return Decision.NoMatch;
  }
  t.state = TlsState.Done;
  t.complete = true;
  return Decision.Match;
}

/**
 * Extension types ≥ 64 seen in the ClientHello being parsed: the u16 at HIGH_SEEN + 2·type ==
 * highStamp (types below 64, the registered ones every client sends, are a bit mask in
 * parseHello). A new stamp per ClientHello that has such an extension clears the table without
 * touching it; the table is zeroed when the stamp wraps. The 128 KiB are static memory, not a GC
 * object: as a live heap object of that size the table slowed the incremental collector's pace
 * enough that the sniffer fuzz run's memory grew from 4 to 8 pages.
 */
const HIGH_SEEN: usize = memory.data(65536 << 1, 2);
let highStamp: u32 = 0;

@inline function nextHighStamp(): u32 {
  let s = highStamp + 1;
  if (s > 0xffff) {
    memory.fill(HIGH_SEEN, 0, 65536 << 1);
    s = 1;
  }
  highStamp = s;
  return s;
}

@inline function bad(t: TlsFields, v: i32): void {
  t.errorValue = v;
}

/** Parses the ClientHello body [o, end) in `d`; every read is bounds-checked against `end`. */
function parseHello(d: usize, o: i32, end: i32, t: TlsFields): TlsError {
  const version = <i32>be16(d, o);
  t.legacyVersion = <u32>version;
  if ((version >> 8) != 3 || (version & 0xff) > 4) { bad(t, version); return TlsError.LegacyVersion; }
  o += 2 + 32;
  const sid = <i32>at(d, o); // o + 1 ≤ end: the body is at least TLS_MIN_HELLO bytes
  if (sid > 32) { bad(t, sid); return TlsError.SessionId; }
  o += 1 + sid;
  if (o + 2 > end) { bad(t, o); return TlsError.Truncated; }
  const cs = <i32>be16(d, o);
  if (cs < 2 || (cs & 1) != 0) { bad(t, cs); return TlsError.CipherSuites; }
  o += 2 + cs;
  if (o + 1 > end) { bad(t, o); return TlsError.Truncated; }
  const comp = <i32>at(d, o);
  if (comp < 1) { bad(t, comp); return TlsError.Compression; }
  if (o + 1 + comp > end) { bad(t, o); return TlsError.Truncated; }
  // Null (0) is the only method clients offer today, usually alone.
  if (at(d, o + 1) != 0 && !offersNull(d, o + 2, o + 1 + comp)) { bad(t, comp); return TlsError.NoNullCompression; }
  o += 1 + comp;
  if (o == end) return TlsError.None; // no extensions (SSL 3.0 / early TLS 1.0 clients)
  if (o + 2 > end) { bad(t, o); return TlsError.Truncated; }
  const extLen = <i32>be16(d, o);
  const extEnd = o + 2 + extLen;
  if (extEnd != end) { bad(t, extLen); return TlsError.ExtensionsLength; }
  o += 2;
  const first = o;
  // Types below 64 (the registered ones every client sends) go in a bit mask and are counted:
  // a repeat shows as fewer bits than extensions, checked once after the loop, and found by
  // firstRepeat. Types ≥ 64 are checked as they come against HIGH_SEEN.
  let low: u64 = 0;
  let lowCount = 0;
  let stamp: u32 = 0; // HIGH_SEEN stamp, taken at the first type ≥ 64
  let sni = -1;
  let sniEnd = 0;
  let alpn = -1;
  let alpnEnd = 0;
  while (o < extEnd) {
    if (o + 4 > extEnd) return truncated(d, first, o, low, lowCount, t);
    // The extension header as one little-endian word: type bytes in bits 0..15, length bytes
    // in bits 16..31 (each pair big-endian on the wire).
    const w = load<u32>(d + <usize>o);
    const body = o + 4;
    const next = body + <i32>(((w >> 8) & 0xff00) | (w >> 24));
    if (next > extEnd) return truncated(d, first, o, low, lowCount, t);
    if ((w & 0xc0ff) == 0) {
      // type < 64: its low byte (bits 8..13) is the bit.
      low |= <u64>1 << <u64>((w >> 8) & 0x3f);
      lowCount++;
      const wireType = w & 0xffff;
      if (wireType == swap16(EXT_SERVER_NAME)) {
        sni = body;
        sniEnd = next;
      } else if (wireType == swap16(EXT_ALPN)) {
        alpn = body;
        alpnEnd = next;
      }
    } else {
      const type = swap16(w & 0xffff);
      if (stamp == 0) stamp = nextHighStamp();
      const seen = HIGH_SEEN + (<usize>type << 1);
      if (<u32>load<u16>(seen) == stamp) {
        // A repeat of a lower type earlier in the list is the first error.
        bad(t, popcnt(low) != <u64>lowCount ? firstRepeat(d, first, o) : <i32>type);
        return TlsError.DuplicateExtension;
      }
      store<u16>(seen, <u16>stamp);
    }
    o = next;
  }
  if (popcnt(low) != <u64>lowCount) { bad(t, firstRepeat(d, first, extEnd)); return TlsError.DuplicateExtension; }
  // BoringSSL parses server_name only after the whole ClientHello passed
  // (do_read_client_hello: SSL_parse_client_hello, then extract_sni).
  if (sni >= 0) {
    const e = parseServerName(d, sni, sniEnd, t);
    if (e != TlsError.None) return e;
  }
  if (alpn >= 0) parseAlpn(d, alpn, alpnEnd, t);
  return TlsError.None;
}

/** A 16-bit value with its two bytes swapped (a big-endian field read little-endian, and back). */
@inline function swap16(v: u32): u32 {
  return ((v & 0xff) << 8) | (v >> 8);
}

/** A truncated extension at `o`, unless a type below 64 repeated before it (the earlier error). */
function truncated(d: usize, first: i32, o: i32, low: u64, lowCount: i32, t: TlsFields): TlsError {
  if (popcnt(low) != <u64>lowCount) { bad(t, firstRepeat(d, first, o)); return TlsError.DuplicateExtension; }
  bad(t, o);
  return TlsError.Truncated;
}

/** The first type below 64 that repeats among the (well-formed) extensions in [o, end). */
function firstRepeat(d: usize, o: i32, end: i32): i32 {
  let seen: u64 = 0;
  while (o < end) {
    const type = be16(d, o);
    if (type < 64) {
      const bit = <u64>1 << <u64>type;
      if ((seen & bit) != 0) return <i32>type;
      seen |= bit;
    }
    o += 4 + <i32>be16(d, o + 2);
  }
  return -1;
}

function offersNull(d: usize, o: i32, end: i32): bool {
  for (let i = o; i < end; i++) if (at(d, i) == 0) return true;
  return false;
}

/** BoringSSL extract_sni: exactly one entry, host_name, 1..255 bytes, no NUL. */
@inline function parseServerName(d: usize, o: i32, end: i32, t: TlsFields): TlsError {
  if (o + 2 > end) { bad(t, end - o); return TlsError.ServerNameList; }
  const listLen = <i32>be16(d, o);
  // name_type(1) + length(2) + name, and nothing after it in the list or the extension.
  if (o + 2 + listLen != end || listLen < 3) { bad(t, listLen); return TlsError.ServerNameList; }
  const type = <i32>at(d, o + 2);
  const n = <i32>be16(d, o + 3);
  if (3 + n != listLen) { bad(t, listLen); return TlsError.ServerNameList; }
  if (type != 0) { bad(t, type); return TlsError.ServerNameType; }
  if (n < 1 || n > TLS_MAX_HOST_NAME) { bad(t, n); return TlsError.HostNameLength; }
  const name = o + 5;
  let hostName = true;
  let upper = false;
  if (allGraphic(d + <usize>name, n)) {
    upper = anyUpper(d + <usize>name, n);
  } else {
    // Rare: find the NUL (an error) or settle for "not a host name" (never published).
    for (let i = 0; i < n; i++) {
      const b = at(d, name + i);
      if (b == 0) { bad(t, i); return TlsError.HostNameNul; }
      if (b < 0x21 || b > 0x7e) hostName = false;
    }
  }
  if (at(d, name + n - 1) == 0x2e) hostName = false; // trailing dot
  t.sniOffset = name;
  t.sniLength = n;
  t.sniHostName = hostName;
  t.sniUpper = upper;
  return TlsError.None;
}

// Eight bytes at a time (SWAR, "Bit Twiddling Hacks", Anderson: hasless / hasmore): a word has a
// byte below n (n ≤ 128) iff (v - n·ONES) & ~v & HIGHS ≠ 0, and a byte above n (n ≤ 127) iff
// ((v + (127 - n)·ONES) | v) & HIGHS ≠ 0. Both tests are exact about whether such a byte exists.
const ONES: u64 = 0x0101010101010101;
const HIGHS: u64 = 0x8080808080808080;

/** Bits at HIGHS where a byte of `v` is below 0x21 or above 0x7e (0 = all printable ASCII). */
@inline function notGraphic(v: u64): u64 {
  return (((v - ONES * 0x21) & ~v) | (v + ONES) | v) & HIGHS;
}

/**
 * Bits at HIGHS where a byte of `v` is 'A'..'Z', for a word of printable ASCII (no byte above
 * 0x7f, so no sum carries into the next byte): b + (0x80 - 0x41) reaches the high bit iff
 * b ≥ 0x41, b + (0x80 - 0x5b) iff b ≥ 0x5b.
 */
@inline function upperCase(v: u64): u64 {
  return (v + ONES * 0x3f) & ~(v + ONES * 0x25) & HIGHS;
}

/** Bits at HIGHS where a byte of `v` is `c` (exact about whether there is one). */
@inline function byteIs(v: u64, c: u64): u64 {
  const x = v ^ (ONES * c);
  return (x - ONES) & ~x & HIGHS;
}

/** Bits at HIGHS where a byte of `v` is escaped in the published ALPN text (alpnEscapes). */
@inline function alpnEscapeBits(v: u64): u64 {
  return notGraphic(v) | byteIs(v, 0x2c) | byteIs(v, 0x25);
}

/**
 * The word ending at the last of the `n` (1..7) bytes at `a`, the bytes before them replaced by
 * 'a' (printable, lower-case, never escaped). Every name the decoder tests this way (a
 * host_name, an ALPN protocol) sits at least 8 bytes into the ClientHello body, so that word is
 * inside the buffer.
 */
@inline function shortWord(a: usize, n: i32): u64 {
  const keep = u64.MAX_VALUE << (<u64>(8 - n) << 3);
  return (load<u64>(a + <usize>n - 8) & keep) | (0x6161616161616161 & ~keep);
}

/** Every one of the `n` (≥ 1) bytes at `a` is printable ASCII (0x21..0x7e). */
@inline function allGraphic(a: usize, n: i32): bool {
  if (n < 8) return notGraphic(shortWord(a, n)) == 0;
  let bad = notGraphic(load<u64>(a + <usize>n - 8));
  for (let i = 0; i + 8 < n; i += 8) bad |= notGraphic(load<u64>(a + <usize>i));
  return bad == 0;
}

/** One of the `n` (≥ 1) printable ASCII bytes at `a` is 'A'..'Z'. */
@inline function anyUpper(a: usize, n: i32): bool {
  if (n < 8) return upperCase(shortWord(a, n)) != 0;
  let up = upperCase(load<u64>(a + <usize>n - 8));
  for (let i = 0; i + 8 < n; i += 8) up |= upperCase(load<u64>(a + <usize>i));
  return up != 0;
}

/** One of the `n` (≥ 1) bytes at `a` is escaped in the published ALPN text. */
@inline function anyAlpnEscape(a: usize, n: i32): bool {
  if (n < 8) return alpnEscapeBits(shortWord(a, n)) != 0;
  let esc = alpnEscapeBits(load<u64>(a + <usize>n - 8));
  for (let i = 0; i + 8 < n; i += 8) esc |= alpnEscapeBits(load<u64>(a + <usize>i));
  return esc != 0;
}

/** Envoy's Filter::onALPN: a u16 list ≥ 2 bytes ending the extension, entries 1..255 bytes. */
@inline function parseAlpn(d: usize, o: i32, end: i32, t: TlsFields): void {
  if (o + 2 > end) return;
  const listLen = <i32>be16(d, o);
  const listEnd = o + 2 + listLen;
  if (listLen < 2 || listEnd != end) return;
  let i = o + 2;
  let plain = true;
  while (i < listEnd) {
    const n = <i32>at(d, i);
    if (n == 0 || i + 1 + n > listEnd) return;
    if (plain && anyAlpnEscape(d + <usize>(i + 1), n)) plain = false;
    i += 1 + n;
  }
  t.alpnOffset = o + 2;
  t.alpnLength = listLen;
  t.alpnPlain = plain;
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
