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
import { DEFAULT_RELOAD_BASE_INTERVAL_MS, effectiveFailurePolicy, reloadBackoffMs, type EffectiveFailurePolicy, type FailurePolicyName } from "./failure-policy.js";
import { Plugin, PluginLoadError } from "./plugin.js";
import { SharedData, SharedQueues } from "./shared.js";
import { startTcpListener } from "./tcp.js";
import { envoyBehaviour, type EnvoyVersion } from "./envoy-version.js";
import type { ClusterConfig, DataPlaneHost, NodeMetadata } from "./types.js";
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
  /** Bootstrap `node.metadata`, readable as `xds.node.metadata`. @default {} */
  readonly nodeMetadata?: NodeMetadata;
  /**
   * Whether Envoy was built with WASM_USE_CEL_PARSER, which registers the foreign functions
   * expr_create / expr_evaluate / expr_delete (cel.ts): every platform but Windows.
   * @default true
   */
  readonly celParser?: boolean;
  /**
   * Whether tick timers run on the clock. False keeps the period (set_tick_period) but arms no
   * timer, so a test that asserts what happens before on_tick drives every tick by hand
   * (Plugin.tick()); Envoy always arms them.
   * @default true
   */
  readonly timers?: boolean;
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
  /**
   * PluginConfig.fail_open (deprecated upstream, still the only field cpp-host's per-callback
   * check reads; failure-policy.ts). @default false
   */
  readonly failOpen?: boolean;
  /** PluginConfig.failure_policy; setting it with failOpen rejects the plugin, as Envoy does. @default "UNSPECIFIED" */
  readonly failurePolicy?: FailurePolicyName;
  /** PluginConfig.reload_config.backoff.base_interval in ms (FAIL_RELOAD). @default 1000 */
  readonly reloadBaseIntervalMs?: number;
  /** Monotonic clock in ms for the FAIL_RELOAD backoff (Envoy: the dispatcher's time source). @default performance.now */
  readonly now?: () => number;
  /** Unsigned random integers for the backoff jitter (Envoy: Random::RandomGenerator). @default Math.random based */
  readonly random?: () => number;
  /** Envoy's wasm logger level (proxy_get_log_level, and what gets captured). @default "info" */
  readonly logLevel?: LogLevelName | number;
}

interface Closeable {
  close(): unknown;
}

const moduleCache = new Map<string, Promise<WebAssembly.Module>>();

/**
 * How long host.close() waits for a root context whose on_done returned false to call
 * proxy_done. Envoy waits without a bound (the VM lives on until then); a test host must end.
 */
const ROOT_DONE_WAIT_MS = 2000;

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

  readonly nodeMetadata: NodeMetadata;
  readonly celParser: boolean;
  readonly timers: boolean;

  constructor(opts: HostOptions = {}) {
    this.nodeMetadata = opts.nodeMetadata ?? {};
    this.celParser = opts.celParser ?? true;
    this.timers = opts.timers ?? true;
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
      failurePolicy: "FAIL_CLOSED" as EffectiveFailurePolicy,
      reloadBaseIntervalMs: opts.reloadBaseIntervalMs ?? DEFAULT_RELOAD_BASE_INTERVAL_MS,
      logLevel: logLevelNumber(opts.logLevel ?? "info"),
    };
    try {
      // Envoy rejects the whole config (EnvoyException in PluginConfig::PluginConfig).
      spec.failurePolicy = effectiveFailurePolicy(spec.failOpen, opts.failurePolicy ?? "UNSPECIFIED");
      if (spec.failurePolicy === "FAIL_RELOAD") reloadBackoffMs(spec.reloadBaseIntervalMs, () => 0);
    } catch (err) {
      throw new PluginLoadError(opts.name, (err as Error).message);
    }
    const vmCount = opts.vmCount ?? 2;
    if (!Number.isInteger(vmCount) || vmCount < 1) {
      throw new Error(`vmCount must be a positive integer, got ${String(opts.vmCount)}`);
    }
    const plugin = Plugin.load(spec, module, this, vmCount, {
      now: opts.now ?? (() => performance.now()),
      random: opts.random ?? (() => Math.floor(Math.random() * 0x100000000)),
    });
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

  /**
   * Closes listeners (their connections end, each stream context done), then shuts every
   * plugin down as Envoy does when it goes: each worker VM's root context gets on_done, then
   * on_delete; a root context whose on_done returned false keeps its timers and calls until it
   * calls proxy_done (waited for at most `ROOT_DONE_WAIT_MS`, then logged at warn). Last, tick
   * timers stop and outstanding calls are cancelled.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const pending: unknown[] = [];
    for (const c of this.closeables) pending.push(c.close());
    this.closeables.clear();
    await Promise.allSettled(pending);
    const waits: Array<Promise<void>> = [];
    for (const p of this.plugins) {
      for (const vm of p.vms) {
        vm.startShutdown();
        if (vm.pendingDone && !vm.failed) waits.push(vm.rootGone);
      }
    }
    if (waits.length > 0) await this.waitForDone(waits);
    for (const p of this.plugins) p.shutdown();
    this.calls.close();
  }

  private async waitForDone(waits: Array<Promise<void>>): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, ROOT_DONE_WAIT_MS)));
    await Promise.race([Promise.all(waits), timeout]);
    clearTimeout(timer);
    for (const p of this.plugins) {
      for (const vm of p.vms) {
        if (!vm.pendingDone) continue;
        const message = `root context ${vm.rootContextId} returned false from on_done and did not call proxy_done within ${ROOT_DONE_WAIT_MS} ms; host closed`;
        this.logs.add(logLevelNumber("warn"), message, p.name, vm.index, vm.rootContextId);
      }
    }
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
