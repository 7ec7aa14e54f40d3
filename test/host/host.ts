/**
 * The emulated Envoy process: clusters, the wasm plugins, process-wide stats / shared data /
 * queues, the log, and the data planes (delegated to connection.ts, tcp.ts, http.ts).
 */
import { readFile } from "node:fs/promises";
import { encodeUtf8, logLevelNumber, MetricType, type LogLevelName } from "./abi.js";
import { CallManager } from "./calls.js";
import { createTestConnection } from "./connection.js";
import { startHttpListener } from "./http.js";
import { LogStore } from "./logs.js";
import { StatsStore, type StatSnapshot } from "./metrics.js";
import { Plugin } from "./plugin.js";
import { SharedData, SharedQueues } from "./shared.js";
import { startTcpListener } from "./tcp.js";
import { envoyBehaviour, type EnvoyVersion } from "./envoy-version.js";
import type { ClusterConfig, DataPlaneHost } from "./types.js";
import type { HostServices } from "./vm.js";

export interface HostOptions {
  /** Static clusters by name. `PassthroughCluster` is built into the data planes. */
  readonly clusters?: Readonly<Record<string, ClusterConfig>>;
  /**
   * The Envoy release whose data-plane behaviour the listeners copy (envoy-version.ts: tcp_proxy's
   * config checks, http_inspector's parser, the delayed route pick).
   * @default "1.37" (Istio 1.29)
   */
  readonly envoyVersion?: EnvoyVersion;
}

export interface LoadPluginOptions {
  /** PluginConfig.name (`plugin_name`). */
  readonly name: string;
  /** Path to a .wasm file, its bytes, or a compiled module. */
  readonly wasm: string | Uint8Array | WebAssembly.Module;
  /** PluginConfig.root_id. @default name */
  readonly rootId?: string;
  /** VmConfig.vm_id (shared data and queues are per vm_id). @default "" */
  readonly vmId?: string;
  /** PluginConfig.configuration (StringValue bytes), readable in on_configure. @default "" */
  readonly configuration?: string | Uint8Array;
  /** VmConfig.configuration, readable in on_vm_start. @default "" */
  readonly vmConfiguration?: string | Uint8Array;
  /** Worker VMs (Envoy --concurrency). @default 2 */
  readonly vmCount?: number;
  /** PluginConfig.fail_open (failure_policy FAIL_OPEN). @default false */
  readonly failOpen?: boolean;
  /** Envoy's wasm logger level (proxy_get_log_level, and what gets captured). @default "info" */
  readonly logLevel?: LogLevelName | number;
}

interface Closeable {
  close(): unknown;
}

const moduleCache = new Map<string, Promise<WebAssembly.Module>>();

export class Host implements HostServices, DataPlaneHost {
  readonly clusters = new Map<string, ClusterConfig>();
  readonly logs = new LogStore();
  readonly statsStore = new StatsStore();
  readonly sharedData = new SharedData();
  readonly sharedQueues = new SharedQueues();
  readonly calls: CallManager;
  readonly plugins: Plugin[] = [];
  readonly envoyVersion: EnvoyVersion;
  private connectionIds = 0n;
  private readonly closeables = new Set<Closeable>();
  private closed = false;

  constructor(opts: HostOptions = {}) {
    this.envoyVersion = envoyBehaviour(opts.envoyVersion).version;
    for (const [name, c] of Object.entries(opts.clusters ?? {})) this.clusters.set(name, c);
    this.calls = new CallManager(this.clusters);
  }

  addCluster(name: string, config: ClusterConfig): void {
    this.clusters.set(name, config);
  }

  /** Envoy ConnectionImpl::next_global_id_: process-wide, starting at 0. */
  nextConnectionId(): bigint {
    return this.connectionIds++;
  }

  /**
   * Loads a plugin like Envoy: a canary VM validates it (rejects with PluginLoadError naming
   * the plugin), then `vmCount` worker VMs start. The module is compiled once.
   */
  async loadPlugin(opts: LoadPluginOptions): Promise<Plugin> {
    const module = await compile(opts.wasm);
    const spec = {
      name: opts.name,
      rootId: opts.rootId ?? opts.name,
      vmId: opts.vmId ?? "",
      configuration: bytes(opts.configuration),
      vmConfiguration: bytes(opts.vmConfiguration),
      failOpen: opts.failOpen ?? false,
      logLevel: logLevelNumber(opts.logLevel ?? "info"),
    };
    const vmCount = opts.vmCount ?? 2;
    if (!Number.isInteger(vmCount) || vmCount < 1) {
      throw new Error(`vmCount must be a positive integer, got ${String(opts.vmCount)}`);
    }
    const plugin = Plugin.load(spec, module, this, vmCount);
    this.plugins.push(plugin);
    return plugin;
  }

  /** A counter's value by the name the filter defined (without the `wasmcustom.` prefix). */
  counter(name: string): bigint | undefined {
    return this.statsStore.find(name, MetricType.Counter)?.value;
  }

  gauge(name: string): bigint | undefined {
    return this.statsStore.find(name, MetricType.Gauge)?.value;
  }

  /** Recorded samples of a histogram. */
  histogram(name: string): bigint[] | undefined {
    return this.statsStore.find(name, MetricType.Histogram)?.samples.slice();
  }

  /** All wasm custom stats with Envoy's names (`wasmcustom.<name>`), sorted. */
  stats(): StatSnapshot[] {
    return this.statsStore.snapshot();
  }

  /** Same as stats() (the name scripts/demo.ts uses). */
  metrics(): StatSnapshot[] {
    return this.stats();
  }

  connection(opts: Parameters<typeof createTestConnection>[1]): ReturnType<typeof createTestConnection> {
    return createTestConnection(this, opts);
  }

  async tcpListener(opts: Parameters<typeof startTcpListener>[1]): Promise<Awaited<ReturnType<typeof startTcpListener>>> {
    const l = await startTcpListener(this, opts);
    this.closeables.add(l);
    return l;
  }

  async httpListener(opts: Parameters<typeof startHttpListener>[1]): Promise<Awaited<ReturnType<typeof startHttpListener>>> {
    const l = await startHttpListener(this, opts);
    this.closeables.add(l);
    return l;
  }

  /** Registers something host.close() must close (listeners, servers). */
  onClose(c: Closeable): void {
    this.closeables.add(c);
  }

  /** Stops tick timers, cancels outstanding calls, closes listeners. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.plugins) p.shutdown();
    this.calls.close();
    const pending: unknown[] = [];
    for (const c of this.closeables) pending.push(c.close());
    this.closeables.clear();
    await Promise.allSettled(pending);
  }
}

function bytes(v: string | Uint8Array | undefined): Uint8Array {
  if (v === undefined) return new Uint8Array(0);
  return typeof v === "string" ? encodeUtf8(v) : v.slice();
}

async function compile(wasm: string | Uint8Array | WebAssembly.Module): Promise<WebAssembly.Module> {
  if (wasm instanceof WebAssembly.Module) return wasm;
  if (typeof wasm !== "string") return WebAssembly.compile(new Uint8Array(wasm));
  let m = moduleCache.get(wasm);
  if (!m) {
    m = readFile(wasm).then((b) => WebAssembly.compile(b));
    moduleCache.set(wasm, m);
    // A failed read must not poison the cache (the build may produce the file later).
    m.catch(() => moduleCache.delete(wasm));
  }
  return m;
}
