/**
 * Large bodies through the dubbo filter: calls with a 1 MiB argument from a real hessian.js
 * consumer to real providers, in both deployments, with the configs the controller renders.
 * When no rule reads attachments the filter reads the names at the start of the body and skips
 * the rest by its length without copying it into the VM (the bytes the host copies into the VM are
 * counted); when a rule reads attachments (after the arguments) the whole body is decoded, so
 * routing still sees them.
 * Either way every byte reaches the provider, frames span many reads, small calls share reads,
 * and refusals still rewrite a whole large frame.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Host } from "../host/index.js";
import { withTimeout } from "../host/fakes.js";
import { renderedClusters, renderedTerminal } from "../host/rendered.js";
import { seededRandom } from "../host/rpc-fixtures.js";
import { DubboProxy } from "../host/dubbo-proxy.js";
import type { Plugin } from "../host/plugin.js";
import type { UpstreamConnectMode } from "../host/tcp.js";
import { DubboConsumer, startDubboProvider, type DubboCall, type DubboPeer, type DubboReply } from "../peers/dubbo.js";
import { parseRuleSet } from "../../controller/rules/load.js";
import { checkConfiguration } from "../../controller/config/index.js";
import { bootstrap } from "../../controller/envoy/bootstrap.js";
import { DUBBO_PROXY_FILTER_NAME } from "../../controller/dubbo/filter.js";
import { dubboPerConnectionBootstrapProps, dubboPerRequestBootstrapProps } from "../../controller/dubbo/standalone.js";

const dubboWasm = new URL("../../build/dubbo.wasm", import.meta.url).pathname;

/** Rules on interface and method only: the filter never needs a body past the method. */
const NAMES = `
apiVersion: protomesh.io/v1alpha1
kind: RpcRouteRules
metadata: { name: files }
spec:
  rules:
    - name: legacy
      match: { service: { exact: com.acme.Legacy } }
      policy: { deny: true, message: "Legacy uploads are closed" }
    - name: upload
      match: { service: { exact: com.acme.Files }, method: { exact: upload } }
      route: { cluster: files-v2 }
    - name: files
      match: { service: { exact: com.acme.Files } }
      route: { cluster: files-v1 }
`;

/** The same, with a rule ahead that reads an attachment: every request is decoded in full. */
const ATTACHMENTS = `
apiVersion: protomesh.io/v1alpha1
kind: RpcRouteRules
metadata: { name: files }
spec:
  rules:
    - name: canary
      match: { service: { exact: com.acme.Files }, headers: [{ name: x-canary, exact: "1" }] }
      route: { cluster: files-v2 }
    - name: files
      match: { service: { exact: com.acme.Files } }
      route: { cluster: files-v1 }
`;

const PROVIDERS = ["files-v1", "files-v2"] as const;
const MiB = 1024 * 1024;
const OK = 20;
const SERVICE_ERROR = 70;
/** A 1 MiB argument, different per call so a misrouted or spliced answer cannot pass. */
const big = (tag: string): string => tag + "-" + "x".repeat(MiB - tag.length - 1);

type Json = Record<string, unknown>;

function chainFilters(rendered: Json): Json[] {
  const listeners = (rendered.static_resources as Json).listeners as Json[];
  return ((listeners[0]!.filter_chains as Json[])[0]!.filters as Json[]);
}

function wasmConfiguration(rendered: Json): string {
  const wasm = chainFilters(rendered).find((f) => f.name === "envoy.filters.network.wasm")!;
  return (((wasm.typed_config as Json).config as Json).configuration as Json).value as string;
}

async function startProviders(names: readonly string[]): Promise<Map<string, DubboPeer>> {
  const out = new Map<string, DubboPeer>();
  for (const n of names) out.set(n, await startDubboProvider());
  return out;
}

function endpointsOf(providers: Map<string, DubboPeer>): Record<string, { address: string; port: number }[]> {
  return Object.fromEntries([...providers].map(([n, p]) => [n, [{ address: "127.0.0.1", port: p.port }]]));
}

const call = (service: string, method: string, arg: string, attachments?: Record<string, string>): DubboCall => ({ service, method, arg, attachments });

function valueOf(r: DubboReply): string {
  assert.equal(r.status, OK, `status ${r.status}`);
  return String(r.values[1]);
}

async function onOneConnection<T>(port: number, f: (c: DubboConsumer) => Promise<T>): Promise<T> {
  const c = await DubboConsumer.connect(port);
  try {
    return await withTimeout(f(c), 15_000, "dubbo calls");
  } finally {
    await c.close();
  }
}

/** Requests each provider served since `marks`, as "service.method(argument length)". */
function served(providers: Map<string, DubboPeer>, marks: Map<string, number>): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [n, p] of providers) {
    const got = p.requests.slice(marks.get(n) ?? 0).map((r) => `${r.service}.${r.method}(${String(r.args[0]).length})`);
    if (got.length > 0) out[n] = got;
  }
  return out;
}

const mark = (providers: Map<string, DubboPeer>): Map<string, number> => new Map([...providers].map(([n, p]) => [n, p.requests.length]));

/**
 * From now on, counts the bytes the host copies into the plugin's one VM (get_buffer_bytes and
 * every other host call that returns bytes go through WasmVm.copyRangeToPointerSize).
 */
function copiesIntoVm(plugin: Plugin): () => number {
  const vm = plugin.vms[0]!;
  const copy = vm.copyRangeToPointerSize.bind(vm);
  let n = 0;
  vm.copyRangeToPointerSize = (data, start, end, ptrPtr, sizePtr) => {
    n += end - start;
    return copy(data, start, end, ptrPtr, sizePtr);
  };
  return () => n;
}

/**
 * A filter reading names only copies a window per frame (1 KiB, doubling while it copies on), and
 * to rewrite a refused frame the bytes of its neighbours that share the host's buffer (a read or
 * two): a few KiB to a few hundred for these calls, where copying the bodies would be megabytes.
 */
const NAMES_ONLY_BUDGET = 384 * 1024;

/** A listener in front of tcp_proxy (per connection), rendered from `rules`. */
async function perConnection(rules: string, providers: Map<string, DubboPeer>): Promise<{ host: Host; plugin: Plugin; port: number }> {
  const rendered = bootstrap(dubboPerConnectionBootstrapProps({ rules: parseRuleSet(rules, "files.yaml"), endpoints: endpointsOf(providers), seed: 42, listenPort: 0 }));
  const configuration = wasmConfiguration(rendered);
  assert.deepEqual(checkConfiguration("dubbo", configuration), []);
  const tcp = chainFilters(rendered)[1]!.typed_config as Json;
  const host = new Host({ clusters: Object.fromEntries(renderedClusters(rendered)) });
  const plugin = await host.loadPlugin({ name: "dubbo", wasm: dubboWasm, rootId: "dubbo", configuration, vmCount: 1 });
  const listener = await host.tcpListener({
    filterChains: [{
      name: "dubbo",
      filters: [plugin],
      tcpProxy: {
        cluster: String(tcp.cluster),
        upstreamConnectMode: tcp.upstream_connect_mode as UpstreamConnectMode,
        maxEarlyDataBytes: Number(tcp.max_early_data_bytes),
      },
    }],
  });
  return { host, plugin, port: listener.port };
}

describe("dubbo filter, 1 MiB bodies, rules on names only (per connection)", () => {
  let providers: Map<string, DubboPeer>;
  let host: Host;
  let plugin: Plugin;
  let port = 0;

  before(async () => {
    providers = await startProviders([...PROVIDERS, "dubbo-default"]);
    ({ host, plugin, port } = await perConnection(NAMES, providers));
  });

  after(async () => {
    await host?.close();
    await Promise.all([...(providers?.values() ?? [])].map((p) => p.close()));
  });

  it("routes 1 MiB calls by their names, multiplexed with small ones, and never copies the bodies into the VM", async () => {
    // A small call first: the VM's buffers reach their working size.
    assert.equal(valueOf(await onOneConnection(port, (c) => c.call(call("com.acme.Files", "upload", "warm")))), "upload:warm");
    const copied = copiesIntoVm(plugin);
    const m = mark(providers);
    await onOneConnection(port, async (c) => {
      // In flight together on one connection: big frames span many reads; small ones share reads with them.
      const replies = await Promise.all([
        c.call(call("com.acme.Files", "upload", big("a"))),
        c.call(call("com.acme.Files", "upload", "s1")),
        c.call(call("com.acme.Files", "upload", big("b"))),
        c.call(call("com.acme.Files", "list", big("c"))),
        c.call(call("com.acme.Files", "upload", "s2")),
      ]);
      assert.deepEqual(replies.map((r) => valueOf(r).slice(0, 10)), ["upload:a-x", "upload:s1", "upload:b-x", "list:c-xxx", "upload:s2"]);
      assert.equal(valueOf(replies[0]!), `upload:${big("a")}`, "the 1 MiB argument arrives whole and unchanged");
      assert.equal(valueOf(replies[3]!).length, "list:".length + MiB);
    });
    // The connection goes where its first request's rule says; the rest follow it.
    assert.deepEqual(served(providers, m), { "files-v2": [
      `com.acme.Files.upload(${MiB})`, "com.acme.Files.upload(2)", `com.acme.Files.upload(${MiB})`, `com.acme.Files.list(${MiB})`, "com.acme.Files.upload(2)",
    ] });
    // 3 MiB of requests and 3 MiB of answers passed through the filter.
    assert.ok(copied() < NAMES_ONLY_BUDGET, `${copied()} bytes copied into the VM while 6 MiB passed`);
  });

  it("refuses a 1 MiB call as a Dubbo error with the rule's message, the connection staying usable", async () => {
    const m = mark(providers);
    const beats = providers.get("dubbo-default")!.heartbeats.length;
    const copied = copiesIntoVm(plugin);
    await onOneConnection(port, async (c) => {
      const refused = await c.call(call("com.acme.Legacy", "upload", big("r")));
      assert.equal(refused.flag & 0xe0, 0, "a plain response");
      assert.equal(refused.status, SERVICE_ERROR);
      assert.deepEqual(refused.values, ["Legacy uploads are closed"]);
      assert.equal(valueOf(await c.call(call("com.acme.Files", "list", big("after")))).length, "list:".length + MiB);
    });
    // The provider saw the refused call as a heartbeat (the 1 MiB frame rewritten whole), then the next call.
    assert.equal(providers.get("dubbo-default")!.heartbeats.length - beats, 1);
    assert.deepEqual(served(providers, m), { "dubbo-default": [`com.acme.Files.list(${MiB})`] });
    // The rewrite reads only the bytes around the refused frame, never its body.
    assert.ok(copied() < NAMES_ONLY_BUDGET, `${copied()} bytes copied into the VM while 3 MiB passed`);
  });
});

describe("dubbo filter, 1 MiB bodies, a rule reads attachments (per connection)", () => {
  let providers: Map<string, DubboPeer>;
  let host: Host;
  let plugin: Plugin;
  let port = 0;

  before(async () => {
    providers = await startProviders([...PROVIDERS, "dubbo-default"]);
    ({ host, plugin, port } = await perConnection(ATTACHMENTS, providers));
  });

  after(async () => {
    await host?.close();
    await Promise.all([...(providers?.values() ?? [])].map((p) => p.close()));
  });

  it("reads the attachments behind a 1 MiB argument to route, decoding the body whole", async () => {
    const copied = copiesIntoVm(plugin);
    const m = mark(providers);
    assert.equal(valueOf(await onOneConnection(port, (c) => c.call(call("com.acme.Files", "upload", big("canary"), { "x-canary": "1" })))).length, "upload:".length + MiB);
    assert.equal(valueOf(await onOneConnection(port, (c) => c.call(call("com.acme.Files", "upload", big("plain"), { "x-canary": "0" })))).length, "upload:".length + MiB);
    assert.deepEqual(served(providers, m), { "files-v1": [`com.acme.Files.upload(${MiB})`], "files-v2": [`com.acme.Files.upload(${MiB})`] });
    // The full decode copies both request bodies whole (the contrast to the tests above).
    assert.ok(copied() >= 2 * MiB, `only ${copied()} bytes copied into the VM while decoding two 1 MiB requests in full`);
  });
});

describe("dubbo filter, 1 MiB bodies, per request (in front of dubbo_proxy)", () => {
  let providers: Map<string, DubboPeer>;
  let host: Host;
  let proxy: DubboProxy;
  let plugin: Plugin;
  let port = 0;

  before(async () => {
    providers = await startProviders(PROVIDERS);
    const { props } = dubboPerRequestBootstrapProps({ rules: parseRuleSet(NAMES, "files.yaml"), endpoints: endpointsOf(providers), seed: 7, listenPort: 0 });
    const rendered = bootstrap(props);
    const configuration = wasmConfiguration(rendered);
    assert.equal(JSON.parse(configuration).routing, "request");
    host = new Host({ clusters: Object.fromEntries(renderedClusters(rendered)) });
    plugin = await host.loadPlugin({ name: "dubbo-per-request", wasm: dubboWasm, rootId: "dubbo", configuration, vmCount: 1 });
    proxy = new DubboProxy(renderedTerminal(rendered, DUBBO_PROXY_FILTER_NAME), host, { random: seededRandom(3) });
    const listener = await host.tcpListener({ filterChains: [{ name: "dubbo", filters: [plugin], tcpProxy: {}, terminal: proxy.terminal }] });
    port = listener.port;
  });

  after(async () => {
    await host?.close();
    await proxy?.close();
    await Promise.all([...(providers?.values() ?? [])].map((p) => p.close()));
  });

  it("lets consecutive 1 MiB calls on one connection reach the providers the rules name, and refuses one", async () => {
    assert.equal(valueOf(await onOneConnection(port, (c) => c.call(call("com.acme.Files", "list", "warm")))), "list:warm");
    const copied = copiesIntoVm(plugin);
    const m = mark(providers);
    await onOneConnection(port, async (c) => {
      const [up, refused, list, small] = await Promise.all([
        c.call(call("com.acme.Files", "upload", big("u"))),
        c.call(call("com.acme.Legacy", "upload", big("l"))),
        c.call(call("com.acme.Files", "list", big("v"))),
        c.call(call("com.acme.Files", "upload", "s")),
      ]);
      assert.equal(valueOf(up!), `upload:${big("u")}`);
      assert.equal(refused!.status, SERVICE_ERROR);
      assert.deepEqual(refused!.values, ["Legacy uploads are closed"]);
      assert.equal(valueOf(list!), `list:${big("v")}`);
      assert.equal(valueOf(small!), "upload:s");
    });
    // dubbo_proxy may carry them on different upstream connections: order per provider is not kept.
    const got = Object.fromEntries(Object.entries(served(providers, m)).map(([k, v]) => [k, v.sort()]));
    assert.deepEqual(got, {
      "files-v1": [`com.acme.Files.list(${MiB})`],
      "files-v2": ["com.acme.Files.upload(1)", `com.acme.Files.upload(${MiB})`],
    });
    assert.ok(copied() < NAMES_ONLY_BUDGET, `${copied()} bytes copied into the VM while 5 MiB passed`);
  });
});
