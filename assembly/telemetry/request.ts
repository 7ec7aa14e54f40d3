// The protocol-neutral request record every ingestion adapter fills (HTTP, Dubbo, Thrift), the
// attribute lookup rules and the access log share, and Istio's request label values. Pure code:
// the host reads live in the filters.
import { AttributeBag, Reporter, Workload, reporterName } from "./attributes";
import { HTTP_ATTRIBUTES } from "./http-labels";

export { HTTP_ATTRIBUTES };

/** Attribute indexes, in HTTP_ATTRIBUTES order. */
export enum Attr {
  RequestMethod = 0,
  RequestPath = 1,
  RequestHost = 2,
  RequestId = 3,
  RequestProtocol = 4,
  RequestUserAgent = 5,
  RequestTotalSize = 6,
  ResponseCode = 7,
  ResponseGrpcStatus = 8,
  ResponseDuration = 9,
  ResponseTotalSize = 10,
  Reporter = 11,
  SourceWorkload = 12,
  SourceNamespace = 13,
  SourcePrincipal = 14,
  SourceApp = 15,
  SourceVersion = 16,
  SourceAddress = 17,
  DestinationWorkload = 18,
  DestinationNamespace = 19,
  DestinationPrincipal = 20,
  DestinationApp = 21,
  DestinationVersion = 22,
  DestinationService = 23,
  ConnectionId = 24,
  ConnectionMtls = 25,
  ApiService = 26,
  ApiOperation = 27,
  ApiVersion = 28,
  ApiGroup = 29,
  ClusterName = 30,
  ResponseFlags = 31,
  ConnectionReceivedBytes = 32,
  ConnectionSentBytes = 33,
  ConnectionDuration = 34,
  ConnectionRequestedServerName = 35,
  DestinationAddress = 36,
  DestinationPort = 37,
  ProtomeshProtocol = 38,
}

/** Index of an attribute name, -1 when unknown. */
export function attrIndex(name: string): i32 {
  for (let i = 0; i < HTTP_ATTRIBUTES.length; i++) if (HTTP_ATTRIBUTES[i] == name) return i;
  return -1;
}

/**
 * Header attributes: Mixer's `request.headers` map (a STRING_MAP in istio/istio's attribute
 * manifest, mixer/testdata/config/attributes.yaml; lower-case keys), one entry per attribute,
 * `request.headers.<name>`: the HTTP request header, the Dubbo attachment, the Thrift THeader
 * header of that name. Their indexes are HEADER_ATTR_BASE + a slot in HEADER_NAMES.
 */
export const HEADER_ATTR_PREFIX = "request.headers.";
export const HEADER_ATTR_BASE: i32 = 64;
/** Header names one VM may ever use (slots are never reused, so an old configuration's stay valid). */
export const MAX_HEADER_SLOTS: i32 = 64;
/** A header value is cut to this many characters, as a label value is (safeValue). */
export const MAX_HEADER_VALUE: i32 = 128;
/** Slot -> header name, grow-only for the life of the VM. */
export const HEADER_NAMES: string[] = [];

/** The slot of header `name` (added when new), -1 when MAX_HEADER_SLOTS are taken. */
export function headerSlot(name: string): i32 {
  const at = HEADER_NAMES.indexOf(name);
  if (at >= 0 || HEADER_NAMES.length >= MAX_HEADER_SLOTS) return at;
  HEADER_NAMES.push(name);
  return HEADER_NAMES.length - 1;
}

/** The attribute's name as configured (access log keys, OTLP attribute keys, errors). */
export function attrName(a: i32): string {
  return a >= HEADER_ATTR_BASE ? HEADER_ATTR_PREFIX + HEADER_NAMES[a - HEADER_ATTR_BASE] : HTTP_ATTRIBUTES[a];
}

/**
 * Sets the header attributes of `slots` named `key` (lower case) to `value`, cut to
 * MAX_HEADER_VALUE; the first of a repeated key wins. Nothing is allocated without slots.
 */
export function setHeaderAttr(r: RequestAttributes, slots: i32[], key: string, value: string): void {
  let h = r.headers;
  for (let s = 0; s < slots.length; s++) {
    const k = unchecked(slots[s]);
    if (HEADER_NAMES[k] != key) continue;
    if (h === null) {
      h = new Array<string>(HEADER_NAMES.length).fill("");
      r.headers = h;
    }
    if (k < h.length && unchecked(h[k]).length == 0) h[k] = value.length > MAX_HEADER_VALUE ? value.substring(0, MAX_HEADER_VALUE) : value;
  }
}

/** setHeaderAttr for each of parallel `keys` / `values` (an RPC call's headers). */
export function setHeaderAttrs(r: RequestAttributes, slots: i32[], keys: string[], values: string[]): void {
  if (slots.length == 0) return;
  for (let i = 0; i < keys.length; i++) setHeaderAttr(r, slots, keys[i], values[i]);
}

/**
 * True for attributes only known once the response is, or (TCP) once the connection closed: rules
 * on them are decided at the end.
 */
export function isResponseAttr(a: i32): bool {
  return (a >= Attr.ResponseCode && a <= Attr.ResponseTotalSize) || a == Attr.ResponseFlags
    || (a >= Attr.ConnectionReceivedBytes && a <= Attr.ConnectionDuration);
}

/** How an attribute is written into JSON: a string, a number or a boolean. */
export enum AttrJson {
  Text = 0,
  Number = 1,
  Bool = 2,
}

export function attrJson(a: i32): AttrJson {
  switch (a) {
    case Attr.RequestTotalSize:
    case Attr.ResponseCode:
    case Attr.ResponseDuration:
    case Attr.ResponseTotalSize:
    case Attr.ConnectionId:
    case Attr.ConnectionReceivedBytes:
    case Attr.ConnectionSentBytes:
    case Attr.ConnectionDuration:
    case Attr.DestinationPort:
      return AttrJson.Number;
    case Attr.ConnectionMtls:
      return AttrJson.Bool;
    default:
      return AttrJson.Text;
  }
}

/**
 * How `a` is written into JSON for request `r`: as attrJson, except `response.code`, a number for
 * HTTP and a string for RPC protocols (their codes are names: `reply`, `exception`, `oneway`).
 */
export function attrJsonFor(a: i32, r: RequestAttributes): AttrJson {
  if (a == Attr.ResponseCode && r.rpc.length > 0) return AttrJson.Text;
  return attrJson(a);
}

/**
 * One request or RPC call: what the ingestion adapter saw. "" / 0 = not seen. HTTP fills the
 * HTTP fields; an RPC adapter sets `rpc` (its protocol name) and the `api*`, `code`, `flags` and
 * `cluster` fields, and the service fields from the routed cluster.
 */
export class RequestAttributes {
  /** `dubbo`, `thrift`, … for an RPC call; "" for HTTP (`http` / `grpc` by content-type). */
  rpc: string = "";
  /** `api.service`: Dubbo interface, Thrift service (the multiplexed prefix; "" when not multiplexed). */
  apiService: string = "";
  /** `api.operation`: the method. */
  apiOperation: string = "";
  /** `api.version` / `api.group`: Dubbo's service version and group. */
  apiVersion: string = "";
  apiGroup: string = "";
  /**
   * The response code as the RPC protocol gives it (Istio's `response_code` label and
   * `response.code`): Dubbo the response status in decimal (`20` OK, `70` service error, …),
   * Thrift `reply` or `exception`; `oneway` for a call that gets no response. HTTP leaves it ""
   * and uses responseCode.
   */
  code: string = "";
  /** Envoy-style response flags (`DI`, `UAEX`, `RL`, `FI`); "" = none, printed `-`. */
  flags: string = "";
  /** `xds.cluster_name`: the Envoy cluster the call was routed to, "" when not known. */
  cluster: string = "";
  /**
   * `destination.service` and its name / namespace when the adapter knows them per request (RPC:
   * from the routed cluster's name); "" = derived as for HTTP (the Host, the local service).
   */
  serviceHost: string = "";
  serviceName: string = "";
  serviceNamespace: string = "";
  method: string = "";
  path: string = "";
  /** `:authority`. */
  host: string = "";
  /** `x-request-id` (Envoy's HCM adds one when absent). */
  id: string = "";
  userAgent: string = "";
  /** `grpc` when the request's content-type is application/grpc[+…], else `http`. */
  grpc: bool = false;
  /** `:status` of the response sent downstream; 0 when none was (a reset). */
  responseCode: i32 = 0;
  /** `grpc-status` from the trailers (or a trailers-only response's headers); "" when none. */
  grpcStatus: string = "";
  durationMs: u64 = 0;
  /** Header bytes (name + value of each, as Envoy's HeaderMap::byteSize) plus body bytes. */
  requestBytes: u64 = 0;
  responseBytes: u64 = 0;
  /** Header attribute values by slot (HEADER_NAMES); null when the configuration names none. */
  headers: string[] | null = null;

  protocol(): string {
    if (this.rpc.length > 0) return this.rpc;
    return this.grpc ? "grpc" : "http";
  }

  /** `response.code` as text: the RPC code, else the HTTP status in decimal. */
  codeText(): string {
    return this.rpc.length > 0 ? this.code : this.responseCode.toString();
  }
}

/** The attribute's value as text (numbers in decimal, booleans true/false). */
export function attrValue(a: i32, bag: AttributeBag, r: RequestAttributes): string {
  if (a >= HEADER_ATTR_BASE) {
    const h = r.headers;
    const k = a - HEADER_ATTR_BASE;
    return h !== null && k < h.length ? unchecked(h[k]) : "";
  }
  switch (a) {
    case Attr.RequestMethod: return r.method;
    case Attr.RequestPath: return r.path;
    case Attr.RequestHost: return r.host;
    case Attr.RequestId: return r.id;
    case Attr.RequestProtocol: return r.protocol();
    case Attr.RequestUserAgent: return r.userAgent;
    case Attr.RequestTotalSize: return r.requestBytes.toString();
    case Attr.ResponseCode: return r.codeText();
    case Attr.ResponseGrpcStatus: return r.grpcStatus;
    case Attr.ResponseDuration: return r.durationMs.toString();
    case Attr.ResponseTotalSize: return r.responseBytes.toString();
    case Attr.Reporter: return reporterName(bag.reporter);
    case Attr.SourceWorkload: return bag.source.workload;
    case Attr.SourceNamespace: return workloadNamespace(bag.source);
    case Attr.SourcePrincipal: return bag.source.principal;
    case Attr.SourceApp: return bag.source.app;
    case Attr.SourceVersion: return bag.source.version;
    case Attr.SourceAddress: return bag.sourceAddress;
    case Attr.DestinationWorkload: return bag.destination.workload;
    case Attr.DestinationNamespace: return workloadNamespace(bag.destination);
    case Attr.DestinationPrincipal: return bag.destination.principal;
    case Attr.DestinationApp: return bag.destination.app;
    case Attr.DestinationVersion: return bag.destination.version;
    case Attr.DestinationService: return r.serviceHost.length > 0 ? r.serviceHost : r.host;
    case Attr.ConnectionId: return bag.connectionId.toString();
    case Attr.ConnectionMtls: return bag.connectionMtls ? "true" : "false";
    case Attr.ApiService: return r.apiService;
    case Attr.ApiOperation: return r.apiOperation;
    case Attr.ApiVersion: return r.apiVersion;
    case Attr.ApiGroup: return r.apiGroup;
    case Attr.ClusterName: return r.cluster;
    case Attr.ResponseFlags: return r.flags.length > 0 ? r.flags : "-";
    case Attr.ConnectionReceivedBytes: return bag.receivedBytes.toString();
    case Attr.ConnectionSentBytes: return bag.sentBytes.toString();
    case Attr.ConnectionDuration: return r.durationMs.toString();
    case Attr.ConnectionRequestedServerName: return bag.requestedServerName;
    case Attr.DestinationAddress: return bag.destinationAddress;
    case Attr.DestinationPort: return bag.destinationPort.toString();
    case Attr.ProtomeshProtocol: return bag.sniffedProtocol;
    default: return "";
  }
}

/** `present` for a number means non-zero, for text non-empty. */
export function attrPresent(a: i32, bag: AttributeBag, r: RequestAttributes): bool {
  if (a == Attr.ResponseCode) return r.rpc.length > 0 ? r.code.length > 0 : r.responseCode != 0;
  if (a == Attr.ResponseFlags) return r.flags.length > 0;
  if (a == Attr.ConnectionMtls) return bag.connectionMtls;
  if (attrJson(a) == AttrJson.Number) return attrValue(a, bag, r) != "0";
  return attrValue(a, bag, r).length > 0;
}

const NS_KEY = "/ns/";

/**
 * The namespace inside a SPIFFE principal `<domain>/ns/<namespace>/sa/<account>`, "" when absent
 * (istio_stats.cc getNamespace).
 */
export function principalNamespace(principal: string): string {
  const at = principal.indexOf(NS_KEY);
  if (at < 0) return "";
  const begin = at + NS_KEY.length;
  const end = principal.indexOf("/", begin);
  return end < 0 ? principal.substring(begin) : principal.substring(begin, end);
}

/** A workload's namespace: from its principal when it has one, else its metadata (istio_stats.cc). */
export function workloadNamespace(w: Workload): string {
  const fromSan = principalNamespace(w.principal);
  return fromSan.length > 0 ? fromSan : w.namespace;
}

export const UNKNOWN = "unknown";
/** istio_stats.cc prints an unknown peer's canonical revision as `latest`. */
export const LATEST = "latest";

/**
 * A label value made safe for the `(<key>=\.=(.*?);\.;)` extraction: the value ends at the
 * first `;.;` and `.` never matches a newline, so `;` and control characters become `_`. At most
 * 128 bytes (Envoy keeps every stat name for the life of the process). Empty stays empty:
 * istio_stats prints the local workload's missing fields as `""`, not `unknown`.
 */
export function safeValue(v: string): string {
  const n = v.length < 128 ? v.length : 128;
  let clean = true;
  for (let i = 0; i < n && clean; i++) {
    const c = v.charCodeAt(i);
    clean = !(c == 0x3b || c < 0x20 || c == 0x7f);
  }
  if (clean) return n == v.length ? v : v.substring(0, n);
  let out = "";
  for (let i = 0; i < n; i++) {
    const c = v.charCodeAt(i);
    out += c == 0x3b || c < 0x20 || c == 0x7f ? "_" : String.fromCharCode(c);
  }
  return out;
}

function or(v: string, dflt: string): string {
  return v.length > 0 ? safeValue(v) : dflt;
}

/**
 * The labels that stay the same for every request of one connection, in HTTP_LABELS order from
 * `reporter` to `destination_cluster`, with `destination_service` and `destination_service_name`
 * left "" (they come from each request's Host: httpRequestLabels). `local` holds the node's raw
 * values (istio_stats.cc Context: WORKLOAD_NAME, NAMESPACE, CLUSTER_ID, LABELS app / version /
 * canonical name / revision, printed as they are, "" included); the peer's are printed
 * `unknown` (revision `latest`) when missing, and its namespace comes from its principal first.
 */
export function httpConnectionLabels(bag: AttributeBag): string[] {
  const out = new Array<string>();
  out.push(reporterName(bag.reporter));
  if (bag.reporter == Reporter.Destination) {
    const peer = bag.source;
    const me = bag.destination;
    out.push(or(peer.workload, UNKNOWN));
    out.push(or(peer.canonicalService, UNKNOWN));
    out.push(or(peer.canonicalRevision, LATEST));
    out.push(or(workloadNamespace(peer), UNKNOWN));
    out.push(or(peer.principal, UNKNOWN));
    out.push(or(peer.app, UNKNOWN));
    out.push(or(peer.version, UNKNOWN));
    out.push(or(peer.cluster, UNKNOWN));
    out.push(safeValue(me.workload));
    out.push(safeValue(me.namespace));
    out.push(or(me.principal, UNKNOWN));
    out.push(safeValue(me.app));
    out.push(safeValue(me.version));
    out.push("");
    out.push(safeValue(me.canonicalService));
    out.push(safeValue(me.canonicalRevision));
    out.push("");
    out.push(safeValue(me.namespace));
    out.push(safeValue(me.cluster));
  } else {
    const me = bag.source;
    const peer = bag.destination;
    out.push(safeValue(me.workload));
    out.push(safeValue(me.canonicalService));
    out.push(safeValue(me.canonicalRevision));
    out.push(safeValue(me.namespace));
    out.push(or(me.principal, UNKNOWN));
    out.push(safeValue(me.app));
    out.push(safeValue(me.version));
    out.push(safeValue(me.cluster));
    out.push(or(peer.workload, UNKNOWN));
    out.push(or(workloadNamespace(peer), UNKNOWN));
    out.push(or(peer.principal, UNKNOWN));
    out.push(or(peer.app, UNKNOWN));
    out.push(or(peer.version, UNKNOWN));
    out.push("");
    out.push(or(peer.canonicalService, UNKNOWN));
    out.push(or(peer.canonicalRevision, LATEST));
    out.push("");
    out.push(or(workloadNamespace(peer), UNKNOWN));
    out.push(or(peer.cluster, UNKNOWN));
  }
  return out;
}

/** Index of `destination_service` / `destination_service_name` in HTTP_LABELS. */
export const LABEL_DESTINATION_SERVICE: i32 = 14;
export const LABEL_DESTINATION_SERVICE_NAME: i32 = 17;
/** Labels from `request_protocol` on are per request. */
export const FIRST_REQUEST_LABEL: i32 = 20;

/** Index of `destination_service_namespace` in HTTP_LABELS. */
export const LABEL_DESTINATION_SERVICE_NAMESPACE: i32 = 18;

/**
 * `destination_service` (and, for HTTP, `_name`) for one request: the adapter's service host when
 * it set one (RPC), else the Host (`:authority`) as istio_stats takes it (service_host), else the
 * local canonical service when reporting as destination, `unknown` as source.
 */
export function destinationService(bag: AttributeBag, r: RequestAttributes): string {
  if (r.serviceHost.length > 0) return safeValue(r.serviceHost);
  if (r.host.length > 0) return safeValue(r.host);
  return bag.reporter == Reporter.Destination ? safeValue(bag.destination.canonicalService) : UNKNOWN;
}

/** `destination_service_name` for a request whose adapter set the service (RPC); else destinationService. */
export function destinationServiceName(bag: AttributeBag, r: RequestAttributes): string {
  if (r.serviceHost.length == 0) return destinationService(bag, r);
  return r.serviceName.length > 0 ? safeValue(r.serviceName) : UNKNOWN;
}

/**
 * `destination_service_namespace` for a request whose adapter set the service (RPC): its
 * namespace, `unknown` when the cluster name does not say; other requests take `connection`'s, the
 * value httpConnectionLabels gives.
 */
export function destinationServiceNamespace(r: RequestAttributes, connection: string): string {
  if (r.serviceHost.length == 0) return connection;
  return r.serviceNamespace.length > 0 ? safeValue(r.serviceNamespace) : UNKNOWN;
}

/**
 * The per-request labels from `request_protocol` to `connection_security_policy`.
 * `response_flags`: the adapter's flags (HTTP: Envoy's, from `response.flags`, response-flags.ts),
 * `-` when none. `grpc_response_status` is empty for anything but gRPC.
 */
export function httpRequestLabels(bag: AttributeBag, r: RequestAttributes, out: string[]): void {
  out.push(r.protocol());
  out.push(r.rpc.length > 0 ? safeValue(r.code) : r.responseCode.toString());
  out.push(r.grpc ? safeValue(r.grpcStatus) : "");
  out.push(r.flags.length > 0 ? safeValue(r.flags) : "-");
  out.push(bag.securityPolicy());
}

/** `s` as a JSON string literal (RFC 8259: `"`, `\` and control characters escaped). */
export function jsonString(s: string): string {
  let out = "\"";
  let run = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x20 && c != 0x22 && c != 0x5c) continue;
    out += s.substring(run, i);
    if (c == 0x22) out += "\\\"";
    else if (c == 0x5c) out += "\\\\";
    else if (c == 0x0a) out += "\\n";
    else if (c == 0x0d) out += "\\r";
    else if (c == 0x09) out += "\\t";
    else out += (c < 0x10 ? "\\u000" : "\\u001") + HEX.charAt(c & 0xf);
    run = i + 1;
  }
  return out + s.substring(run) + "\"";
}

const HEX = "0123456789abcdef";

/**
 * Sampling: FNV-1a (32 bit) over the seed's four bytes then the request id's UTF-16 code units'
 * low bytes, reduced to [0, 100000). The same id and seed give the same decision on every proxy,
 * so the source and destination sidecars keep the same requests.
 */
export function sampleBucket(id: string, seed: u32): u32 {
  let h: u32 = 0x811c9dc5;
  for (let i = 0; i < 4; i++) {
    h ^= (seed >>> (<u32>i * 8)) & 0xff;
    h *= 0x01000193;
  }
  for (let i = 0; i < id.length; i++) {
    h ^= <u32>id.charCodeAt(i) & 0xff;
    h *= 0x01000193;
  }
  return h % 100000;
}
