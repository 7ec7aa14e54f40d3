// The telemetry engine at run time, shared by every filter that carries it (http-telemetry, dubbo,
// thrift): the handlers' host counters, the node's workload read once per VM, the connection's
// attributes read once per connection, rules → handlers with sampling and the failure policy, and
// the batched metric updates written on tick (README of http-telemetry: "Metrics are flushed on
// tick", "Failure policy").
import { LogLevel, MetricType } from "../runtime/enums";
import { Metric, log } from "../runtime/hostcalls";
import { AttributeBag, Reporter, Workload } from "./attributes";
import { TelemetryConfig } from "./config";
import {
  EXPR_CONNECTION, isIstioProxy, peerExpression, readConnection, readConnectionByExpr, readLocalWorkload, readPeer, readPeerByExpr,
  readSourceAddress,
} from "./reader";
import { Expression, createExpression } from "../runtime/expr";
import { Attr, RequestAttributes } from "./request";
import { matchedHandlers, ruleMatches } from "./rules";
import { PendingCounters } from "./batch";
import { ConnectionAttributes, Handler } from "./handlers/handler";
import { BATCH_REQUESTS, FLUSH_PERIOD_MS, PrometheusHandler } from "./handlers/prometheus";
import { AccessLogHandler } from "./handlers/accesslog";
import { CheckHandler, Verdict } from "./handlers/check";
import { MemQuotaHandler } from "./handlers/memquota";
import { OtlpHandler, otlpGrpcClose, otlpGrpcReceive, retireOtlpHandlers } from "./handlers/otlp";
import { vmInstanceId } from "./otlp/instance";

/** Requests of a connection that may look for its peer before it is taken as unknown. */
export const PEER_TRIES: i32 = 3;
/** TelemetryEngine.check: no check handler refused. */
export const CHECK_ALLOWED: i32 = -1;
/** TelemetryEngine.check: a fail-closed check handler could not decide. */
export const CHECK_FAIL_CLOSED: i32 = -2;

export class TelemetryEngine {
  config: TelemetryConfig = new TelemetryConfig();
  ready: bool = false;
  /** The node's workload, read once per VM (node metadata never changes). */
  local: Workload = new Workload();
  localRead: bool = false;
  istioProxy: bool = false;
  /** A rule or handler reads `source.address` (one more property read per connection). */
  needsAddress: bool = false;
  /** Bit i set: handler i is a check handler (decided before forwarding, not reported). */
  checkMask: u32 = 0;
  /**
   * Bit i set: handler i prints `response.flags` (prometheus: the `response_flags` label; accesslog
   * when it is one of its attributes). With `flagsInRules` (a rule matches on it), lets a filter
   * whose flags cost a host read (HTTP: the `response.flags` property) read them only when needed.
   */
  flagsMask: u32 = 0;
  flagsInRules: bool = false;
  /** Requests refused because a fail-closed handler was failing. */
  deniedId: u32 = 0;
  /** The handlers' counters, written with the batched metrics (flush). */
  counters: PendingCounters = new PendingCounters();
  /** Sampling for requests without a request id shared by both proxies. */
  rng: u32 = 0x9e3779b9;
  /** The tick period the handlers need (ms); the filter's own tick may be shorter. */
  tickMs: u32 = FLUSH_PERIOD_MS;
  /** Filter ticks since the last onTick (onTickDue). */
  ticks: u32 = 0;
  /** The rule that fed the handler of the last refusal (check). */
  checkRule: string = "";
  /** OTLP `service.instance.id` of this VM, fixed at the first otlp handler's start. */
  instance: string = "";
  /**
   * The connection's attributes and each direction's peer by one CEL evaluation each (reader.ts
   * EXPR_CONNECTION, peerExpression), when the filter asked for them (createExpressions) and the
   * host has expr_create; null otherwise: property reads.
   */
  exprConnection: Expression | null = null;
  exprPeerDown: Expression | null = null;
  exprPeerUp: Expression | null = null;

  /** `name` prefixes log lines ("http-telemetry", "dubbo", "thrift"). */
  constructor(public name: string) {}

  /**
   * Defines the handlers' counters under `<statPrefix>.` (`fail_closed_denied`,
   * `handler.<name>.reports|failures|sampled_out`, and per kind `series_overflow`, `allowed`,
   * `denied|limited`, `key_overflow`) and takes `c`; prometheus handlers batch `batchRequests`.
   * False when a definition failed (logged).
   */
  start(c: TelemetryConfig, statPrefix: string, seed: u32, batchRequests: i32 = BATCH_REQUESTS): bool {
    if (!this.localRead) {
      this.localRead = readLocalWorkload(this.local, true);
      this.istioProxy = isIstioProxy();
    }
    const prefix = statPrefix + ".";
    const denied = this.define(MetricType.Counter, prefix + "fail_closed_denied");
    if (!denied.ok) return false;
    this.deniedId = denied.id;
    let tick: u32 = 0;
    let checkMask: u32 = 0;
    let needsAddress = false;
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
        changetype<PrometheusHandler>(h).start(this.istioProxy, overflow.id, batchRequests);
        flagsMask |= (<u32>1) << <u32>i;
      } else if (h instanceof CheckHandler) {
        const ch = changetype<CheckHandler>(h);
        const allowed = this.define(MetricType.Counter, at + "allowed");
        const refused = this.define(MetricType.Counter, at + ch.deniedWord());
        if (!(allowed.ok && refused.ok)) return false;
        ch.allowedId = allowed.id;
        ch.deniedId = refused.id;
        // A checked request's counters are batched with the metrics: no metric host call.
        ch.counters = this.counters;
        checkMask |= (<u32>1) << <u32>i;
        if (h.kind == "memquota") {
          const overflow = this.define(MetricType.Counter, at + "key_overflow");
          if (!overflow.ok) return false;
          changetype<MemQuotaHandler>(h).start(statPrefix, overflow.id);
        }
      } else if (h.kind == "accesslog") {
        const attrs = changetype<AccessLogHandler>(h).attrs;
        needsAddress = needsAddress || attrs.includes(Attr.SourceAddress);
        if (attrs.includes(Attr.ResponseFlags)) flagsMask |= (<u32>1) << <u32>i;
      } else if (h.kind == "otlp") {
        // Its exporter's counters are the handler's: `handler.<name>.exports_ok`, `log_records_dropped`, …
        const o = changetype<OtlpHandler>(h);
        if (this.instance.length == 0) this.instance = vmInstanceId(this.local);
        if (!o.start("protomesh." + this.name, at, this.local, this.instance, this.istioProxy)) return false;
        needsAddress = needsAddress || (o.config.logs && o.attrs.includes(Attr.SourceAddress));
        // Its metrics carry the response_flags label; its logs may carry the attribute.
        if (o.config.metrics || (o.config.logs && o.attrs.includes(Attr.ResponseFlags))) flagsMask |= (<u32>1) << <u32>i;
      }
      const p = h.tickPeriodMs();
      if (p > 0 && (tick == 0 || p < tick)) tick = p;
    }
    for (let i = 0; i < c.rules.length; i++) {
      for (let m = 0; m < c.rules[i].matches.length; m++) {
        if (c.rules[i].matches[m].attr == Attr.SourceAddress) needsAddress = true;
        if (c.rules[i].matches[m].attr == Attr.ResponseFlags) flagsInRules = true;
      }
    }
    // Batched metric updates are written on tick, whatever the handlers need.
    if (tick == 0 || tick > FLUSH_PERIOD_MS) tick = FLUSH_PERIOD_MS;
    this.tickMs = tick;
    if (seed != 0) this.rng = seed;
    // The old handlers' updates go out before they are replaced; their OTLP queues are dropped (counted).
    if (this.ready) {
      this.flush();
      retireOtlpHandlers(this.config.handlers);
    }
    this.config = c;
    this.checkMask = checkMask;
    this.needsAddress = needsAddress;
    this.flagsMask = flagsMask;
    this.flagsInRules = flagsInRules;
    this.ready = true;
    return true;
  }

  /**
   * A grpc_call's answer reaches the root context that made it (envoy source/extensions/common/
   * wasm/context.h GrpcCallClientHandler): the filter's root passes proxy_on_grpc_receive and
   * proxy_on_grpc_close here, for the otlp handlers' exports (each exporter knows its token).
   */
  onGrpcReceive(token: u32): void {
    otlpGrpcReceive(this.config.handlers, token);
  }

  onGrpcClose(token: u32, status: u32): void {
    otlpGrpcClose(this.config.handlers, token, status);
  }

  define(type: MetricType, name: string): Metric {
    const m = Metric.define(type, name);
    if (!m.ok) log(LogLevel.Error, this.name + ": defining metric " + m.name + " failed status=" + (<i32>m.status).toString());
    return m;
  }

  /**
   * The handlers' ticks and the flush, every `tickMs` of a filter whose own tick is shorter
   * (dubbo and thrift tick every `filterTickMs` = 20 ms for their delays): it calls this on each of
   * its ticks, and every ceil(tickMs / filterTickMs)-th one runs onTick. Counted in ticks, not
   * clock time, so a tick the host delays delays the flush with it.
   */
  onTickDue(nowNs: u64, filterTickMs: u32): void {
    this.ticks++;
    if (<u64>this.ticks * <u64>filterTickMs < <u64>this.tickMs) return;
    this.ticks = 0;
    this.onTick(nowNs);
  }

  /** The handlers' ticks and the flush. */
  onTick(nowNs: u64): void {
    if (!this.ready) return;
    const hs = this.config.handlers;
    for (let i = 0; i < hs.length; i++) hs[i].onTick(nowNs);
    this.flush();
  }

  /**
   * Writes the batched metric updates and the handlers' counters to the host. Requests whose
   * updates the host refused count as their handler's failures and put it in the failing state
   * until its next report.
   */
  flush(): void {
    const hs = this.config.handlers;
    for (let i = 0; i < hs.length; i++) {
      if (hs[i].kind != "prometheus") continue;
      const p = changetype<PrometheusHandler>(hs[i]);
      p.flush();
      if (p.refusedTotal == 0) continue;
      if (!p.failing) log(LogLevel.Warn, this.name + ": handler " + p.name + " failed to report (host refused metric updates)");
      p.failing = true;
      this.counters.add(p.failuresId, p.refusedTotal);
      p.refusedTotal = 0;
    }
    this.counters.flush();
  }

  /**
   * Makes the connection and peer expressions (expr_create keeps each in the root context until
   * expr_delete, so the old ones are deleted first). "" when made; otherwise, with none kept, why
   * (the host answered an expr_create with an error): the reads stay property reads.
   */
  createExpressions(): string {
    this.deleteExpressions();
    const conn = createExpression(EXPR_CONNECTION);
    const down = createExpression(peerExpression(Reporter.Destination));
    const up = createExpression(peerExpression(Reporter.Source));
    if (conn.ok && down.ok && up.ok) {
      this.exprConnection = conn;
      this.exprPeerDown = down;
      this.exprPeerUp = up;
      return "";
    }
    const bad = !conn.ok ? conn : !down.ok ? down : up;
    conn.delete();
    down.delete();
    up.delete();
    return "expr_create answered status=" + (<i32>bad.status).toString() + " for " + bad.text;
  }

  deleteExpressions(): void {
    const conn = this.exprConnection;
    if (conn !== null) conn.delete();
    const down = this.exprPeerDown;
    if (down !== null) down.delete();
    const up = this.exprPeerUp;
    if (up !== null) up.delete();
    this.exprConnection = null;
    this.exprPeerDown = null;
    this.exprPeerUp = null;
  }

  /** A connection's attributes: read once at its start (one CEL evaluation when available), then shared by its requests. */
  connection(id: u64): ConnectionAttributes {
    const c = new ConnectionAttributes();
    const e = this.exprConnection;
    if (e === null || !readConnectionByExpr(e, c.bag, this.local, this.needsAddress)) {
      readConnection(c.bag, this.local);
      if (this.needsAddress) readSourceAddress(c.bag);
    }
    c.bag.connectionId = id;
    return c;
  }

  /** readPeer, by one CEL evaluation when available (property reads when it fails). */
  readPeer(bag: AttributeBag): bool {
    const e = bag.reporter == Reporter.Destination ? this.exprPeerDown : this.exprPeerUp;
    if (e !== null) {
      const r = readPeerByExpr(e, bag);
      if (r >= 0) return r == 1;
    }
    return readPeer(bag);
  }

  /**
   * The peer from metadata exchange, looked up until found for at most PEER_TRIES requests of the
   * connection (then taken as unknown); the connection's encoded labels are redone when found.
   */
  resolvePeerOnce(c: ConnectionAttributes): void {
    if (c.peerKnown || c.peerTries >= PEER_TRIES) return;
    c.peerTries++;
    if (this.readPeer(c.bag)) {
      c.peerKnown = true;
      c.istioTags = "";
    }
  }

  /**
   * HTTP outbound: the upstream peer is the endpoint the load balancer picked for this request;
   * read every request, and the connection's encoded labels are redone only when it changed.
   * Inbound: as resolvePeerOnce.
   */
  resolvePeer(c: ConnectionAttributes): void {
    const bag = c.bag;
    if (bag.reporter == Reporter.Destination) {
      this.resolvePeerOnce(c);
      return;
    }
    const peer = bag.peer();
    const before = peerKey(peer);
    clearPeer(peer);
    this.readPeer(bag);
    if (peerKey(peer) != before) c.istioTags = "";
  }

  /** A sampling bucket in [0, 100000) drawn at random (xorshift32). */
  randomBucket(): u32 {
    let x = this.rng;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.rng = x;
    return x % 100000;
  }

  /**
   * Feeds `r` to every non-check handler a matching rule names, with sampling by `bucket`
   * ([0, 100000); negative: drawn at random, only when some handler is fed).
   */
  report(conn: ConnectionAttributes, r: RequestAttributes, bucket: i64): void {
    this.reportTo(this.reportMask(conn, r), conn, r, bucket);
  }

  /** The non-check handlers the matching rules name (a bit set), as report() feeds them. */
  reportMask(conn: ConnectionAttributes, r: RequestAttributes): u32 {
    return matchedHandlers(this.config.rules, conn.bag, r, false) & ~this.checkMask;
  }

  /** report() for the handlers of `mask` (reportMask's answer). */
  reportTo(mask: u32, conn: ConnectionAttributes, r: RequestAttributes, bucket: i64): void {
    if (mask == 0) return;
    const b = bucket >= 0 ? <u32>bucket : this.randomBucket();
    const hs = this.config.handlers;
    for (let i = 0; i < hs.length; i++) {
      if ((mask & ((<u32>1) << <u32>i)) != 0) this.feed(hs[i], conn, r, b);
    }
  }

  /** One handler, with sampling and the failure policy around it. */
  feed(h: Handler, conn: ConnectionAttributes, r: RequestAttributes, bucket: u32): void {
    if (bucket >= h.samplingMilli) {
      this.counters.add(h.sampledOutId, 1);
      return;
    }
    if (h.report(conn, r)) {
      h.failing = false;
      this.counters.add(h.reportsId, 1);
      return;
    }
    if (!h.failing) {
      log(LogLevel.Warn, this.name + ": handler " + h.name + " failed to report" + (h.failOpen ? "" : "; refusing its requests until a report succeeds"));
    }
    h.failing = true;
    this.counters.add(h.failuresId, 1);
  }

  /**
   * Check handlers, in the order they are configured, each at most once, with the attributes
   * known before forwarding: CHECK_ALLOWED, the index of the handler that refused (its status,
   * body and headers set on it), or CHECK_FAIL_CLOSED (a fail-closed handler could not decide).
   * `checkRule` names the rule that fed the refusing handler (a later memquota then takes no
   * token). `bucket`: the sampling bucket, negative to draw it at random when a check samples.
   */
  check(conn: ConnectionAttributes, r: RequestAttributes, nowMs: u64, bucket: i64): i32 {
    const rules = this.config.rules;
    const hs = this.config.handlers;
    for (let i = 0; i < hs.length; i++) {
      const bit = (<u32>1) << <u32>i;
      if ((this.checkMask & bit) == 0) continue;
      let rule = "";
      for (let k = 0; k < rules.length && rule.length == 0; k++) {
        if ((rules[k].handlerMask & bit) != 0 && ruleMatches(rules[k], conn.bag, r, false)) rule = rules[k].name;
      }
      if (rule.length == 0) continue;
      const h = changetype<CheckHandler>(hs[i]);
      if (h.samplingMilli < 100000) {
        if (bucket < 0) bucket = this.randomBucket();
        if (bucket >= <i64>h.samplingMilli) {
          h.count(h.sampledOutId);
          continue;
        }
      }
      h.count(h.reportsId);
      const v = h.check(conn, r, nowMs);
      if (v == Verdict.Allow) {
        h.count(h.allowedId);
        continue;
      }
      this.checkRule = rule;
      if (v == Verdict.Failed) {
        h.count(h.failuresId);
        if (h.failOpen) continue;
        h.count(this.deniedId);
        return CHECK_FAIL_CLOSED;
      }
      h.count(h.deniedId);
      return i;
    }
    return CHECK_ALLOWED;
  }

  /** Handlers (bit set) that are fail-closed and failing. */
  closedMask(): u32 {
    const hs = this.config.handlers;
    let failing: u32 = 0;
    for (let i = 0; i < hs.length; i++) if (!hs[i].failOpen && hs[i].failing) failing |= (<u32>1) << <u32>i;
    return failing;
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
