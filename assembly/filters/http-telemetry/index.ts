// http-telemetry: the HTTP ingestion adapter. Per request it fills the attribute bag, runs the
// check handlers (denier, list, memquota) at request headers, evaluates the rules at the end of
// the stream and feeds the handlers they name (README.md). Only check handlers and a fail-closed
// handler whose last report failed refuse requests (README "Check handlers", "Failure policy").
import {
  Action, Context, HeaderPair, LogLevel, MapType, Metric, MetricType, RootContext, getCurrentTimeNanoseconds,
  getHeaderMapPairs, getHeaderMapValue, getPluginConfiguration, log, registerRootContext,
  sendLocalResponse, setTickPeriodMilliseconds,
} from "../../runtime";
import { HttpTelemetryConfig, parseHttpTelemetryConfigBytes } from "./config";
import { Reporter } from "../../telemetry/attributes";
import { EXPR_REQUEST, RequestReads, readConnectionId, readRequestByExpr } from "../../telemetry/reader";
import { Expression, createExpression } from "../../runtime/expr";
import { RequestAttributes, sampleBucket, setHeaderAttr } from "../../telemetry/request";
import { matchedHandlers } from "../../telemetry/rules";
import { ConnectionAttributes } from "../../telemetry/handlers/handler";
import { durationNsToMs, readRequestDurationMs } from "../../telemetry/duration";
import { readResponseFlagsText, responseFlagsRecordText } from "../../telemetry/response-flags";
import { CheckHandler } from "../../telemetry/handlers/check";
import { CHECK_ALLOWED, CHECK_FAIL_CLOSED, TelemetryEngine } from "../../telemetry/engine";
export * from "../../runtime/exports";

/**
 * Connection attributes by connection id, at most `max` of them; the oldest is forgotten first
 * (an HTTP filter is not told when a connection closes).
 */
class ConnectionCache {
  private byId: Map<u64, ConnectionAttributes> = new Map<u64, ConnectionAttributes>();
  private order: StaticArray<u64>;
  private next: i32 = 0;

  constructor(public max: i32) {
    this.order = new StaticArray<u64>(max);
  }

  get(id: u64): ConnectionAttributes | null {
    return this.byId.has(id) ? this.byId.get(id) : null;
  }

  add(id: u64, c: ConnectionAttributes): void {
    if (this.byId.size >= this.max) this.byId.delete(this.order[this.next]);
    this.order[this.next] = id;
    this.next = this.next + 1 == this.max ? 0 : this.next + 1;
    this.byId.set(id, c);
  }
}

class HttpTelemetryRoot extends RootContext {
  config: HttpTelemetryConfig = new HttpTelemetryConfig();
  engine: TelemetryEngine = new TelemetryEngine("http-telemetry");
  cache: ConnectionCache = new ConnectionCache(1);
  /**
   * The per-request reads as one CEL expression evaluated by Envoy (reader.ts EXPR_REQUEST), made
   * once per configuration with the engine's connection and peer expressions; null when the host
   * has no expr_create (an Envoy built without WASM_USE_CEL_PARSER: Windows), and the reads are
   * property reads (README "Host calls per request").
   */
  exprRequest: Expression | null = null;
  /** Which read path was last logged: 0 none yet, 1 CEL, 2 property reads. */
  loggedPath: i32 = 0;
  /** EXPR_REQUEST's values, reused by every request of this VM (on_log runs one at a time). */
  reads: RequestReads = new RequestReads();

  get ready(): bool {
    return this.engine.ready;
  }

  onConfigure(configuration_size: u32): bool {
    const parsed = parseHttpTelemetryConfigBytes(getPluginConfiguration().value);
    if (parsed.error.length > 0) {
      log(LogLevel.Error, parsed.error);
      return false;
    }
    const c = parsed.config;
    if (!this.engine.start(c, c.statPrefix, c.seed)) return false;
    setTickPeriodMilliseconds(this.engine.tickMs);
    this.config = c;
    this.cache = new ConnectionCache(c.maxConnections);
    this.createExpressions();
    return true;
  }

  /** The CEL expressions of this configuration; logs which read path is used when it changes. */
  createExpressions(): void {
    this.deleteExpressions();
    const req = createExpression(EXPR_REQUEST);
    let why = "expr_create answered status=" + (<i32>req.status).toString();
    if (req.ok) {
      why = this.engine.createExpressions();
      if (why.length == 0) this.exprRequest = req;
      else req.delete();
    }
    const path = this.exprRequest !== null ? 1 : 2;
    if (path == this.loggedPath) return;
    this.loggedPath = path;
    // Info is the access log's level (accesslog handler): the notice stays out of it.
    if (path == 1) log(LogLevel.Debug, "http-telemetry: request attributes read by one CEL expression per request (expr_evaluate)");
    else log(LogLevel.Warn, "http-telemetry: request attributes read by property reads, two more host calls per request (" + why + ")");
  }

  deleteExpressions(): void {
    const req = this.exprRequest;
    if (req !== null) req.delete();
    this.exprRequest = null;
    this.engine.deleteExpressions();
  }

  onTick(): void {
    // The tick is the engine's own period: every tick flushes.
    this.engine.onTick(getCurrentTimeNanoseconds());
  }

  onGrpcReceive(token: u32, response_size: u32): void {
    this.engine.onGrpcReceive(token);
  }

  onGrpcClose(token: u32, status_code: u32): void {
    this.engine.onGrpcClose(token, status_code);
  }

  /** The VM is going: what is still batched goes to the host first. */
  onDone(): bool {
    if (this.ready) this.engine.flush();
    this.deleteExpressions();
    return true;
  }

  /** The connection of the current stream: read once, then shared by its requests. */
  connection(): ConnectionAttributes {
    return this.connectionFor(readConnectionId());
  }

  /** The connection `id` (`connection_id`): from the cache, else read (one CEL evaluation when available). */
  connectionFor(id: u64): ConnectionAttributes {
    let c = this.cache.get(id);
    if (c === null) {
      c = this.engine.connection(id);
      this.cache.add(id, c);
    }
    return c;
  }

  /**
   * Sampling bucket in [0, 100000) for a request: by its x-request-id, the same on every proxy;
   * -1 without one (the engine draws it at random).
   */
  bucket(r: RequestAttributes): i64 {
    return r.id.length > 0 ? <i64>sampleBucket(r.id, this.config.seed) : -1;
  }

  createContext(context_id: u32): Context {
    return new HttpTelemetryStream(context_id, this);
  }
}

/** Header bytes as Envoy's HeaderMap::byteSize counts them: each name and value. */
function headerBytes(pairs: HeaderPair[]): u64 {
  let n: u64 = 0;
  for (let i = 0; i < pairs.length; i++) n += <u64>(String.UTF8.byteLength(pairs[i].key) + String.UTF8.byteLength(pairs[i].value));
  return n;
}

class HttpTelemetryStream extends Context {
  req: RequestAttributes = new RequestAttributes();
  conn: ConnectionAttributes | null = null;
  /** Request headers seen with the plugin configured: on_log reports. */
  started: bool = false;

  onRequestHeaders(num_headers: u32, end_of_stream: bool): Action {
    const root = changetype<HttpTelemetryRoot>(this.root);
    if (!root.ready) return Action.Continue;
    const r = this.req;
    const h = getHeaderMapPairs(MapType.HttpRequestHeaders);
    const pairs = h.pairs;
    for (let i = 0; i < pairs.length; i++) {
      const k = pairs[i].key;
      const v = pairs[i].value;
      if (k == ":method") r.method = v;
      else if (k == ":path") r.path = v;
      else if (k == ":authority") r.host = v;
      else if (k == "x-request-id") r.id = v;
      else if (k == "user-agent") r.userAgent = v;
      // Grpc::Common::isGrpcRequestHeaders: application/grpc or application/grpc+<codec>.
      else if (k == "content-type") r.grpc = v == "application/grpc" || v.startsWith("application/grpc+");
    }
    r.requestBytes = headerBytes(pairs);
    // Header attributes come from the same map: names arrive lower case (Envoy's codecs key the
    // map by LowerCaseString, envoy/http/header_map.h), a repeated header as several pairs.
    const slots = root.config.headerSlots;
    if (slots.length > 0) for (let i = 0; i < pairs.length; i++) setHeaderAttr(r, slots, pairs[i].key, pairs[i].value);
    this.started = true;
    // With the CEL path the connection is looked up in on_log, from the id the request's one
    // evaluation returns; only a check or a failing fail-closed handler needs it now.
    if (root.exprRequest !== null && root.engine.checkMask == 0 && root.engine.closedMask() == 0) return Action.Continue;
    const conn = root.connection();
    this.conn = conn;
    if (this.refuseIfClosed(root, conn)) return Action.Pause;
    // Only check handlers need the clock here (memquota's refill); reports take Envoy's request.duration.
    return root.engine.checkMask != 0 && this.refuseByCheck(root, conn, getCurrentTimeNanoseconds() / 1000000) ? Action.Pause : Action.Continue;
  }

  /**
   * Check handlers, in the order they are configured, each at most once: the first that refuses
   * answers with its local reply, header `x-protomesh-rule` naming the rule that fed it (a later
   * memquota then takes no token). Inbound, the peer is looked up first (metadata exchange runs
   * before this filter); outbound, the upstream peer is not known yet.
   */
  refuseByCheck(root: HttpTelemetryRoot, conn: ConnectionAttributes, nowMs: u64): bool {
    if (conn.bag.reporter == Reporter.Destination) root.engine.resolvePeer(conn);
    const e = root.engine;
    const at = e.check(conn, this.req, nowMs, root.bucket(this.req));
    if (at == CHECK_ALLOWED) return false;
    const rule = new HeaderPair("x-protomesh-rule", e.checkRule);
    if (at == CHECK_FAIL_CLOSED) {
      sendLocalResponse(503, "http_telemetry_fail_closed", String.UTF8.encode("telemetry handler unavailable\n"), [rule]);
      return true;
    }
    const h = changetype<CheckHandler>(root.config.handlers[at]);
    const headers = h.headers.slice(0);
    headers.push(rule);
    sendLocalResponse(h.status, h.details, String.UTF8.encode(h.body), headers);
    return true;
  }

  /**
   * A fail-closed handler whose last report failed refuses every request its rules could feed
   * (response conditions taken as met): 503 with details `http_telemetry_fail_closed`.
   */
  refuseIfClosed(root: HttpTelemetryRoot, conn: ConnectionAttributes): bool {
    const failing = root.engine.closedMask();
    if (failing == 0) return false;
    if ((matchedHandlers(root.config.rules, conn.bag, this.req, true) & failing) == 0) return false;
    root.engine.counters.add(root.engine.deniedId, 1);
    sendLocalResponse(503, "http_telemetry_fail_closed", String.UTF8.encode("telemetry handler unavailable\n"), []);
    return true;
  }

  onRequestBody(body_size: u32, end_of_stream: bool): Action {
    this.req.requestBytes += body_size;
    return Action.Continue;
  }

  onResponseHeaders(num_headers: u32, end_of_stream: bool): Action {
    const r = this.req;
    const h = getHeaderMapPairs(MapType.HttpResponseHeaders);
    const pairs = h.pairs;
    for (let i = 0; i < pairs.length; i++) {
      const k = pairs[i].key;
      if (k == ":status") r.responseCode = I32.parseInt(pairs[i].value);
      // A trailers-only gRPC response carries grpc-status in its headers.
      else if (k == "grpc-status") r.grpcStatus = pairs[i].value;
    }
    r.responseBytes = headerBytes(pairs);
    return Action.Continue;
  }

  onResponseBody(body_size: u32, end_of_stream: bool): Action {
    this.req.responseBytes += body_size;
    return Action.Continue;
  }

  onResponseTrailers(num_trailers: u32): Action {
    const r = this.req;
    if (r.grpc) {
      const s = getHeaderMapValue(MapType.HttpResponseTrailers, "grpc-status");
      if (s.ok) r.grpcStatus = s.text();
    }
    return Action.Continue;
  }

  onLog(): void {
    if (!this.started) return;
    const root = changetype<HttpTelemetryRoot>(this.root);
    const r = this.req;
    let conn = this.conn;
    // CEL path: duration, flags and connection id in one host call; property reads otherwise
    // (or when the evaluation failed: the values are then the ones the property reads give).
    const reads = root.reads;
    const x = root.exprRequest;
    if (x !== null && readRequestByExpr(x, reads)) {
      r.durationMs = durationNsToMs(reads.durationNs);
      if (conn === null) conn = root.connectionFor(reads.connectionId);
    } else {
      reads.ok = false;
      r.durationMs = readRequestDurationMs();
      if (conn === null) conn = root.connection();
    }
    this.conn = conn;
    root.engine.resolvePeer(conn);
    const e = root.engine;
    // Property path: `response.flags` is one more read, made only when a rule matches on it or a
    // handler this request feeds prints it (README "Response flags").
    if (e.flagsInRules) r.flags = reads.ok ? responseFlagsRecordText(reads.flags) : readResponseFlagsText();
    const mask = e.reportMask(conn, r);
    if (mask == 0) return;
    if (!e.flagsInRules && (mask & e.flagsMask) != 0) r.flags = reads.ok ? responseFlagsRecordText(reads.flags) : readResponseFlagsText();
    e.reportTo(mask, conn, r, root.bucket(r));
  }
}

registerRootContext((context_id: u32): RootContext => new HttpTelemetryRoot(context_id), "http-telemetry");

