/**
 * A loaded plugin: the canary VM Envoy starts to validate the configuration, then one VM per
 * worker (proxy-wasm-cpp-host src/wasm.cc createWasm / getOrCreateThreadLocalPlugin, Envoy
 * source/extensions/common/wasm/wasm.cc). Every VM runs _initialize, on_context_create(root),
 * on_vm_start and on_configure, so those callbacks run vmCount + 1 times.
 */
import type { Context } from "./context.js";
import type { HttpFilterCallbacks, HttpFilterFactory, NetworkFilterFactory, ReadFilterCallbacks } from "./types.js";
import { reloadBackoffMs } from "./failure-policy.js";
import { WasmVm, type HostServices, type PluginSpec } from "./vm.js";
import { WasmHttpFilter, WasmNetworkFilter } from "./wasm-filter.js";

export class PluginLoadError extends Error {
  constructor(
    readonly plugin: string,
    readonly reason: string,
  ) {
    super(`Unable to create Wasm plugin ${plugin}: ${reason}`);
    this.name = "PluginLoadError";
  }
}

/** Starts the root context of a fresh VM: ContextBase::onStart then onConfigure. */
function startVm(vm: WasmVm, module: WebAssembly.Module): string | null {
  if (!vm.instantiate(module)) return vm.failMessage;
  const root = vm.createRootContext();
  // ContextBase::onStart: on_context_create(root, 0) then on_vm_start(root, vm_config_size).
  if (vm.has("proxy_on_context_create")) vm.invoke(root, "proxy_on_context_create", 0);
  root.inVmContextCreated = true;
  if (vm.failed) return vm.failMessage;
  if (vm.has("proxy_on_vm_start")) {
    const ok = vm.invoke(root, "proxy_on_vm_start", vm.plugin.vmConfiguration.length);
    if (vm.failed) return vm.failMessage;
    if (ok === 0) {
      vm.fail("Failed to start base Wasm (on_vm_start returned false)");
      return "on_vm_start returned false";
    }
  }
  return configure(vm, root);
}

/** ContextBase::onConfigure: the plugin configuration is readable only during this call. */
function configure(vm: WasmVm, root: Context): string | null {
  if (!vm.has("proxy_on_configure")) return null;
  root.tempPluginConfiguration = vm.plugin.configuration;
  let ok: number;
  try {
    ok = vm.invoke(root, "proxy_on_configure", vm.plugin.configuration.length);
  } finally {
    root.tempPluginConfiguration = null;
  }
  if (vm.failed) return vm.failMessage;
  if (ok === 0) {
    vm.fail(`Failed to configure Wasm plugin ${vm.plugin.name} (on_configure returned false)`);
    return "on_configure returned false";
  }
  return null;
}

/** The time and randomness FAIL_RELOAD's backoff draws on (Envoy: dispatcher time source, RandomGenerator). */
export interface ReloadClock {
  readonly now: () => number;
  readonly random: () => number;
}

export class Plugin {
  /** Worker VMs (Envoy: one per worker thread); FAIL_RELOAD replaces a failed one in place. */
  readonly vms: WasmVm[] = [];
  /** Envoy's WasmEvent counters for reloads (stats `wasm.<plugin>.vm_reload_*` in Envoy). */
  readonly reloads = { success: 0, failure: 0, backoff: 0 };
  /** Failed VMs FAIL_RELOAD replaced; host.close() shuts them down with the rest. */
  private readonly retired: WasmVm[] = [];
  /** Per worker: when its handle was last (re)loaded (SinglePluginHandle::last_load). */
  private readonly lastLoad: number[] = [];
  private rr = 0;

  private constructor(
    readonly spec: PluginSpec,
    private readonly module: WebAssembly.Module,
    private readonly host: HostServices,
    private readonly clock: ReloadClock,
  ) {}

  get name(): string {
    return this.spec.name;
  }

  /** cpp-host's PluginBase::fail_open_ (PluginConfig.fail_open). */
  get failOpen(): boolean {
    return this.spec.failOpen;
  }

  /** Canary first; a canary failure rejects the plugin and discards the canary. */
  static load(spec: PluginSpec, module: WebAssembly.Module, host: HostServices, vmCount: number, clock: ReloadClock): Plugin {
    const canary = new WasmVm(spec, host, -1);
    const err = startVm(canary, module);
    canary.shutdown();
    if (err !== null) throw new PluginLoadError(spec.name, err);
    const plugin = new Plugin(spec, module, host, clock);
    const now = clock.now();
    for (let i = 0; i < vmCount; i++) {
      const vm = new WasmVm(spec, host, i);
      // A worker whose start/configure fails stays failed: the failure policy decides traffic.
      startVm(vm, module);
      plugin.vms.push(vm);
      plugin.lastLoad.push(now);
    }
    return plugin;
  }

  /** Round-robin over worker indexes, as connections are spread over worker threads. */
  private nextIndex(): number {
    // Round robin without a modulo per connection (rr stays below vms.length).
    const n = this.vms.length;
    const i = this.rr < n ? this.rr : 0;
    this.rr = i + 1 < n ? i + 1 : 0;
    return i;
  }

  /** The next worker's VM (round-robin). */
  nextVm(): WasmVm {
    return this.vms[this.nextIndex()];
  }

  /**
   * PluginConfig::maybeReloadHandleIfNeeded: a VM failed at run time (every failure after a good
   * start is a FailState::RuntimeError here) under FAIL_RELOAD is replaced by a fresh one (cpp-host
   * getOrCreateThreadLocalPlugin: new instance, _initialize, on_context_create, on_vm_start,
   * on_configure), at most once per backoff interval since the last attempt. A reload that fails
   * to start keeps the failed VM.
   */
  private maybeReload(i: number): WasmVm {
    const vm = this.vms[i];
    if (!vm.failed || this.spec.failurePolicy !== "FAIL_RELOAD") return vm;
    const interval = reloadBackoffMs(this.spec.reloadBaseIntervalMs, this.clock.random);
    const now = this.clock.now();
    if (now - this.lastLoad[i] < interval) {
      this.reloads.backoff++;
      return vm;
    }
    this.lastLoad[i] = now;
    const fresh = new WasmVm(this.spec, this.host, i);
    if (startVm(fresh, this.module) !== null) {
      fresh.shutdown();
      this.reloads.failure++;
      return vm;
    }
    this.reloads.success++;
    this.retired.push(vm);
    this.vms[i] = fresh;
    return fresh;
  }

  /**
   * PluginConfig::createContext for the next connection: the worker's VM, or undefined for "no
   * filter" (failed VM under FAIL_OPEN); a failed VM otherwise gives a filter whose every callback
   * fails the stream.
   */
  private vmForNewStream(): WasmVm | undefined {
    const i = this.nextIndex();
    const vm = this.maybeReload(i);
    if (vm.failed && this.spec.failurePolicy === "FAIL_OPEN") return undefined;
    return vm;
  }

  networkFilterFactory(): NetworkFilterFactory {
    return {
      name: this.spec.name,
      create: (callbacks: ReadFilterCallbacks) => {
        const vm = this.vmForNewStream();
        // The filter's own CHECK_FAIL_NET reads fail_open (PluginBase::fail_open_), not the policy.
        return vm === undefined ? undefined : new WasmNetworkFilter(vm, callbacks, this.spec.failOpen);
      },
    };
  }

  httpFilterFactory(): HttpFilterFactory {
    return {
      name: this.spec.name,
      create: (callbacks: HttpFilterCallbacks) => {
        const vm = this.vmForNewStream();
        return vm === undefined ? undefined : new WasmHttpFilter(vm, callbacks, this.spec.failOpen);
      },
    };
  }

  /** Fires on_tick synchronously on every VM whose root context set a tick period. */
  tick(): void {
    for (const vm of this.vms) vm.tick(vm.rootContext?.id ?? 1);
  }

  shutdown(): void {
    for (const vm of this.vms) vm.shutdown();
    for (const vm of this.retired) vm.shutdown();
  }
}
