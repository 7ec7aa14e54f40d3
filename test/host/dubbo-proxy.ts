/**
 * Envoy's `envoy.filters.network.dubbo_proxy` as a terminal network filter of the emulator, loaded
 * from the JSON of a rendered `DubboProxy` (controller/dubbo/filter.ts). The subset protomesh
 * renders: `multiple_route_config` with interface / group / version per RouteConfiguration, method
 * and header (attachment) matches per route, `cluster` or `weighted_clusters`; Dubbo + Hessian2.
 *
 * Copied from envoyproxy/envoy source/extensions/filters/network/dubbo_proxy/:
 * - conn_manager.cc `ConnectionManager::onData`: downstream bytes are moved into the manager's own
 *   buffer (StopIteration, nothing reaches a later filter); `dispatch` decodes messages until it
 *   underflows or a request waits for an upstream connection (`stopped_`, resumed by
 *   `continueDecoding`); a decode error (EnvoyException) closes the connection NoFlush and counts
 *   `request_decoding_error`. end_stream resets every active message and closes FlushWrite.
 * - dubbo_protocol_impl.cc `DubboProtocolImpl::decodeHeader`: magic 0xdabb ("invalid dubbo
 *   message magic number"), body size at most 16 MiB ("invalid dubbo message size"), serialization
 *   Hessian2 ("invalid dubbo message serialization type").
 * - conn_manager.cc `onHeartbeat`: a heartbeat request (request + event flags) is answered here,
 *   never forwarded: same request id, flag = serialization id ^ event bit, status 20 (Ok), a
 *   one-byte Hessian2 null body (dubbo_protocol_impl.cc `encode`, HeartbeatResponse);
 *   `request_event` counted.
 * - router/route_matcher.cc: MultiRouteMatcher tries each RouteConfiguration in order; one
 *   matches when InterfaceMatcher (exact, `*`, `*suffix`, `prefix*`, the wildcard never matching
 *   an empty remainder), version (the body's service version) and group (attachment `group`) hold
 *   (empty = any); then its routes in order: headers over the attachments (lower-cased keys,
 *   message_impl.cc Attachment), a non-empty method name matching `method.name`. Weighted
 *   clusters pick by the message's random value (active_message.cc: stream id from the random
 *   generator).
 * - router/router_impl.cc `Router::onMessageDecoded`: no route → ServiceNotFound (60) "dubbo
 *   router: no route for interface '<interface>'"; unknown cluster → ServerError (80) "dubbo
 *   router: unknown cluster '<name>'"; no host → ServerError "dubbo router: no healthy upstream
 *   for '<name>'"; the request's original bytes go upstream unchanged.
 * - app_exception.cc + dubbo_protocol_impl.cc `encode` (Response): a local reply is a response
 *   frame with the request's id, flag = serialization id, the status, and a Hessian2 body of
 *   int 0 (RESPONSE_WITH_EXCEPTION) + the message string; `local_response_business_exception`.
 * - router_impl.cc `UpstreamRequest`: each request takes a connection from the cluster's TCP pool
 *   for itself (conn-pool.ts) and returns it when its response is complete, so requests
 *   multiplexed by id on one downstream connection run on separate upstream connections and each
 *   response reaches the client as the provider wrote it (same request id). Upstream close before
 *   the response → ServerError "dubbo upstream request: remote connection failure '<host:port>'";
 *   connect failure likewise (onPoolFailure → onResetStream).
 * - oneway requests (no two-way flag): nothing is awaited; active_message.cc `finalizeRequest`
 *   deletes the message at once and Router::onDestroy resets its upstream request, so the
 *   connection is closed after the bytes are written, never reused; a oneway request whose
 *   upstream fails gets no reply (onResetStream → resetStream).
 */
import { DecoderV2, EncoderV2 } from "hessian.js";
import type { ConnectFailure } from "./cluster.js";
import { PooledConnectionManager, PooledProxy, PooledRequest, type PooledConnection, type PooledProxyOptions } from "./conn-pool.js";
import type { ActiveReadFilter } from "./filter-manager.js";
import { clusterPicker, headerMatchers, stringMatcher, type HeaderLookup, type StringMatch } from "./rpc-route-match.js";
import type { Address, DataBuffer, DataPlaneHost, FilterStatus, NetworkFilter } from "./types.js";

const HEADER = 16;
const MAGIC = 0xdabb;
const FLAG_REQUEST = 0x80;
const FLAG_TWOWAY = 0x40;
const FLAG_EVENT = 0x20;
const SERIALIZATION_MASK = 0x1f;
const HESSIAN2 = 2;
/** dubbo_protocol_impl.cc MaxBodySize. */
export const DUBBO_MAX_BODY = 16 * 1024 * 1024;

/** message.h ResponseStatus. */
export const DubboStatus = { Ok: 20, ServiceNotFound: 60, ServerError: 80 } as const;

export interface DubboInvocation {
  readonly requestId: bigint;
  readonly serialization: number;
  readonly twoWay: boolean;
  readonly service: string;
  readonly version: string;
  readonly method: string;
  /** Attachments with lower-cased keys (Envoy's header map). */
  readonly attachments: ReadonlyMap<string, string>;
  /** Attachment `group`, looked up by its exact key (message_impl.cc assignAttachmentIfNeed). */
  readonly group: string | undefined;
}

interface RouteEntry {
  readonly headers: (h: HeaderLookup) => boolean;
  readonly method: StringMatch;
  readonly pick: (random: number) => string;
}

interface RouteConfig {
  readonly iface: (name: string) => boolean;
  readonly group: string;
  readonly version: string;
  readonly routes: readonly RouteEntry[];
}

/** route_matcher.cc InterfaceMatcher. */
export function interfaceMatcher(pattern: string): (name: string) => boolean {
  if (pattern === "*") return (s) => s.length > 0;
  if (pattern.startsWith("*")) {
    const suffix = pattern.slice(1);
    return (s) => s.length > suffix.length && s.endsWith(suffix);
  }
  if (pattern.endsWith("*")) {
    const prefix = pattern.slice(0, -1);
    return (s) => s.length > prefix.length && s.startsWith(prefix);
  }
  return (s) => s === pattern;
}

function obj(v: unknown, where: string): Record<string, unknown> {
  if (v === null || typeof v !== "object" || Array.isArray(v)) throw new Error(`dubbo_proxy ${where}: expected an object`);
  return v as Record<string, unknown>;
}

function parseRoutes(typedConfig: unknown): RouteConfig[] {
  const c = obj(typedConfig, "typed_config");
  for (const k of Object.keys(c)) {
    if (!["@type", "stat_prefix", "multiple_route_config", "protocol_type", "serialization_type"].includes(k)) {
      throw new Error(`dubbo_proxy typed_config.${k}: not emulated (the emulator runs what protomesh renders)`);
    }
  }
  const multiple = obj(c.multiple_route_config, "multiple_route_config");
  const list = multiple.route_config;
  if (!Array.isArray(list)) throw new Error("dubbo_proxy multiple_route_config.route_config: expected a list");
  return list.map((raw, i) => {
    const at = `multiple_route_config.route_config[${i}]`;
    const rc = obj(raw, at);
    const routes = Array.isArray(rc.routes) ? rc.routes : [];
    return {
      iface: interfaceMatcher(String(rc.interface ?? "")),
      group: String(rc.group ?? ""),
      version: String(rc.version ?? ""),
      routes: routes.map((r, j) => {
        const rat = `${at}.routes[${j}]`;
        const route = obj(r, rat);
        const match = obj(route.match ?? {}, `${rat}.match`);
        if (match.method !== undefined && obj(match.method, `${rat}.match.method`).params_match !== undefined) {
          throw new Error(`dubbo_proxy ${rat}.match.method.params_match: not emulated`);
        }
        const name = match.method === undefined ? undefined : obj(match.method, `${rat}.match.method`).name;
        return {
          headers: headerMatchers(match.headers, `dubbo_proxy ${rat}.match.headers`),
          // A route without method.name: Envoy's default StringMatcher matches nothing useful; we render one always.
          method: name === undefined ? () => false : stringMatcher(name, `dubbo_proxy ${rat}.match.method.name`),
          pick: clusterPicker(route.route, `dubbo_proxy ${rat}.route`),
        };
      }),
    };
  });
}

/** The per-message random value (weighted clusters). @default Math.random-based */
export type DubboProxyOptions = PooledProxyOptions;

/** One configured dubbo_proxy: routes, stats `dubbo.<stat_prefix>.*` and connection pools. */
export class DubboProxy extends PooledProxy {
  private readonly routes: RouteConfig[];

  constructor(typedConfig: unknown, host: DataPlaneHost, opts: DubboProxyOptions = {}) {
    const routes = parseRoutes(typedConfig);
    super("dubbo", String(obj(typedConfig, "typed_config").stat_prefix ?? ""), host, opts);
    this.routes = routes;
  }

  readonly terminal = (cb: ActiveReadFilter): NetworkFilter => new DubboConnectionManager(this, cb);

  /** route_matcher.cc MultiRouteMatcher::route → the cluster, or undefined for no route. */
  route(inv: DubboInvocation, random: number): string | undefined {
    const headers: HeaderLookup = (name) => inv.attachments.get(name);
    for (const rc of this.routes) {
      if (!rc.iface(inv.service)) continue;
      if (rc.version !== "" && inv.version !== rc.version) continue;
      if (rc.group !== "" && inv.group !== rc.group) continue;
      for (const r of rc.routes) {
        if (!r.headers(headers)) continue;
        if (inv.method === "" || !r.method(inv.method)) continue;
        return r.pick(random);
      }
    }
    return undefined;
  }
}

/** One Java descriptor entry per argument ("Ljava/lang/String;I[J" = 3). */
function descriptorArgs(desc: string): number {
  let n = 0;
  for (let i = 0; i < desc.length; i++) {
    while (desc[i] === "[") i++;
    if (desc[i] === "L") {
      const end = desc.indexOf(";", i);
      if (end < 0) throw new Error(`bad parameter descriptor ${JSON.stringify(desc)}`);
      i = end;
    }
    n++;
  }
  return n;
}

/** hessian2_serializer_impl.cc deserializeRpcRequest: the body of a request. */
function decodeInvocation(requestId: bigint, flag: number, body: Buffer): DubboInvocation {
  const d = new DecoderV2(body);
  d.read(); // dubbo version
  const service = String(d.read());
  const version = String(d.read() ?? "");
  const method = String(d.read());
  const desc = String(d.read() ?? "");
  const args = descriptorArgs(desc);
  for (let i = 0; i < args; i++) d.read();
  const attachments = new Map<string, string>();
  const raw = (d as unknown as { byteBuffer: { position(): number } }).byteBuffer.position() < body.length ? d.read() : undefined;
  if (raw !== null && typeof raw === "object") {
    for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
      // message_impl.cc Attachment: string pairs only, keys lower-cased in the header map.
      if (typeof v === "string") attachments.set(k.toLowerCase(), v);
    }
  }
  const g = raw !== null && typeof raw === "object" ? (raw as Record<string, unknown>).group : undefined;
  const group = typeof g === "string" ? g : undefined;
  return { requestId, serialization: flag & SERIALIZATION_MASK, twoWay: (flag & FLAG_TWOWAY) !== 0, service, version, method, attachments, group };
}

function frame(flag: number, status: number, id: bigint, body: Buffer): Buffer {
  const h = Buffer.alloc(HEADER);
  h.writeUInt16BE(MAGIC, 0);
  h[2] = flag;
  h[3] = status;
  h.writeBigUInt64BE(BigInt.asUintN(64, id), 4);
  h.writeUInt32BE(body.length, 12);
  return Buffer.concat([h, body]);
}

/** dubbo_protocol_impl.cc encode, HeartbeatResponse. */
export function heartbeatResponse(id: bigint, serialization: number): Buffer {
  return frame(serialization ^ FLAG_EVENT, DubboStatus.Ok, id, Buffer.from("N"));
}

/** app_exception.cc AppException::encode: status + Hessian2 int 0 (RESPONSE_WITH_EXCEPTION) + message. */
export function appException(id: bigint, serialization: number, status: number, message: string): Buffer {
  const body = new EncoderV2().write(0).write(message).get();
  return frame(serialization, status, id, body);
}

class DubboConnectionManager extends PooledConnectionManager<UpstreamRequest> {
  private halfClosed = false;

  constructor(
    readonly proxy: DubboProxy,
    cb: ActiveReadFilter,
  ) {
    super(cb);
  }

  onData(data: DataBuffer, endStream: boolean): FilterStatus {
    this.take(data);
    if (endStream) {
      this.halfClosed = true;
      const waitingOneway = this.stopped && [...this.active].some((r) => !r.inv.twoWay);
      if (!waitingOneway) {
        this.resetAll();
        this.cb.manager.close("FlushWrite");
      }
    }
    return "StopIteration";
  }

  continueDecoding(): void {
    this.stopped = false;
    this.dispatch();
    if (!this.stopped && this.halfClosed && this.open) {
      this.resetAll();
      this.cb.manager.close("FlushWrite");
    }
  }

  private decodeError(message: string): void {
    this.proxy.inc("request_decoding_error");
    this.proxy.stats.inc(`dubbo_error ${message}`);
    this.cb.manager.close("NoFlush");
    this.resetAll();
  }

  protected dispatch(): void {
    while (!this.stopped && this.open && this.buffer.length >= HEADER) {
      const b = this.buffer;
      const magic = b.readUInt16BE(0);
      if (magic !== MAGIC) return this.decodeError(`invalid dubbo message magic number ${magic}`);
      const flag = b[2]!;
      // Hessian2 is the only serialization Envoy registers (dubbo_proxy.proto SerializationType).
      if ((flag & SERIALIZATION_MASK) !== HESSIAN2) return this.decodeError(`invalid dubbo message serialization type ${flag & SERIALIZATION_MASK}`);
      const size = b.readInt32BE(12);
      if (size < 0 || size > DUBBO_MAX_BODY) return this.decodeError(`invalid dubbo message size ${size}`);
      if (b.length < HEADER + size) return;
      const id = b.readBigInt64BE(4);
      const body = b.subarray(HEADER, HEADER + size);
      const bytes = b.subarray(0, HEADER + size);
      this.buffer = b.subarray(HEADER + size);
      if ((flag & FLAG_REQUEST) === 0) return this.decodeError("downstream sent a response frame");
      if ((flag & FLAG_EVENT) !== 0) {
        this.proxy.inc("request_event");
        this.write(heartbeatResponse(id, flag & SERIALIZATION_MASK));
        continue;
      }
      let inv: DubboInvocation;
      try {
        inv = decodeInvocation(id, flag, Buffer.from(body));
      } catch (err) {
        return this.decodeError(`hessian2: ${(err as Error).message}`);
      }
      this.onRequest(inv, Buffer.from(bytes));
    }
  }

  private localReply(inv: DubboInvocation, status: number, message: string): void {
    this.proxy.inc("local_response_business_exception");
    this.write(appException(inv.requestId, inv.serialization, status, message));
  }

  /** router_impl.cc Router::onMessageDecoded. */
  private onRequest(inv: DubboInvocation, bytes: Buffer): void {
    this.proxy.inc("request");
    this.proxy.inc(inv.twoWay ? "request_twoway" : "request_oneway");
    const cluster = this.proxy.route(inv, this.proxy.random());
    if (cluster === undefined) {
      return this.localReply(inv, DubboStatus.ServiceNotFound, `dubbo router: no route for interface '${inv.service}'`);
    }
    const config = this.proxy.host.clusters.get(cluster);
    if (config === undefined) return this.localReply(inv, DubboStatus.ServerError, `dubbo router: unknown cluster '${cluster}'`);
    if (config.endpoints.length === 0) return this.localReply(inv, DubboStatus.ServerError, `dubbo router: no healthy upstream for '${cluster}'`);
    if (new UpstreamRequest(this, inv, bytes, cluster).start(this.active, config)) this.stopped = true;
  }

  /** router_impl.cc UpstreamRequest::onResetStream. */
  upstreamFailed(inv: DubboInvocation, what: string): void {
    if (!inv.twoWay) return;
    this.proxy.inc("local_response_business_exception");
    this.write(appException(inv.requestId, inv.serialization, DubboStatus.ServerError, what));
  }
}

class UpstreamRequest extends PooledRequest {
  constructor(
    private readonly parent: DubboConnectionManager,
    readonly inv: DubboInvocation,
    private readonly bytes: Buffer,
    cluster: string,
  ) {
    super(parent.proxy, cluster);
  }

  onPoolReady(conn: PooledConnection): void {
    const wasWaiting = this.waiting;
    this.waiting = false;
    if (!this.parent.open) {
      this.pool.release(conn);
      return;
    }
    this.conn = conn;
    conn.socket.write(this.bytes);
    if (!this.inv.twoWay) {
      // finalizeRequest deletes a oneway message at once; Router::onDestroy resets the upstream request.
      this.conn = undefined;
      conn.onData = undefined;
      conn.socket.end();
      this.parent.done(this);
    } else {
      conn.onData = (chunk) => this.onUpstreamData(chunk);
      conn.onClose = () => this.onUpstreamClosed();
    }
    if (wasWaiting && this.parent.open) queueMicrotask(() => this.parent.continueDecoding());
  }

  onPoolFailure(reason: ConnectFailure, host: Address | undefined): void {
    this.waiting = false;
    this.parent.done(this);
    // The messages name the upstream host (upstream_host_->address()->asString()).
    const detail = host === undefined ? "" : `${host.host}:${host.port}`;
    const what = reason === "Timeout"
      ? `dubbo upstream request: connection failure '${detail}' due to timeout`
      : `dubbo upstream request: ${reason === "LocalConnectionFailure" ? "local" : "remote"} connection failure '${detail}'`;
    this.parent.upstreamFailed(this.inv, what);
    queueMicrotask(() => this.parent.continueDecoding());
  }

  private onUpstreamData(chunk: Buffer): void {
    this.response = Buffer.concat([this.response, chunk]);
    if (this.response.length < HEADER) return;
    const size = this.response.readInt32BE(12);
    if (this.response.length < HEADER + size) return;
    const conn = this.conn!;
    this.conn = undefined;
    this.parent.write(this.response.subarray(0, HEADER + size));
    this.parent.proxy.inc("response");
    this.parent.done(this);
    this.pool.release(conn);
  }

  private onUpstreamClosed(): void {
    const conn = this.conn;
    if (conn === undefined) return;
    this.conn = undefined;
    this.parent.done(this);
    this.parent.upstreamFailed(this.inv, `dubbo upstream request: remote connection failure '${conn.address.host}:${conn.address.port}'`);
  }

  // Router::onDestroy → UpstreamRequest::resetStream: PooledRequest.reset (close NoFlush).
}
