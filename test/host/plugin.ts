/**
 * A loaded plugin: the canary VM Envoy starts to validate the configuration, then one VM per
 * worker (proxy-wasm-cpp-host src/wasm.cc createWasm / getOrCreateThreadLocalPlugin, Envoy
 * source/extensions/common/wasm/wasm.cc). Every VM runs _initialize, on_context_create(root),
 * on_vm_start and on_configure, so those callbacks run vmCount + 1 times.
 */
import type { Context } from "./context.js";
import type { HttpFilterCallbacks, HttpFilterFactory, NetworkFilterFactory, ReadFilterCallbacks } from "./types.js";
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

export class Plugin {
  /** Worker VMs (Envoy: one per worker thread). */
  readonly vms: WasmVm[] = [];
  private rr = 0;

  private constructor(
    readonly spec: PluginSpec,
    private readonly module: WebAssembly.Module,
  ) {}

  get name(): string {
    return this.spec.name;
  }

  get failOpen(): boolean {
    return this.spec.failOpen;
  }

  /** Canary first; a canary failure rejects the plugin and discards the canary. */
  static load(spec: PluginSpec, module: WebAssembly.Module, host: HostServices, vmCount: number): Plugin {
    const canary = new WasmVm(spec, host, -1);
    const err = startVm(canary, module);
    canary.shutdown();
    if (err !== null) throw new PluginLoadError(spec.name, err);
    const plugin = new Plugin(spec, module);
    for (let i = 0; i < vmCount; i++) {
      const vm = new WasmVm(spec, host, i);
      // A worker whose start/configure fails stays failed: fail-open/closed decides traffic.
      startVm(vm, module);
      plugin.vms.push(vm);
    }
    return plugin;
  }

  /** Round-robin over worker VMs, as connections are spread over worker threads. */
  nextVm(): WasmVm {
    // Round robin without a modulo per connection (rr stays below vms.length).
    const n = this.vms.length;
    const i = this.rr < n ? this.rr : 0;
    this.rr = i + 1 < n ? i + 1 : 0;
    return this.vms[i];
  }

  networkFilterFactory(): NetworkFilterFactory {
    return {
      name: this.spec.name,
      create: (callbacks: ReadFilterCallbacks) => {
        const vm = this.nextVm();
        // FilterConfig::createFilter: failed VM + fail_open → no filter; fail-closed → empty Context.
        if (vm.failed && this.spec.failOpen) return undefined;
        return new WasmNetworkFilter(vm, callbacks, this.spec.failOpen);
      },
    };
  }

  httpFilterFactory(): HttpFilterFactory {
    return {
      name: this.spec.name,
      create: (callbacks: HttpFilterCallbacks) => {
        const vm = this.nextVm();
        if (vm.failed && this.spec.failOpen) return undefined;
        return new WasmHttpFilter(vm, callbacks, this.spec.failOpen);
      },
    };
  }

  /** Fires on_tick synchronously on every VM whose root context set a tick period. */
  tick(): void {
    for (const vm of this.vms) vm.tick(vm.rootContext?.id ?? 1);
  }

  shutdown(): void {
    for (const vm of this.vms) vm.shutdown();
  }
}
