/**
 * Test helper for the host-core tests: drives one wasm network filter directly through a fake
 * ReadFilterCallbacks (no filter manager), keeping the downstream buffer across StopIteration
 * as Envoy's connection read buffer does.
 */
import type { Plugin } from "./plugin.js";
import {
  FilterState,
  type Address,
  type ConnectionInfo,
  type DataBuffer,
  type FilterStatus,
  type ListenerDirection,
  type NetworkFilter,
  type ReadFilterCallbacks,
} from "./types.js";

export const probeWasm = new URL("../../build/fixtures/probe.wasm", import.meta.url).pathname;
export const nullWasm = new URL("../../build/fixtures/null.wasm", import.meta.url).pathname;

let nextId = 1000n;

export interface FakeConnectionOptions {
  source?: Address;
  destination?: Address;
  direction?: ListenerDirection;
  filterState?: FilterState;
  requestedServerName?: string;
}

export class FakeConnection implements ReadFilterCallbacks {
  readonly connection: ConnectionInfo;
  readonly filter: NetworkFilter | undefined;
  continueCalls = 0;
  closeCalls = 0;
  readonly buffer: DataBuffer = { bytes: new Uint8Array(0) };
  lastStatus: FilterStatus | undefined;

  constructor(plugin: Plugin, opts: FakeConnectionOptions = {}) {
    this.connection = {
      id: nextId++,
      source: opts.source ?? { host: "10.0.0.1", port: 40000 },
      destination: opts.destination ?? { host: "10.0.0.2", port: 9090 },
      requestedServerName: opts.requestedServerName ?? "",
      listenerDirection: opts.direction ?? "INBOUND",
      filterState: opts.filterState ?? new FilterState(),
      filterChainName: "chain-0",
    };
    this.filter = plugin.networkFilterFactory().create(this);
  }

  continueReading(): void {
    this.continueCalls++;
  }

  closeConnection(): void {
    this.closeCalls++;
  }

  newConnection(): FilterStatus | undefined {
    return this.filter?.onNewConnection();
  }

  /** Appends bytes to the read buffer and calls onData; Continue drains what is left. */
  data(text: string, endStream = false): FilterStatus | undefined {
    const add = new TextEncoder().encode(text);
    const merged = new Uint8Array(this.buffer.bytes.length + add.length);
    merged.set(this.buffer.bytes, 0);
    merged.set(add, this.buffer.bytes.length);
    this.buffer.bytes = merged;
    this.lastStatus = this.filter?.onData(this.buffer, endStream);
    if (this.lastStatus === "Continue") this.buffer.bytes = new Uint8Array(0);
    return this.lastStatus;
  }

  close(event: "RemoteClose" | "LocalClose" = "RemoteClose"): void {
    this.filter?.onEvent(event);
  }
}
