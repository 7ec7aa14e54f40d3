// HTTP/1.0 and HTTP/1.1 request line (RFC 9112 §3): method SP request-target SP HTTP-version CRLF.
// The method must be one of the IANA "HTTP Method Registry" names (RFC 9110 §16.1.1 and the
// registry itself); the version must be HTTP/1.0 or HTTP/1.1. Envoy's http_inspector runs an
// HTTP/1 parser over the same first line and gives up after 8 KiB (Config::MAX_INSPECT_SIZE,
// source/extensions/filters/listener/http_inspector/http_inspector.h).
//
// The scan is resumable: Http1Scan remembers how far it got, so feeding more bytes continues
// where it stopped. It answers NoMatch at the first byte that no request line can contain.
import { Decision } from "../detect/result";
import { at } from "../detect/bytes";

/**
 * IANA HTTP Method Registry (2024) minus "*" and "PRI": PRI exists only for the HTTP/2 preface
 * (RFC 9113 §3.4), so "PRI * HTTP/2.0" belongs to the h2 detector alone.
 */
export const HTTP_METHODS: StaticArray<string> = [
  "ACL", "BASELINE-CONTROL", "BIND", "CHECKIN", "CHECKOUT", "CONNECT", "COPY", "DELETE", "GET",
  "HEAD", "LABEL", "LINK", "LOCK", "MERGE", "MKACTIVITY", "MKCALENDAR", "MKCOL", "MKREDIRECTREF",
  "MKWORKSPACE", "MOVE", "OPTIONS", "ORDERPATCH", "PATCH", "POST", "PROPFIND", "PROPPATCH",
  "PUT", "QUERY", "REBIND", "REPORT", "SEARCH", "TRACE", "UNBIND", "UNCHECKOUT", "UNLINK", "UNLOCK",
  "UPDATE", "UPDATEREDIRECTREF", "VERSION-CONTROL",
];

/** Longest name in HTTP_METHODS ("UPDATEREDIRECTREF"). */
export const HTTP_METHOD_MAX: i32 = 17;
/** Every method, as a bit mask over HTTP_METHODS (39 methods fit in a u64). */
const ALL_METHODS: u64 = (<u64>1 << <u64>HTTP_METHODS.length) - 1;
// Method names use only 'A'..'Z' and '-': METHOD_CLASS maps a byte to 0..26 for those and to
// 27 (a row of zero masks) for every other byte, so one table row per position stays small.
const CLASSES = 28;
const METHOD_CLASS = new StaticArray<u8>(256);
/**
 * POSITION_MASK[i * CLASSES + class(b)]: the methods longer than i whose byte i is b. The
 * method phase is one load and an AND per byte instead of a walk over the candidates'
 * names; row HTTP_METHOD_MAX is all zero (no method is longer).
 */
const POSITION_MASK = new StaticArray<u64>((HTTP_METHOD_MAX + 1) * CLASSES);
/** LENGTH_MASK[i]: the methods exactly i bytes long (SP at i can only end those). */
const LENGTH_MASK = new StaticArray<u64>(HTTP_METHOD_MAX + 1);
for (let b = 0; b < 256; b++) METHOD_CLASS[b] = 27;
for (let b = 0; b < 26; b++) METHOD_CLASS[0x41 + b] = <u8>b;
METHOD_CLASS[0x2d] = 26;
for (let m = 0; m < HTTP_METHODS.length; m++) {
  const name = HTTP_METHODS[m];
  const bit = <u64>1 << <u64>m;
  LENGTH_MASK[name.length] |= bit;
  for (let i = 0; i < name.length; i++) {
    const k = i * CLASSES + <i32>METHOD_CLASS[name.charCodeAt(i)];
    POSITION_MASK[k] |= bit;
  }
}

/** The methods longer than `i` (≤ HTTP_METHOD_MAX) whose byte `i` is `b`. Exported for the spec. */
export function methodsWithByteAt(i: i32, b: u32): u64 {
  if (i < 0 || i > HTTP_METHOD_MAX || b > 255) return 0;
  return unchecked(POSITION_MASK[i * CLASSES + <i32>unchecked(METHOD_CLASS[b])]);
}

const PHASE_METHOD: u8 = 0;
const PHASE_TARGET: u8 = 1;
const PHASE_VERSION: u8 = 2;
const PHASE_DONE: u8 = 3;
export const VERSION_PREFIX = "HTTP/1.";
/** VERSION_PREFIX as a little-endian u64, byte k at bits 8k (the spec checks it). */
export const VERSION_PREFIX_WORD: u64 = 0x002e312f50545448;

export class Http1Scan {
  /** Next byte to look at. */
  pos: i32 = 0;
  phase: u8 = PHASE_METHOD;
  /** Methods still consistent with the bytes seen. */
  candidates: u64 = 0;
  /** Index into HTTP_METHODS once the method is known, else -1. */
  method: i32 = -1;
  targetOffset: i32 = -1;
  targetLength: i32 = 0;
  /** 0 for HTTP/1.0, 1 for HTTP/1.1, -1 until known. */
  minor: i32 = -1;
  result: Decision = Decision.NeedMoreData;

  reset(): void {
    this.pos = 0;
    this.phase = PHASE_METHOD;
    this.candidates = 0;
    this.method = -1;
    this.targetOffset = -1;
    this.targetLength = 0;
    this.minor = -1;
    this.result = Decision.NeedMoreData;
  }

  /** Method, SP and the first byte of the target were seen: enough to call it HTTP at the cap. */
  get plausible(): bool {
    return this.phase >= PHASE_TARGET && this.pos > this.targetOffset;
  }

  methodName(): string {
    return this.method < 0 ? "" : HTTP_METHODS[this.method];
  }
}

/** Where a phase stopped: the next byte to look at, or NO_MATCH (no request line has these bytes). */
const NO_MATCH: i32 = -1;

// Each phase scans with its progress in locals and writes its fields back once, when it stops:
// every field access on a managed object costs a shadow-stack store in AssemblyScript's output,
// which per byte was most of this detector's time. The fields end up exactly as a per-byte
// update would leave them. The phases are @inline so the driver stays one function in the
// output (a call would spill `s` again).

/**
 * PHASE_METHOD -> PHASE_TARGET at the SP after a registered method name. Returns where it
 * stopped (len when it ran out of bytes, phase unchanged) or NO_MATCH.
 */
// @ts-ignore: decorator
@inline function scanMethod(p: usize, len: i32, i: i32, s: Http1Scan): i32 {
  let cand = s.candidates;
  while (i < len) {
    const b = at(p, i);
    if (b == 0x20 && i > 0) {
      // Only a method exactly i bytes long can end here; names are unique, so one remains.
      // cand ≠ 0 here, so i ≤ HTTP_METHOD_MAX.
      const found = cand & unchecked(LENGTH_MASK[i]);
      s.candidates = cand;
      if (found == 0) return NO_MATCH;
      s.method = <i32>ctz(found);
      s.targetOffset = i + 1;
      s.phase = PHASE_TARGET;
      return i + 1;
    }
    const keep = (i == 0 ? ALL_METHODS : cand) &
      unchecked(POSITION_MASK[i * CLASSES + <i32>unchecked(METHOD_CLASS[b])]);
    if (keep == 0) {
      // At byte 0 the candidates were set (to none) before failing; later they stay.
      s.candidates = i == 0 ? 0 : cand;
      return NO_MATCH;
    }
    cand = keep;
    i++;
  }
  s.candidates = cand;
  return i;
}

/** PHASE_TARGET -> PHASE_VERSION at the SP that ends the request target. */
// @ts-ignore: decorator
@inline function scanTarget(p: usize, len: i32, i: i32, s: Http1Scan): i32 {
  const tOff = s.targetOffset;
  while (i < len) {
    const b = at(p, i);
    if (i == tOff) {
      // origin-form "/", asterisk-form "*", absolute-form "http://…", authority-form "host:port".
      if (!(b == 0x2f || b == 0x2a || (b | 0x20) - 0x61 < 26 || b - 0x30 < 10 || b == 0x5b)) return NO_MATCH;
    } else if (b == 0x20) {
      s.targetLength = i - tOff;
      s.phase = PHASE_VERSION;
      return i + 1;
    } else if (b < 0x20 || b == 0x7f) {
      return NO_MATCH;
    }
    i++;
  }
  return i;
}

/** PHASE_VERSION -> PHASE_DONE (with a stored Match) at the CR or LF after "HTTP/1.0" or "HTTP/1.1". */
// @ts-ignore: decorator
@inline function scanVersion(p: usize, len: i32, i: i32, s: Http1Scan): i32 {
  const vStart = s.targetOffset + s.targetLength + 1;
  while (i < len) {
    const b = at(p, i);
    const k = i - vStart;
    if (k < 7) {
      if (b != <u32>((VERSION_PREFIX_WORD >> (<u64>k << 3)) & 0xff)) return NO_MATCH;
    } else if (k == 7) {
      if (b != 0x30 && b != 0x31) return NO_MATCH;
      s.minor = <i32>(b - 0x30);
    } else {
      // "HTTP/1.x" must end the line; a lone LF is tolerated as most parsers do.
      if (b != 0x0d && b != 0x0a) return NO_MATCH;
      s.phase = PHASE_DONE;
      s.result = Decision.Match;
      return i + 1;
    }
    i++;
  }
  return i;
}

/**
 * Resumes the scan at `s.pos` over the `len` bytes at `p`. Each phase runs while the bytes last;
 * `pos` is saved once, and not advanced on NoMatch.
 */
export function detectHttp1(p: usize, len: i32, s: Http1Scan): Decision {
  if (s.result != Decision.NeedMoreData) return s.result;
  let i = s.pos;
  if (i >= len) return Decision.NeedMoreData;
  if (s.phase == PHASE_METHOD) i = scanMethod(p, len, i, s);
  if (i != NO_MATCH && s.phase == PHASE_TARGET) i = scanTarget(p, len, i, s);
  if (i != NO_MATCH && s.phase == PHASE_VERSION) i = scanVersion(p, len, i, s);
  if (i == NO_MATCH) {
    s.result = Decision.NoMatch;
    return Decision.NoMatch;
  }
  s.pos = i;
  return s.result;
}
