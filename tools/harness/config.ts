/**
 * A filter's `proxy_on_configure` on its own, as Envoy's canary VM runs it: one VM configured again
 * and again, configurations of a chosen size, and their parse time and memory. Shared by the
 * configuration fuzz target (fuzz/config.ts) and the bench's "Configuration parsing" section
 * (bench/config.ts).
 */
import { Host } from "../../test/host/index.js";
import type { Context } from "../../test/host/context.js";
import { WasmVm, type PluginSpec } from "../../test/host/vm.js";
import { DEFAULT_RELOAD_BASE_INTERVAL_MS } from "../../test/host/failure-policy.js";

export const CONFIG_FILTERS = ["dubbo", "http-telemetry", "sniffer", "tcp-stats", "thrift"] as const;
export type ConfigFilter = (typeof CONFIG_FILTERS)[number];

const enc = new TextEncoder();

/** One VM whose root context is configured again and again, as the canary configures it once. */
export class ConfigVm {
  readonly host = new Host();
  private readonly spec: { -readonly [K in keyof PluginSpec]: PluginSpec[K] };
  readonly vm: WasmVm;
  private readonly root: Context;

  constructor(readonly filter: string, module: WebAssembly.Module) {
    this.spec = {
      name: filter, rootId: filter, vmId: filter, configuration: new Uint8Array(0), vmConfiguration: new Uint8Array(0),
      failOpen: false, failurePolicy: "FAIL_CLOSED", logLevel: 2, reloadBaseIntervalMs: DEFAULT_RELOAD_BASE_INTERVAL_MS,
    };
    this.vm = new WasmVm(this.spec, this.host, -1);
    if (!this.vm.instantiate(module)) throw new Error(`${filter}: ${this.vm.failMessage}`);
    this.root = this.vm.createRootContext();
    this.vm.invoke(this.root, "proxy_on_context_create", 0);
    this.root.inVmContextCreated = true;
    this.vm.invoke(this.root, "proxy_on_vm_start", 0);
  }

  /** ContextBase::onConfigure with `bytes`: true when the filter accepted them. */
  configure(bytes: Uint8Array): boolean {
    this.spec.configuration = bytes;
    this.root.tempPluginConfiguration = bytes;
    try {
      return this.vm.invoke(this.root, "proxy_on_configure", bytes.length) !== 0;
    } finally {
      this.root.tempPluginConfiguration = null;
    }
  }

  lastError(): string {
    const errors = this.host.logs.filter((e) => e.level === "error" || e.level === "critical");
    return errors.length > 0 ? errors[errors.length - 1]!.message : "";
  }
}

/** A configuration with `n` entries the reader must read in full before the filter refuses or accepts it. */
export function sizedConfiguration(filter: ConfigFilter, n: number): string {
  if (filter === "sniffer") {
    // n ports in one allow-list entry: accepted, each one read and checked.
    return `{"mode":"bypass","allowed_destinations":[{"cidr":"10.0.0.0/8","ports":[${Array.from({ length: n }, (_, i) => 1 + (i % 65535)).join(",")}]}]}`;
  }
  // n distinct keys: the reader's duplicate check sees each, then the filter names the first unknown one.
  return `{${Array.from({ length: n }, (_, i) => `"${i.toString(36)}":0`).join(",")}}`;
}

export interface SizeRow {
  readonly entries: number;
  readonly bytes: number;
  /** Fastest of 5 on_configure calls (3 from 100 KB), µs. */
  readonly micros: number;
  readonly accepted: boolean;
  /** Pages the VM grew during the first call (the allocator doubles memory: an upper bound). */
  readonly pages: number;
  readonly trap?: string;
}

/** on_configure time and memory for sizedConfiguration(filter, n), n = 10 … maxEntries, each in a fresh VM. */
export async function measureSizes(filter: ConfigFilter, module: WebAssembly.Module, maxEntries: number): Promise<SizeRow[]> {
  const rows: SizeRow[] = [];
  for (let n = 10; n <= maxEntries; n *= 10) {
    const fresh = new ConfigVm(filter, module);
    const before = fresh.vm.memoryPages();
    const bytes = enc.encode(sizedConfiguration(filter, n));
    const t = timeConfigure(fresh, bytes);
    rows.push({
      entries: n, bytes: bytes.length, micros: t.micros, accepted: t.accepted, pages: fresh.vm.memoryPages() - before,
      trap: fresh.vm.failed ? fresh.vm.failMessage : undefined,
    });
    await fresh.host.close();
    if (fresh.vm.failed) break;
  }
  return rows;
}

export function timeConfigure(cvm: ConfigVm, bytes: Uint8Array): { micros: number; accepted: boolean } {
  let best = Infinity;
  let accepted = false;
  for (let r = 0; r < (bytes.length < 100_000 ? 5 : 3); r++) {
    const t0 = performance.now();
    accepted = cvm.configure(bytes);
    best = Math.min(best, performance.now() - t0);
  }
  return { micros: best * 1000, accepted };
}
