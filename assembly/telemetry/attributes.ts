// The attribute bag: one typed record per connection (and, later, per request) with Istio /
// Mixer attribute names. Ingestion adapters fill it; backend adapters (prometheus, accesslog,
// otlp) read it. Pure code: the host reads live in ./reader.ts.

/**
 * One side's workload identity, the fields istio/proxy's WorkloadMetadataObject carries
 * (source/extensions/common/metadata_object.h: workload, namespace, cluster, service =
 * canonical service, revision = canonical revision, app, version) plus the TLS principal.
 * "" means unknown; the Prometheus adapter prints it as `unknown`, as istio.stats does.
 */
export class Workload {
  workload: string = "";
  namespace: string = "";
  principal: string = "";
  app: string = "";
  version: string = "";
  canonicalService: string = "";
  canonicalRevision: string = "";
  cluster: string = "";

  copyFrom(o: Workload): void {
    this.workload = o.workload;
    this.namespace = o.namespace;
    this.principal = o.principal;
    this.app = o.app;
    this.version = o.version;
    this.canonicalService = o.canonicalService;
    this.canonicalRevision = o.canonicalRevision;
    this.cluster = o.cluster;
  }
}

/** Which proxy reports (Istio's `reporter` label). */
export enum Reporter {
  /** The client side: outbound listener (`xds.listener_direction` OUTBOUND = 2). */
  Source = 0,
  /** The server side: inbound listener (INBOUND = 1) or unspecified. */
  Destination = 1,
}

export function reporterName(r: Reporter): string {
  return r == Reporter.Source ? "source" : "destination";
}

/**
 * Attributes with their Mixer names: `source.*`, `destination.*`, `request.protocol`,
 * `response.code`, `response.duration`, `request.total_size` / `response.total_size` (bytes each
 * way), `connection.id`, `connection.mtls`, `connection.requested_server_name`.
 */
export class AttributeBag {
  reporter: Reporter = Reporter.Destination;
  source: Workload = new Workload();
  destination: Workload = new Workload();
  sourceAddress: string = "";
  sourcePort: i64 = 0;
  destinationAddress: string = "";
  destinationPort: i64 = 0;
  /** `destination.service.host` (Istio: the service FQDN); "" = unknown. */
  destinationService: string = "";
  destinationServiceName: string = "";
  destinationServiceNamespace: string = "";
  /** `request.protocol`: tcp, http, grpc, dubbo, thrift, … */
  requestProtocol: string = "tcp";
  /** `protomesh.protocol`: the sniffer's verdict for the connection; "" when it did not run. */
  sniffedProtocol: string = "";
  /** `response.code`; 0 = none (TCP). */
  responseCode: i32 = 0;
  /** `response.duration` in milliseconds. */
  responseDurationMs: u64 = 0;
  /** Bytes downstream → upstream (`request.total_size`, `connection.received.bytes`). */
  receivedBytes: u64 = 0;
  /** Bytes upstream → downstream (`response.total_size`, `connection.sent.bytes`). */
  sentBytes: u64 = 0;
  connectionId: u64 = 0;
  connectionMtls: bool = false;
  requestedServerName: string = "";

  /** Istio's `connection_security_policy`: mutual_tls on mTLS, else none (destination) / unknown (source). */
  securityPolicy(): string {
    if (this.reporter == Reporter.Source) return "unknown";
    return this.connectionMtls ? "mutual_tls" : "none";
  }

  /** The local side of this proxy in the bag: destination when inbound, source when outbound. */
  local(): Workload {
    return this.reporter == Reporter.Destination ? this.destination : this.source;
  }

  /** The peer side. */
  peer(): Workload {
    return this.reporter == Reporter.Destination ? this.source : this.destination;
  }
}
