/**
 * The parts of untyped npm libraries the peers use (thrift 0.24, hessian.js 2.11, pg 8), typed
 * from their JavaScript sources so the peers stay strict.
 */
declare module "thrift" {
  import type * as net from "node:net";
  import type { EventEmitter } from "node:events";

  export const Thrift: {
    readonly Type: { readonly STOP: 0; readonly STRING: 11; readonly STRUCT: 12; readonly I32: 8 };
    readonly MessageType: { readonly CALL: 1; readonly REPLY: 2; readonly EXCEPTION: 3; readonly ONEWAY: 4 };
    TApplicationException: new (type?: number, message?: string) => Error & { read(input: TProtocol): void; write(output: TProtocol): void };
    readonly TApplicationExceptionType: { readonly UNKNOWN_METHOD: 1 };
  };

  export interface TTransport {
    flush(): void;
  }
  export type TTransportClass = (new (buffer: Buffer | undefined, onFlush: (buf: Buffer, seqid?: number) => void) => TTransport) & {
    receiver(cb: (t: TTransport) => void, seqid?: number, maxLength?: number): (data: Buffer) => void;
  };
  export interface TProtocol {
    readonly trans: TTransport;
    writeMessageBegin(name: string, type: number, seqid: number): void;
    writeMessageEnd(): void;
    writeStructBegin(name: string): void;
    writeStructEnd(): void;
    writeFieldBegin(name: string, type: number, id: number): void;
    writeFieldEnd(): void;
    writeFieldStop(): void;
    writeString(s: string): void;
    readMessageBegin(): { fname: string; mtype: number; rseqid: number };
    readMessageEnd(): void;
    readStructBegin(): void;
    readStructEnd(): void;
    readFieldBegin(): { fname: string; ftype: number; fid: number };
    readFieldEnd(): void;
    readString(): string;
    skip(type: number): void;
    flush(): void;
  }
  export type TProtocolClass = new (trans: TTransport) => TProtocol;

  export const TBufferedTransport: TTransportClass;
  export const TFramedTransport: TTransportClass;
  export const TBinaryProtocol: TProtocolClass;
  export const TCompactProtocol: TProtocolClass;
  /** THeader framing over TBufferedTransport; subprotocol binary unless the peer chose compact. */
  export const THeaderProtocol: TProtocolClass;

  export interface ServerOptions {
    transport?: TTransportClass;
    protocol?: TProtocolClass;
  }
  export interface Processor {
    process(input: TProtocol, output: TProtocol): void;
  }
  export function createMultiplexServer(processor: Processor, options?: ServerOptions): net.Server;

  export interface ConnectionOptions {
    transport?: TTransportClass;
    protocol?: TProtocolClass;
    connect_timeout?: number;
    max_attempts?: number;
  }
  export interface Connection extends EventEmitter {
    readonly connection: net.Socket;
    readonly connected: boolean;
    end(): void;
    destroy(): void;
  }
  export function createConnection(host: string, port: number, options?: ConnectionOptions): Connection;
  export function createClient<T>(client: new (output: TTransport, pClass: TProtocolClass) => T, connection: Connection): T;
}

declare module "hessian.js" {
  export class EncoderV2 {
    constructor(options?: { size?: number });
    write(value: unknown): this;
    get(): Buffer;
    reset(): void;
  }
  export class DecoderV2 {
    constructor(buf: Buffer);
    read(withType?: boolean): unknown;
    readonly byteBuffer: { position(): number; limit(): number };
  }
}

declare module "pg" {
  export interface ClientConfig {
    host?: string;
    port?: number;
    user?: string;
    database?: string;
    ssl?: boolean;
    connectionTimeoutMillis?: number;
    query_timeout?: number;
  }
  export class Client {
    constructor(config?: ClientConfig);
    connect(): Promise<void>;
    query<R = Record<string, unknown>>(text: string, values?: unknown[]): Promise<{ rows: R[] }>;
    end(): Promise<void>;
  }
  const pg: { Client: typeof Client };
  export default pg;
}
