/**
 * Envoy's listener-filter step: what runs on an accepted socket before a filter chain is chosen.
 *
 * Copied from envoyproxy/envoy (1.37; per release differences in envoy-version.ts):
 * - source/common/listener_manager/active_tcp_socket.cc + active_stream_listener_base.cc:
 *   filters run in order; each one that answers StopIteration waits for data; the whole step is
 *   bounded by `listener_filters_timeout` (default 15 s, 0 = none). On timeout the stat
 *   `downstream_pre_cx_timeout` counts, and with `continue_on_listener_filters_timeout` the
 *   connection goes on to filter-chain selection with whatever was found so far
 *   (`newConnection()`), otherwise the socket is closed. A peer close while the filters wait
 *   (ListenerFilterBuffer sees EOF) closes the socket (`downstream_listener_filter_remote_close`).
 *   `newConnection()` sets the transport protocol to `raw_buffer` when no filter set one.
 * - Listener filters peek (MSG_PEEK through ListenerFilterBufferImpl): the bytes they saw stay
 *   in the socket and are read again by the network filters.
 * - http_inspector (source/extensions/filters/listener/http_inspector/http_inspector.{h,cc}):
 *   see `inspectHttp`. tls_inspector (source/extensions/filters/listener/tls_inspector/): see
 *   `inspectClientHello`.
 */
import type * as net from "node:net";
import type { HttpInspectorParser } from "./envoy-version.js";

export type ListenerFilterName = "tls_inspector" | "http_inspector";

/** What listener filters write on the socket, read by filter_chain_match. */
export interface DetectedFacts {
  /** "" until a filter sets it; "tls" from tls_inspector; `raw_buffer` filled in at newConnection. */
  transportProtocol: string;
  requestedServerName: string;
  applicationProtocols: string[];
}

export interface StatSink {
  inc(name: string, by?: number): void;
}

// ---------------------------------------------------------------------------------------------
// http_inspector

/** "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" (Filter::HTTP2_CONNECTION_PREFACE). */
const H2_PREFACE = new TextEncoder().encode("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
/** Config::MAX_INSPECT_SIZE: 64 KiB; reaching it without a verdict closes the connection. */
export const HTTP_INSPECTOR_MAX_INSPECT_SIZE = 64 * 1024;

export type HttpInspectResult =
  | { readonly state: "Done"; readonly protocol: "http/1.0" | "http/1.1" | "h2c" }
  | { readonly state: "Error" }
  | { readonly state: "Continue" };

/** RFC 9110 tchar, the characters Envoy's BalsaParser accepts in a custom method. */
const TCHAR = new Set("!#$%&'*+-.0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ^_`abcdefghijklmnopqrstuvwxyz|~");

/**
 * http_inspector's `parseHttpHeader` over everything peeked so far
 * (source/extensions/filters/listener/http_inspector/http_inspector.cc), with the parser the
 * Envoy release uses (envoy-version.ts, `httpInspectorParser`):
 * - a prefix of the h2 preface waits; the full 24-byte preface → `h2c` (Envoy's ALPN name for
 *   HTTP/2 over cleartext);
 * - a first byte `\r` or `\n` → not HTTP (checked before any parser runs);
 * - `legacy` (LegacyHttpParserImpl over nodejs/http-parser; Envoy 1.37 and 1.38): the parser is
 *   fed the bytes as they come and fails at the first byte no request line can hold: the method
 *   must be a prefix of one http-parser knows (`s_start_req` refuses a first byte that is not a
 *   letter, HPE_INVALID_METHOD), so Dubbo (0xda), Thrift, Redis `*`, Postgres are not HTTP at once;
 * - `balsa` (BalsaParser, custom methods allowed; Envoy 1.39): Balsa's ProcessHeaders rejects a
 *   first byte ≤ ' ' (NO_REQUEST_LINE_IN_REQUEST, compared as unsigned char), otherwise nothing is
 *   decided until a `\n` arrives: a binary protocol without `\n` waits for more, up to the max
 *   inspect size or the listener-filter timeout;
 * - at `\n` (both): method, target and version (`HTTP/d.d` or none = HTTP/0.9) must be valid,
 *   else not HTTP; a line ending in `HTTP/1.1` → `http/1.1`, any other valid line → `http/1.0`
 *   ("Set other HTTP protocols to HTTP/1.0").
 */
export function inspectHttp(data: Uint8Array, parser: HttpInspectorParser): HttpInspectResult {
  if (data.length === 0) return { state: "Continue" };
  const n = Math.min(data.length, H2_PREFACE.length);
  let prefaceSoFar = true;
  for (let i = 0; i < n; i++) {
    if (data[i] !== H2_PREFACE[i]) {
      prefaceSoFar = false;
      break;
    }
  }
  if (prefaceSoFar) {
    return data.length < H2_PREFACE.length ? { state: "Continue" } : { state: "Done", protocol: "h2c" };
  }
  const first = data[0]!;
  if (first === 0x0d || first === 0x0a) return { state: "Error" };
  if (parser === "balsa" && first <= 0x20) return { state: "Error" };
  const nl = data.indexOf(0x0a);
  if (nl < 0) return parser === "legacy" && !legacyLinePrefixValid(data) ? { state: "Error" } : { state: "Continue" };
  let end = nl;
  if (end > 0 && data[end - 1] === 0x0d) end--;
  const line = Buffer.from(data.subarray(0, end)).toString("latin1");
  if (parser === "legacy" && !legacyLinePrefixValid(data.subarray(0, end))) return { state: "Error" };
  return parseRequestLine(line, parser);
}

/**
 * The request methods nodejs/http-parser knows (http_parser.h, HTTP_METHOD_MAP): its
 * `s_start_req` / `s_req_method` states accept only bytes that keep the method a prefix of one
 * of these, followed by a space.
 */
const LEGACY_METHODS = [
  "DELETE", "GET", "HEAD", "POST", "PUT", "CONNECT", "OPTIONS", "TRACE", "COPY", "LOCK", "MKCOL",
  "MOVE", "PROPFIND", "PROPPATCH", "SEARCH", "UNLOCK", "BIND", "REBIND", "UNBIND", "ACL", "REPORT",
  "MKACTIVITY", "CHECKOUT", "MERGE", "M-SEARCH", "NOTIFY", "SUBSCRIBE", "UNSUBSCRIBE", "PATCH",
  "PURGE", "MKCALENDAR", "LINK", "UNLINK", "SOURCE",
];

/**
 * Whether http-parser would still be parsing after `bytes` (a request line without its `\n`):
 * a method prefix, then after one space the target (no control bytes), then after a space a
 * prefix of `HTTP/d.d`.
 */
function legacyLinePrefixValid(bytes: Uint8Array): boolean {
  let text = Buffer.from(bytes).toString("latin1");
  if (text.endsWith("\r")) text = text.slice(0, -1);
  const parts = text.split(/ +/);
  const method = parts[0]!;
  if (parts.length === 1) return LEGACY_METHODS.some((m) => m.startsWith(method));
  if (!LEGACY_METHODS.includes(method) || parts.length > 3) return false;
  const target = parts[1]!;
  for (let i = 0; i < target.length; i++) {
    const c = target.charCodeAt(i);
    if (c < 0x21 || c === 0x7f) return false;
  }
  const version = parts[2];
  if (version === undefined) return true;
  const pattern = "HTTP/d.d";
  if (version.length > pattern.length) return false;
  for (let i = 0; i < version.length; i++) {
    const want = pattern[i]!;
    const c = version[i]!;
    if (want === "d" ? !/[0-9]/.test(c) : c !== want) return false;
  }
  return true;
}

function parseRequestLine(line: string, parser: HttpInspectorParser): HttpInspectResult {
  // Balsa splits the first line on spaces/tabs; the version is whatever follows the target.
  const parts = line.split(/[ \t]+/).filter((p) => p.length > 0);
  if (parts.length < 2 || parts.length > 3) return { state: "Error" };
  const [method, target, version = ""] = parts as [string, string, string?];
  if (parser === "legacy" ? !LEGACY_METHODS.includes(method) : [...method].some((c) => !TCHAR.has(c))) return { state: "Error" };
  if (!isUrlValid(target, method === "CONNECT")) return { state: "Error" };
  if (version !== "" && !/^HTTP\/[0-9]\.[0-9]$/.test(version)) return { state: "Error" };
  // BalsaParser::isHttp11: the request's first line ends with "HTTP/1.1".
  return { state: "Done", protocol: line.endsWith("HTTP/1.1") ? "http/1.1" : "http/1.0" };
}

/** BalsaParser's isUrlValid (source/common/http/http1/balsa_parser.cc). */
function isUrlValid(url: string, isConnect: boolean): boolean {
  if (url.length === 0) return false;
  const pathQueryChar = (c: number): boolean => c === 9 || c === 12 || (c >= 0x21 && c <= 126);
  const all = (s: string, f: (c: number) => boolean): boolean => {
    for (let i = 0; i < s.length; i++) if (!f(s.charCodeAt(i))) return false;
    return true;
  };
  if (url[0] === "/" || url[0] === "*") return all(url.slice(1), pathQueryChar);
  let rest = url;
  if (!isConnect) {
    const m = /^[A-Za-z][A-Za-z0-9+\-.]*/.exec(rest);
    if (m === null) return false;
    rest = rest.slice(m[0].length);
    if (!rest.startsWith("://")) return false;
    rest = rest.slice(3);
  }
  const q = rest.search(/[/?]/);
  const host = q < 0 ? rest : rest.slice(0, q);
  const pathQuery = q < 0 ? "" : rest.slice(q);
  const hostChar = (c: number): boolean =>
    (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || "!$%&'()*+,-.:;=@[]_~".includes(String.fromCharCode(c));
  return all(host, hostChar) && !host.includes("@@") && all(pathQuery, pathQueryChar);
}

// ---------------------------------------------------------------------------------------------
// tls_inspector

/** Config::TLS_MAX_CLIENT_HELLO (64 KiB): a ClientHello still incomplete there is an error. */
export const TLS_MAX_CLIENT_HELLO = 64 * 1024;

export type TlsInspectResult =
  | { readonly state: "Continue" }
  | { readonly state: "NotTls" }
  | { readonly state: "TooLarge" }
  | { readonly state: "Tls"; readonly serverName: string; readonly alpn: string[] };

/**
 * What tls_inspector learns from BoringSSL, which it drives as a server until the ClientHello
 * is parsed (select-certificate callback: SNI, ALPN; then it aborts the handshake):
 * - not enough bytes for a record header or the whole ClientHello → wait (SSL_ERROR_WANT_READ),
 *   unless `TLS_MAX_CLIENT_HELLO` bytes are already there (client_hello_too_large → close);
 * - anything BoringSSL rejects before the callback (not a handshake record, bad version,
 *   malformed ClientHello) → `tls_not_found` and the filter is done; the connection goes on;
 * - ClientHello parsed → transport protocol `tls`, SNI (lower-cased: filter_chain_manager_impl.cc
 *   asserts requestedServerName is lower case), ALPN list → requested application protocols.
 * The handshake message may span several records (BoringSSL reassembles it).
 */
export function inspectClientHello(data: Uint8Array): TlsInspectResult {
  const hs: number[] = [];
  let off = 0;
  let need = -1;
  while (true) {
    if (data.length - off < 5) break;
    const type = data[off]!;
    const major = data[off + 1]!;
    const len = (data[off + 3]! << 8) | data[off + 4]!;
    // SSL3_RT_HANDSHAKE = 22; every TLS record version has major 3; max record 2^14 + 2048.
    if (type !== 22 || major !== 3 || len === 0 || len > 16384 + 2048) return { state: "NotTls" };
    if (data.length - off - 5 < len) {
      for (let i = off + 5; i < data.length; i++) hs.push(data[i]!);
      break;
    }
    for (let i = off + 5; i < off + 5 + len; i++) hs.push(data[i]!);
    off += 5 + len;
    if (hs.length >= 4) {
      need = 4 + ((hs[1]! << 16) | (hs[2]! << 8) | hs[3]!);
      if (hs[0] !== 1) return { state: "NotTls" };
      if (hs.length >= need) break;
    }
  }
  if (hs.length >= 1 && hs[0] !== 1) return { state: "NotTls" };
  if (hs.length >= 4) need = 4 + ((hs[1]! << 16) | (hs[2]! << 8) | hs[3]!);
  if (need < 0 || hs.length < need) {
    return data.length >= TLS_MAX_CLIENT_HELLO ? { state: "TooLarge" } : { state: "Continue" };
  }
  const parsed = parseClientHelloBody(Uint8Array.from(hs.slice(4, need)));
  return parsed === undefined ? { state: "NotTls" } : { state: "Tls", ...parsed };
}

/** ClientHello body (RFC 8446 4.1.2); undefined when malformed. */
function parseClientHelloBody(b: Uint8Array): { serverName: string; alpn: string[] } | undefined {
  let p = 0;
  const u8 = (): number | undefined => (p + 1 <= b.length ? b[p++] : undefined);
  const u16 = (): number | undefined => {
    if (p + 2 > b.length) return undefined;
    const v = (b[p]! << 8) | b[p + 1]!;
    p += 2;
    return v;
  };
  const skip = (n: number | undefined): boolean => {
    if (n === undefined || p + n > b.length) return false;
    p += n;
    return true;
  };
  if (!skip(2) || !skip(32)) return undefined; // legacy_version, random
  if (!skip(u8())) return undefined; // legacy_session_id
  const suites = u16();
  if (suites === undefined || suites === 0 || suites % 2 !== 0 || !skip(suites)) return undefined;
  const comp = u8();
  if (comp === undefined || comp === 0 || !skip(comp)) return undefined;
  let serverName = "";
  let alpn: string[] = [];
  if (p === b.length) return { serverName, alpn };
  const extLen = u16();
  if (extLen === undefined || p + extLen !== b.length) return undefined;
  while (p < b.length) {
    const type = u16();
    const len = u16();
    if (type === undefined || len === undefined || p + len > b.length) return undefined;
    const body = b.subarray(p, p + len);
    p += len;
    if (type === 0) {
      const name = parseSni(body);
      if (name === undefined) return undefined;
      serverName = name;
    } else if (type === 16) {
      const list = parseAlpn(body);
      if (list === undefined) return undefined;
      alpn = list;
    }
  }
  return { serverName, alpn };
}

/**
 * BoringSSL ext_sni_parse_clienthello: exactly one entry, name_type host_name (0), 1..255
 * bytes, no NUL; anything else fails the handshake (so tls_inspector reports no TLS).
 */
function parseSni(b: Uint8Array): string | undefined {
  if (b.length < 5) return undefined;
  const listLen = (b[0]! << 8) | b[1]!;
  const nameLen = (b[3]! << 8) | b[4]!;
  if (listLen + 2 !== b.length || nameLen + 5 !== b.length || b[2] !== 0) return undefined;
  const name = b.subarray(5);
  if (name.length === 0 || name.length > 255 || name.includes(0)) return undefined;
  return Buffer.from(name).toString("latin1").toLowerCase();
}

function parseAlpn(b: Uint8Array): string[] | undefined {
  if (b.length < 2) return undefined;
  const listLen = (b[0]! << 8) | b[1]!;
  if (listLen + 2 !== b.length || listLen === 0) return undefined;
  const out: string[] = [];
  let p = 2;
  while (p < b.length) {
    const len = b[p]!;
    p += 1;
    if (len === 0 || p + len > b.length) return undefined;
    out.push(Buffer.from(b.subarray(p, p + len)).toString("latin1"));
    p += len;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The step itself

type FilterStatus = "Continue" | "StopIteration" | "Close";

interface ListenerFilter {
  onAccept(facts: DetectedFacts): "Continue" | "StopIteration";
  onData(data: Uint8Array, facts: DetectedFacts): FilterStatus;
}

function httpInspector(stats: StatSink, parser: HttpInspectorParser): ListenerFilter {
  return {
    onAccept(facts) {
      // http_inspector.cc onAccept: nothing to inspect under a detected transport (e.g. tls).
      if (facts.transportProtocol !== "" && facts.transportProtocol !== "raw_buffer") return "Continue";
      return "StopIteration";
    },
    onData(data, facts) {
      // The listener filter buffer holds at most the filter's maxReadBytes (MAX_INSPECT_SIZE).
      const r = inspectHttp(data.subarray(0, HTTP_INSPECTOR_MAX_INSPECT_SIZE), parser);
      if (r.state === "Done") {
        stats.inc(r.protocol === "http/1.0" ? "http_inspector.http10_found" : r.protocol === "http/1.1" ? "http_inspector.http11_found" : "http_inspector.http2_found");
        facts.applicationProtocols = [r.protocol];
        return "Continue";
      }
      if (r.state === "Error") {
        stats.inc("http_inspector.http_not_found");
        return "Continue";
      }
      if (data.length >= HTTP_INSPECTOR_MAX_INSPECT_SIZE) {
        stats.inc("http_inspector.read_error");
        return "Close";
      }
      return "StopIteration";
    },
  };
}

function tlsInspector(stats: StatSink): ListenerFilter {
  return {
    onAccept: () => "StopIteration",
    onData(data, facts) {
      const r = inspectClientHello(data.subarray(0, TLS_MAX_CLIENT_HELLO));
      switch (r.state) {
        case "Continue":
          return "StopIteration";
        case "TooLarge":
          stats.inc("tls_inspector.client_hello_too_large");
          return "Close";
        case "NotTls":
          stats.inc("tls_inspector.tls_not_found");
          return "Continue";
        case "Tls":
          stats.inc("tls_inspector.tls_found");
          facts.transportProtocol = "tls";
          if (r.serverName !== "") {
            stats.inc("tls_inspector.sni_found");
            facts.requestedServerName = r.serverName;
          } else {
            stats.inc("tls_inspector.sni_not_found");
          }
          if (r.alpn.length > 0) {
            stats.inc("tls_inspector.alpn_found");
            facts.applicationProtocols = r.alpn;
          } else {
            stats.inc("tls_inspector.alpn_not_found");
          }
          return "Continue";
      }
    },
  };
}

export interface ListenerFilterOptions {
  readonly listenerFilters?: ReadonlyArray<ListenerFilterName>;
  /** @default 15000 (Envoy's listener_filters_timeout); 0 disables the timeout. */
  readonly listenerFiltersTimeoutMs?: number;
  /** @default false (Envoy); Istio's sidecar listeners set it true. */
  readonly continueOnListenerFiltersTimeout?: boolean;
}

export type ListenerFilterOutcome =
  /** Go on to filter-chain selection; `peeked` must be read again by the network filters. */
  | { readonly kind: "NewConnection"; readonly facts: DetectedFacts; readonly peeked: Buffer; readonly timedOut: boolean }
  /** The socket was closed by the listener step (reason for tests and logs). */
  | { readonly kind: "Closed"; readonly reason: "timeout" | "remote_close" | "filter_close" | "error" };

/**
 * Runs the listener filters on a paused, freshly accepted socket and calls `done` once. While
 * filters wait, the socket is read into a peek buffer; on NewConnection the socket is paused
 * again and the peeked bytes are pushed back (`unshift`) so the connection reads them first.
 */
export function runListenerFilters(
  socket: net.Socket,
  opts: ListenerFilterOptions,
  parser: HttpInspectorParser,
  stats: StatSink,
  done: (outcome: ListenerFilterOutcome) => void,
): void {
  const facts: DetectedFacts = { transportProtocol: "", requestedServerName: "", applicationProtocols: [] };
  const filters = (opts.listenerFilters ?? []).map((name) => {
    if (name === "tls_inspector") return tlsInspector(stats);
    if (name === "http_inspector") return httpInspector(stats, parser);
    throw new Error(`unknown listener filter ${JSON.stringify(name)}: valid are tls_inspector, http_inspector`);
  });
  const chunks: Buffer[] = [];
  let peeked: Buffer = Buffer.alloc(0);
  let index = 0;
  let waiting = false;
  let finished = false;
  let timer: NodeJS.Timeout | undefined;

  const cleanup = (): void => {
    finished = true;
    if (timer !== undefined) clearTimeout(timer);
    socket.off("data", onData);
    socket.off("end", onEnd);
    socket.off("error", onError);
  };
  const newConnection = (timedOut: boolean): void => {
    cleanup();
    socket.pause();
    if (facts.transportProtocol === "") facts.transportProtocol = "raw_buffer";
    if (peeked.length > 0) socket.unshift(peeked);
    done({ kind: "NewConnection", facts, peeked, timedOut });
  };
  const close = (reason: "timeout" | "remote_close" | "filter_close" | "error"): void => {
    cleanup();
    socket.destroy();
    done({ kind: "Closed", reason });
  };
  /** ActiveTcpSocket::continueFilterChain: run filters from `index` while they continue. */
  const iterate = (): void => {
    while (index < filters.length) {
      const f = filters[index]!;
      if (!waiting) {
        if (f.onAccept(facts) === "Continue") {
          index++;
          continue;
        }
        waiting = true;
      }
      // A filter that stopped is called with the data already peeked, if any.
      if (peeked.length === 0) return;
      const s = f.onData(peeked, facts);
      if (s === "Close") {
        close("filter_close");
        return;
      }
      if (s === "StopIteration") return;
      waiting = false;
      index++;
    }
    newConnection(false);
  };
  function onData(chunk: Buffer): void {
    if (finished) return;
    chunks.push(chunk);
    peeked = chunks.length === 1 ? chunk : Buffer.concat(chunks);
    chunks.length = 0;
    chunks.push(peeked);
    iterate();
  }
  function onEnd(): void {
    if (finished) return;
    stats.inc("listener.downstream_listener_filter_remote_close");
    close("remote_close");
  }
  function onError(): void {
    if (finished) return;
    close("error");
  }

  if (filters.length === 0) {
    newConnection(false);
    return;
  }
  socket.on("data", onData);
  socket.on("end", onEnd);
  socket.on("error", onError);
  iterate();
  if (finished) return;
  const ms = opts.listenerFiltersTimeoutMs ?? 15_000;
  if (ms > 0) {
    timer = setTimeout(() => {
      timer = undefined;
      if (finished) return;
      stats.inc("listener.downstream_pre_cx_timeout");
      if (opts.continueOnListenerFiltersTimeout) newConnection(true);
      else close("timeout");
    }, ms);
  }
  socket.resume();
}
