// Host reads that fill the attribute bag. Property reads cost a host call and a copy each
// (Istio moved its stats out of wasm partly for getProperty's cost), so: the node's labels once
// per VM, the connection's attributes once at its start, each peer's labels once when found.
//
// Paths (Envoy docs/root/intro/arch_overview/advanced/attributes.rst; segments joined by `\0`,
// source/extensions/common/wasm/context.cc Context::getProperty walks maps and messages):
// - `xds.node.metadata.<KEY>`: node metadata is a Struct, so each key is a CEL value (a string;
//   LABELS a map, serialised as proxy-wasm pairs);
// - `xds.listener_direction`: int64 little-endian, INBOUND = 1, OUTBOUND = 2;
// - `connection.mtls` (bool, 1 byte), `connection.uri_san_peer_certificate`,
//   `connection.uri_san_local_certificate`;
// - `filter_state.<downstream_peer_obj|upstream_peer_obj>.<field>`: istio/proxy's
//   WorkloadMetadataObject has field support (`hasFieldSupport`, `getField`,
//   source/extensions/common/metadata_object.h), written by metadata exchange;
// - `protomesh.protocol`: an unknown top-level name falls back to filter state
//   `wasm.protomesh.protocol` (context.cc findValue), where the sniffer publishes its verdict.
import { getPropertyBytes, BytesResult } from "../runtime/hostcalls";
import { joinPath } from "../runtime/path";
import { deserializePairs } from "../runtime/pairs";
import { ExprMap, Expression } from "../runtime/expr";
import { AttributeBag, Reporter, Workload } from "./attributes";
import {
  META_CLUSTER_ID, META_LABELS, META_NAMESPACE, META_WORKLOAD_NAME, PEER_FIELDS, applyIstioStatsLabels, applyLabels, setPeerField,
} from "./labels";

function path(a: string, b: string = "", c: string = "", d: string = ""): ArrayBuffer {
  const s: string[] = [a];
  if (b.length > 0) s.push(b);
  if (c.length > 0) s.push(c);
  if (d.length > 0) s.push(d);
  return joinPath(s);
}

const P_WORKLOAD = path("xds", "node", "metadata", META_WORKLOAD_NAME);
const P_NAMESPACE = path("xds", "node", "metadata", META_NAMESPACE);
const P_CLUSTER = path("xds", "node", "metadata", META_CLUSTER_ID);
const P_LABELS = path("xds", "node", "metadata", META_LABELS);
/** Set on every Istio proxy by istio-agent; istio.stats reads it for `istio_build` (istio_stats.cc). */
const P_ISTIO_VERSION = path("xds", "node", "metadata", "ISTIO_VERSION");
const P_SOURCE_ADDRESS = path("source", "address");
const P_CONNECTION_ID = path("connection_id");
const P_DIRECTION = path("xds", "listener_direction");
const P_MTLS = path("connection", "mtls");
const P_PEER_SAN = path("connection", "uri_san_peer_certificate");
const P_LOCAL_SAN = path("connection", "uri_san_local_certificate");
const P_PROTOCOL = path("protomesh.protocol");

/** Peer field paths, [downstream × PEER_FIELDS, upstream × PEER_FIELDS]. */
const P_PEER: ArrayBuffer[] = peerPaths();

function peerPaths(): ArrayBuffer[] {
  const out = new Array<ArrayBuffer>();
  for (let i = 0; i < PEER_FIELDS.length; i++) out.push(path("filter_state", "downstream_peer_obj", PEER_FIELDS[i]));
  for (let i = 0; i < PEER_FIELDS.length; i++) out.push(path("filter_state", "upstream_peer_obj", PEER_FIELDS[i]));
  return out;
}

function text(r: BytesResult): string {
  return r.ok ? r.text() : "";
}

/**
 * The local workload from the node metadata. Returns false when no key could be read. With
 * `istioStats`, app and version come from the labels the way istio.stats reads its own side
 * (labels.ts applyIstioStatsLabels).
 */
export function readLocalWorkload(w: Workload, istioStats: bool = false): bool {
  const name = getPropertyBytes(P_WORKLOAD);
  const ns = getPropertyBytes(P_NAMESPACE);
  const cluster = getPropertyBytes(P_CLUSTER);
  const labels = getPropertyBytes(P_LABELS);
  w.workload = text(name);
  w.namespace = text(ns);
  w.cluster = text(cluster);
  if (labels.ok) {
    const p = deserializePairs(labels.value);
    if (p.error.length == 0) {
      if (istioStats) applyIstioStatsLabels(w, p.pairs);
      else applyLabels(w, p.pairs);
    }
  }
  return name.ok || ns.ok || cluster.ok || labels.ok;
}

/** Little-endian int64 property value; `dflt` when absent or malformed. */
export function decodeInt64(v: ArrayBuffer, dflt: i64): i64 {
  return v.byteLength == 8 ? load<i64>(changetype<usize>(v)) : dflt;
}

/** Connection attributes, read once at the connection's start; `local` is copied into its side. */
export function readConnection(bag: AttributeBag, local: Workload): void {
  const dir = getPropertyBytes(P_DIRECTION);
  bag.reporter = dir.ok && decodeInt64(dir.value, 0) == 2 ? Reporter.Source : Reporter.Destination;
  bag.local().copyFrom(local);
  readHandshake(bag);
}

/**
 * `connection.mtls`, the URI SANs and the sniffer's verdict. A network filter's
 * on_new_connection runs before the downstream TLS handshake (Envoy drives the handshake from
 * socket events after the filter chain is created) and, with the sniffer in `observe` mode,
 * before its verdict: tcp-stats reads these again at the connection's first data.
 */
export function readHandshake(bag: AttributeBag): void {
  const mtls = getPropertyBytes(P_MTLS);
  bag.connectionMtls = mtls.ok && mtls.value.byteLength == 1 && load<u8>(changetype<usize>(mtls.value)) != 0;
  if (bag.connectionMtls) {
    const peer = getPropertyBytes(P_PEER_SAN);
    const mine = getPropertyBytes(P_LOCAL_SAN);
    // Istio prints the SAN as it is (`spiffe://cluster.local/ns/<ns>/sa/<sa>`).
    bag.peer().principal = text(peer);
    bag.local().principal = text(mine);
  }
  const proto = getPropertyBytes(P_PROTOCOL);
  if (proto.ok && proto.value.byteLength > 0) {
    bag.requestProtocol = proto.text();
    bag.sniffedProtocol = bag.requestProtocol;
  }
}

/**
 * The peer's labels from metadata exchange: `downstream_peer_obj` when this proxy is the
 * destination, `upstream_peer_obj` when it is the source. Returns true once the peer was found
 * (its workload field read), so the caller stops asking.
 */
export function readPeer(bag: AttributeBag): bool {
  const base = bag.reporter == Reporter.Destination ? 0 : PEER_FIELDS.length;
  const w = bag.peer();
  const first = getPropertyBytes(P_PEER[base]);
  if (!first.ok) return false;
  setPeerField(w, 0, first.text());
  for (let i = 1; i < PEER_FIELDS.length; i++) {
    const r = getPropertyBytes(P_PEER[base + i]);
    if (r.ok) setPeerField(w, i, r.text());
  }
  return true;
}

/** Whether this Envoy is an Istio proxy (node metadata ISTIO_VERSION set), whose istio.stats reports HTTP. */
export function isIstioProxy(): bool {
  const r = getPropertyBytes(P_ISTIO_VERSION);
  return r.ok && r.value.byteLength > 0;
}

/** The downstream connection's id (`connection_id`, uint64); 0 when unreadable. */
export function readConnectionId(): u64 {
  const r = getPropertyBytes(P_CONNECTION_ID);
  return r.ok && r.value.byteLength == 8 ? load<u64>(changetype<usize>(r.value)) : 0;
}

/** `source.address` into the bag (read once per connection, only when a rule or handler needs it). */
export function readSourceAddress(bag: AttributeBag): void {
  const r = getPropertyBytes(P_SOURCE_ADDRESS);
  if (r.ok) bag.sourceAddress = r.text();
}

// ---- The same reads as CEL expressions ------------------------------------------------------
// Envoy evaluates a CEL expression against the stream's Context, whose activation answers the
// names proxy_get_property answers (envoy source/extensions/common/wasm/context.h
// Context::FindValue → findValue), and returns a map literal as proxy-wasm pairs
// (context.cc serializeValue). So one expr_evaluate (runtime/expr.ts) replaces several property
// reads. A missing value is a CEL error that fails the whole evaluation (foreign.cc: InternalFailure),
// so whatever may be absent is guarded: `has()` and `in` ask the wrapper's operator[] (cel-cpp
// CelMap::Has), which answers absent for a header not present (HeadersWrapper), a field an
// attribute wrapper has no value for, and a filter-state key not set
// (source/extensions/filters/common/expr/context.{h,cc}).

/**
 * Per request, in on_log: `request.duration` (a CEL duration: int64 ns; set before on_log, see
 * duration.ts, so unguarded: were it absent the evaluation fails and the caller reads
 * properties, which answer 0 then), `response.flags`
 * (int64, ResponseWrapper: legacyResponseFlags, present on every stream) and `connection_id`
 * (uint64, findValue). Keys are one character: the pairs are matched by key (CEL maps keep no
 * literal order).
 */
export const EXPR_REQUEST = "{'d': request.duration, 'f': response.flags, 'c': connection_id}";

/**
 * Per connection, on its first request: what readConnection and readSourceAddress read.
 * `filter_state['wasm.protomesh.protocol']` is the CelState the sniffer set (FilterStateWrapper::
 * operator[] answers a CelState's exprValue, as findValue's `wasm.` fallback does for
 * `protomesh.protocol`); the stream's filter state sees the connection's as its parent.
 */
export const EXPR_CONNECTION =
  "{'r': has(xds.listener_direction) ? xds.listener_direction : 0," +
  " 'm': connection.mtls," +
  " 'p': connection.mtls && has(connection.uri_san_peer_certificate) ? connection.uri_san_peer_certificate : ''," +
  " 'l': connection.mtls && has(connection.uri_san_local_certificate) ? connection.uri_san_local_certificate : ''," +
  " 'x': 'wasm.protomesh.protocol' in filter_state ? filter_state['wasm.protomesh.protocol'] : ''," +
  " 'a': has(source.address) ? source.address : ''}";

/** The per-request values of EXPR_REQUEST; `ok` false when the evaluation or its decoding failed. */
export class RequestReads {
  ok: bool = false;
  durationNs: i64 = 0;
  flags: u64 = 0;
  connectionId: u64 = 0;
}

/** Reused by every evaluation of this VM (one at a time): no entry table per request. Made on first use. */
let exprMap: ExprMap | null = null;

function exprValues(): ExprMap {
  let m = exprMap;
  if (m === null) {
    m = new ExprMap();
    exprMap = m;
  }
  return m;
}

/** Evaluates EXPR_REQUEST into `out`; false (nothing written) when it failed, so the caller reads properties. */
export function readRequestByExpr(e: Expression, out: RequestReads): bool {
  out.ok = false;
  const r = e.evaluate();
  if (!r.ok) return false;
  const m = exprValues().read(r.value);
  if (m.error.length > 0 || !m.has("d") || !m.has("f") || !m.has("c")) return false;
  out.durationNs = m.int64("d", 0);
  out.flags = m.uint64("f", 0);
  out.connectionId = m.uint64("c", 0);
  out.ok = true;
  return true;
}

/**
 * readConnection (and readSourceAddress when `address`) from one EXPR_CONNECTION evaluation;
 * false when it failed (nothing written), so the caller reads properties.
 */
export function readConnectionByExpr(e: Expression, bag: AttributeBag, local: Workload, address: bool): bool {
  const r = e.evaluate();
  if (!r.ok) return false;
  const m = exprValues().read(r.value);
  if (m.error.length > 0 || m.count != 6) return false;
  bag.reporter = m.int64("r", 0) == 2 ? Reporter.Source : Reporter.Destination;
  bag.local().copyFrom(local);
  bag.connectionMtls = m.bool("m", false);
  if (bag.connectionMtls) {
    bag.peer().principal = m.string("p", "");
    bag.local().principal = m.string("l", "");
  }
  if (m.size("x") > 0) bag.requestProtocol = m.string("x", "");
  if (address && m.size("a") > 0) bag.sourceAddress = m.string("a", "");
  return true;
}

/**
 * The peer's metadata-exchange fields in one evaluation: `filter_state.<obj>.<field>` walks
 * istio/proxy's WorkloadMetadataObject by field (FilterStateWrapper answers an object with field
 * support as a FilterStateObjectWrapper, whose operator[] is getField: absent for a field not set),
 * exactly as readPeer's property paths do. `k`: whether the object and its workload field are
 * there (readPeer's "found"); `0`..`6`: the PEER_FIELDS values, "" when absent (the value an
 * unread field has: readPeer writes nothing then). Built at configure time, not in the start
 * function.
 */
export function peerExpression(reporter: Reporter): string {
  const o = "filter_state." + (reporter == Reporter.Destination ? "downstream_peer_obj" : "upstream_peer_obj");
  let s = "{'k': has(" + o + ") && has(" + o + "." + PEER_FIELDS[0] + ")";
  for (let i = 0; i < PEER_FIELDS.length; i++) {
    const f = o + "." + PEER_FIELDS[i];
    s += ", '" + i.toString() + "': has(" + o + ") && has(" + f + ") ? " + f + " : ''";
  }
  return s + "}";
}

/**
 * readPeer by one evaluation of peerExpression(bag.reporter): 1 found (fields written), 0 not
 * found (nothing written), -1 the evaluation failed (nothing written: the caller reads properties).
 */
export function readPeerByExpr(e: Expression, bag: AttributeBag): i32 {
  const r = e.evaluate();
  if (!r.ok) return -1;
  const m = exprValues().read(r.value);
  if (m.error.length > 0 || m.count != PEER_FIELDS.length + 1) return -1;
  if (!m.bool("k", false)) return 0;
  const w = bag.peer();
  for (let i = 0; i < PEER_FIELDS.length; i++) setPeerField(w, i, m.string(i.toString(), ""));
  return 1;
}
