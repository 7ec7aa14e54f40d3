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

// Candidate methods by first byte, as bit masks over HTTP_METHODS (39 methods fit in a u64).
const BY_FIRST_BYTE = new StaticArray<u64>(128);
for (let m = 0; m < HTTP_METHODS.length; m++) {
  const c = HTTP_METHODS[m].charCodeAt(0);
  BY_FIRST_BYTE[c] = BY_FIRST_BYTE[c] | (<u64>1 << <u64>m);
}

const PHASE_METHOD: u8 = 0;
const PHASE_TARGET: u8 = 1;
const PHASE_VERSION: u8 = 2;
const PHASE_DONE: u8 = 3;
const VERSION_PREFIX = "HTTP/1.";

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

@inline function fail(s: Http1Scan): Decision {
  s.result = Decision.NoMatch;
  return Decision.NoMatch;
}

export function detectHttp1(p: usize, len: i32, s: Http1Scan): Decision {
  if (s.result != Decision.NeedMoreData) return s.result;
  let i = s.pos;
  while (i < len) {
    const b = at(p, i);
    if (s.phase == PHASE_METHOD) {
      if (i == 0) {
        if (b >= 128) return fail(s);
        s.candidates = unchecked(BY_FIRST_BYTE[b]);
        if (s.candidates == 0) return fail(s);
      } else if (b == 0x20) {
        // Only a method exactly i bytes long can end here; names are unique, so one remains.
        let found = -1;
        let m = s.candidates;
        while (m != 0) {
          const k = <i32>ctz(m);
          m &= m - 1;
          if (unchecked(HTTP_METHODS[k]).length == i) found = k;
        }
        if (found < 0) return fail(s);
        s.method = found;
        s.phase = PHASE_TARGET;
        s.targetOffset = i + 1;
      } else {
        let m = s.candidates;
        let keep: u64 = 0;
        while (m != 0) {
          const k = <i32>ctz(m);
          m &= m - 1;
          const name = unchecked(HTTP_METHODS[k]);
          if (name.length > i && <u32>name.charCodeAt(i) == b) keep |= <u64>1 << <u64>k;
        }
        if (keep == 0) return fail(s);
        s.candidates = keep;
      }
    } else if (s.phase == PHASE_TARGET) {
      if (i == s.targetOffset) {
        // origin-form "/", asterisk-form "*", absolute-form "http://…", authority-form "host:port".
        if (!(b == 0x2f || b == 0x2a || (b | 0x20) - 0x61 < 26 || b - 0x30 < 10 || b == 0x5b)) {
          return fail(s);
        }
      } else if (b == 0x20) {
        s.targetLength = i - s.targetOffset;
        s.phase = PHASE_VERSION;
      } else if (b <= 0x20 || b == 0x7f) {
        return fail(s);
      }
    } else if (s.phase == PHASE_VERSION) {
      const k = i - (s.targetOffset + s.targetLength + 1);
      if (k < 7) {
        if (b != <u32>VERSION_PREFIX.charCodeAt(k)) return fail(s);
      } else if (k == 7) {
        if (b != 0x30 && b != 0x31) return fail(s);
        s.minor = <i32>(b - 0x30);
      } else {
        // "HTTP/1.x" must end the line; a lone LF is tolerated as most parsers do.
        if (b != 0x0d && b != 0x0a) return fail(s);
        s.phase = PHASE_DONE;
        s.pos = i + 1;
        s.result = Decision.Match;
        return Decision.Match;
      }
    }
    i++;
  }
  s.pos = i;
  return Decision.NeedMoreData;
}
