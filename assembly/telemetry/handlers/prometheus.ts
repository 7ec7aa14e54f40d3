// prometheus backend: Istio's request metrics (istio_requests_total, istio_request_duration_
// milliseconds, istio_request_bytes, istio_response_bytes) with Istio's HTTP label set, for HTTP
// requests and RPC calls alike (request_protocol dubbo / thrift), encoded in the
// stat name as `<label>=.=<value>;.;` so Istio's bootstrap (or the controller's stats_tags for
// standalone Envoy) turns each into a Prometheus label. assembly/filters/http-telemetry/README.md
// says why the default family name depends on whether istio.stats runs on the proxy.
import { MetricType } from "../../runtime/enums";
import { HTTP_LABELS, HTTP_METRICS } from "../http-labels";
import {
  FIRST_REQUEST_LABEL, LABEL_DESTINATION_SERVICE, LABEL_DESTINATION_SERVICE_NAME, LABEL_DESTINATION_SERVICE_NAMESPACE,
  RequestAttributes, attrValue, destinationService, destinationServiceName, destinationServiceNamespace,
  httpConnectionLabels, httpRequestLabels, safeValue,
} from "../request";
import { MetricSeries, SeriesTable, encodeLabels, overflowLabels } from "../series";
import { SeriesBatch } from "../batch";
import { ConnectionAttributes, Handler } from "./handler";

/** Metric family names (README "Metric names"). */
export enum MetricNames {
  /** `istio_*` unless the node runs Istio's stats plugin (node metadata ISTIO_VERSION), then `protomesh_*`. */
  Auto = 0,
  Prefixed = 1,
  Istio = 2,
}
export const METRIC_NAMES: string[] = ["auto", "prefixed", "istio"];

/** The family-name prefix for `m` on a proxy that does (`istioProxy`) or does not run istio.stats. */
export function metricPrefix(m: MetricNames, istioProxy: bool): string {
  if (m == MetricNames.Istio) return "istio_";
  if (m == MetricNames.Prefixed) return "protomesh_";
  return istioProxy ? "protomesh_" : "istio_";
}

/**
 * Milliseconds between two flushes of the batched updates to the host's metrics: a scrape is at
 * most this far behind the traffic (README "Metrics are flushed on tick").
 */
export const FLUSH_PERIOD_MS: u32 = 1000;
/** Requests batched per VM before a flush is forced, whatever the time. */
export const BATCH_REQUESTS: i32 = 4096;
/**
 * The same for the RPC filters (dubbo, thrift), whose VMs also hold each connection's decode
 * buffers: 28 KB of samples instead of 114 KB. A flush's host calls are one per histogram sample
 * whatever the batch size; only the counter increments it merges are fewer with a larger batch.
 */
export const RPC_BATCH_REQUESTS: i32 = 1024;

const TYPES: MetricType[] = [MetricType.Counter, MetricType.Histogram, MetricType.Histogram, MetricType.Histogram];

/** Whether label i (< FIRST_REQUEST_LABEL) is encoded per request rather than per connection. */
function perRequest(i: i32, perCallService: bool): bool {
  return i == LABEL_DESTINATION_SERVICE || i == LABEL_DESTINATION_SERVICE_NAME || (perCallService && i == LABEL_DESTINATION_SERVICE_NAMESPACE);
}

/**
 * Keys of the connection-constant labels (HTTP_LABELS up to destination_cluster, less the two
 * service labels, and less the service namespace for an RPC connection).
 */
function connectionKeys(perCallService: bool): string[] {
  const out = new Array<string>();
  for (let i = 0; i < FIRST_REQUEST_LABEL; i++) if (!perRequest(i, perCallService)) out.push(HTTP_LABELS[i]);
  return out;
}

const CONNECTION_KEYS: string[] = connectionKeys(false);
const RPC_CONNECTION_KEYS: string[] = connectionKeys(true);

/**
 * The connection part of a series key: encoded once per connection (and again when its peer
 * shows up). With `conn.perCallService` the connection's service namespace is kept apart
 * (`conn.serviceNamespace`) for the calls that do not name their own.
 */
export function connectionTags(conn: ConnectionAttributes): string {
  const all = httpConnectionLabels(conn.bag);
  const perCall = conn.perCallService;
  const values = new Array<string>();
  for (let i = 0; i < all.length; i++) if (!perRequest(i, perCall)) values.push(all[i]);
  if (perCall) conn.serviceNamespace = all[LABEL_DESTINATION_SERVICE_NAMESPACE];
  return encodeLabels(perCall ? RPC_CONNECTION_KEYS : CONNECTION_KEYS, values);
}

/**
 * The connection's part of a series key, encoded when first needed (and again once the engine
 * cleared it: the peer showed up or changed), which also forgets the series the connection
 * remembers (PrometheusHandler.series).
 */
export function connectionKey(conn: ConnectionAttributes): string {
  if (conn.istioTags.length == 0) {
    conn.istioTags = connectionTags(conn);
    conn.lastSeries = null;
  }
  return conn.istioTags;
}

/**
 * The per-request part of Istio's labels, built on its own (appending to the long connection part
 * label by label would copy it every time): with connectionKey, the series key of this handler
 * (before its dimensions) and of the otlp handler (./otlp.ts).
 */
export function istioRequestPart(conn: ConnectionAttributes, r: RequestAttributes): string {
  const tail = new Array<string>();
  httpRequestLabels(conn.bag, r, tail);
  let s = "destination_service=.=" + destinationService(conn.bag, r) + ";.;destination_service_name=.=" + destinationServiceName(conn.bag, r) + ";.;";
  if (conn.perCallService) s += "destination_service_namespace=.=" + destinationServiceNamespace(r, conn.serviceNamespace) + ";.;";
  for (let i = 0; i < tail.length; i++) s += HTTP_LABELS[FIRST_REQUEST_LABEL + i] + "=.=" + tail[i] + ";.;";
  return s;
}

export class PrometheusHandler extends Handler {
  names: MetricNames = MetricNames.Auto;
  maxSeries: i32 = 1000;
  /** Extra labels: key and the attribute (request.ts Attr) that gives the value. */
  dimensionKeys: string[] = [];
  dimensionAttrs: i32[] = [];
  table: SeriesTable | null = null;
  /** Allocated at the first report with `batchRequests` (a handler never fed, or a configuration only parsed, costs nothing). */
  batch: SeriesBatch = new SeriesBatch(1);
  batchRequests: i32 = BATCH_REQUESTS;
  /** Refused requests not yet counted on the handler's failures counter. */
  refusedTotal: u64 = 0;

  constructor(name: string) {
    super(name, "prometheus");
  }

  /** Every label key, Istio's then the dimensions (the controller renders stats_tags for these). */
  labelKeys(): string[] {
    const out = HTTP_LABELS.slice(0);
    for (let i = 0; i < this.dimensionKeys.length; i++) out.push(this.dimensionKeys[i]);
    return out;
  }

  /** Defines the family names once per VM; `istioProxy` decides `auto`; `batchRequests`: the batch's capacity. */
  start(istioProxy: bool, overflowCounter: u32, batchRequests: i32 = BATCH_REQUESTS): void {
    this.batchRequests = batchRequests;
    const prefix = metricPrefix(this.names, istioProxy);
    const names = new Array<string>();
    for (let i = 0; i < HTTP_METRICS.length; i++) names.push(prefix + HTTP_METRICS[i]);
    const t = this.table;
    if (t !== null && t.names[0] == names[0] && t.maxSeries == this.maxSeries) return;
    this.table = new SeriesTable(names, TYPES, overflowLabels(this.labelKeys()), this.maxSeries, overflowCounter);
  }

  /** The encoded label set of one request. */
  tags(conn: ConnectionAttributes, r: RequestAttributes): string {
    return connectionKey(conn) + this.requestTags(conn, r);
  }

  /** The per-request part of the key: Istio's labels (istioRequestPart), then the dimensions. */
  requestTags(conn: ConnectionAttributes, r: RequestAttributes): string {
    let s = istioRequestPart(conn, r);
    for (let i = 0; i < this.dimensionKeys.length; i++) {
      s += this.dimensionKeys[i] + "=.=" + safeValue(attrValue(this.dimensionAttrs[i], conn.bag, r)) + ";.;";
    }
    return s;
  }

  /**
   * The series of one request. The connection remembers its last series and per-request part for
   * this handler: the calls of one connection mostly share them, and then the whole key (the
   * connection part is about 1 KB) is neither built nor hashed again.
   */
  series(conn: ConnectionAttributes, r: RequestAttributes, t: SeriesTable): MetricSeries {
    connectionKey(conn);
    const part = this.requestTags(conn, r);
    const last = conn.lastSeries;
    if (last !== null && conn.lastHandler === this && conn.lastPart == part) return changetype<MetricSeries>(last);
    const before = t.overflowed;
    const s = t.get(conn.istioTags + part);
    // A label set that overflowed is counted on every request: not remembered.
    if (t.overflowed != before) return s;
    conn.lastSeries = s;
    conn.lastHandler = this;
    conn.lastPart = part;
    return s;
  }

  /**
   * Keeps the request's updates in the batch (no host call). False when the series could not be
   * defined; updates the host refuses at the flush are counted there (`refusedTotal`).
   */
  report(conn: ConnectionAttributes, r: RequestAttributes): bool {
    const t = this.table;
    if (t === null) return false;
    const s = this.series(conn, r, t);
    if (!s.ok) return false;
    let b = this.batch;
    if (b.capacity != this.batchRequests) {
      this.flush();
      b = new SeriesBatch(this.batchRequests);
      this.batch = b;
    }
    if (b.full) this.flush();
    b.add(s, r.durationMs, r.requestBytes, r.responseBytes);
    return true;
  }

  /** Writes the batch to the host; `refusedTotal` adds the requests whose updates it refused. */
  flush(): void {
    if (this.batch.size == 0) return;
    this.refusedTotal += <u64>this.batch.flush();
  }

  tickPeriodMs(): u32 {
    return FLUSH_PERIOD_MS;
  }

  onTick(nowNs: u64): void {
    this.flush();
  }
}
