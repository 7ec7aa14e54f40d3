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
import { AttributeBag, Reporter, Workload } from "../../telemetry/attributes";
import {
  EXPR_CONNECTION, EXPR_REQUEST, RequestReads, isIstioProxy, readConnection, readConnectionByExpr, readConnectionId, readLocalWorkload,
  peerExpression, readPeer, readPeerByExpr, readRequestByExpr, readSourceAddress,
} from "../../telemetry/reader";
import { Expression, createExpression } from "../../runtime/expr";
import { Attr, RequestAttributes, sampleBucket } from "../../telemetry/request";
import { matchedHandlers, ruleMatches } from "../../telemetry/rules";
import { ConnectionAttributes, Handler } from "../../telemetry/handlers/handler";
import { FLUSH_PERIOD_MS, PrometheusHandler } from "../../telemetry/handlers/prometheus";
import { PendingCounters } from "../../telemetry/batch";
import { durationNsToMs, readRequestDurationMs } from "../../telemetry/duration";
import { readResponseFlagsText, responseFlagsRecordText } from "../../telemetry/response-flags";
import { AccessLogHandler } from "../../telemetry/handlers/accesslog";
import { CheckHandler, Verdict } from "../../telemetry/handlers/check";
import { MemQuotaHandler } from "../../telemetry/handlers/memquota";
export * from "../../runtime/exports";

/** Requests of a connection that may look for its peer before it is taken as unknown. */
const PEER_TRIES: i32 = 3;

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
  ready: bool = false;
  /** The node's workload, read once per VM (node metadata never changes). */
  local: Workload = new Workload();
  localRead: bool = false;
  istioProxy: bool = false;
  cache: ConnectionCache = new ConnectionCache(1);
  needsAddress: bool = false;
  /**
   * Bit i set: handler i uses Envoy's response flags (prometheus: the `response_flags` label;
   * accesslog: `response.flags`). `response.flags` is read in on_log only when a fed handler or a
   * rule needs it (README "How a request is handled").
   */
  flagsMask: u32 = 0;
  flagsInRules: bool = false;
  /** Bit i set: handler i is a check handler (decided at request headers, not reported). */
  checkMask: u32 = 0;
  /** Requests refused because a fail-closed handler was failing. */
  deniedId: u32 = 0;
  /** The handlers' counters, written on tick with the batched metrics (flushMetrics). */
  counters: PendingCounters = new PendingCounters();
  /** Sampling for requests without an x-request-id. */
  rng: u32 = 0x9e3779b9;
  /**
   * The per-request and per-connection reads as CEL expressions evaluated by Envoy (reader.ts
   * EXPR_REQUEST, EXPR_CONNECTION), made once per configuration; null when the host has no
   * expr_create (an Envoy built without WASM_USE_CEL_PARSER: Windows), and the reads are
   * property reads (README "Host calls per request").
   */
  exprRequest: Expression | null = null;
  exprConnection: Expression | null = null;
  /** The peer's fields by one evaluation (reader.ts peerExpression), inbound and outbound. */
  exprPeerDown: Expression | null = null;
  exprPeerUp: Expression | null = null;
  /** Which read path was last logged: 0 none yet, 1 CEL, 2 property reads. */
  loggedPath: i32 = 0;
  /** EXPR_REQUEST's values, reused by every request of this VM (on_log runs one at a time). */
  reads: RequestReads = new RequestReads();

  onConfigure(configuration_size: u32): bool {
    const parsed = parseHttpTelemetryConfigBytes(getPluginConfiguration().value);
    if (parsed.error.length > 0) {
      log(LogLevel.Error, parsed.error);
      return false;
    }
    const c = parsed.config;
    if (!this.localRead) {
      this.localRead = readLocalWorkload(this.local, true);
      this.istioProxy = isIstioProxy();
    }
    const prefix = c.statPrefix + ".";
    const denied = this.define(MetricType.Counter, prefix + "fail_closed_denied");
    if (!denied.ok) return false;
    this.deniedId = denied.id;
    let tick: u32 = 0;
    let flagsMask: u32 = 0;
    let flagsInRules = false;
    for (let i = 0; i < c.handlers.length; i++) {
      const h = c.handlers[i];
      const at = prefix + "handler." + h.name + ".";
      const reports = this.define(MetricType.Counter, at + "reports");
      const failures = this.define(MetricType.Counter, at + "failures");
      const sampled = this.define(MetricType.Counter, at + "sampled_out");
      if (!(reports.ok && failures.ok && sampled.ok)) return false;
      h.reportsId = reports.id;
      h.failuresId = failures.id;
      h.sampledOutId = sampled.id;
      if (h.kind == "prometheus") {
        const overflow = this.define(MetricType.Counter, at + "series_overflow");
        if (!overflow.ok) return false;
        changetype<PrometheusHandler>(h).start(this.istioProxy, overflow.id);
        flagsMask |= (<u32>1) << <u32>i;
      } else if (h instanceof CheckHandler) {
        const ch = changetype<CheckHandler>(h);
        const allowed = this.define(MetricType.Counter, at + "allowed");
        const refused = this.define(MetricType.Counter, at + ch.deniedWord());
        if (!(allowed.ok && refused.ok)) return false;
        ch.allowedId = allowed.id;
        ch.deniedId = refused.id;
        ch.counters = this.counters;
        this.checkMask |= (<u32>1) << <u32>i;
        if (h.kind == "memquota") {
          const overflow = this.define(MetricType.Counter, at + "key_overflow");
          if (!overflow.ok) return false;
          changetype<MemQuotaHandler>(h).start(c.statPrefix, overflow.id);
        }
      } else if (h.kind == "accesslog") {
        const attrs = changetype<AccessLogHandler>(h).attrs;
        this.needsAddress = this.needsAddress || attrs.includes(Attr.SourceAddress);
        if (attrs.includes(Attr.ResponseFlags)) flagsMask |= (<u32>1) << <u32>i;
      }
      const p = h.tickPeriodMs();
      if (p > 0 && (tick == 0 || p < tick)) tick = p;
    }
    for (let i = 0; i < c.rules.length; i++) {
      for (let m = 0; m < c.rules[i].matches.length; m++) {
        if (c.rules[i].matches[m].attr == Attr.SourceAddress) this.needsAddress = true;
        if (c.rules[i].matches[m].attr == Attr.ResponseFlags) flagsInRules = true;
      }
    }
    // Batched metric updates are written on tick, whatever the handlers need.
    if (tick == 0 || tick > FLUSH_PERIOD_MS) tick = FLUSH_PERIOD_MS;
    setTickPeriodMilliseconds(tick);
    if (c.seed != 0) this.rng = c.seed;
    // The old handlers' updates go out before they are replaced.
    if (this.ready) this.flushMetrics();
    this.config = c;
    this.flagsMask = flagsMask;
    this.flagsInRules = flagsInRules;
    this.cache = new ConnectionCache(c.maxConnections);
    this.createExpressions();
    this.ready = true;
    return true;
  }

  /**
   * The expressions of this configuration: the old ones are deleted first (expr_create keeps
   * each in the root context until expr_delete). Logs which read path is used when it changes.
   */
  createExpressions(): void {
    this.deleteExpressions();
    const req = createExpression(EXPR_REQUEST);
    let path = 2;
    let why = "expr_create answered status=" + (<i32>req.status).toString();
    if (req.ok) {
      const conn = createExpression(EXPR_CONNECTION);
      const down = createExpression(peerExpression(Reporter.Destination));
      const up = createExpression(peerExpression(Reporter.Source));
      if (conn.ok && down.ok && up.ok) {
        this.exprRequest = req;
        this.exprConnection = conn;
        this.exprPeerDown = down;
        this.exprPeerUp = up;
        path = 1;
      } else {
        const bad = !conn.ok ? conn : !down.ok ? down : up;
        why = "expr_create answered status=" + (<i32>bad.status).toString() + " for " + bad.text;
        req.delete();
        conn.delete();
        down.delete();
        up.delete();
      }
    }
    if (path == this.loggedPath) return;
    this.loggedPath = path;
    // Info is the access log's level (accesslog handler): the notice stays out of it.
    if (path == 1) log(LogLevel.Debug, "http-telemetry: request attributes read by one CEL expression per request (expr_evaluate)");
    else log(LogLevel.Warn, "http-telemetry: request attributes read by property reads, two more host calls per request (" + why + ")");
  }

  deleteExpressions(): void {
    const req = this.exprRequest;
    if (req !== null) req.delete();
    const conn = this.exprConnection;
    if (conn !== null) conn.delete();
    const down = this.exprPeerDown;
    if (down !== null) down.delete();
    const up = this.exprPeerUp;
    if (up !== null) up.delete();
    this.exprRequest = null;
    this.exprConnection = null;
    this.exprPeerDown = null;
    this.exprPeerUp = null;
  }

  define(type: MetricType, name: string): Metric {
    const m = Metric.define(type, name);
    if (!m.ok) log(LogLevel.Error, "http-telemetry: defining metric " + m.name + " failed status=" + (<i32>m.status).toString());
    return m;
  }

  onTick(): void {
    const now = getCurrentTimeNanoseconds();
    const hs = this.config.handlers;
    for (let i = 0; i < hs.length; i++) hs[i].onTick(now);
    this.flushMetrics();
  }

  /** The VM is going: what is still batched goes to the host first. */
  onDone(): bool {
    if (this.ready) this.flushMetrics();
    this.deleteExpressions();
    return true;
  }

  /**
   * Writes the batched metric updates and the handlers' counters to the host (README "Metrics
   * are flushed on tick"). Requests whose updates the host refused count as their handler's
   * failures and put it in the failing state until its next report.
   */
  flushMetrics(): void {
    const hs = this.config.handlers;
    for (let i = 0; i < hs.length; i++) {
      if (hs[i].kind != "prometheus") continue;
      const p = changetype<PrometheusHandler>(hs[i]);
      p.flush();
      if (p.refusedTotal == 0) continue;
      if (!p.failing) log(LogLevel.Warn, "http-telemetry: handler " + p.name + " failed to report (host refused metric updates)");
      p.failing = true;
      this.counters.add(p.failuresId, p.refusedTotal);
      p.refusedTotal = 0;
    }
    this.counters.flush();
  }

  /** The connection of the current stream: read once, then shared by its requests. */
  connection(): ConnectionAttributes {
    return this.connectionFor(readConnectionId());
  }

  /** The connection `id` (`connection_id`): from the cache, else read (one CEL evaluation when available). */
  connectionFor(id: u64): ConnectionAttributes {
    let c = this.cache.get(id);
    if (c === null) {
      c = new ConnectionAttributes();
      const e = this.exprConnection;
      if (e === null || !readConnectionByExpr(e, c.bag, this.local, this.needsAddress)) {
        readConnection(c.bag, this.local);
        if (this.needsAddress) readSourceAddress(c.bag);
      }
      c.bag.connectionId = id;
      this.cache.add(id, c);
    }
    return c;
  }

  /** Whether a fail-closed handler is failing (refuseIfClosed then needs the connection at request headers). */
  closedFailing(): bool {
    const hs = this.config.handlers;
    for (let i = 0; i < hs.length; i++) if (!hs[i].failOpen && hs[i].failing) return true;
    return false;
  }

  /**
   * The peer from metadata exchange, read at the end of the stream (metadata exchange has run on
   * both directions by then). Inbound the peer is the downstream one, the same for every request
   * of the connection: read until found, for at most PEER_TRIES requests. Outbound it is the
   * upstream endpoint, which the load balancer may change per request: read every request, and
   * the connection's encoded labels are redone only when it changed.
   */
  resolvePeer(c: ConnectionAttributes): void {
    const bag = c.bag;
    if (bag.reporter == Reporter.Destination) {
      if (c.peerKnown || c.peerTries >= PEER_TRIES) return;
      c.peerTries++;
      if (this.readPeer(bag)) {
        c.peerKnown = true;
        c.istioTags = "";
      }
      return;
    }
    const peer = bag.peer();
    const before = peerKey(peer);
    clearPeer(peer);
    this.readPeer(bag);
    if (peerKey(peer) != before) c.istioTags = "";
  }

  /** readPeer, by one CEL evaluation when the host has CEL (property reads when it fails). */
  readPeer(bag: AttributeBag): bool {
    const e = bag.reporter == Reporter.Destination ? this.exprPeerDown : this.exprPeerUp;
    if (e !== null) {
      const r = readPeerByExpr(e, bag);
      if (r >= 0) return r == 1;
    }
    return readPeer(bag);
  }

  /** Sampling bucket in [0, 100000) for a request. */
  bucket(r: RequestAttributes): u32 {
    if (r.id.length > 0) return sampleBucket(r.id, this.config.seed);
    let x = this.rng;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.rng = x;
    return x % 100000;
  }

  createContext(context_id: u32): Context {
    return new HttpTelemetryStream(context_id, this);
  }
}

function peerKey(w: Workload): string {
  return w.workload + "\n" + w.namespace + "\n" + w.cluster + "\n" + w.canonicalService + "\n" + w.canonicalRevision + "\n" + w.app + "\n" + w.version;
}

/** Forgets the metadata-exchange fields (the principal comes from the connection, not the peer object). */
function clearPeer(w: Workload): void {
  w.workload = "";
  w.namespace = "";
  w.cluster = "";
  w.canonicalService = "";
  w.canonicalRevision = "";
  w.app = "";
  w.version = "";
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
    this.started = true;
    // With the CEL path the connection is looked up in on_log, from the id the request's one
    // evaluation returns; only a check or a failing fail-closed handler needs it now.
    if (root.exprRequest !== null && root.checkMask == 0 && !root.closedFailing()) return Action.Continue;
    const conn = root.connection();
    this.conn = conn;
    if (this.refuseIfClosed(root, conn)) return Action.Pause;
    // Only check handlers need the clock here (memquota's refill); reports take Envoy's request.duration.
    return root.checkMask != 0 && this.refuseByCheck(root, conn, getCurrentTimeNanoseconds() / 1000000) ? Action.Pause : Action.Continue;
  }

  /**
   * Check handlers, in the order they are configured, each at most once: the first that refuses
   * answers with its local reply, header `x-protomesh-rule` naming the rule that fed it (a later
   * memquota then takes no token). Inbound, the peer is looked up first (metadata exchange runs
   * before this filter); outbound, the upstream peer is not known yet.
   */
  refuseByCheck(root: HttpTelemetryRoot, conn: ConnectionAttributes, nowMs: u64): bool {
    if (conn.bag.reporter == Reporter.Destination) root.resolvePeer(conn);
    const rules = root.config.rules;
    const hs = root.config.handlers;
    // The sampling bucket, drawn once per request and only when a check samples.
    let bucket: i64 = -1;
    for (let i = 0; i < hs.length; i++) {
      const bit = (<u32>1) << <u32>i;
      if ((root.checkMask & bit) == 0) continue;
      let rule = "";
      for (let k = 0; k < rules.length && rule.length == 0; k++) {
        if ((rules[k].handlerMask & bit) != 0 && ruleMatches(rules[k], conn.bag, this.req, false)) rule = rules[k].name;
      }
      if (rule.length == 0) continue;
      const h = changetype<CheckHandler>(hs[i]);
      if (h.samplingMilli < 100000) {
        if (bucket < 0) bucket = root.bucket(this.req);
        if (bucket >= <i64>h.samplingMilli) {
          h.count(h.sampledOutId);
          continue;
        }
      }
      h.count(h.reportsId);
      const v = h.check(conn, this.req, nowMs);
      if (v == Verdict.Allow) {
        h.count(h.allowedId);
        continue;
      }
      if (v == Verdict.Failed) {
        h.count(h.failuresId);
        if (h.failOpen) continue;
        h.count(root.deniedId);
        sendLocalResponse(503, "http_telemetry_fail_closed", String.UTF8.encode("telemetry handler unavailable\n"), [new HeaderPair("x-protomesh-rule", rule)]);
        return true;
      }
      h.count(h.deniedId);
      const headers = h.headers.slice(0);
      headers.push(new HeaderPair("x-protomesh-rule", rule));
      sendLocalResponse(h.status, h.details, String.UTF8.encode(h.body), headers);
      return true;
    }
    return false;
  }

  /**
   * A fail-closed handler whose last report failed refuses every request its rules could feed
   * (response conditions taken as met): 503 with details `http_telemetry_fail_closed`.
   */
  refuseIfClosed(root: HttpTelemetryRoot, conn: ConnectionAttributes): bool {
    const hs = root.config.handlers;
    let failing: u32 = 0;
    for (let i = 0; i < hs.length; i++) if (!hs[i].failOpen && hs[i].failing) failing |= (<u32>1) << <u32>i;
    if (failing == 0) return false;
    if ((matchedHandlers(root.config.rules, conn.bag, this.req, true) & failing) == 0) return false;
    root.counters.add(root.deniedId, 1);
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
    const e = root.exprRequest;
    if (e !== null && readRequestByExpr(e, reads)) {
      r.durationMs = durationNsToMs(reads.durationNs);
      if (conn === null) conn = root.connectionFor(reads.connectionId);
    } else {
      reads.ok = false;
      r.durationMs = readRequestDurationMs();
      if (conn === null) conn = root.connection();
    }
    this.conn = conn;
    root.resolvePeer(conn);
    // Property path: one more read, made only when a rule or a fed handler uses the flags.
    if (root.flagsInRules) r.flags = reads.ok ? responseFlagsRecordText(reads.flags) : readResponseFlagsText();
    const mask = matchedHandlers(root.config.rules, conn.bag, r, false) & ~root.checkMask;
    if (mask == 0) return;
    if (!root.flagsInRules && (mask & root.flagsMask) != 0) r.flags = reads.ok ? responseFlagsRecordText(reads.flags) : readResponseFlagsText();
    const bucket = root.bucket(r);
    const hs = root.config.handlers;
    for (let i = 0; i < hs.length; i++) {
      if ((mask & ((<u32>1) << <u32>i)) == 0) continue;
      this.feed(hs[i], conn, bucket);
    }
  }

  /** One handler, with sampling and the failure policy around it. */
  feed(h: Handler, conn: ConnectionAttributes, bucket: u32): void {
    const counters = changetype<HttpTelemetryRoot>(this.root).counters;
    if (bucket >= h.samplingMilli) {
      counters.add(h.sampledOutId, 1);
      return;
    }
    if (h.report(conn, this.req)) {
      h.failing = false;
      counters.add(h.reportsId, 1);
      return;
    }
    if (!h.failing) {
      log(LogLevel.Warn, "http-telemetry: handler " + h.name + " failed to report" + (h.failOpen ? "" : "; refusing its requests until a report succeeds"));
    }
    h.failing = true;
    counters.add(h.failuresId, 1);
  }
}

registerRootContext((context_id: u32): RootContext => new HttpTelemetryRoot(context_id), "http-telemetry");

