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
import { readConnectionId } from "../../telemetry/reader";
import { RequestAttributes, sampleBucket } from "../../telemetry/request";
import { matchedHandlers } from "../../telemetry/rules";
import { ConnectionAttributes } from "../../telemetry/handlers/handler";
import { readRequestDurationMs } from "../../telemetry/duration";
import { readResponseFlagsText } from "../../telemetry/response-flags";
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
    return true;
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
    return true;
  }

  /** The connection of the current stream: read once, then shared by its requests. */
  connection(): ConnectionAttributes {
    const id = readConnectionId();
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
    const conn = this.conn;
    if (conn === null) return;
    const root = changetype<HttpTelemetryRoot>(this.root);
    const r = this.req;
    r.durationMs = readRequestDurationMs();
    root.engine.resolvePeer(conn);
    const e = root.engine;
    // `response.flags` is one more property read: made only when a rule matches on it or a
    // handler this request feeds prints it (README "Response flags").
    if (e.flagsInRules) r.flags = readResponseFlagsText();
    const mask = e.reportMask(conn, r);
    if (mask == 0) return;
    if (!e.flagsInRules && (mask & e.flagsMask) != 0) r.flags = readResponseFlagsText();
    e.reportTo(mask, conn, r, root.bucket(r));
  }
}

registerRootContext((context_id: u32): RootContext => new HttpTelemetryRoot(context_id), "http-telemetry");

