/**
 * A real HTTP/1.1 data plane: node http server → per-request HTTP filter chain → cluster → back.
 *
 * The filter chain copies Envoy's HTTP FilterManager (envoyproxy/envoy
 * source/common/http/filter_manager.cc):
 * - decode (request) runs the filters in order, encode (response) in reverse order;
 * - StopIteration from headers stops headers only: later data still reaches that filter, and its
 *   Continue from data (or continueDecoding/Encoding) lets the headers go on, then the data;
 * - StopAllIterationAndBuffer/Watermark stops everything: data is buffered without calling the
 *   filter (`handleDataIfStopAll`); on continue the filter itself gets the buffered data first
 *   (`iterate_from_current_filter_`), then the next filters;
 * - StopIterationAndBuffer/Watermark from data: the filter manager buffers the chunk after the
 *   callback; the stopping filter's next data callback gets only the new chunk, the body so far
 *   is decodingBuffer()/encodingBuffer() (the wasm adapter joins them, so proxy-wasm body_size
 *   grows); on Continue the chunk joins the buffer and the whole buffer goes on;
 *   StopIterationNoBuffer: the chunk stops there and is not kept;
 * - continue passes the buffered body to the next filters as one chunk;
 * - sendLocalReply (source/common/http/filter_manager.cc `sendLocalReply`): decoding stops, the
 *   upstream request (if any) is abandoned; the reply (`:status`, `content-length`,
 *   `content-type: text/plain` when there is a body, plus the filter's headers) is encoded
 *   through every encoder filter (`sendLocalReplyViaFilterChain` → `encodeHeaders(nullptr, …)`)
 *   when no response headers exist yet; sent directly to the codec, bypassing the filters
 *   (`sendDirectLocalReply`), when response headers are in the chain but not sent; and the stream
 *   is reset when response headers already went downstream;
 * - at the end: onStreamComplete (proxy_on_log) on every filter, then onDestroy (done, delete).
 *
 * Response flags (StreamInfo::setResponseFlag, read by filters as `response.flags`): the router's
 * NC (cluster not found, 503), UH (no endpoint, 503), UF (connect failure, 503), UC (upstream
 * connection dropped, before or after the response started) and the connection manager's DC (the
 * client closed before the response ended). A filter's own local reply sets none (Envoy's
 * FilterManager::sendLocalReply sets no flag; a wasm filter's proxy_send_local_response is that
 * call, source/extensions/common/wasm/context.cc Context::sendLocalResponse).
 *
 * Connection handling as Envoy's HCM + HTTP/1 codec: Host becomes `:authority`; `:scheme` http;
 * `x-forwarded-proto` and `x-request-id` are added when absent
 * (source/common/http/conn_manager_utility.cc); connection-specific headers are not forwarded;
 * an HTTP/1 body ends with an empty data callback with end_stream. Trailers: Envoy's HTTP/1
 * codec drops them unless `enable_trailers` is set (default false); this emulator forwards them
 * unless `enableTrailers: false`.
 *
 * Not copied: a filter before the current stop point that stops on new data while bytes are
 * already buffered at the stop point is treated as Continue; gRPC local replies are not converted
 * to grpc-status.
 */
import { randomUUID } from "node:crypto";
import * as http from "node:http";
import type * as net from "node:net";
import { chooseEndpoint, DEFAULT_CONNECT_TIMEOUT_MS, resolveCluster } from "./cluster.js";
import { concatBytes, EMPTY } from "./filter-manager.js";
import { setResponseFlag, type CoreResponseFlag } from "./response-flags.js";
import {
  FilterState,
  type Address,
  type ConnectionInfo,
  type DataBuffer,
  type DataPlaneHost,
  type DataStatus,
  type HeaderList,
  type HeadersStatus,
  type HttpFilter,
  type HttpFilterCallbacks,
  type HttpFilterFactory,
  type HttpFilterSource,
  type ListenerDirection,
  type LocalReply,
  type StreamInfo,
  type TrailersStatus,
} from "./types.js";

export function toHttpFactory(source: HttpFilterSource): HttpFilterFactory {
  return "httpFilterFactory" in source ? source.httpFilterFactory() : source;
}

/** Where one direction's frames go once every filter let them pass. */
interface Sink {
  headers(headers: HeaderList, endStream: boolean): void;
  data(bytes: Uint8Array, endStream: boolean): void;
  trailers(trailers: HeaderList): void;
}

interface Callee {
  headers(i: number, headers: HeaderList, endStream: boolean): HeadersStatus;
  data(i: number, buffer: DataBuffer, endStream: boolean): DataStatus;
  trailers(i: number, trailers: HeaderList): TrailersStatus;
}

type StopKind = "none" | "headers" | "all" | "data" | "trailers";

/** One direction of Envoy's FilterManager: frames held in front of filter `at`. */
class Pipeline {
  at = 0;
  stopKind: StopKind = "none";
  aborted = false;
  private headers: HeaderList = [];
  private headersEnd = false;
  readonly body: DataBuffer = { bytes: EMPTY };
  private end = false;
  private trailers: HeaderList | undefined;
  private hdrAt = 0;
  private endAt = 0;
  private trlAt = 0;
  private headersSunk = false;
  private endSunk = false;
  private trailersSunk = false;
  private readonly scratch: DataBuffer = { bytes: EMPTY };
  private running = false;

  constructor(
    private readonly n: number,
    private readonly callee: Callee,
    private readonly sink: Sink,
  ) {}

  get stopped(): boolean {
    return this.at < this.n && this.stopKind !== "none";
  }

  onHeaders(headers: HeaderList, endStream: boolean): void {
    this.headers = headers;
    this.headersEnd = endStream;
    this.end = endStream;
    this.advance();
  }

  onData(chunk: Uint8Array, endStream: boolean): void {
    if (this.aborted) return;
    if (endStream) this.end = true;
    const lim = this.at;
    const scratch = this.scratch;
    scratch.bytes = chunk;
    // Filters that already let everything through see the new chunk alone.
    for (let j = 0; j < lim && j < this.n; j++) {
      const st = this.callee.data(j, scratch, endStream);
      if (this.aborted) return;
      if (st !== "Continue" && this.body.bytes.length === 0) {
        // The chunk stops here: this filter becomes the stop point and holds it.
        this.at = j;
        this.stopKind = "data";
        if (endStream) this.endAt = j + 1;
        this.body.bytes = st === "StopIterationNoBuffer" ? EMPTY : scratch.bytes;
        scratch.bytes = EMPTY;
        return;
      }
    }
    if (endStream) this.endAt = Math.max(this.endAt, Math.min(lim, this.n));
    if (lim >= this.n || this.stopKind === "all") {
      // Passed everything (to the sink), or held without a callback (handleDataIfStopAll).
      this.bufferScratch();
      if (lim >= this.n) this.flushToSink();
      return;
    }
    // The stopped filter gets the new chunk alone; the filter manager buffers it afterwards
    // (commonHandleAfterDataCallback → commonHandleBufferData), so the body so far is
    // decodingBuffer()/encodingBuffer(), not the chunk.
    const endStreamHere = this.end && this.trailers === undefined;
    if (endStreamHere) this.endAt = lim + 1;
    const st = this.callee.data(lim, scratch, endStreamHere);
    if (this.aborted) return;
    if (st === "StopIterationNoBuffer") {
      scratch.bytes = EMPTY;
      this.stopKind = "data";
      return;
    }
    this.bufferScratch();
    if (st === "Continue") {
      this.stopKind = "none";
      this.at = lim + 1;
      this.advance();
    } else {
      this.stopKind = "data";
    }
  }

  private bufferScratch(): void {
    const b = this.body;
    const scratch = this.scratch;
    if (scratch.bytes.length > 0) b.bytes = b.bytes.length === 0 ? scratch.bytes : concatBytes(b.bytes, scratch.bytes);
    scratch.bytes = EMPTY;
  }

  onTrailers(trailers: HeaderList): void {
    if (this.aborted) return;
    this.trailers = trailers;
    this.end = true;
    if (this.at >= this.n) {
      this.at = 0;
      this.stopKind = "none";
    }
    if (this.stopKind === "all") return;
    this.advance();
  }

  /** continueDecoding / continueEncoding from filter `i`. */
  resume(i: number): void {
    if (this.aborted || i !== this.at || this.stopKind === "none") return;
    const fromCurrent = this.stopKind === "all" && (this.body.bytes.length > 0 || this.end);
    this.stopKind = "none";
    this.at = fromCurrent ? i : i + 1;
    this.advance();
  }

  abort(): void {
    this.aborted = true;
  }

  private advance(): void {
    if (this.running) return;
    this.running = true;
    try {
      this.advanceInner();
    } finally {
      this.running = false;
    }
  }

  private advanceInner(): void {
    const c = this.callee;
    while (this.at < this.n) {
      if (this.aborted) return;
      const i = this.at;
      if (this.hdrAt <= i) {
        this.hdrAt = i + 1;
        const st = c.headers(i, this.headers, this.headersEnd);
        if (this.aborted) return;
        if (st === "StopIteration") {
          this.stopKind = "headers";
          return;
        }
        if (st === "StopAllIterationAndBuffer" || st === "StopAllIterationAndWatermark") {
          this.stopKind = "all";
          return;
        }
      }
      if (!this.headersEnd) {
        const b = this.body;
        const giveEnd = this.end && this.trailers === undefined && this.endAt <= i;
        if (b.bytes.length > 0 || giveEnd) {
          const endStream = this.end && this.trailers === undefined;
          if (endStream) this.endAt = i + 1;
          const st = c.data(i, b, endStream);
          if (this.aborted) return;
          if (st !== "Continue") {
            if (st === "StopIterationNoBuffer") b.bytes = EMPTY;
            this.stopKind = "data";
            return;
          }
        }
        if (this.trailers !== undefined && this.trlAt <= i) {
          this.trlAt = i + 1;
          const st = c.trailers(i, this.trailers);
          if (this.aborted) return;
          if (st === "StopIteration") {
            this.stopKind = "trailers";
            return;
          }
        }
      }
      this.at = i + 1;
      this.stopKind = "none";
    }
    this.flushToSink();
  }

  private flushToSink(): void {
    const s = this.sink;
    if (!this.headersSunk) {
      this.headersSunk = true;
      s.headers(this.headers, this.headersEnd);
      if (this.headersEnd) this.endSunk = true;
    }
    if (this.aborted) return;
    const b = this.body;
    const endStream = this.end && this.trailers === undefined;
    if (b.bytes.length > 0 || (endStream && !this.endSunk)) {
      const out = b.bytes;
      b.bytes = EMPTY;
      if (endStream) this.endSunk = true;
      s.data(out, endStream);
    }
    if (this.trailers !== undefined && !this.trailersSunk) {
      this.trailersSunk = true;
      s.trailers(this.trailers);
    }
  }
}

const HOP_BY_HOP = new Set(["connection", "keep-alive", "transfer-encoding", "upgrade", "proxy-connection", "te"]);

function rawToList(raw: string[], into: HeaderList, skipHost: boolean): void {
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const k = raw[i]!.toLowerCase();
    if (HOP_BY_HOP.has(k) || (skipHost && k === "host")) continue;
    into.push([k, raw[i + 1]!]);
  }
}

function get(headers: HeaderList, name: string): string | undefined {
  for (const [k, v] of headers) if (k === name) return v;
  return undefined;
}

/** Regular headers as node's flat raw array, pseudo-headers and hop-by-hop removed. */
function toRaw(headers: HeaderList): string[] {
  const out: string[] = [];
  for (const [k, v] of headers) {
    if (k.startsWith(":") || HOP_BY_HOP.has(k)) continue;
    out.push(k, v);
  }
  return out;
}

function hasNoBody(headers: http.IncomingHttpHeaders): boolean {
  return headers["transfer-encoding"] === undefined && (headers["content-length"] ?? "0") === "0";
}

export interface HttpListenerOptions {
  readonly filters: ReadonlyArray<HttpFilterSource>;
  readonly cluster: string;
  readonly direction?: ListenerDirection;
  /** @default true (Envoy's HTTP/1 `enable_trailers` defaults to false) */
  readonly enableTrailers?: boolean;
}

export interface HttpRequestRecord {
  readonly streamInfo: StreamInfo;
  /** Response code sent downstream, once sent. */
  responseCode?: number;
  localReply?: string;
  readonly completed: Promise<void>;
}

export interface HttpListener {
  readonly port: number;
  readonly requests: ReadonlyArray<HttpRequestRecord>;
  close(): Promise<void>;
}

interface ActiveHttpFilter {
  filter: HttpFilter;
  cb: HttpFilterCallbacks;
}

class HttpStream {
  readonly filters: ActiveHttpFilter[] = [];
  /** Encoder order: reverse of the configured order. */
  private encoders: ActiveHttpFilter[] = [];
  decode: Pipeline;
  encode: Pipeline;
  private upstreamReq: http.ClientRequest | undefined;
  private responseStarted = false;
  /** Response headers entered the encoder filters (Envoy: response_headers_ is set). */
  private encodeStarted = false;
  private completed = false;
  /** The emulator itself reset the downstream stream (not the client going away). */
  private ownReset = false;
  private resolveCompleted!: () => void;
  readonly record: HttpRequestRecord & { responseCode?: number; localReply?: string };

  constructor(
    private readonly host: DataPlaneHost,
    private readonly opts: HttpListenerOptions,
    readonly streamInfo: StreamInfo,
    private readonly req: http.IncomingMessage,
    private readonly res: http.ServerResponse,
    factories: HttpFilterFactory[],
    private readonly upstreams: Set<http.ClientRequest>,
  ) {
    this.record = {
      streamInfo,
      completed: new Promise<void>((r) => (this.resolveCompleted = r)),
    };
    for (const f of factories) {
      const index = this.filters.length;
      const cb: HttpFilterCallbacks = {
        streamInfo,
        continueDecoding: () => this.later(() => this.decode.resume(index)),
        continueEncoding: () => this.later(() => this.encode.resume(this.encoders.length - 1 - this.indexOf(cb))),
        sendLocalReply: (reply) => this.sendLocalReply(reply),
        resetStream: () => this.resetStream(),
        decodingBuffer: () => (this.decode.stopped ? this.decode.body : undefined),
        encodingBuffer: () => (this.encode.stopped ? this.encode.body : undefined),
      };
      const filter = f.create(cb);
      if (filter !== undefined) this.filters.push({ filter, cb });
    }
    // Indices must follow filters that were actually created.
    this.encoders = [...this.filters].reverse();
    const fs = this.filters;
    this.decode = new Pipeline(fs.length, {
      headers: (i, h, e) => fs[i]!.filter.decodeHeaders(h, e),
      data: (i, b, e) => fs[i]!.filter.decodeData(b, e),
      trailers: (i, t) => fs[i]!.filter.decodeTrailers(t),
    }, this.upstreamSink());
    this.encode = this.newEncode();
  }

  /** StreamInfo::setResponseFlag. */
  private flag(f: CoreResponseFlag): void {
    setResponseFlag((this.streamInfo.responseFlags ??= []), f);
  }

  private indexOf(cb: HttpFilterCallbacks): number {
    return this.filters.findIndex((f) => f.cb === cb);
  }

  private newEncode(): Pipeline {
    const es = this.encoders;
    return new Pipeline(es.length, {
      headers: (i, h, e) => es[i]!.filter.encodeHeaders(h, e),
      data: (i, b, e) => es[i]!.filter.encodeData(b, e),
      trailers: (i, t) => es[i]!.filter.encodeTrailers(t),
    }, this.downstreamSink());
  }

  /** Filter callbacks may call continue inside their own callback; Envoy runs it after. */
  private later(fn: () => void): void {
    queueMicrotask(fn);
  }

  start(): void {
    const req = this.req;
    const headers: HeaderList = [
      [":authority", req.headers.host ?? ""],
      [":path", req.url ?? "/"],
      [":method", req.method ?? "GET"],
      [":scheme", "http"],
    ];
    rawToList(req.rawHeaders, headers, true);
    if (get(headers, "x-forwarded-proto") === undefined) headers.push(["x-forwarded-proto", "http"]);
    if (get(headers, "x-request-id") === undefined) headers.push(["x-request-id", randomUUID()]);
    const noBody = hasNoBody(req.headers);
    req.on("data", (chunk: Buffer) => this.decode.onData(chunk, false));
    req.on("end", () => {
      if (noBody) return;
      const raw = req.rawTrailers;
      if (raw.length > 0 && this.opts.enableTrailers !== false) {
        const t: HeaderList = [];
        rawToList(raw, t, false);
        this.decode.onTrailers(t);
      } else {
        this.decode.onData(EMPTY, true);
      }
    });
    this.res.on("close", () => this.complete());
    this.decode.onHeaders(headers, noBody);
  }

  private upstreamSink(): Sink {
    return {
      headers: (h, endStream) => {
        const name = this.opts.cluster;
        const conn = this.streamInfo.connection;
        const cluster = resolveCluster(this.host, name, conn.destination);
        if (cluster === undefined) {
          // Router::Filter::decodeHeaders: NC, then the route's cluster_not_found_response_code
          // (RouteAction, default SERVICE_UNAVAILABLE).
          this.flag("NoClusterFound");
          this.localReplyFromRouter(503, "cluster_not_found", "");
          return;
        }
        this.streamInfo.upstreamCluster = name;
        const ep = chooseEndpoint(cluster.config);
        if (ep === undefined) {
          // Router::Filter::sendNoHealthyUpstreamResponse.
          this.flag("NoHealthyUpstream");
          this.localReplyFromRouter(503, "no_healthy_upstream", "no healthy upstream");
          return;
        }
        const upstreamHeaders = toRaw(h);
        upstreamHeaders.push("host", get(h, ":authority") ?? "");
        const r = http.request({
          host: ep.host,
          port: ep.port,
          method: get(h, ":method") ?? "GET",
          path: get(h, ":path") ?? "/",
          headers: upstreamHeaders,
          timeout: cluster.config.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
          agent: false,
        });
        this.upstreamReq = r;
        this.upstreams.add(r);
        r.on("close", () => this.upstreams.delete(r));
        r.on("timeout", () => r.destroy(new Error("connect timeout")));
        let connected = false;
        r.on("socket", (s: net.Socket) => s.once("connect", () => (connected = true)));
        r.on("error", (err: Error) => {
          if (this.completed || this.responseStarted) return;
          // Router::Filter::streamResetReasonToResponseFlag (source/common/router/router.cc):
          // a pool's connection failure is UF, a connection that dropped before the response UC.
          if (!connected) {
            this.flag("UpstreamConnectionFailure");
            this.localReplyFromRouter(
              503,
              "upstream_reset_before_response_started{connection_failure}",
              `upstream connect error or disconnect/reset before headers. reset reason: connection failure, transport failure reason: ${err.message}`,
            );
            return;
          }
          this.flag("UpstreamConnectionTermination");
          this.localReplyFromRouter(
            503,
            "upstream_reset_before_response_started{connection_termination}",
            "upstream connect error or disconnect/reset before headers. reset reason: connection termination",
          );
        });
        r.on("response", (up: http.IncomingMessage) => this.onUpstreamResponse(up));
        if (endStream) r.end();
        else r.flushHeaders();
      },
      data: (bytes, endStream) => {
        const r = this.upstreamReq;
        if (r === undefined) return;
        if (bytes.length > 0) r.write(bytes);
        if (endStream) r.end();
      },
      trailers: (t) => {
        const r = this.upstreamReq;
        if (r === undefined) return;
        const raw = toRaw(t);
        const pairs: Array<[string, string]> = [];
        for (let i = 0; i < raw.length; i += 2) pairs.push([raw[i]!, raw[i + 1]!]);
        r.addTrailers(pairs);
        r.end();
      },
    };
  }

  private onUpstreamResponse(up: http.IncomingMessage): void {
    if (this.completed || this.decode.aborted) {
      up.destroy();
      return;
    }
    const headers: HeaderList = [[":status", String(up.statusCode ?? 502)]];
    rawToList(up.rawHeaders, headers, false);
    const noBody = up.statusCode === 204 || up.statusCode === 304 || hasNoBody(up.headers) && up.headers["content-length"] === "0";
    up.on("data", (chunk: Buffer) => this.encode.onData(chunk, false));
    up.on("end", () => {
      if (noBody) return;
      const raw = up.rawTrailers;
      if (raw.length > 0 && this.opts.enableTrailers !== false) {
        const t: HeaderList = [];
        rawToList(raw, t, false);
        this.encode.onTrailers(t);
      } else {
        this.encode.onData(EMPTY, true);
      }
    });
    up.on("error", () => {
      // Reset after the response started: the flag, then the downstream stream is reset.
      this.flag("UpstreamConnectionTermination");
      this.ownReset = true;
      this.res.destroy();
    });
    this.encodeStarted = true;
    this.encode.onHeaders(headers, noBody);
  }

  private downstreamSink(): Sink {
    const res = this.res;
    return {
      headers: (h, endStream) => {
        const status = Number(get(h, ":status") ?? "200");
        this.responseStarted = true;
        this.streamInfo.responseCode = status;
        this.record.responseCode = status;
        res.writeHead(status, toRaw(h));
        if (endStream) res.end();
      },
      data: (bytes, endStream) => {
        if (bytes.length > 0) res.write(bytes);
        if (endStream) res.end();
      },
      trailers: (t) => {
        const raw = toRaw(t);
        const obj: Record<string, string> = {};
        for (let i = 0; i < raw.length; i += 2) obj[raw[i]!] = raw[i + 1]!;
        res.addTrailers(obj);
        res.end();
      },
    };
  }

  /** The router's own local replies (no route / upstream failure) also pass the encoders. */
  private localReplyFromRouter(status: number, details: string, body: string): void {
    this.sendLocalReply({ status, details, body: new TextEncoder().encode(body), headers: [], grpcStatus: -1 });
  }

  sendLocalReply(reply: LocalReply): void {
    if (this.completed) return;
    this.record.localReply = reply.details;
    this.decode.abort();
    if (this.upstreamReq !== undefined) {
      this.upstreamReq.destroy();
      this.upstreamReq = undefined;
    }
    if (this.responseStarted) {
      // Response headers already went downstream: Envoy resets the stream.
      this.ownReset = true;
      this.res.destroy();
      return;
    }
    const headers: HeaderList = [[":status", String(reply.status)]];
    headers.push(["content-length", String(reply.body.length)]);
    if (reply.body.length > 0) headers.push(["content-type", "text/plain"]);
    for (const h of reply.headers) headers.push([h[0].toLowerCase(), h[1]]);
    const hasBody = reply.body.length > 0;
    this.encode.abort();
    if (this.encodeStarted) {
      // Response headers are in the filter chain but not sent: sendDirectLocalReply bypasses
      // the encoder filters so their state machines are not re-entered.
      const sink = this.downstreamSink();
      sink.headers(headers, !hasBody);
      if (hasBody) sink.data(reply.body, true);
      return;
    }
    this.encodeStarted = true;
    this.encode = this.newEncode();
    this.encode.onHeaders(headers, !hasBody);
    if (hasBody) this.encode.onData(reply.body, true);
  }

  /** Http::StreamFilterCallbacks::resetStream: both sides go away, the stream completes. */
  resetStream(): void {
    if (this.completed) return;
    this.decode.abort();
    this.encode.abort();
    this.upstreamReq?.destroy();
    this.upstreamReq = undefined;
    this.ownReset = true;
    this.res.destroy();
  }

  complete(): void {
    if (this.completed) return;
    this.completed = true;
    this.decode.abort();
    this.encode.abort();
    if (this.upstreamReq !== undefined && !this.upstreamReq.destroyed) {
      // Downstream went away before the response ended.
      if (!this.res.writableFinished) this.upstreamReq.destroy();
    }
    // The client closed before the response ended: ConnectionManagerImpl::onEvent(RemoteClose)
    // → resetAllStreams(DownstreamConnectionTermination) (source/common/http/conn_manager_impl.cc).
    if (!this.res.writableFinished && !this.ownReset) this.flag("DownstreamConnectionTermination");
    // Envoy doDeferredStreamDestroy: completeRequest (StreamInfo::onRequestComplete), then
    // onStreamComplete and the access logs (source/common/http/conn_manager_impl.cc).
    const si = this.streamInfo;
    if (si.startNs !== undefined) si.requestCompleteNs = process.hrtime.bigint() - si.startNs;
    for (const f of this.filters) f.filter.onStreamComplete();
    for (const f of this.filters) f.filter.onDestroy();
    this.resolveCompleted();
  }
}

export async function startHttpListener(host: DataPlaneHost, opts: HttpListenerOptions): Promise<HttpListener> {
  const factories = opts.filters.map(toHttpFactory);
  const requests: HttpRequestRecord[] = [];
  const connInfo = new WeakMap<net.Socket, ConnectionInfo>();
  const sockets = new Set<net.Socket>();
  const upstreams = new Set<http.ClientRequest>();
  const server = http.createServer((req, res) => {
    const socket = req.socket;
    let info = connInfo.get(socket);
    if (info === undefined) {
      const local: Address = { host: socket.localAddress ?? "", port: socket.localPort ?? 0 };
      info = {
        id: host.nextConnectionId(),
        source: { host: socket.remoteAddress ?? "", port: socket.remotePort ?? 0 },
        destination: local,
        requestedServerName: "",
        listenerDirection: opts.direction ?? "UNSPECIFIED",
        filterState: new FilterState(),
        filterChainName: "",
      };
      connInfo.set(socket, info);
    }
    const streamInfo: StreamInfo = { connection: info, filterState: new FilterState(), startNs: process.hrtime.bigint() };
    const stream = new HttpStream(host, opts, streamInfo, req, res, factories, upstreams);
    requests.push(stream.record);
    stream.start();
  });
  server.on("connection", (s: net.Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return {
    port: (server.address() as net.AddressInfo).port,
    requests,
    async close(): Promise<void> {
      const closed = new Promise<void>((r) => server.close(() => r()));
      for (const u of upstreams) u.destroy();
      for (const s of sockets) s.destroy();
      await closed;
      await Promise.all(requests.map((r) => r.completed));
    },
  };
}
