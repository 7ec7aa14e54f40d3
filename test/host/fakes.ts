/**
 * TypeScript fakes for data-plane tests: a minimal host, scriptable network filters, and TCP
 * servers that record what they received.
 */
import { createHash } from "node:crypto";
import * as net from "node:net";
import type {
  ClusterConfig,
  DataBuffer,
  DataPlaneHost,
  FilterStatus,
  NetworkFilter,
  NetworkFilterFactory,
  ReadFilterCallbacks,
  ConnectionEvent,
} from "./types.js";

export function fakeHost(clusters: Record<string, ClusterConfig> = {}): DataPlaneHost {
  let next = 0n;
  return {
    clusters: new Map(Object.entries(clusters)),
    nextConnectionId: () => ++next,
  };
}

export interface FakeFilterScript {
  onNewConnection?(cb: ReadFilterCallbacks, log: string[]): FilterStatus;
  onData?(buffer: DataBuffer, endStream: boolean, cb: ReadFilterCallbacks, log: string[]): FilterStatus;
  onWrite?(buffer: DataBuffer, endStream: boolean, cb: ReadFilterCallbacks, log: string[]): FilterStatus;
}

/** A network filter factory whose instances log every callback into `log` as `<name>:<cb>`. */
export function fakeFilter(name: string, log: string[], script: FakeFilterScript = {}): NetworkFilterFactory & {
  instances: ReadFilterCallbacks[];
} {
  const instances: ReadFilterCallbacks[] = [];
  return {
    name,
    instances,
    create(cb: ReadFilterCallbacks): NetworkFilter {
      instances.push(cb);
      return {
        onNewConnection(): FilterStatus {
          log.push(`${name}:new`);
          return script.onNewConnection?.(cb, log) ?? "Continue";
        },
        onData(buffer: DataBuffer, endStream: boolean): FilterStatus {
          log.push(`${name}:data ${buffer.bytes.length}${endStream ? " eos" : ""}`);
          return script.onData?.(buffer, endStream, cb, log) ?? "Continue";
        },
        onWrite(buffer: DataBuffer, endStream: boolean): FilterStatus {
          log.push(`${name}:write ${buffer.bytes.length}${endStream ? " eos" : ""}`);
          return script.onWrite?.(buffer, endStream, cb, log) ?? "Continue";
        },
        onEvent(event: ConnectionEvent): void {
          log.push(`${name}:event ${event}`);
        },
      };
    },
  };
}

export interface RecordingServer {
  readonly port: number;
  /** Bytes received per accepted connection, in accept order. */
  readonly received: Buffer[][];
  readonly accepted: number;
  /** Resolves at the next accepted connection. */
  nextConnection(): Promise<net.Socket>;
  close(): Promise<void>;
}

/** A TCP server; `mode` "echo" writes back what it reads and half-closes when the client does. */
export async function recordingServer(mode: "echo" | "sink" = "echo"): Promise<RecordingServer> {
  const received: Buffer[][] = [];
  const sockets = new Set<net.Socket>();
  const waiters: Array<(s: net.Socket) => void> = [];
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    s.on("error", () => {});
    const chunks: Buffer[] = [];
    received.push(chunks);
    s.on("data", (c: Buffer) => {
      chunks.push(c);
      if (mode === "echo") s.write(c);
    });
    s.on("end", () => {
      if (mode === "echo") s.end();
    });
    waiters.shift()?.(s);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return {
    port: (server.address() as net.AddressInfo).port,
    received,
    get accepted() {
      return received.length;
    },
    nextConnection: () => new Promise((r) => waiters.push(r)),
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** Reads the request until FIN, then answers 2×len+1 bytes and half-closes (sizes that tell the two directions apart). */
export async function doublingServer(): Promise<{ readonly port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    let n = 0;
    s.on("data", (c: Buffer) => (n += c.length));
    s.on("end", () => s.end(Buffer.alloc(2 * n + 1, 0x61)));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

export function sha256(b: Uint8Array): string {
  return createHash("sha256").update(b).digest("hex");
}

/** Connects, returns the socket once connected. */
export function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: "127.0.0.1", port, allowHalfOpen: true });
    s.once("error", reject);
    s.once("connect", () => {
      s.off("error", reject);
      resolve(s);
    });
  });
}

/** Reads until the peer half-closes or closes; resolves with everything read. */
export function readAll(s: net.Socket, timeoutMs = 10_000): Promise<{ bytes: Buffer; error?: string }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let error: string | undefined;
    const timer = setTimeout(() => reject(new Error(`readAll: no end within ${timeoutMs} ms`)), timeoutMs);
    s.on("data", (c: Buffer) => chunks.push(c));
    s.on("error", (e: NodeJS.ErrnoException) => {
      error = e.code ?? e.message;
    });
    const done = (): void => {
      clearTimeout(timer);
      resolve({ bytes: Buffer.concat(chunks), ...(error === undefined ? {} : { error }) });
    };
    s.once("end", done);
    s.once("close", done);
  });
}

/** Resolves after `ms`: only for asserting that something does NOT happen within a bound. */
export function quietPeriod(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    }),
  ]);
}

export const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
export const text = (b: Uint8Array): string => new TextDecoder().decode(b);
