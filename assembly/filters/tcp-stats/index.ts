// tcp-stats: a network filter that counts connections and bytes (README.md), and reports
// Istio's TCP metrics with Istio's labels through the telemetry attribute bag, to Envoy's stats
// (Prometheus) and, when configured, to an OpenTelemetry collector (OTLP logs and metrics). It
// never holds data: every callback answers Continue.
import {
  Action, Context, LogLevel, Metric, MetricType, RootContext, getCurrentTimeNanoseconds,
  getPluginConfiguration, getPropertyBytes, incrementMetric, joinPath, log, recordMetric, registerRootContext,
  setTickPeriodMilliseconds,
} from "../../runtime";
import { IstioMetrics, istioMetricPrefix, parseTcpStatsConfigBytes } from "./config";
import { OtlpExporter } from "../../telemetry/otlp/exporter";
import { OtlpTcpMetrics, OtlpTcpSeries, TcpSum, encodeTcpLogRecord } from "../../telemetry/otlp/tcp";
import { OtlpConfig } from "../../telemetry/otlp/config";
import { vmInstanceId } from "../../telemetry/otlp/instance";
import { AttributeBag, Reporter, Workload } from "../../telemetry/attributes";
import { readConnection, readLocalWorkload, readPeer } from "../../telemetry/reader";
import { tcpLabelValues, TcpMetric } from "../../telemetry/prometheus";
import { TcpSeries, TcpSeriesTable } from "../../telemetry/series";
export * from "../../runtime/exports";

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
  /** Istio-style series; null when `istio_metrics` is off. */
  series: TcpSeriesTable | null = null;
  /** The node's workload, read once per VM (node metadata never changes). */
  local: Workload = new Workload();
  localRead: bool = false;
  /** The OTLP backend; null when `otlp` is not configured. */
  otlp: OtlpExporter | null = null;
  /** The OTLP metric table (also the exporter's `metrics`); null when OTLP metrics are off. */
  otlpMetrics: OtlpTcpMetrics | null = null;
  instance: string = "";

  /** Reads the node's workload once per VM. */
  localWorkload(): Workload {
    if (!this.localRead) this.localRead = readLocalWorkload(this.local);
    return this.local;
  }

  /** Attributes are needed by the Istio-style metrics and by the OTLP backend. */
  get attributes(): bool {
    return this.series !== null || this.otlp !== null;
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
    const mode = parsed.config.istioMetrics;
    // OTLP metric names follow istio_metrics' choice (README "OTLP export"): istio_ only when asked.
    const otlpPrefix = mode == IstioMetrics.Istio ? "istio_" : "protomesh_";
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
  /** Istio-style reporting: null when off. */
  bag: AttributeBag | null = null;
  /** The series once the peer is known (or given up on); bytes before that wait in the bag. */
  istio: TcpSeries | null = null;
  /** Istio's label values, fixed when the series are chosen. */
  values: string[] | null = null;
  /** The OTLP series, chosen with the Istio series. */
  otlpSeries: OtlpTcpSeries | null = null;

  onNewConnection(): Action {
    const r = changetype<TcpStatsRoot>(this.root);
    if (!r.ready) return Action.Continue;
    this.open = true;
    this.startNs = getCurrentTimeNanoseconds();
    incrementMetric(r.opened, 1);
    incrementMetric(r.active, 1);
    if (r.attributes) {
      const bag = new AttributeBag();
      readConnection(bag, r.localWorkload());
      const e = r.otlp;
      if (e !== null && e.config.logs) readAddresses(bag);
      this.bag = bag;
    }
    return Action.Continue;
  }

  /**
   * Picks the series once the peer's labels are there: metadata exchange consumes its header
   * before the bytes reach this filter, so the downstream peer (inbound) is known at the first
   * downstream data and the upstream peer (outbound) at the first upstream data. At close the
   * series is taken with whatever is known. Opened and the waiting bytes are reported then.
   */
  resolve(force: bool): void {
    const bag = this.bag;
    if (bag === null || this.values !== null) return;
    if (!readPeer(bag) && !force) return;
    const r = changetype<TcpStatsRoot>(this.root);
    const values = tcpLabelValues(bag);
    this.values = values;
    const series = r.series;
    if (series !== null) {
      const s = series.get(values);
      this.istio = s;
      s.add(TcpMetric.ConnectionsOpened, 1);
      s.add(TcpMetric.ReceivedBytes, bag.receivedBytes);
      s.add(TcpMetric.SentBytes, bag.sentBytes);
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

  // data_size is the host's buffered length; tcp_proxy drains it on every callback, so each
  // callback carries new bytes. Envoy answers BadArgument to a counter increment of 0.
  onDownstreamData(data_size: u32, end_of_stream: bool): Action {
    if (data_size != 0 && this.open) {
      incrementMetric(changetype<TcpStatsRoot>(this.root).received, data_size);
      this.istioBytes(true, data_size);
    }
    return Action.Continue;
  }

  onUpstreamData(data_size: u32, end_of_stream: bool): Action {
    if (data_size != 0 && this.open) {
      incrementMetric(changetype<TcpStatsRoot>(this.root).sent, data_size);
      this.istioBytes(false, data_size);
    }
    return Action.Continue;
  }

  istioBytes(received: bool, n: u32): void {
    const bag = this.bag;
    if (bag === null) return;
    // The bag keeps the connection's totals (the OTLP log record reports them).
    if (received) bag.receivedBytes += n;
    else bag.sentBytes += n;
    if (this.values !== null) {
      const s = this.istio;
      if (s !== null) s.add(received ? TcpMetric.ReceivedBytes : TcpMetric.SentBytes, n);
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
    const bag = this.bag;
    if (bag !== null) {
      this.resolve(true);
      const s = this.istio;
      if (s !== null) s.add(TcpMetric.ConnectionsClosed, 1);
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
    }
    incrementMetric(r.closed, 1);
    incrementMetric(r.active, -1);
    recordMetric(r.duration, ms);
  }
}

const P_SOURCE_ADDRESS = joinPath(["source", "address"]);
const P_DESTINATION_ADDRESS = joinPath(["destination", "address"]);

/**
 * `source.address` / `destination.address` ("ip:port", Envoy docs/root/intro/arch_overview/
 * advanced/attributes.rst) for the OTLP log record: two property reads per connection, only
 * when OTLP logs are on.
 */
function readAddresses(bag: AttributeBag): void {
  const s = getPropertyBytes(P_SOURCE_ADDRESS);
  if (s.ok) bag.sourceAddress = s.text();
  const d = getPropertyBytes(P_DESTINATION_ADDRESS);
  if (d.ok) bag.destinationAddress = d.text();
}

registerRootContext((context_id: u32): RootContext => new TcpStatsRoot(context_id), "tcp-stats");
