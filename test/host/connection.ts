/**
 * proxytest-style driving of a network filter chain without sockets (used by tests, `npm run
 * bench` and `npm run fuzz`). The chain is the NetworkFilterManager of filter-manager.ts; the
 * terminal filter stands where tcp_proxy stands in Envoy:
 * - "sink" (default): an already-connected upstream. It drains every byte that reaches it into
 *   `forwarded` and answers StopIteration, as tcp_proxy's onData does once upstream exists.
 * - "none": no terminal filter; bytes that pass every filter stay in the read buffer (what
 *   Envoy does when no filter drains them).
 * - a NetworkFilterFactory / plugin: your own last filter.
 *
 * Reads while the connection is read-disabled are held like bytes in the kernel and delivered
 * when reads are re-enabled.
 */
import {
  EMPTY,
  NetworkFilterManager,
  concatBytes,
  toNetworkFactory,
  type CloseType,
  type Transport,
} from "./filter-manager.js";
import {
  FilterState,
  type Address,
  type ConnectionInfo,
  type DataBuffer,
  type DataPlaneHost,
  type FilterStatus,
  type ListenerDirection,
  type NetworkFilter,
  type NetworkFilterSource,
} from "./types.js";

export interface TestConnectionOptions {
  readonly filters: ReadonlyArray<NetworkFilterSource>;
  readonly source?: Address;
  readonly destination?: Address;
  readonly direction?: ListenerDirection;
  readonly terminal?: "sink" | "none" | NetworkFilterSource;
  readonly filterChainName?: string;
  readonly requestedServerName?: string;
  /**
   * Keep forwarded/written bytes for `forwarded`/`written` (default true). Long bench/fuzz runs
   * pass false: only `forwardedLength`/`writtenLength` are counted.
   */
  readonly keepOutputs?: boolean;
}

/** Collects chunks; concatenates only when read. */
class ByteSink {
  constructor(private readonly keep: boolean) {}
  private chunks: Uint8Array[] = [];
  private cached: Uint8Array = EMPTY;
  length = 0;
  endStream = false;
  push(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    if (this.keep) this.chunks.push(bytes);
    this.length += bytes.length;
  }
  get bytes(): Uint8Array {
    if (this.chunks.length === 0) return this.cached;
    let out = this.cached;
    for (const c of this.chunks) out = concatBytes(out, c);
    this.chunks = [];
    this.cached = out;
    return out;
  }
  clear(): void {
    this.chunks = [];
    this.cached = EMPTY;
    this.length = 0;
  }
}

class SinkFilter implements NetworkFilter {
  constructor(private readonly sink: ByteSink) {}
  onNewConnection(): FilterStatus {
    return "Continue";
  }
  onData(buffer: DataBuffer, endStream: boolean): FilterStatus {
    this.sink.push(buffer.bytes);
    buffer.bytes = EMPTY;
    if (endStream) this.sink.endStream = true;
    return "StopIteration";
  }
  onWrite(): FilterStatus {
    return "Continue";
  }
  onEvent(): void {}
}

export class TestConnection implements Transport {
  readonly info: ConnectionInfo;
  readonly manager: NetworkFilterManager;
  private readonly forwardedSink: ByteSink;
  private readonly writtenSink: ByteSink;
  /** Reads that arrived while read-disabled (the kernel's receive queue). */
  private pending: Uint8Array = EMPTY;
  private pendingEnd = false;
  /** How the connection's socket was closed, once closed. */
  closeType: CloseType | undefined;

  constructor(host: DataPlaneHost, opts: TestConnectionOptions) {
    const keep = opts.keepOutputs ?? true;
    this.forwardedSink = new ByteSink(keep);
    this.writtenSink = new ByteSink(keep);
    this.info = {
      id: host.nextConnectionId(),
      source: opts.source ?? { host: "127.0.0.1", port: 50000 },
      destination: opts.destination ?? { host: "127.0.0.1", port: 8080 },
      requestedServerName: opts.requestedServerName ?? "",
      listenerDirection: opts.direction ?? "UNSPECIFIED",
      filterState: new FilterState(),
      filterChainName: opts.filterChainName ?? "",
    };
    this.manager = new NetworkFilterManager(this.info, this);
    for (const f of opts.filters) this.manager.addFilter(toNetworkFactory(f));
    const terminal = opts.terminal ?? "sink";
    if (terminal === "sink") {
      const sink = new SinkFilter(this.forwardedSink);
      this.manager.addReadFilter(() => sink);
    } else if (terminal !== "none") {
      this.manager.addFilter(toNetworkFactory(terminal));
    }
  }

  /** Runs onNewConnection down the chain; StopIteration when a filter stopped it. */
  newConnection(): FilterStatus {
    this.manager.initializeReadFilters();
    return this.manager.allInitialized ? "Continue" : "StopIteration";
  }

  /**
   * A socket read of `bytes` (eos = the peer half-closed). Returns Continue when the read
   * buffer was drained by the end of the chain, StopIteration when bytes stayed buffered (a
   * filter stopped) or the connection is read-disabled.
   */
  downstreamData(bytes: Uint8Array, eos = false): FilterStatus {
    const m = this.manager;
    if (m.readDisabled) {
      this.pending = concatBytes(this.pending, bytes);
      if (eos) this.pendingEnd = true;
      return "StopIteration";
    }
    m.onRead(bytes, eos);
    return m.readBuffer.bytes.length === 0 ? "Continue" : "StopIteration";
  }

  /** Upstream bytes written to the downstream connection (tcp_proxy onUpstreamData → write). */
  upstreamData(bytes: Uint8Array, eos = false): FilterStatus {
    return this.manager.write(bytes, eos);
  }

  /** Closes the downstream connection: "Remote" = the peer closed, "Local" = Envoy closed it. */
  close(peer: "Remote" | "Local"): void {
    if (peer === "Remote") this.manager.remoteClose();
    else this.manager.close("NoFlush");
  }

  get forwarded(): Uint8Array {
    return this.forwardedSink.bytes;
  }
  /** Bytes that reached the end of the read chain so far (counted even without keepOutputs). */
  get forwardedLength(): number {
    return this.forwardedSink.length;
  }
  get writtenLength(): number {
    return this.writtenSink.length;
  }
  get forwardedEndStream(): boolean {
    return this.forwardedSink.endStream;
  }
  get written(): Uint8Array {
    return this.writtenSink.bytes;
  }
  get writtenEndStream(): boolean {
    return this.writtenSink.endStream;
  }
  /** Bytes waiting in the connection's read buffer (held by a stopping filter). */
  get buffered(): number {
    return this.manager.readBuffer.bytes.length;
  }
  /** Forget what was forwarded/written so far (long bench/fuzz runs). */
  clearOutputs(): void {
    this.forwardedSink.clear();
    this.writtenSink.clear();
  }
  get filterState(): FilterState {
    return this.info.filterState;
  }
  get closed(): boolean {
    return this.manager.state === "Closed";
  }

  // Transport
  rawWrite(bytes: Uint8Array, endStream: boolean): void {
    this.writtenSink.push(bytes);
    if (endStream) this.writtenSink.endStream = true;
  }
  readDisabledChanged(disabled: boolean): void {
    if (!disabled && (this.pending.length > 0 || this.pendingEnd)) this.scheduleBufferedRead();
  }
  /** One later turn delivers the kernel's bytes, or re-dispatches the buffer (Envoy's fake read). */
  scheduleBufferedRead(): void {
    if (this.readScheduled) return;
    this.readScheduled = true;
    queueMicrotask(this.deliverPending);
  }
  private readScheduled = false;
  private readonly deliverPending = (): void => {
    this.readScheduled = false;
    const m = this.manager;
    if (m.readDisabled) return;
    if (this.pending.length > 0 || this.pendingEnd) {
      const bytes = this.pending;
      const eos = this.pendingEnd;
      this.pending = EMPTY;
      this.pendingEnd = false;
      m.onRead(bytes, eos);
    } else {
      m.dispatchBufferedRead();
    }
  };
  closeSocket(type: CloseType): void {
    this.closeType = type;
  }
}

export function createTestConnection(host: DataPlaneHost, opts: TestConnectionOptions): TestConnection {
  return new TestConnection(host, opts);
}
