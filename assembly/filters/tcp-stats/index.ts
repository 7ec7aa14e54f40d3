// tcp-stats: a network filter that counts connections and bytes (README.md), and reports
// Istio's TCP metrics with Istio's labels through the telemetry attribute bag, to Envoy's stats
// (Prometheus) and, when configured, to an OpenTelemetry collector (OTLP logs and metrics). With
// `handlers` and `rules` it is the TCP ingestion adapter of the telemetry engine: a connection is
// the unit the rules match and the handlers consume (README "Rules and handlers"). It never holds
// data; only a check handler's refusal stops a connection, which is then closed.
import {
  Action, Context, LogLevel, Metric, MetricType, RootContext, StreamType, closeStream, getCurrentTimeNanoseconds,
  getPluginConfiguration, getPropertyBytes, incrementMetric, joinPath, log, recordMetric, registerRootContext,
  setTickPeriodMilliseconds,
} from "../../runtime";
import { IstioMetrics, istioMetricPrefix, parseTcpStatsConfigBytes } from "./config";
import { OtlpExporter } from "../../telemetry/otlp/exporter";
import { OtlpTcpMetrics, OtlpTcpSeries, TcpSum, encodeTcpLogRecord } from "../../telemetry/otlp/tcp";
import { OtlpConfig } from "../../telemetry/otlp/config";
import { vmInstanceId } from "../../telemetry/otlp/instance";
import { AttributeBag, Reporter, Workload } from "../../telemetry/attributes";
import { isIstioProxy, readConnection, readConnectionId, readHandshake, readLocalWorkload, readPeer } from "../../telemetry/reader";
import { TelemetryConfig } from "../../telemetry/config";
import { Attr, RequestAttributes, sampleBucket } from "../../telemetry/request";
import { TelemetryRule, matchedHandlers, ruleMatches } from "../../telemetry/rules";
import { ConnectionAttributes, Handler } from "../../telemetry/handlers/handler";
import { PrometheusHandler, metricPrefix } from "../../telemetry/handlers/prometheus";
import { CheckHandler, Verdict } from "../../telemetry/handlers/check";
import { MemQuotaHandler } from "../../telemetry/handlers/memquota";
import { AccessLogHandler } from "../../telemetry/handlers/accesslog";
import { ListHandler } from "../../telemetry/handlers/list";
import { tcpLabelValues, TcpMetric } from "../../telemetry/prometheus";
import { TcpSeries, TcpSeriesTable } from "../../telemetry/series";
import { applyClusterService } from "../../telemetry/tcp-attributes";
export * from "../../runtime/exports";

/** Attributes known when the connection starts (before TLS, metadata exchange or tcp_proxy ran). */
function knownAtStart(a: i32): bool {
  return a == Attr.Reporter || a == Attr.SourceAddress || a == Attr.DestinationAddress || a == Attr.DestinationPort
    || a == Attr.ConnectionId || a == Attr.ConnectionRequestedServerName;
}

function ruleKnownAtStart(rule: TelemetryRule): bool {
  for (let m = 0; m < rule.matches.length; m++) if (!knownAtStart(rule.matches[m].attr)) return false;
  return true;
}

function usesAttr(t: TelemetryConfig, a: i32): bool {
  for (let r = 0; r < t.rules.length; r++) {
    for (let m = 0; m < t.rules[r].matches.length; m++) if (t.rules[r].matches[m].attr == a) return true;
  }
  for (let i = 0; i < t.handlers.length; i++) {
    const h = t.handlers[i];
    if (h.kind == "accesslog" && changetype<AccessLogHandler>(h).attrs.includes(a)) return true;
    if (h.kind == "list" && changetype<ListHandler>(h).attr == a) return true;
    if (h.kind == "memquota" && changetype<MemQuotaHandler>(h).keyAttrs.includes(a)) return true;
  }
  return false;
}

class TcpStatsRoot extends RootContext {
  prefix: string = "";
  // Host metric ids: opaque (Envoy encodes the type in the low bits), valid once `ready`.
  opened: u32 = 0;
  closed: u32 = 0;
  active: u32 = 0;
  received: u32 = 0;
  sent: u32 = 0;
  duration: u32 = 0;
  ready: bool = false;
  /** Istio-style series without handlers (`istio_metrics`); null when off or with handlers. */
  series: TcpSeriesTable | null = null;
  /** The node's workload, read once per VM (node metadata never changes). */
  local: Workload = new Workload();
  localRead: bool = false;
  istioProxy: bool = false;
  /** The OTLP backend; null when `otlp` is not configured. */
  otlp: OtlpExporter | null = null;
  /** The OTLP metric table (also the exporter's `metrics`); null when OTLP metrics are off. */
  otlpMetrics: OtlpTcpMetrics | null = null;
  instance: string = "";
  /** Rules → handlers; null without `handlers` / `rules`. */
  telemetry: TelemetryConfig | null = null;
  /** Handler index → its TCP series table (prometheus handlers only). */
  tables: Map<i32, TcpSeriesTable> = new Map<i32, TcpSeriesTable>();
  /** Bit i: handler i is a prometheus handler / an access log / a check decided at the start / at the first data. */
  promMask: u32 = 0;
  logMask: u32 = 0;
  startChecks: u32 = 0;
  dataChecks: u32 = 0;
  /** Attributes some rule or handler reads that cost a property read of their own. */
  needsAddresses: bool = false;
  needsSni: bool = false;

  /** Reads the node's workload once per VM, as istio.stats reads its own side. */
  localWorkload(): Workload {
    if (!this.localRead) {
      this.localRead = readLocalWorkload(this.local, true);
      this.istioProxy = isIstioProxy();
    }
    return this.local;
  }

  /** Attributes are needed by the Istio-style metrics, the handlers and the OTLP backend. */
  get attributes(): bool {
    return this.series !== null || this.otlp !== null || this.telemetry !== null;
  }

  configureOtlp(c: OtlpConfig | null, prefix: string, maxSeries: i32): bool {
    const old = this.otlp;
    this.otlp = null;
    this.otlpMetrics = null;
    if (old !== null) old.retire();
    if (c === null) {
      if (old !== null) setTickPeriodMilliseconds(0);
      return true;
    }
    const e = new OtlpExporter(c, "protomesh.tcp-stats", "");
    if (!e.defineStats()) return false;
    e.setResource(this.localWorkload(), this.instanceId());
    if (c.metrics) {
      const m = new OtlpTcpMetrics(prefix, maxSeries);
      e.metrics = m;
      this.otlpMetrics = m;
    }
    this.otlp = e;
    setTickPeriodMilliseconds(<u32>c.flushIntervalMs);
    return true;
  }

  /** `service.instance.id` of this VM, fixed at its first use (otlp/instance.ts). */
  instanceId(): string {
    if (this.instance.length == 0) this.instance = vmInstanceId(this.local);
    return this.instance;
  }

  onTick(): void {
    const e = this.otlp;
    if (e !== null) e.onTick();
  }

  onGrpcReceive(token: u32, response_size: u32): void {
    const e = this.otlp;
    if (e !== null) e.onGrpcReceive(token);
  }

  onGrpcClose(token: u32, status_code: u32): void {
    const e = this.otlp;
    if (e !== null) e.onGrpcClose(token, status_code);
  }

  onConfigure(configuration_size: u32): bool {
    const raw = getPluginConfiguration();
    const parsed = parseTcpStatsConfigBytes(raw.value);
    if (parsed.error.length > 0) {
      log(LogLevel.Error, parsed.error);
      return false;
    }
    const prefix = parsed.config.statPrefix;
    const t = parsed.config.telemetry;
    this.localWorkload();
    const mode = t === null ? parsed.config.istioMetrics : IstioMetrics.Off;
    // OTLP metric names follow istio_metrics' choice (README "OTLP export"): istio_ only when asked.
    const otlpPrefix = parsed.config.istioMetrics == IstioMetrics.Istio ? "istio_" : "protomesh_";
    if (!this.configureOtlp(parsed.config.otlp, otlpPrefix, parsed.config.maxSeries)) return false;
    if (mode == IstioMetrics.Off) {
      this.series = null;
    } else {
      const s = this.series;
      const namePrefix = istioMetricPrefix(mode);
      if (s === null || s.prefix != namePrefix || s.maxSeries != parsed.config.maxSeries) {
        const overflow = this.define(MetricType.Counter, prefix, "istio_series_overflow");
        if (!overflow.ok) return false;
        this.series = new TcpSeriesTable(namePrefix, parsed.config.maxSeries, overflow.id);
      }
    }
    if (!this.configureTelemetry(t, prefix)) return false;
    // Defined once per VM; a reconfiguration with another prefix defines the new names.
    if (this.ready && prefix == this.prefix) return true;
    const opened = this.define(MetricType.Counter, prefix, "connections_opened");
    const closed = this.define(MetricType.Counter, prefix, "connections_closed");
    const active = this.define(MetricType.Gauge, prefix, "connections_active");
    const received = this.define(MetricType.Counter, prefix, "received_bytes");
    const sent = this.define(MetricType.Counter, prefix, "sent_bytes");
    const duration = this.define(MetricType.Histogram, prefix, "connection_duration_ms");
    if (!(opened.ok && closed.ok && active.ok && received.ok && sent.ok && duration.ok)) return false;
    this.opened = opened.id;
    this.closed = closed.id;
    this.active = active.id;
    this.received = received.id;
    this.sent = sent.id;
    this.duration = duration.id;
    this.prefix = prefix;
    this.ready = true;
    return true;
  }

  /**
   * Defines each handler's counters (`<prefix>.handler.<name>.*`, as http-telemetry's) and sorts
   * the handlers by when they run: prometheus when the peer is known, access logs at close, check
   * handlers at the connection's start when every rule feeding them tests only what is known then
   * (README "Rules and handlers"), else at its first data.
   */
  configureTelemetry(t: TelemetryConfig | null, statPrefix: string): bool {
    this.telemetry = null;
    this.tables = new Map<i32, TcpSeriesTable>();
    this.promMask = 0;
    this.logMask = 0;
    this.startChecks = 0;
    this.dataChecks = 0;
    if (t === null) return true;
    for (let i = 0; i < t.handlers.length; i++) {
      const h = t.handlers[i];
      const bit = (<u32>1) << <u32>i;
      const at = "handler." + h.name + ".";
      const reports = this.define(MetricType.Counter, statPrefix, at + "reports");
      const failures = this.define(MetricType.Counter, statPrefix, at + "failures");
      const sampled = this.define(MetricType.Counter, statPrefix, at + "sampled_out");
      if (!(reports.ok && failures.ok && sampled.ok)) return false;
      h.reportsId = reports.id;
      h.failuresId = failures.id;
      h.sampledOutId = sampled.id;
      if (h.kind == "prometheus") {
        const ph = changetype<PrometheusHandler>(h);
        const overflow = this.define(MetricType.Counter, statPrefix, at + "series_overflow");
        if (!overflow.ok) return false;
        this.tables.set(i, new TcpSeriesTable(metricPrefix(ph.names, this.istioProxy), ph.maxSeries, overflow.id));
        this.promMask |= bit;
      } else if (h instanceof CheckHandler) {
        const ch = changetype<CheckHandler>(h);
        const allowed = this.define(MetricType.Counter, statPrefix, at + "allowed");
        const refused = this.define(MetricType.Counter, statPrefix, at + ch.deniedWord());
        if (!(allowed.ok && refused.ok)) return false;
        ch.allowedId = allowed.id;
        ch.deniedId = refused.id;
        if (h.kind == "memquota") {
          const overflow = this.define(MetricType.Counter, statPrefix, at + "key_overflow");
          if (!overflow.ok) return false;
          changetype<MemQuotaHandler>(h).start(statPrefix, overflow.id);
        }
        let early = true;
        for (let r = 0; r < t.rules.length; r++) {
          if ((t.rules[r].handlerMask & bit) != 0 && !ruleKnownAtStart(t.rules[r])) early = false;
        }
        if (h.kind == "memquota") {
          const q = changetype<MemQuotaHandler>(h);
          for (let k = 0; k < q.keyAttrs.length; k++) if (!knownAtStart(q.keyAttrs[k])) early = false;
        } else if (h.kind == "list") {
          if (!knownAtStart(changetype<ListHandler>(h).attr)) early = false;
        }
        if (early) this.startChecks |= bit;
        else this.dataChecks |= bit;
      } else {
        this.logMask |= bit;
      }
    }
    this.needsAddresses = usesAttr(t, Attr.SourceAddress) || usesAttr(t, Attr.DestinationAddress) || usesAttr(t, Attr.DestinationPort);
    this.needsSni = usesAttr(t, Attr.ConnectionRequestedServerName);
    this.telemetry = t;
    return true;
  }

  define(type: MetricType, prefix: string, name: string): Metric {
    const m = Metric.define(type, prefix + "." + name);
    if (!m.ok) {
      log(LogLevel.Error, "tcp-stats: defining metric " + m.name + " failed status=" + (<i32>m.status).toString());
    }
    return m;
  }

  createContext(context_id: u32): Context {
    return new TcpStatsStream(context_id, this);
  }
}

class TcpStatsStream extends Context {
  startNs: u64 = 0;
  open: bool = false;
  /** The connection's attributes: null when nothing reports Istio-style or feeds handlers. */
  conn: ConnectionAttributes | null = null;
  /** The connection as the engine's request record (request.protocol, xds.cluster_name, duration). */
  req: RequestAttributes = new RequestAttributes();
  /** The series once the peer is known (or given up on); bytes before that wait in the bag. */
  istio: TcpSeries | null = null;
  /** The prometheus handlers' series this connection feeds. */
  chosen: TcpSeries[] = [];
  /** Istio's label values, fixed when the series are chosen. */
  values: string[] | null = null;
  /** The OTLP series, chosen with the Istio series. */
  otlpSeries: OtlpTcpSeries | null = null;
  /** The first-data check handlers have run. */
  checked: bool = false;
  /** A check handler refused the connection: it is being closed, nothing more passes. */
  denied: bool = false;

  onNewConnection(): Action {
    const r = changetype<TcpStatsRoot>(this.root);
    if (!r.ready) return Action.Continue;
    this.open = true;
    this.startNs = getCurrentTimeNanoseconds();
    incrementMetric(r.opened, 1);
    incrementMetric(r.active, 1);
    if (!r.attributes) return Action.Continue;
    const conn = new ConnectionAttributes();
    const bag = conn.bag;
    readConnection(bag, r.localWorkload());
    this.req.rpc = bag.requestProtocol;
    const e = r.otlp;
    if ((e !== null && e.config.logs) || r.needsAddresses) readAddresses(bag);
    this.conn = conn;
    const t = r.telemetry;
    if (t === null) return Action.Continue;
    bag.connectionId = readConnectionId();
    if (r.needsSni) {
      const sni = getPropertyBytes(P_SNI);
      if (sni.ok) bag.requestedServerName = sni.text();
    }
    // Nothing has gone upstream yet: tcp_proxy, after this filter, has not even connected.
    if (this.refuseIfClosed(t, conn) || (r.startChecks != 0 && this.refuse(r, t, conn, r.startChecks))) return Action.Pause;
    return Action.Continue;
  }

  /**
   * A fail-closed access log whose last report failed refuses the connections its rules could
   * feed (what is known only later taken as matching), as http-telemetry refuses requests.
   */
  refuseIfClosed(t: TelemetryConfig, conn: ConnectionAttributes): bool {
    let failing: u32 = 0;
    for (let i = 0; i < t.handlers.length; i++) if (!t.handlers[i].failOpen && t.handlers[i].failing) failing |= (<u32>1) << <u32>i;
    if (failing == 0 || (matchedHandlers(t.rules, conn.bag, this.req, true) & failing) == 0) return false;
    log(LogLevel.Debug, "tcp-stats: connection " + conn.bag.connectionId.toString() + " closed: a fail-closed handler is failing");
    this.denied = true;
    closeStream(StreamType.Downstream);
    return true;
  }

  /**
   * Runs the check handlers in `mask`, in their configured order, each at most once, fed by the
   * first rule that names it and matches: the first refusal closes the downstream connection
   * (proxy_close_stream(Downstream): envoy source/extensions/common/wasm/context.cc closeStream,
   * `connection().close(FlushWrite, "wasm_downstream_close")` after the callback returns) and the
   * callback answers StopIteration, so no filter after this one (tcp_proxy) sees the bytes.
   */
  refuse(r: TcpStatsRoot, t: TelemetryConfig, conn: ConnectionAttributes, mask: u32): bool {
    const hs = t.handlers;
    const nowMs = getCurrentTimeNanoseconds() / 1000000;
    for (let i = 0; i < hs.length; i++) {
      const bit = (<u32>1) << <u32>i;
      if ((mask & bit) == 0) continue;
      let rule = "";
      for (let k = 0; k < t.rules.length && rule.length == 0; k++) {
        if ((t.rules[k].handlerMask & bit) != 0 && ruleMatches(t.rules[k], conn.bag, this.req, false)) rule = t.rules[k].name;
      }
      if (rule.length == 0) continue;
      const h = changetype<CheckHandler>(hs[i]);
      if (!this.sampled(h, conn)) continue;
      incrementMetric(h.reportsId, 1);
      const v = h.check(conn, this.req, nowMs);
      if (v == Verdict.Allow) {
        incrementMetric(h.allowedId, 1);
        continue;
      }
      if (v == Verdict.Failed) {
        incrementMetric(h.failuresId, 1);
        if (h.failOpen) continue;
      } else {
        incrementMetric(h.deniedId, 1);
      }
      log(LogLevel.Debug, "tcp-stats: connection " + conn.bag.connectionId.toString() + " closed by handler " + h.name + " (rule " + rule + ")" + (v == Verdict.Failed ? ", which failed closed" : ""));
      this.denied = true;
      closeStream(StreamType.Downstream);
      return true;
    }
    return false;
  }

  /** Sampling by connection id: the same connection gets the same answer from every handler. */
  sampled(h: Handler, conn: ConnectionAttributes): bool {
    if (h.samplingMilli >= 100000) return true;
    if (sampleBucket(conn.bag.connectionId.toString(), 0) < h.samplingMilli) return true;
    incrementMetric(h.sampledOutId, 1);
    return false;
  }

  /**
   * The first data in either direction: the TLS handshake is done (connection.mtls, the URI SANs),
   * the sniffer has named the protocol, tcp_proxy has picked the cluster and, inbound, Istio's
   * metadata exchange has consumed its header and left the downstream peer. The check handlers
   * that need any of that decide now, before the bytes go on.
   */
  firstData(r: TcpStatsRoot): bool {
    this.checked = true;
    const conn = this.conn;
    if (conn === null) return false;
    const bag = conn.bag;
    readHandshake(bag);
    this.req.rpc = bag.requestProtocol;
    const t = r.telemetry;
    if (t === null || r.dataChecks == 0) return false;
    readPeer(bag);
    this.readCluster(bag);
    return this.refuse(r, t, conn, r.dataChecks);
  }

  readCluster(bag: AttributeBag): void {
    const cluster = getPropertyBytes(P_CLUSTER_NAME);
    if (!cluster.ok) return;
    this.req.cluster = cluster.text();
    applyClusterService(bag, this.req.cluster);
  }

  /**
   * Picks the series once the peer's labels are there: metadata exchange consumes its header
   * before the bytes reach this filter, so the downstream peer (inbound) is known at the first
   * downstream data and the upstream peer (outbound) at the first upstream data. At close the
   * series is taken with whatever is known. Opened and the waiting bytes are reported then.
   */
  resolve(force: bool): void {
    const conn = this.conn;
    if (conn === null || this.values !== null) return;
    const bag = conn.bag;
    if (!readPeer(bag) && !force) return;
    const r = changetype<TcpStatsRoot>(this.root);
    // tcp_proxy has picked the upstream cluster by the first data (and by close).
    this.readCluster(bag);
    const values = tcpLabelValues(bag);
    this.values = values;
    const series = r.series;
    if (series !== null) {
      const s = series.get(values);
      this.istio = s;
      this.opening(s, bag);
    }
    const t = r.telemetry;
    if (t !== null && r.promMask != 0) {
      const mask = matchedHandlers(t.rules, bag, this.req, false) & r.promMask;
      for (let i = 0; i < t.handlers.length; i++) {
        if ((mask & ((<u32>1) << <u32>i)) == 0) continue;
        const h = t.handlers[i];
        if (!this.sampled(h, conn)) continue;
        const s = r.tables.get(i).get(values);
        this.chosen.push(s);
        this.opening(s, bag);
        incrementMetric(s.ok ? h.reportsId : h.failuresId, 1);
      }
    }
    const e = r.otlp;
    const m = r.otlpMetrics;
    if (e !== null && m !== null) {
      const before = m.overflowed;
      const o = m.get(values, getCurrentTimeNanoseconds());
      if (m.overflowed != before) e.countOverflow();
      this.otlpSeries = o;
      o.add(TcpSum.Opened, 1);
      o.add(TcpSum.Received, bag.receivedBytes);
      o.add(TcpSum.Sent, bag.sentBytes);
    }
  }

  opening(s: TcpSeries, bag: AttributeBag): void {
    s.add(TcpMetric.ConnectionsOpened, 1);
    s.add(TcpMetric.ReceivedBytes, bag.receivedBytes);
    s.add(TcpMetric.SentBytes, bag.sentBytes);
  }

  // data_size is the host's buffered length; tcp_proxy drains it on every callback, so each
  // callback carries new bytes. Envoy answers BadArgument to a counter increment of 0.
  onDownstreamData(data_size: u32, end_of_stream: bool): Action {
    return this.onData(true, data_size);
  }

  onUpstreamData(data_size: u32, end_of_stream: bool): Action {
    return this.onData(false, data_size);
  }

  onData(received: bool, n: u32): Action {
    if (!this.open) return Action.Continue;
    if (this.denied) return Action.Pause;
    const r = changetype<TcpStatsRoot>(this.root);
    if (n != 0) incrementMetric(received ? r.received : r.sent, n);
    // Decided before the bytes count toward the Istio series, so these see the handshake's facts.
    const refused = !this.checked && this.firstData(r);
    if (n != 0) this.istioBytes(received, n);
    return refused ? Action.Pause : Action.Continue;
  }

  istioBytes(received: bool, n: u32): void {
    const conn = this.conn;
    if (conn === null) return;
    const bag = conn.bag;
    // The bag keeps the connection's totals (the OTLP log record and access log report them).
    if (received) bag.receivedBytes += n;
    else bag.sentBytes += n;
    if (this.values !== null) {
      const m = received ? TcpMetric.ReceivedBytes : TcpMetric.SentBytes;
      const s = this.istio;
      if (s !== null) s.add(m, n);
      for (let i = 0; i < this.chosen.length; i++) this.chosen[i].add(m, n);
      const o = this.otlpSeries;
      if (o !== null) o.add(received ? TcpSum.Received : TcpSum.Sent, n);
      return;
    }
    // The peer arrives with the first bytes from its side.
    if (received == (bag.reporter == Reporter.Destination)) this.resolve(false);
  }

  onDone(): bool {
    this.finish();
    return true;
  }

  // A context deleted without onDone (e.g. the VM shutting down) still closes its books.
  onDelete(): void {
    this.finish();
  }

  finish(): void {
    if (!this.open) return;
    this.open = false;
    const r = changetype<TcpStatsRoot>(this.root);
    const now = getCurrentTimeNanoseconds();
    const ms: u64 = now > this.startNs ? (now - this.startNs) / 1000000 : 0;
    const conn = this.conn;
    if (conn !== null) {
      const bag = conn.bag;
      this.resolve(true);
      const s = this.istio;
      if (s !== null) s.add(TcpMetric.ConnectionsClosed, 1);
      for (let i = 0; i < this.chosen.length; i++) this.chosen[i].add(TcpMetric.ConnectionsClosed, 1);
      const o = this.otlpSeries;
      if (o !== null) {
        o.add(TcpSum.Closed, 1);
        o.recordDuration(ms);
      }
      const e = r.otlp;
      const values = this.values;
      if (e !== null && values !== null) {
        const w = e.beginLogRecord();
        if (w !== null) {
          encodeTcpLogRecord(w, bag, values, now, ms);
          e.commitLogRecord();
        }
      }
      this.req.durationMs = ms;
      this.req.requestBytes = bag.receivedBytes;
      this.req.responseBytes = bag.sentBytes;
      this.logConnection(r, conn);
    }
    incrementMetric(r.closed, 1);
    incrementMetric(r.active, -1);
    recordMetric(r.duration, ms);
  }

  /** The access logs whose rules match the closed connection. */
  logConnection(r: TcpStatsRoot, conn: ConnectionAttributes): void {
    const t = r.telemetry;
    if (t === null || r.logMask == 0) return;
    const mask = matchedHandlers(t.rules, conn.bag, this.req, false) & r.logMask;
    for (let i = 0; i < t.handlers.length; i++) {
      if ((mask & ((<u32>1) << <u32>i)) == 0) continue;
      const h = t.handlers[i];
      if (!this.sampled(h, conn)) continue;
      if (h.report(conn, this.req)) {
        h.failing = false;
        incrementMetric(h.reportsId, 1);
        continue;
      }
      if (!h.failing) log(LogLevel.Warn, "tcp-stats: handler " + h.name + " failed to report");
      h.failing = true;
      incrementMetric(h.failuresId, 1);
    }
  }
}

const P_CLUSTER_NAME = joinPath(["xds", "cluster_name"]);
/** The SNI of the downstream TLS connection (Envoy attributes.rst, `connection.requested_server_name`). */
const P_SNI = joinPath(["connection", "requested_server_name"]);
const P_SOURCE_ADDRESS = joinPath(["source", "address"]);
const P_DESTINATION_ADDRESS = joinPath(["destination", "address"]);

/**
 * `source.address` / `destination.address` ("ip:port", Envoy docs/root/intro/arch_overview/
 * advanced/attributes.rst) for the OTLP log record and the handlers: two property reads per
 * connection, only when something uses them. `destination.port` is the address's port.
 */
function readAddresses(bag: AttributeBag): void {
  const s = getPropertyBytes(P_SOURCE_ADDRESS);
  if (s.ok) bag.sourceAddress = s.text();
  const d = getPropertyBytes(P_DESTINATION_ADDRESS);
  if (!d.ok) return;
  const a = d.text();
  bag.destinationAddress = a;
  const colon = a.lastIndexOf(":");
  if (colon >= 0) bag.destinationPort = I64.parseInt(a.substring(colon + 1));
}

registerRootContext((context_id: u32): RootContext => new TcpStatsRoot(context_id), "tcp-stats");
