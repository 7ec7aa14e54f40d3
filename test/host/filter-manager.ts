/**
 * Envoy's network filter manager and the parts of Network::ConnectionImpl that filters can see,
 * without a socket. A transport (connection.ts for driven tests, tcp.ts for real sockets) feeds
 * reads in and receives what reaches the socket.
 *
 * Copied from envoyproxy/envoy:
 * - source/common/network/filter_manager_impl.cc: `onContinueReading` (read filters in order,
 *   `onNewConnection` of a filter only once the filters before it continued, StopIteration or a
 *   closed connection ends the pass, `onData` only when the buffer is non-empty or end_stream),
 *   `onWrite` (write filters in reverse order: `addWriteFilter` uses `moveIntoFront`).
 * - source/common/network/connection_impl.cc: the read buffer belongs to the connection; what a
 *   stopping filter leaves in it stays and the next socket read is appended (so proxy-wasm
 *   data_size grows, spec `proxy_on_downstream_data`); `readDisable` is a counter; re-enabling
 *   with buffered data fakes a read event so the buffered bytes are dispatched again from the
 *   first filter; `raiseEvent` calls connection callbacks in registration order.
 */
import type {
  ConnectionEvent,
  ConnectionInfo,
  DataBuffer,
  FilterStatus,
  NetworkFilter,
  NetworkFilterFactory,
  NetworkFilterSource,
  ReadFilterCallbacks,
} from "./types.js";

export const EMPTY = new Uint8Array(0);

/** Envoy Network::ConnectionCloseType (the ones the emulator distinguishes). */
export type CloseType = "FlushWrite" | "NoFlush" | "AbortReset";

export type ConnectionState = "Open" | "Closed";

/** The socket side of a connection. */
export interface Transport {
  /** Bytes that passed every write filter; `endStream` half-closes the write side. */
  rawWrite(bytes: Uint8Array, endStream: boolean): void;
  /** Socket reads stop (`disabled`) or resume. */
  readDisabledChanged(disabled: boolean): void;
  /**
   * Envoy re-dispatches a non-empty read buffer when reads are re-enabled, on a later event-loop
   * turn (ConnectionImpl::readDisable activates a read file event). The transport decides when.
   */
  scheduleBufferedRead(): void;
  /** Close the socket; `type` says whether pending writes are flushed or the peer gets an RST. */
  closeSocket(type: CloseType): void;
}

export interface ConnectionCallbacks {
  onEvent(event: ConnectionEvent): void;
}

export function toNetworkFactory(source: NetworkFilterSource): NetworkFilterFactory {
  return "networkFilterFactory" in source ? source.networkFilterFactory() : source;
}

export function concatBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  if (b.length === 0) return a;
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/** Envoy ActiveReadFilter: one entry of the read chain, and the filter's callbacks. */
export class ActiveReadFilter implements ReadFilterCallbacks {
  filter!: NetworkFilter;
  initialized = false;
  constructor(
    readonly manager: NetworkFilterManager,
    readonly index: number,
  ) {}

  get connection(): ConnectionInfo {
    return this.manager.info;
  }

  continueReading(): void {
    this.manager.onContinueReading(this.index + 1);
  }

  closeConnection(): void {
    this.manager.close("FlushWrite");
  }
}

export class NetworkFilterManager {
  /** The connection's read buffer (Envoy ConnectionImpl::read_buffer_). */
  readonly readBuffer: DataBuffer = { bytes: EMPTY };
  readEndStream = false;
  /** Upstream→downstream bytes held while a write filter answers StopIteration. */
  readonly writeBuffer: DataBuffer = { bytes: EMPTY };
  writeEndStream = false;
  state: ConnectionState = "Open";
  /** Event that closed the connection, as filters saw it. */
  closeEvent: ConnectionEvent | undefined;
  private readDisableCount = 0;
  private readonly readFilters: ActiveReadFilter[] = [];
  /** Reverse order of addition, like Envoy's downstream_filters_. */
  private readonly writeFilters: NetworkFilter[] = [];
  private readonly callbacks: ConnectionCallbacks[] = [];

  constructor(
    readonly info: ConnectionInfo,
    private readonly transport: Transport,
  ) {}

  /**
   * Envoy addFilter (read + write). The factory may return undefined (fail-open plugin whose VM
   * failed): Envoy then adds nothing. The filter is registered for connection events, as the
   * wasm Context does in initializeReadFilterCallbacks.
   */
  addFilter(factory: NetworkFilterFactory): void {
    const entry = new ActiveReadFilter(this, this.readFilters.length);
    const filter = factory.create(entry);
    if (filter === undefined) return;
    entry.filter = filter;
    this.readFilters.push(entry);
    this.writeFilters.unshift(filter);
    this.callbacks.push(filter);
  }

  /** Envoy addReadFilter: the filter is built by `make` with its callbacks (tcp_proxy). */
  addReadFilter(make: (callbacks: ActiveReadFilter) => NetworkFilter): NetworkFilter {
    const entry = new ActiveReadFilter(this, this.readFilters.length);
    const filter = make(entry);
    entry.filter = filter;
    this.readFilters.push(entry);
    return filter;
  }

  addConnectionCallbacks(cb: ConnectionCallbacks): void {
    this.callbacks.push(cb);
  }

  get filterCount(): number {
    return this.readFilters.length;
  }

  /** True when every read filter has run onNewConnection (the chain reached its end once). */
  get allInitialized(): boolean {
    const n = this.readFilters.length;
    return n === 0 || this.readFilters[n - 1]!.initialized;
  }

  get readDisabled(): boolean {
    return this.readDisableCount > 0;
  }

  /** Envoy initializeReadFilters. */
  initializeReadFilters(): boolean {
    if (this.readFilters.length === 0) return false;
    this.onContinueReading(0);
    return true;
  }

  /** A socket read: append to the read buffer, then run the chain (ConnectionImpl::onRead). */
  onRead(bytes: Uint8Array, endStream: boolean): void {
    if (this.state !== "Open") return;
    const buf = this.readBuffer;
    buf.bytes = buf.bytes.length === 0 ? bytes : concatBytes(buf.bytes, bytes);
    if (endStream) this.readEndStream = true;
    if (buf.bytes.length === 0 && !endStream) return;
    this.onContinueReading(0);
  }

  /** The fake read event after re-enabling: dispatch what is buffered, from the first filter. */
  dispatchBufferedRead(): void {
    if (this.state !== "Open" || this.readDisableCount > 0) return;
    if (this.readBuffer.bytes.length === 0 && !this.readEndStream) return;
    this.onContinueReading(0);
  }

  /** FilterManagerImpl::onContinueReading, starting at read filter `start`. */
  onContinueReading(start: number): void {
    const filters = this.readFilters;
    const buf = this.readBuffer;
    for (let i = start; i < filters.length; i++) {
      if (this.state !== "Open") return;
      const entry = filters[i]!;
      if (!entry.initialized) {
        entry.initialized = true;
        const status: FilterStatus = entry.filter.onNewConnection();
        if (status === "StopIteration" || this.state !== "Open") return;
      }
      if (buf.bytes.length > 0 || this.readEndStream) {
        const status = entry.filter.onData(buf, this.readEndStream);
        if (status === "StopIteration" || this.state !== "Open") return;
      }
    }
  }

  /**
   * Connection::write: through the write filters (reverse order), then to the socket. What a
   * stopping filter leaves stays and the next write is appended, as the upstream read buffer
   * does in Envoy (tcp_proxy hands its upstream buffer to write()).
   */
  write(bytes: Uint8Array, endStream: boolean): FilterStatus {
    if (this.state !== "Open") return "StopIteration";
    const wb = this.writeBuffer;
    wb.bytes = wb.bytes.length === 0 ? bytes : concatBytes(wb.bytes, bytes);
    if (endStream) this.writeEndStream = true;
    const filters = this.writeFilters;
    for (let i = 0; i < filters.length; i++) {
      const status = filters[i]!.onWrite(wb, this.writeEndStream);
      if (status === "StopIteration" || this.state !== "Open") return "StopIteration";
    }
    const out = wb.bytes;
    wb.bytes = EMPTY;
    if (out.length > 0 || this.writeEndStream) this.transport.rawWrite(out, this.writeEndStream);
    return "Continue";
  }

  /** ConnectionImpl::readDisable: a counter; transitions reach the transport. */
  readDisable(disable: boolean): void {
    if (this.state !== "Open") return;
    if (disable) {
      if (++this.readDisableCount === 1) this.transport.readDisabledChanged(true);
    } else {
      if (this.readDisableCount === 0) return;
      if (--this.readDisableCount === 0) {
        this.transport.readDisabledChanged(false);
        if (this.readBuffer.bytes.length > 0 || this.readEndStream) this.transport.scheduleBufferedRead();
      }
    }
  }

  /** Connection::close from our side: raises LocalClose. */
  close(type: CloseType): void {
    this.closeSocket(type, "LocalClose");
  }

  /** The peer closed or reset: raises RemoteClose. */
  remoteClose(): void {
    this.closeSocket("NoFlush", "RemoteClose");
  }

  private closeSocket(type: CloseType, event: ConnectionEvent): void {
    if (this.state !== "Open") return;
    this.state = "Closed";
    this.closeEvent = event;
    this.transport.closeSocket(type);
    const cbs = this.callbacks;
    for (let i = 0; i < cbs.length; i++) cbs[i]!.onEvent(event);
  }
}
