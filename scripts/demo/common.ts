/** What every part of the demo shares: output, failing, bounded waits, reading a rendered bootstrap. */
import { relative, resolve } from "node:path";
import { pluginFailureOptions, type PluginFailureOptions } from "../../test/host/failure-policy.js";

export const STEP_TIMEOUT_MS = 10_000;

export const root = resolve(new URL("../..", import.meta.url).pathname);
export const rel = (p: string): string => relative(process.cwd(), p) || ".";

export function part(title: string): void {
  console.log(`\n######## ${title}`);
}

export function section(title: string): void {
  console.log(`\n== ${title}`);
}

export function fail(message: string): never {
  console.error(`\ndemo FAILED: ${message}`);
  process.exit(1);
}

export function within<T>(p: Promise<T>, what: string, ms = STEP_TIMEOUT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: nothing after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

export interface RenderedWasm {
  readonly name: string;
  readonly rootId: string;
  readonly vmId: string;
  readonly wasm: string;
  readonly configuration: string;
  /** fail_open / failure_policy / reload_config, read the way Envoy reads them. */
  readonly failure: PluginFailureOptions;
}

export interface RenderedTcpProxy {
  readonly cluster: string;
  readonly upstreamConnectMode?: "IMMEDIATE" | "ON_DOWNSTREAM_DATA";
  readonly maxEarlyDataBytes?: number;
}

export interface RenderedCluster {
  readonly name: string;
  readonly type: string;
  /** Empty for ORIGINAL_DST (the emulator's built-in PassthroughCluster). */
  readonly endpoints: Array<{ host: string; port: number }>;
}

export interface Rendered {
  readonly listener: any;
  readonly listenerFilters: string[];
  readonly wasm: RenderedWasm[];
  readonly tcpProxy: RenderedTcpProxy;
  readonly clusters: RenderedCluster[];
  readonly statsTags: Array<{ tagName: string; regex: string }>;
}

/** Reads back from the rendered bootstrap what the emulator needs, so both run one config. */
export function fromRendered(cfg: any): Rendered {
  const listener = cfg.static_resources.listeners[0];
  const filters: any[] = listener.filter_chains[0].filters;
  const wasm = filters.filter((f) => f.name === "envoy.filters.network.wasm").map((f): RenderedWasm => {
    const c = f.typed_config.config;
    return {
      configuration: c.configuration.value,
      failure: pluginFailureOptions(c),
      name: c.name,
      rootId: c.root_id,
      vmId: c.vm_config.vm_id,
      wasm: c.vm_config.code.local.filename,
    };
  });
  const tcp = filters[filters.length - 1].typed_config;
  if (tcp.upstream_connect_mode === "ON_DOWNSTREAM_TLS_HANDSHAKE") fail("the emulator has no TLS: ON_DOWNSTREAM_TLS_HANDSHAKE");
  const clusters = (cfg.static_resources.clusters as any[]).map((c): RenderedCluster => ({
    endpoints: (c.load_assignment?.endpoints?.[0]?.lb_endpoints ?? []).map((e: any) => ({
      host: e.endpoint.address.socket_address.address,
      port: e.endpoint.address.socket_address.port_value,
    })),
    name: c.name,
    type: c.type,
  }));
  return {
    clusters,
    listener,
    listenerFilters: (listener.listener_filters ?? []).map((f: any) => f.name),
    statsTags: (cfg.stats_config?.stats_tags ?? []).map((t: any) => ({ regex: t.regex, tagName: t.tag_name })),
    tcpProxy: { cluster: tcp.cluster, maxEarlyDataBytes: tcp.max_early_data_bytes, upstreamConnectMode: tcp.upstream_connect_mode },
    wasm,
  };
}

/** Prints the listener → filters → tcp_proxy → clusters shape of a rendered bootstrap. */
export function printShape(r: Rendered, notes: Readonly<Record<string, string>> = {}): void {
  const a = r.listener.address.socket_address;
  console.log(`listener ${r.listener.name} ${a.address}:${a.port_value}` +
    (r.listenerFilters.length > 0 ? `  (listener filters: ${r.listenerFilters.join(", ")})` : ""));
  for (const w of r.wasm) {
    console.log(`  ├─ envoy.filters.network.wasm  plugin=${w.name} root_id=${w.rootId} vm_id=${w.vmId} ${w.failure.failOpen ? "fail_open=true" : `failure_policy=${w.failure.failurePolicy}`}`);
    console.log(`  │    code=${w.wasm.startsWith("/") ? rel(w.wasm) : w.wasm} configuration=${w.configuration}`);
  }
  const t = r.tcpProxy;
  console.log(`  └─ envoy.filters.network.tcp_proxy → cluster ${t.cluster}` +
    (t.upstreamConnectMode === undefined ? " (connects immediately)" : ` (${t.upstreamConnectMode})`) +
    (t.maxEarlyDataBytes === undefined ? "" : `, max_early_data_bytes ${t.maxEarlyDataBytes}`));
  for (const c of r.clusters) {
    const where = c.endpoints.length > 0 ? c.endpoints.map((e) => `${e.host}:${e.port}`).join(", ") : "the connection's original destination";
    console.log(`cluster ${c.name} (${c.type}) → ${where}${notes[c.name] ? `  [${notes[c.name]}]` : ""}`);
  }
}
