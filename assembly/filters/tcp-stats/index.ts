// tcp-stats: a network filter that counts connections and bytes (README.md), and reports
// Istio's TCP metrics with Istio's labels through the telemetry attribute bag. It never holds
// data: every callback answers Continue.
import {
  Action, Context, LogLevel, Metric, MetricType, PeerType, RootContext, WasmResult, getCurrentTimeNanoseconds,
  getPluginConfiguration, incrementMetric, log, recordMetric, registerRootContext,
} from "../../runtime";
import { IstioMetrics, istioMetricPrefix, parseTcpStatsConfigBytes } from "./config";
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

  onConfigure(configuration_size: u32): bool {
    const raw = getPluginConfiguration();
    const parsed = parseTcpStatsConfigBytes(raw.value);
    if (parsed.error.length > 0) {
      log(LogLevel.Error, parsed.error);
      return false;
    }
    const prefix = parsed.config.statPrefix;
    const mode = parsed.config.istioMetrics;
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

  onNewConnection(): Action {
    const r = changetype<TcpStatsRoot>(this.root);
    if (!r.ready) return Action.Continue;
    this.open = true;
    this.startNs = getCurrentTimeNanoseconds();
    incrementMetric(r.opened, 1);
    incrementMetric(r.active, 1);
    if (r.series !== null) {
      if (!r.localRead) r.localRead = readLocalWorkload(r.local);
      const bag = new AttributeBag();
      readConnection(bag, r.local);
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
    if (bag === null || this.istio !== null) return;
    if (!readPeer(bag) && !force) return;
    const series = changetype<TcpStatsRoot>(this.root).series;
    if (series === null) return;
    const s = series.get(tcpLabelValues(bag));
    this.istio = s;
    s.add(TcpMetric.ConnectionsOpened, 1);
    s.add(TcpMetric.ReceivedBytes, bag.receivedBytes);
    s.add(TcpMetric.SentBytes, bag.sentBytes);
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
    const s = this.istio;
    if (s !== null) {
      s.add(received ? TcpMetric.ReceivedBytes : TcpMetric.SentBytes, n);
      return;
    }
    if (received) bag.receivedBytes += n;
    else bag.sentBytes += n;
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
    if (this.bag !== null) {
      this.resolve(true);
      const s = this.istio;
      if (s !== null) s.add(TcpMetric.ConnectionsClosed, 1);
    }
    incrementMetric(r.closed, 1);
    incrementMetric(r.active, -1);
    const now = getCurrentTimeNanoseconds();
    const ms: u64 = now > this.startNs ? (now - this.startNs) / 1000000 : 0;
    recordMetric(r.duration, ms);
  }
}

registerRootContext((context_id: u32): RootContext => new TcpStatsRoot(context_id), "tcp-stats");
