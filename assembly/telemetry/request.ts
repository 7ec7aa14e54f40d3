// Per-request attributes of the HTTP ingestion adapter, the attribute lookup rules and the access
// log share, and Istio's HTTP label values. Pure code: the host reads live in the filter.
import { AttributeBag, Reporter, Workload, reporterName } from "./attributes";
import { HTTP_ATTRIBUTES } from "./http-labels";
import { responseFlagsText } from "./response-flags";

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
  /** Envoy's response flags as short codes (`UH`, `UF,URX`; `-` when none): response-flags.ts. */
  ResponseFlags = 26,
}

/** Index of an attribute name, -1 when unknown. */
export function attrIndex(name: string): i32 {
  for (let i = 0; i < HTTP_ATTRIBUTES.length; i++) if (HTTP_ATTRIBUTES[i] == name) return i;
  return -1;
}

/** True for attributes only known once the response is (rules on them are decided at the end). */
export function isResponseAttr(a: i32): bool {
  return (a >= Attr.ResponseCode && a <= Attr.ResponseTotalSize) || a == Attr.ResponseFlags;
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
      return AttrJson.Number;
    case Attr.ConnectionMtls:
      return AttrJson.Bool;
    default:
      return AttrJson.Text;
  }
}

/** One request: what the filter saw in its callbacks. "" / 0 = not seen. */
export class RequestAttributes {
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
  /** `response.flags`, Envoy's core response flags as a bit set; read in on_log only when needed. */
  flags: u64 = 0;
  /** Header bytes (name + value of each, as Envoy's HeaderMap::byteSize) plus body bytes. */
  requestBytes: u64 = 0;
  responseBytes: u64 = 0;

  protocol(): string {
    return this.grpc ? "grpc" : "http";
  }
}

/** The attribute's value as text (numbers in decimal, booleans true/false). */
export function attrValue(a: i32, bag: AttributeBag, r: RequestAttributes): string {
  switch (a) {
    case Attr.RequestMethod: return r.method;
    case Attr.RequestPath: return r.path;
    case Attr.RequestHost: return r.host;
    case Attr.RequestId: return r.id;
    case Attr.RequestProtocol: return r.protocol();
    case Attr.RequestUserAgent: return r.userAgent;
    case Attr.RequestTotalSize: return r.requestBytes.toString();
    case Attr.ResponseCode: return r.responseCode.toString();
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
    case Attr.DestinationService: return r.host;
    case Attr.ConnectionId: return bag.connectionId.toString();
    case Attr.ConnectionMtls: return bag.connectionMtls ? "true" : "false";
    case Attr.ResponseFlags: return responseFlagsText(r.flags);
    default: return "";
  }
}

/** `present` for a number means non-zero, for text non-empty. */
export function attrPresent(a: i32, bag: AttributeBag, r: RequestAttributes): bool {
  if (a == Attr.ResponseCode) return r.responseCode != 0;
  if (a == Attr.ConnectionMtls) return bag.connectionMtls;
  if (a == Attr.ResponseFlags) return r.flags != 0;
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

/**
 * `destination_service` and `_name` for one request: the Host (`:authority`) as istio_stats
 * takes it (service_host), else the local canonical service when reporting as destination,
 * `unknown` as source.
 */
export function destinationService(bag: AttributeBag, r: RequestAttributes): string {
  if (r.host.length > 0) return safeValue(r.host);
  return bag.reporter == Reporter.Destination ? safeValue(bag.destination.canonicalService) : UNKNOWN;
}

/** The per-request labels from `request_protocol` to `connection_security_policy`. */
export function httpRequestLabels(bag: AttributeBag, r: RequestAttributes, out: string[]): void {
  out.push(r.protocol());
  out.push(r.responseCode.toString());
  out.push(r.grpc ? safeValue(r.grpcStatus) : "");
  out.push(responseFlagsText(r.flags));
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
