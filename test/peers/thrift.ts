/**
 * Apache Thrift (npm `thrift`) server and client for a one-method service, hand-written the way
 * the thrift compiler's `js:node` output is (the compiler is not available here):
 *
 *   service Echo { string echo(1: string msg) }
 *
 * The server side is a processor (`process(input, output)`) given to `createMultiplexServer`; the
 * client side is a class the library's Connection drives through `_reqs`, `seqid()` and
 * `recv_<method>`.
 */
import * as net from "node:net";
import {
  Thrift,
  TBinaryProtocol,
  TBufferedTransport,
  TCompactProtocol,
  TFramedTransport,
  THeaderProtocol,
  createClient,
  createConnection,
  createMultiplexServer,
  type Processor,
  type TProtocol,
  type TProtocolClass,
  type TTransport,
  type TTransportClass,
} from "thrift";
import { listenTracked } from "./listen.js";
import type { Host } from "../host/index.js";

export type ThriftStack = "framed-binary" | "buffered-binary" | "framed-compact" | "header-binary" | "framed-lax" | "buffered-lax";

/**
 * The library's binary protocol writing "lax" (non-strict) binary: no version word, the name
 * first, then the type byte (`strictWrite` false, lib/nodejs/lib/thrift/binary_protocol.js
 * writeMessageBegin); it reads both forms (`strictRead` false), the lax name fixed up below.
 */
const BinaryProtocol = TBinaryProtocol as unknown as new (trans: TTransport, strictRead: boolean, strictWrite: boolean) => TProtocol;
class TLaxBinaryProtocol extends BinaryProtocol {
  constructor(trans: TTransport) {
    super(trans, false, false);
  }

  /** The library reads a lax message name as a Buffer (`this.trans.read(sz)`); callers expect a string. */
  override readMessageBegin(): { fname: string; mtype: number; rseqid: number } {
    const m = super.readMessageBegin() as { fname: string | Buffer; mtype: number; rseqid: number };
    return { ...m, fname: m.fname.toString() };
  }
}

export function thriftStack(stack: ThriftStack): { transport: TTransportClass; protocol: TProtocolClass } {
  switch (stack) {
    case "framed-binary":
      return { transport: TFramedTransport, protocol: TBinaryProtocol };
    case "buffered-binary":
      return { transport: TBufferedTransport, protocol: TBinaryProtocol };
    case "framed-compact":
      return { transport: TFramedTransport, protocol: TCompactProtocol };
    case "header-binary":
      return { transport: TBufferedTransport, protocol: THeaderProtocol };
    case "framed-lax":
      return { transport: TFramedTransport, protocol: TLaxBinaryProtocol };
    case "buffered-lax":
      return { transport: TBufferedTransport, protocol: TLaxBinaryProtocol };
  }
}

/** Reads a struct whose field `fid` is a string (1 in arguments, 0 in results); skips the rest. */
function readStringField(input: TProtocol, fid: number): string | undefined {
  let value: string | undefined;
  input.readStructBegin();
  for (;;) {
    const f = input.readFieldBegin();
    if (f.ftype === Thrift.Type.STOP) break;
    if (f.fid === fid && f.ftype === Thrift.Type.STRING) value = input.readString();
    else input.skip(f.ftype);
    input.readFieldEnd();
  }
  input.readStructEnd();
  return value;
}

/** Field 0 (`success`) for results, field 1 (`msg`) for arguments. */
function writeStringStruct(output: TProtocol, name: string, fid: number, value: string): void {
  output.writeStructBegin(name);
  output.writeFieldBegin(fid === 0 ? "success" : "msg", Thrift.Type.STRING, fid);
  output.writeString(value);
  output.writeFieldEnd();
  output.writeFieldStop();
  output.writeStructEnd();
}

/** Methods the stub serves, by the name after an optional `Service:` prefix; `notify` is oneway. */
const SERVED = new Set(["echo", "hello", "notify"]);

class EchoProcessor implements Processor {
  constructor(
    private readonly calls: string[],
    private readonly names: string[],
  ) {}

  process(input: TProtocol, output: TProtocol): void {
    const m = input.readMessageBegin();
    const base = m.fname.slice(m.fname.indexOf(":") + 1);
    if (!SERVED.has(base)) {
      input.skip(Thrift.Type.STRUCT);
      input.readMessageEnd();
      const x = new Thrift.TApplicationException(Thrift.TApplicationExceptionType.UNKNOWN_METHOD, `unknown method ${m.fname}`);
      output.writeMessageBegin(m.fname, Thrift.MessageType.EXCEPTION, m.rseqid);
      x.write(output);
      output.writeMessageEnd();
      output.flush();
      return;
    }
    const msg = readStringField(input, 1) ?? "";
    input.readMessageEnd();
    this.calls.push(msg);
    this.names.push(m.fname);
    if (base === "notify") return;
    output.writeMessageBegin(m.fname, Thrift.MessageType.REPLY, m.rseqid);
    writeStringStruct(output, `${base}_result`, 0, `${base}:${msg}`);
    output.writeMessageEnd();
    output.flush();
  }
}

export interface ThriftPeer {
  readonly port: number;
  readonly stack: ThriftStack;
  /** Arguments of every call served, in order. */
  readonly calls: string[];
  /** Message names of every call served, in order (e.g. `Orders:echo`). */
  readonly names: string[];
  close(): Promise<void>;
}

export async function startThriftServer(stack: ThriftStack): Promise<ThriftPeer> {
  const calls: string[] = [];
  const names: string[] = [];
  const server = createMultiplexServer(new EchoProcessor(calls, names), thriftStack(stack));
  server.on("error", () => {});
  const c = await listenTracked(server);
  return { port: c.port, stack, calls, names, close: c.close };
}

type Callback = (err: Error | null, value?: string) => void;

/** The client class a generated `Echo.Client` would be. */
export class EchoClient {
  private _seqid = 0;
  readonly _reqs: Record<number, Callback> = {};

  constructor(
    readonly output: TTransport,
    readonly pClass: TProtocolClass,
  ) {}

  seqid(): number {
    return this._seqid;
  }

  new_seqid(): number {
    return (this._seqid += 1);
  }

  echo(msg: string): Promise<string> {
    return this.call("echo", msg);
  }

  /**
   * Calls `name` (e.g. `hello`, `Orders:echo`) with one string argument, as generated code would;
   * a oneway call resolves once written.
   */
  call(name: string, msg: string, opts: { oneway?: boolean } = {}): Promise<string> {
    const recv = `recv_${name}`;
    const self = this as unknown as Record<string, unknown>;
    self[recv] ??= (input: TProtocol, mtype: number, rseqid: number) => this.recv_echo(input, mtype, rseqid);
    return new Promise((resolve, reject) => {
      const seqid = this.new_seqid();
      if (opts.oneway !== true) this._reqs[seqid] = (err, value) => (err ? reject(err) : resolve(value!));
      const out = new this.pClass(this.output);
      out.writeMessageBegin(name, opts.oneway === true ? Thrift.MessageType.ONEWAY : Thrift.MessageType.CALL, seqid);
      writeStringStruct(out, `${name}_args`, 1, msg);
      out.writeMessageEnd();
      // The protocol's flush: THeaderProtocol writes its header frame there, the others pass through.
      out.flush();
      if (opts.oneway === true) resolve("");
    });
  }

  recv_echo(input: TProtocol, mtype: number, rseqid: number): void {
    const callback = this._reqs[rseqid];
    delete this._reqs[rseqid];
    if (callback === undefined) return;
    if (mtype === Thrift.MessageType.EXCEPTION) {
      const x = new Thrift.TApplicationException();
      x.read(input);
      input.readMessageEnd();
      callback(x);
      return;
    }
    const value = readStringField(input, 0);
    input.readMessageEnd();
    if (value === undefined) callback(new Error("echo failed: unknown result"));
    else callback(null, value);
  }
}

/** Connects with the library's Connection, makes one `echo` call, closes. */
export async function thriftEcho(port: number, stack: ThriftStack, msg: string, timeoutMs = 5000): Promise<string> {
  const connection = createConnection("127.0.0.1", port, { ...thriftStack(stack), connect_timeout: timeoutMs, max_attempts: 1 });
  const failed = new Promise<never>((_, reject) => {
    connection.on("error", (e: Error) => reject(e));
    const timer = setTimeout(() => reject(new Error(`thrift ${stack} echo: no answer within ${timeoutMs} ms`)), timeoutMs);
    timer.unref();
  });
  try {
    const client = createClient(EchoClient, connection);
    return await Promise.race([client.echo(msg), failed]);
  } finally {
    connection.end();
    (connection.connection as net.Socket).destroy();
  }
}

/** A client connection that stays open for several calls (calls may overlap: replies match by seqid). */
export async function thriftClient(port: number, stack: ThriftStack, timeoutMs = 5000): Promise<{ client: EchoClient; errors: Error[]; close(): void }> {
  const connection = createConnection("127.0.0.1", port, { ...thriftStack(stack), connect_timeout: timeoutMs, max_attempts: 1 });
  const errors: Error[] = [];
  connection.on("error", (e: Error) => errors.push(e));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`thrift ${stack}: no connection within ${timeoutMs} ms`)), timeoutMs);
    (connection.connection as net.Socket).once("connect", () => {
      clearTimeout(timer);
      resolve();
    });
  });
  const client = createClient(EchoClient, connection);
  return {
    client,
    errors,
    close() {
      connection.end();
      (connection.connection as net.Socket).destroy();
    },
  };
}

/** The sum of a host's stats named `…name` whose Istio-style tags (`k=.=v;.;`) include `tags`. */
export function taggedCounter(host: Host, name: string, tags: Record<string, string> = {}): bigint {
  return host
    .stats()
    .filter((s) => s.name.endsWith(name) && Object.entries(tags).every(([k, v]) => s.name.includes(`${k}=.=${v};.;`)))
    .reduce((a, s) => a + s.value, 0n);
}
