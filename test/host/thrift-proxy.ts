/**
 * Envoy's `envoy.filters.network.thrift_proxy` as a terminal network filter of the emulator, loaded
 * from the JSON of a rendered `ThriftProxy` (controller/thrift/filter.ts): transport FRAMED,
 * UNFRAMED or HEADER and protocol BINARY, LAX_BINARY or COMPACT as configured (no AUTO detection),
 * `route_config` routes by `method_name` | `service_name` + `headers` (+ `invert`), actions
 * `cluster` | `weighted_clusters`; the default router.
 *
 * Copied from envoyproxy/envoy source/extensions/filters/network/thrift_proxy/:
 * - conn_manager.cc `ConnectionManager::onData` / `dispatch`: downstream bytes are the manager's
 *   (StopIteration); messages are decoded one after another; a request waiting for an upstream
 *   connection stops decoding until `continueDecoding`; a transport/protocol error closes the
 *   connection (FlushWrite), resets the calls in flight and counts `request_decoding_error`
 *   (Envoy answers the first call in flight with the error instead when there is one; not
 *   emulated).
 * - framed_transport_impl.cc `decodeFrameStart`: frame size in (0, 16,384,000] ("invalid thrift
 *   framed transport frame size"); header_transport_impl.cc: THeader frames (magic 0x0fff, varint
 *   protocol id 0 binary / 2 compact, no transforms, info key/value headers → the request's header
 *   map, keys lower-cased); binary_protocol_impl.cc: BINARY needs the version word, LAX_BINARY has
 *   none; compact_protocol_impl.cc.
 * - router/router_impl.cc RouteMatcher: routes in order; `method_name` equal to the message name
 *   ("" = any), `service_name` a prefix of it ending in ":" (added when missing), headers over the
 *   header map, the result XOR `invert`; weighted clusters by `random % total`.
 * - router_impl.cc `Router::messageBegin`: no route → TApplicationException UnknownMethod (1) "no
 *   route for method '<name>'"; prepareUpstreamRequest: unknown cluster → InternalError (6)
 *   "unknown cluster '<name>'", no host → InternalError "no healthy upstream for '<name>'". These
 *   local replies close the downstream connection after being written: the router's
 *   `close_downstream_on_upstream_error` defaults to true (router/config.cc).
 * - app_exception_impl.cc `AppException::encode`: an EXCEPTION message named like the call, with
 *   the call's seqid, struct TApplicationException { 1: string message, 2: i32 type }.
 * - upstream_request.cc: each request holds a pooled connection (conn-pool.ts);
 *   `onRequestStart` rewrites the seqid to the connection's next sequence id
 *   (thrift_connection_state.h `nextSequenceId`: 0, 1, …, wrapping after INT32_MAX) and
 *   conn_manager.cc ResponseDecoder::messageBegin puts the caller's seqid back on the reply;
 *   `onResetStream` before any response byte → InternalError "connection failure: remote connection
 *   failure '<host:port>'". Oneway calls: router_impl.cc `transportEnd` completes the request at
 *   once (no reply awaited) and the connection goes back to the pool.
 */
import * as thrift from "thrift";
import type { ConnectFailure } from "./cluster.js";
import { PooledConnectionManager, PooledProxy, PooledRequest, type PooledConnection, type PooledProxyOptions } from "./conn-pool.js";
import type { ActiveReadFilter } from "./filter-manager.js";
import { clusterPicker, headerMatchers, type HeaderLookup } from "./rpc-route-match.js";
import type { Address, DataBuffer, DataPlaneHost, FilterStatus, NetworkFilter } from "./types.js";

export type ThriftTransport = "FRAMED" | "UNFRAMED" | "HEADER";
export type ThriftProtocol = "BINARY" | "LAX_BINARY" | "COMPACT";

/** framed_transport_impl.h MaxFrameSize. */
export const THRIFT_MAX_FRAME = 0xfa0000;
/** app_exception_impl.h AppExceptionType. */
export const AppExceptionType = { UnknownMethod: 1, InternalError: 6, ProtocolError: 7 } as const;
export const MessageType = { Call: 1, Reply: 2, Exception: 3, Oneway: 4 } as const;

const HEADER_MAGIC = 0x0fff;
const HEADER_PROTOCOL = { BINARY: 0, COMPACT: 2 } as const;

class Underflow extends Error {}

/** The message begin of one message and where its payload starts. */
export interface MessageBegin {
  readonly name: string;
  readonly type: number;
  readonly seqid: number;
  /** Offset of the payload struct in the message bytes. */
  readonly payloadOffset: number;
}

function varint(buf: Buffer, at: number): [number, number] {
  let v = 0;
  let shift = 0;
  for (let i = at; i < buf.length && i < at + 5; i++) {
    const b = buf[i]!;
    v |= (b & 0x7f) << shift;
    if ((b & 0x80) === 0) return [v >>> 0, i + 1];
    shift += 7;
  }
  if (buf.length < at + 5) throw new Underflow();
  throw new Error("invalid varint");
}

function writeVarint(v: number): Buffer {
  const out: number[] = [];
  let x = v >>> 0;
  while (x >= 0x80) {
    out.push((x & 0x7f) | 0x80);
    x >>>= 7;
  }
  out.push(x);
  return Buffer.from(out);
}

function need(buf: Buffer, n: number): void {
  if (buf.length < n) throw new Underflow();
}

/** binary_protocol_impl.cc / compact_protocol_impl.cc readMessageBegin. */
export function readMessageBegin(protocol: ThriftProtocol, buf: Buffer): MessageBegin {
  if (protocol === "COMPACT") {
    need(buf, 2);
    if (buf[0] !== 0x82) throw new Error(`invalid compact protocol id ${buf[0]}`);
    if ((buf[1]! & 0x1f) !== 1) throw new Error(`invalid compact protocol version ${buf[1]! & 0x1f}`);
    const type = buf[1]! >> 5;
    const [zz, a] = varint(buf, 2);
    const [len, b] = varint(buf, a);
    need(buf, b + len);
    // The compact seqid is a zigzag-free varint32 in Apache's encoding (TCompactProtocol writeVarint32).
    return { name: buf.toString("utf8", b, b + len), type, seqid: zz | 0, payloadOffset: b + len };
  }
  need(buf, 4);
  const first = buf.readInt32BE(0);
  if (protocol === "BINARY") {
    if (first >= 0 || (first & 0xffff0000) !== (0x80010000 | 0)) {
      throw new Error(`invalid binary protocol version 0x${(first >>> 0).toString(16).padStart(8, "0")} != 0x8001xxxx`);
    }
    need(buf, 8);
    const len = buf.readInt32BE(4);
    need(buf, 8 + len + 4);
    return { name: buf.toString("utf8", 8, 8 + len), type: first & 0xff, seqid: buf.readInt32BE(8 + len), payloadOffset: 12 + len };
  }
  if (first < 0) throw new Error("invalid lax binary protocol: a version word where a name length belongs");
  need(buf, 4 + first + 5);
  return { name: buf.toString("utf8", 4, 4 + first), type: buf[4 + first]!, seqid: buf.readInt32BE(5 + first), payloadOffset: 9 + first };
}

export function writeMessageBegin(protocol: ThriftProtocol, name: string, type: number, seqid: number): Buffer {
  const n = Buffer.from(name, "utf8");
  if (protocol === "COMPACT") {
    return Buffer.concat([Buffer.from([0x82, (type << 5) | 1]), writeVarint(seqid >>> 0), writeVarint(n.length), n]);
  }
  if (protocol === "BINARY") {
    const h = Buffer.alloc(8);
    h.writeInt32BE((0x80010000 | type) | 0, 0);
    h.writeInt32BE(n.length, 4);
    const s = Buffer.alloc(4);
    s.writeInt32BE(seqid | 0, 0);
    return Buffer.concat([h, n, s]);
  }
  const h = Buffer.alloc(4);
  h.writeInt32BE(n.length, 0);
  const t = Buffer.alloc(5);
  t[0] = type;
  t.writeInt32BE(seqid | 0, 1);
  return Buffer.concat([h, n, t]);
}

type LibTransport = { inBuf: Buffer; readCursor: number; writeCursor: number };
const lib = thrift as unknown as {
  TBufferedTransport: new () => LibTransport;
  TBinaryProtocol: new (t: LibTransport) => { skip(type: number): void };
  TCompactProtocol: new (t: LibTransport) => { skip(type: number): void };
  InputBufferUnderrunError: new () => Error;
};

/** The end of one unframed message, skipping its payload struct with the Apache thrift protocol classes. */
function unframedMessageEnd(protocol: ThriftProtocol, buf: Buffer, begin: MessageBegin): number {
  const t = new lib.TBufferedTransport();
  t.inBuf = buf;
  t.readCursor = begin.payloadOffset;
  t.writeCursor = buf.length;
  const p = protocol === "COMPACT" ? new lib.TCompactProtocol(t) : new lib.TBinaryProtocol(t);
  try {
    p.skip(12 /* STRUCT */);
  } catch (err) {
    if ((err as Error).name === "InputBufferUnderrunError" || err instanceof lib.InputBufferUnderrunError) throw new Underflow();
    throw err;
  }
  return t.readCursor;
}

/** One request or reply taken off a byte stream. */
export interface ThriftFrame {
  readonly begin: MessageBegin;
  /** The message bytes (message begin + payload), without transport framing. */
  readonly message: Buffer;
  readonly protocol: ThriftProtocol;
  /** THeader info headers, keys lower-cased (HEADER transport only). */
  readonly headers: ReadonlyMap<string, string>;
  /** Bytes consumed from the stream. */
  readonly consumed: number;
}

/** The next message of `buf`, undefined when more bytes are needed; throws on a protocol error. */
export function takeFrame(transport: ThriftTransport, protocol: ThriftProtocol, buf: Buffer): ThriftFrame | undefined {
  try {
    if (transport === "UNFRAMED") {
      const begin = readMessageBegin(protocol, buf);
      const end = unframedMessageEnd(protocol, buf, begin);
      return { begin, message: buf.subarray(0, end), protocol, headers: new Map(), consumed: end };
    }
    need(buf, 4);
    const size = buf.readInt32BE(0);
    if (transport === "FRAMED") {
      if (size <= 0 || size > THRIFT_MAX_FRAME) throw new Error(`invalid thrift framed transport frame size ${size}`);
      need(buf, 4 + size);
      const message = buf.subarray(4, 4 + size);
      return { begin: readMessageBegin(protocol, message), message, protocol, headers: new Map(), consumed: 4 + size };
    }
    if (size <= 0 || size > THRIFT_MAX_FRAME) throw new Error(`invalid thrift header transport frame size ${size}`);
    need(buf, 4 + size);
    const frame = buf.subarray(4, 4 + size);
    if (frame.length < 10 || frame.readUInt16BE(0) !== HEADER_MAGIC) throw new Error(`invalid thrift header transport magic ${frame.length >= 2 ? frame.readUInt16BE(0) : -1}`);
    const headerEnd = 10 + frame.readUInt16BE(8) * 4;
    if (headerEnd > frame.length) throw new Error("invalid thrift header transport header size");
    const [protoId, a] = varint(frame, 10);
    const headerProtocol: ThriftProtocol = protoId === HEADER_PROTOCOL.COMPACT ? "COMPACT" : protoId === HEADER_PROTOCOL.BINARY ? "BINARY" : (() => {
      throw new Error(`unknown protocol ${protoId}`);
    })();
    const [transforms, b] = varint(frame, a);
    if (transforms !== 0) throw new Error(`header transport transforms are not supported (${transforms})`);
    const headers = new Map<string, string>();
    let at = b;
    while (at < headerEnd && frame[at] !== 0) {
      const [infoType, c] = varint(frame, at);
      if (infoType !== 1) break;
      const [count, d] = varint(frame, c);
      at = d;
      for (let i = 0; i < count; i++) {
        const [kl, e] = varint(frame, at);
        const key = frame.toString("utf8", e, e + kl);
        const [vl, f] = varint(frame, e + kl);
        headers.set(key.toLowerCase(), frame.toString("utf8", f, f + vl));
        at = f + vl;
      }
    }
    const message = frame.subarray(headerEnd);
    return { begin: readMessageBegin(headerProtocol, message), message, protocol: headerProtocol, headers, consumed: 4 + size };
  } catch (err) {
    if (err instanceof Underflow) return undefined;
    throw err;
  }
}

/** Frames a message for `transport` (THeader: protocol id and info headers). */
export function encodeFrame(transport: ThriftTransport, protocol: ThriftProtocol, message: Buffer, headers: ReadonlyMap<string, string> = new Map()): Buffer {
  if (transport === "UNFRAMED") return message;
  if (transport === "FRAMED") {
    const h = Buffer.alloc(4);
    h.writeInt32BE(message.length, 0);
    return Buffer.concat([h, message]);
  }
  const info: Buffer[] = [writeVarint(protocol === "COMPACT" ? HEADER_PROTOCOL.COMPACT : HEADER_PROTOCOL.BINARY), writeVarint(0)];
  if (headers.size > 0) {
    info.push(writeVarint(1), writeVarint(headers.size));
    for (const [k, v] of headers) {
      const kb = Buffer.from(k, "utf8");
      const vb = Buffer.from(v, "utf8");
      info.push(writeVarint(kb.length), kb, writeVarint(vb.length), vb);
    }
  }
  let header = Buffer.concat(info);
  header = Buffer.concat([header, Buffer.alloc((4 - (header.length % 4)) % 4)]);
  const fixed = Buffer.alloc(14);
  fixed.writeInt32BE(10 + header.length + message.length, 0);
  fixed.writeUInt16BE(HEADER_MAGIC, 4);
  fixed.writeUInt16BE(0, 6);
  fixed.writeInt32BE(0, 8);
  fixed.writeUInt16BE(header.length / 4, 12);
  return Buffer.concat([fixed, header, message]);
}

/** The message with another seqid (the payload bytes unchanged). */
function withSeqid(frame: ThriftFrame, seqid: number): Buffer {
  const b = frame.begin;
  return Buffer.concat([writeMessageBegin(frame.protocol, b.name, b.type, seqid), frame.message.subarray(b.payloadOffset)]);
}

/** app_exception_impl.cc AppException::encode. */
export function appExceptionMessage(protocol: ThriftProtocol, name: string, seqid: number, type: number, message: string): Buffer {
  const text = Buffer.from(message, "utf8");
  let body: Buffer;
  if (protocol === "COMPACT") {
    // field 1 string (delta 1, type 8), field 2 i32 (delta 1, type 5, zigzag), stop.
    const zz = (type << 1) ^ (type >> 31);
    body = Buffer.concat([Buffer.from([0x18]), writeVarint(text.length), text, Buffer.from([0x15]), writeVarint(zz >>> 0), Buffer.from([0])]);
  } else {
    const f1 = Buffer.alloc(7);
    f1[0] = 11;
    f1.writeInt16BE(1, 1);
    f1.writeInt32BE(text.length, 3);
    const f2 = Buffer.alloc(8);
    f2[0] = 8;
    f2.writeInt16BE(2, 1);
    f2.writeInt32BE(type, 3);
    f2[7] = 0;
    body = Buffer.concat([f1, text, f2]);
  }
  return Buffer.concat([writeMessageBegin(protocol, name, MessageType.Exception, seqid), body]);
}

interface Route {
  readonly matches: (name: string, headers: HeaderLookup) => boolean;
  readonly pick: (random: number) => string;
}

function obj(v: unknown, where: string): Record<string, unknown> {
  if (v === null || typeof v !== "object" || Array.isArray(v)) throw new Error(`thrift_proxy ${where}: expected an object`);
  return v as Record<string, unknown>;
}

function parseRoutes(routeConfig: unknown): Route[] {
  const rc = obj(routeConfig, "route_config");
  const routes = Array.isArray(rc.routes) ? rc.routes : [];
  return routes.map((raw, i) => {
    const at = `route_config.routes[${i}]`;
    const r = obj(raw, at);
    const m = obj(r.match, `${at}.match`);
    const headers = headerMatchers(m.headers, `thrift_proxy ${at}.match.headers`);
    const invert = m.invert === true;
    let nameMatch: (name: string) => boolean;
    if (typeof m.method_name === "string") {
      const method = m.method_name;
      nameMatch = (name) => method === "" || name === method;
    } else if (typeof m.service_name === "string") {
      const service = m.service_name === "" || m.service_name.endsWith(":") ? m.service_name : `${m.service_name}:`;
      nameMatch = (name) => service === "" || name.startsWith(service);
    } else {
      throw new Error(`thrift_proxy ${at}.match: needs method_name or service_name`);
    }
    if (obj(r.route, `${at}.route`).cluster_header !== undefined) throw new Error(`thrift_proxy ${at}.route.cluster_header: not emulated`);
    return {
      matches: (name, h) => headers(h) && nameMatch(name) !== invert,
      pick: clusterPicker(r.route, `thrift_proxy ${at}.route`),
    };
  });
}

/** The per-request random value (weighted clusters). @default Math.random-based */
export type ThriftProxyOptions = PooledProxyOptions;

/** One configured thrift_proxy: transport, protocol, routes, stats `thrift.<stat_prefix>.*` and connection pools. */
export class ThriftProxy extends PooledProxy {
  readonly transport: ThriftTransport;
  readonly protocol: ThriftProtocol;
  private readonly routes: Route[];

  constructor(typedConfig: unknown, host: DataPlaneHost, opts: ThriftProxyOptions = {}) {
    const c = obj(typedConfig, "typed_config");
    for (const k of Object.keys(c)) {
      if (!["@type", "stat_prefix", "route_config", "transport", "protocol"].includes(k)) {
        throw new Error(`thrift_proxy typed_config.${k}: not emulated (the emulator runs what protomesh renders)`);
      }
    }
    const transport = String(c.transport ?? "AUTO_TRANSPORT");
    const protocol = String(c.protocol ?? "AUTO_PROTOCOL");
    if (!["FRAMED", "UNFRAMED", "HEADER"].includes(transport)) throw new Error(`thrift_proxy transport ${transport}: not emulated (FRAMED, UNFRAMED, HEADER)`);
    if (!["BINARY", "LAX_BINARY", "COMPACT"].includes(protocol)) throw new Error(`thrift_proxy protocol ${protocol}: not emulated (BINARY, LAX_BINARY, COMPACT)`);
    const statPrefix = String(c.stat_prefix ?? "");
    const routes = parseRoutes(c.route_config);
    super("thrift", statPrefix, host, opts);
    this.transport = transport as ThriftTransport;
    this.protocol = protocol as ThriftProtocol;
    this.routes = routes;
  }

  readonly terminal = (cb: ActiveReadFilter): NetworkFilter => new ThriftConnectionManager(this, cb);

  route(name: string, headers: ReadonlyMap<string, string>, random: number): string | undefined {
    const lookup: HeaderLookup = (n) => headers.get(n);
    for (const r of this.routes) if (r.matches(name, lookup)) return r.pick(random);
    return undefined;
  }
}

class ThriftConnectionManager extends PooledConnectionManager<ThriftUpstreamRequest> {
  constructor(
    readonly proxy: ThriftProxy,
    cb: ActiveReadFilter,
  ) {
    super(cb);
  }

  onData(data: DataBuffer, endStream: boolean): FilterStatus {
    this.take(data);
    if (endStream && this.open) {
      // conn_manager.cc onData: end_stream with nothing pending closes (FlushWrite).
      if (!this.stopped && this.active.size === 0) this.cb.manager.close("FlushWrite");
    }
    return "StopIteration";
  }

  continueDecoding(): void {
    this.stopped = false;
    this.dispatch();
  }

  /** conn_manager.cc sendLocalReply with end_stream (close_downstream_on_upstream_error). */
  localReply(req: ThriftFrame, type: number, message: string, close: boolean): void {
    this.proxy.inc("response_exception");
    if (req.begin.type === MessageType.Oneway) return;
    const msg = appExceptionMessage(req.protocol, req.begin.name, req.begin.seqid, type, message);
    this.write(encodeFrame(this.proxy.transport, req.protocol, msg));
    if (close && this.open) this.cb.manager.close("FlushWrite");
  }

  /** resetDownstreamConnection: close NoFlush. */
  resetDownstream(): void {
    if (this.open) this.cb.manager.close("NoFlush");
  }

  protected dispatch(): void {
    while (!this.stopped && this.open && this.buffer.length > 0) {
      let frame: ThriftFrame | undefined;
      try {
        frame = takeFrame(this.proxy.transport, this.proxy.protocol, this.buffer);
      } catch (err) {
        this.proxy.inc("request_decoding_error");
        this.proxy.stats.inc(`thrift_error ${(err as Error).message}`);
        this.cb.manager.close("FlushWrite");
        this.resetAll();
        return;
      }
      if (frame === undefined) return;
      this.buffer = this.buffer.subarray(frame.consumed);
      this.onRequest(frame);
    }
  }

  /** router_impl.cc Router::messageBegin. */
  private onRequest(frame: ThriftFrame): void {
    this.proxy.inc("request");
    const oneway = frame.begin.type === MessageType.Oneway;
    this.proxy.inc(oneway ? "request_oneway" : "request_call");
    const cluster = this.proxy.route(frame.begin.name, frame.headers, this.proxy.random());
    if (cluster === undefined) {
      this.proxy.inc("route_missing");
      return this.localReply(frame, AppExceptionType.UnknownMethod, `no route for method '${frame.begin.name}'`, true);
    }
    const config = this.proxy.host.clusters.get(cluster);
    if (config === undefined) return this.localReply(frame, AppExceptionType.InternalError, `unknown cluster '${cluster}'`, true);
    if (config.endpoints.length === 0) return this.localReply(frame, AppExceptionType.InternalError, `no healthy upstream for '${cluster}'`, true);
    if (new ThriftUpstreamRequest(this, frame, cluster).start(this.active, config)) this.stopped = true;
  }
}

class ThriftUpstreamRequest extends PooledRequest {
  constructor(
    private readonly parent: ThriftConnectionManager,
    readonly frame: ThriftFrame,
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
    // thrift_connection_state.h nextSequenceId.
    const next = typeof conn.state.nextSeqid === "number" ? conn.state.nextSeqid : 0;
    conn.state.nextSeqid = next === 0x7fffffff ? 0 : next + 1;
    const proxy = this.parent.proxy;
    conn.socket.write(encodeFrame(proxy.transport, this.frame.protocol, withSeqid(this.frame, next), this.frame.headers));
    if (this.frame.begin.type === MessageType.Oneway) {
      this.parent.done(this);
      this.pool.release(conn);
    } else {
      this.conn = conn;
      conn.onData = (chunk) => this.onUpstreamData(chunk);
      conn.onClose = () => this.onUpstreamClosed();
    }
    if (wasWaiting) queueMicrotask(() => this.parent.continueDecoding());
  }

  onPoolFailure(_reason: ConnectFailure, host: Address | undefined): void {
    this.waiting = false;
    this.parent.done(this);
    this.failed(host);
    queueMicrotask(() => this.parent.continueDecoding());
  }

  private failed(host: Address | undefined): void {
    const where = host === undefined ? "to upstream" : `${host.host}:${host.port}`;
    this.parent.localReply(this.frame, AppExceptionType.InternalError, `connection failure: remote connection failure '${where}'`, true);
  }

  private onUpstreamData(chunk: Buffer): void {
    this.response = Buffer.concat([this.response, chunk]);
    const proxy = this.parent.proxy;
    let reply: ThriftFrame | undefined;
    try {
      reply = takeFrame(proxy.transport, this.frame.protocol, this.response);
    } catch {
      // upstream_request.cc handleRegularResponse: a response decoding error resets the request.
      proxy.inc("response_decoding_error");
      this.reset();
      this.parent.done(this);
      return;
    }
    if (reply === undefined) return;
    const conn = this.conn!;
    this.conn = undefined;
    proxy.inc("response");
    proxy.inc(reply.begin.type === MessageType.Exception ? "response_exception" : "response_reply");
    this.parent.write(encodeFrame(proxy.transport, reply.protocol, withSeqid(reply, this.frame.begin.seqid), reply.headers));
    this.parent.done(this);
    this.pool.release(conn);
  }

  private onUpstreamClosed(): void {
    const conn = this.conn;
    if (conn === undefined) return;
    this.conn = undefined;
    this.parent.done(this);
    if (this.response.length > 0) {
      // A partial response: upstream_request.cc resets the downstream connection.
      return this.parent.resetDownstream();
    }
    this.failed(conn.address);
  }

}
