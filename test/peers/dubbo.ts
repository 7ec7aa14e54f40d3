/**
 * A Dubbo provider stub and consumer speaking the Dubbo frame with hessian2 bodies (hessian.js):
 * just enough to answer one `String method(String)` call per request, the way a Java provider
 * would encode it (org.apache.dubbo.rpc.protocol.dubbo.DubboCodec).
 *
 * Frame: magic 0xdabb, flag (0x80 request, 0x40 two-way, 0x20 event, low 5 bits serialization
 * id, hessian2 = 2), status (20 = OK, responses), request id i64, body length i32, body.
 * Request body: dubbo version, service path, service version, method, parameter descriptor,
 * arguments, attachments. Response body: 4 (RESPONSE_VALUE_WITH_ATTACHMENTS) or 1 (RESPONSE_VALUE),
 * the value[, attachments].
 */
import * as net from "node:net";
import { DecoderV2, EncoderV2 } from "hessian.js";
import { listenTracked } from "./listen.js";

export const DUBBO_HEADER = 16;
const MAGIC = 0xdabb;
const FLAG_REQUEST = 0x80;
const FLAG_TWOWAY = 0x40;
const FLAG_EVENT = 0x20;
const SERIALIZATION_MASK = 0x1f;
const HESSIAN2 = 2;
const STATUS_OK = 20;
const RESPONSE_VALUE = 1;
const RESPONSE_VALUE_WITH_ATTACHMENTS = 4;

export interface DubboRequest {
  readonly id: bigint;
  readonly dubboVersion: string;
  readonly service: string;
  readonly version: string;
  readonly method: string;
  readonly descriptor: string;
  readonly args: unknown[];
  readonly attachments: Record<string, unknown>;
}

function frame(flag: number, status: number, id: bigint, body: Buffer): Buffer {
  const h = Buffer.alloc(DUBBO_HEADER);
  h.writeUInt16BE(MAGIC, 0);
  h[2] = flag;
  h[3] = status;
  h.writeBigInt64BE(id, 4);
  h.writeInt32BE(body.length, 12);
  return Buffer.concat([h, body]);
}

/** A two-way hessian2 request for `service.method(String)`. */
export function encodeDubboRequest(id: bigint, service: string, method: string, arg: string): Buffer {
  const e = new EncoderV2();
  e.write("2.0.2").write(service).write("0.0.0").write(method).write("Ljava/lang/String;").write(arg);
  e.write({ path: service, interface: service, version: "0.0.0" });
  return frame(FLAG_REQUEST | FLAG_TWOWAY | HESSIAN2, 0, id, e.get());
}

function encodeDubboResponse(id: bigint, value: string): Buffer {
  const e = new EncoderV2();
  e.write(RESPONSE_VALUE_WITH_ATTACHMENTS).write(value).write({ dubbo: "2.0.2" });
  return frame(HESSIAN2, STATUS_OK, id, e.get());
}

/**
 * The answer to a two-way heartbeat request, as a Java provider sends it: apache/dubbo
 * dubbo-remoting-api/.../exchange/support/header/HeartbeatHandler.java `received` answers with a
 * Response of the same id marked HEARTBEAT_EVENT; ExchangeCodec.java `encodeResponse` writes flag =
 * serialization id | FLAG_EVENT, status OK, and the event's null data (Hessian2 'N').
 */
export function encodeHeartbeatResponse(id: bigint, serialization: number = HESSIAN2): Buffer {
  return frame(serialization | FLAG_EVENT, STATUS_OK, id, Buffer.from("N"));
}

/** Reads `count` hessian values from a body (each value is one `read()`). */
function readValues(body: Buffer, count: number): unknown[] {
  const d = new DecoderV2(body);
  const out: unknown[] = [];
  for (let i = 0; i < count; i++) out.push(d.read());
  return out;
}

function decodeRequest(id: bigint, body: Buffer): DubboRequest {
  // One argument per descriptor entry; the stub only serves single-String methods.
  const [dubboVersion, service, version, method, descriptor, arg, attachments] = readValues(body, 7);
  return {
    id,
    dubboVersion: String(dubboVersion),
    service: String(service),
    version: String(version),
    method: String(method),
    descriptor: String(descriptor),
    args: [arg],
    attachments: (attachments ?? {}) as Record<string, unknown>,
  };
}

/** Splits complete frames off `buf`; a bad magic is an error naming the bytes. */
function takeFrames(buf: Buffer): { frames: Array<{ flag: number; status: number; id: bigint; body: Buffer }>; rest: Buffer } {
  const frames: Array<{ flag: number; status: number; id: bigint; body: Buffer }> = [];
  let off = 0;
  while (buf.length - off >= DUBBO_HEADER) {
    const magic = buf.readUInt16BE(off);
    if (magic !== MAGIC) throw new Error(`dubbo: bad magic 0x${magic.toString(16)} at offset ${off}`);
    const len = buf.readInt32BE(off + 12);
    if (len < 0) throw new Error(`dubbo: invalid body length ${len}`);
    if (buf.length - off < DUBBO_HEADER + len) break;
    frames.push({
      flag: buf[off + 2]!,
      status: buf[off + 3]!,
      id: buf.readBigInt64BE(off + 4),
      body: buf.subarray(off + DUBBO_HEADER, off + DUBBO_HEADER + len),
    });
    off += DUBBO_HEADER + len;
  }
  return { frames, rest: buf.subarray(off) };
}

export interface DubboPeer {
  readonly port: number;
  /** Every request served, in order. */
  readonly requests: DubboRequest[];
  /** Request ids of the heartbeats received (answered when two-way), in order. */
  readonly heartbeats: bigint[];
  close(): Promise<void>;
}

export interface DubboProviderOptions {
  /** Milliseconds to hold a request's answer (answers then leave out of order). @default 0 */
  readonly delayMs?: (req: DubboRequest) => number;
}

/** Answers each two-way request with `<method>:<first argument>`. */
export async function startDubboProvider(opts: DubboProviderOptions = {}): Promise<DubboPeer> {
  const requests: DubboRequest[] = [];
  const heartbeats: bigint[] = [];
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    let pending: Buffer = Buffer.alloc(0);
    s.on("error", () => {});
    s.on("data", (c: Buffer) => {
      try {
        const { frames, rest } = takeFrames(Buffer.concat([pending, c]));
        pending = Buffer.from(rest);
        for (const f of frames) {
          if ((f.flag & FLAG_REQUEST) === 0) continue;
          if ((f.flag & FLAG_EVENT) !== 0) {
            heartbeats.push(f.id);
            if ((f.flag & FLAG_TWOWAY) !== 0) s.write(encodeHeartbeatResponse(f.id, f.flag & SERIALIZATION_MASK));
            continue;
          }
          const req = decodeRequest(f.id, f.body);
          requests.push(req);
          if ((f.flag & FLAG_TWOWAY) === 0) continue;
          const answer = encodeDubboResponse(f.id, `${req.method}:${String(req.args[0])}`);
          const delay = opts.delayMs?.(req) ?? 0;
          if (delay > 0) setTimeout(() => s.writable && s.write(answer), delay);
          else s.write(answer);
        }
      } catch {
        s.destroy();
      }
    });
    s.on("end", () => s.end());
  });
  const c = await listenTracked(server);
  return { port: c.port, requests, heartbeats, close: c.close };
}

/** One call on a fresh connection; resolves with the decoded value. */
export function dubboInvoke(port: number, service: string, method: string, arg: string, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const id = 1n;
    const s = net.connect({ host: "127.0.0.1", port });
    let pending: Buffer = Buffer.alloc(0);
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`dubbo ${service}.${method}: no response within ${timeoutMs} ms`));
    }, timeoutMs);
    const fail = (e: Error): void => {
      clearTimeout(timer);
      s.destroy();
      reject(e);
    };
    s.once("error", fail);
    s.once("connect", () => s.write(encodeDubboRequest(id, service, method, arg)));
    s.on("data", (c: Buffer) => {
      try {
        const { frames, rest } = takeFrames(Buffer.concat([pending, c]));
        pending = Buffer.from(rest);
        const f = frames.find((x) => x.id === id);
        if (f === undefined) return;
        if (f.status !== STATUS_OK) throw new Error(`dubbo: response status ${f.status}`);
        const [kind, value] = readValues(f.body, 2);
        if (kind !== RESPONSE_VALUE && kind !== RESPONSE_VALUE_WITH_ATTACHMENTS) throw new Error(`dubbo: response kind ${String(kind)}`);
        clearTimeout(timer);
        s.end();
        resolve(String(value));
      } catch (e) {
        fail(e as Error);
      }
    });
  });
}

export interface DubboCall {
  readonly service: string;
  readonly method: string;
  readonly arg: string;
  /** Service version in the body. @default "0.0.0" */
  readonly version?: string;
  /** Attachments besides path/interface/version (e.g. group, x-canary). @default {} */
  readonly attachments?: Record<string, string>;
  /** @default true */
  readonly twoWay?: boolean;
}

/** A hessian2 request for `service.method(String)` with the given version and attachments. */
export function encodeDubboCall(id: bigint, call: DubboCall): Buffer {
  const version = call.version ?? "0.0.0";
  const e = new EncoderV2();
  e.write("2.0.2").write(call.service).write(version).write(call.method).write("Ljava/lang/String;").write(call.arg);
  e.write({ path: call.service, interface: call.service, version, ...call.attachments });
  return frame(FLAG_REQUEST | (call.twoWay === false ? 0 : FLAG_TWOWAY) | HESSIAN2, 0, id, e.get());
}

/** A heartbeat request (request + two-way + event flags, hessian2 null body), as Dubbo's HeaderExchangeHandler sends it. */
export function encodeDubboHeartbeat(id: bigint): Buffer {
  return frame(FLAG_REQUEST | FLAG_TWOWAY | FLAG_EVENT | HESSIAN2, 0, id, Buffer.from("N"));
}

export interface DubboReply {
  readonly id: bigint;
  readonly flag: number;
  readonly status: number;
  /** Every hessian value of the body, in order. */
  readonly values: unknown[];
}

/**
 * A consumer that multiplexes requests on one connection, as Dubbo's exchange client does: each
 * call takes the next request id and waits for the response carrying that id, whatever order
 * responses arrive in.
 */
export class DubboConsumer {
  private nextId = 1n;
  private pending = new Map<bigint, { resolve(r: DubboReply): void; reject(e: Error): void }>();
  private buffered: Buffer = Buffer.alloc(0);
  private failure: Error | undefined;
  /** Frames that answered no pending request (a stray answer the consumer would drop). */
  readonly unmatched: DubboReply[] = [];
  /** Resolves when the connection closes. */
  readonly closed: Promise<void>;

  private constructor(private readonly socket: net.Socket) {
    socket.on("data", (c: Buffer) => {
      try {
        const { frames, rest } = takeFrames(Buffer.concat([this.buffered, c]));
        this.buffered = Buffer.from(rest);
        for (const f of frames) {
          const d = new DecoderV2(f.body);
          const values: unknown[] = [];
          while ((d as unknown as { byteBuffer: { position(): number } }).byteBuffer.position() < f.body.length) values.push(d.read());
          const reply = { id: f.id, flag: f.flag, status: f.status, values };
          const waiter = this.pending.get(f.id);
          if (waiter === undefined) {
            this.unmatched.push(reply);
            continue;
          }
          this.pending.delete(f.id);
          waiter.resolve(reply);
        }
      } catch (e) {
        this.fail(e as Error);
      }
    });
    socket.on("error", (e) => this.fail(e));
    this.closed = new Promise((r) => socket.once("close", () => {
      this.fail(new Error("dubbo consumer: connection closed"));
      r();
    }));
  }

  static connect(port: number): Promise<DubboConsumer> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ host: "127.0.0.1", port });
      s.once("error", reject);
      s.once("connect", () => {
        s.off("error", reject);
        resolve(new DubboConsumer(s));
      });
    });
  }

  private fail(e: Error): void {
    this.failure ??= e;
    for (const w of this.pending.values()) w.reject(e);
    this.pending.clear();
  }

  private send(bytes: Buffer, id: bigint, awaitReply: boolean, timeoutMs: number): Promise<DubboReply> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    this.socket.write(bytes);
    if (!awaitReply) return Promise.resolve({ id, flag: 0, status: 0, values: [] });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`dubbo consumer: no response to request ${id} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (r) => { clearTimeout(timer); resolve(r); },
        reject: (e) => { clearTimeout(timer); reject(e); },
      });
    });
  }

  /** Sends a call with the next request id; resolves with its response (a oneway call resolves once written). */
  call(call: DubboCall, timeoutMs = 5000): Promise<DubboReply> {
    const id = this.nextId++;
    return this.send(encodeDubboCall(id, call), id, call.twoWay !== false, timeoutMs);
  }

  heartbeat(timeoutMs = 5000): Promise<DubboReply> {
    const id = this.nextId++;
    return this.send(encodeDubboHeartbeat(id), id, true, timeoutMs);
  }

  /** Raw bytes (malformed frames in tests). */
  writeRaw(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  close(): Promise<void> {
    this.socket.destroy();
    return this.closed;
  }
}
