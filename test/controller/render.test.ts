import assert from "node:assert/strict";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { parse } from "yaml";
import { main } from "../../controller/cli.js";
import { bootstrap, bootstrapYaml } from "../../controller/envoy/bootstrap.js";
import { committedEnvoyOptions, standaloneBootstrapProps } from "../../controller/envoy/standalone.js";
import { tcpProxyFilter } from "../../controller/envoy/tcp-proxy.js";
import { wasmNetworkFilter } from "../../controller/envoy/wasm-network-filter.js";
import { validateEnvoyFilter, wasmEnvoyFilter, wasmEnvoyFilterYaml } from "../../controller/istio/envoy-filter.js";

async function cli(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const saved = process.exitCode;
  const code = await main(argv, { stdout: (t) => { stdout += t; }, stderr: (t) => { stderr += t; } });
  process.exitCode = saved;
  return { code, stdout, stderr };
}

describe("rendering", () => {
  it("envoy/tcp-stats.yaml is exactly what the controller renders (no drift)", async () => {
    const committed = readFileSync(new URL("../../envoy/tcp-stats.yaml", import.meta.url), "utf8");
    const rendered = await cli("render", "envoy", "--filter", "tcp-stats", "--admin-address", "0.0.0.0");
    assert.equal(rendered.code, 0, rendered.stderr);
    assert.equal(rendered.stdout, committed, "envoy/tcp-stats.yaml drifted; regenerate it with the command in its header");
  });

  it("is deterministic: two renders are byte-equal, keys sorted at every depth", () => {
    const props = standaloneBootstrapProps({ ...committedEnvoyOptions("tcp-stats"), configuration: { z: 1, a: { y: 2, b: 3 } } });
    const a = bootstrapYaml(props);
    const b = bootstrapYaml(standaloneBootstrapProps({ ...committedEnvoyOptions("tcp-stats"), configuration: { a: { b: 3, y: 2 }, z: 1 } }));
    assert.equal(a, b);
    const check = (v: unknown): void => {
      if (Array.isArray(v)) v.forEach(check);
      else if (v !== null && typeof v === "object") {
        const keys = Object.keys(v);
        assert.deepEqual(keys, [...keys].sort());
        Object.values(v).forEach(check);
      }
    };
    check(parse(a));
    assert.match(a, /value: '?"?\{\\?"a\\?":\{\\?"b\\?":3,\\?"y\\?":2\},\\?"z\\?":1\}/);
    const e1 = wasmEnvoyFilterYaml({ filter: "tcp-stats", port: 9080, workloadLabels: { b: "2", a: "1" } });
    const e2 = wasmEnvoyFilterYaml({ filter: "tcp-stats", port: 9080, workloadLabels: { a: "1", b: "2" } });
    assert.equal(e1, e2);
  });

  it("renders the wasm filter in front of tcp_proxy with the plugin settings Envoy needs", () => {
    const cfg = bootstrap({
      clusters: [{ name: "echo", endpoints: [{ address: "127.0.0.1", port: 7000 }] }],
      listener: {
        port: 10000,
        filters: [wasmNetworkFilter({ name: "tcp-stats", wasmPath: "/w/tcp-stats.wasm", configuration: { k: "v" }, failurePolicy: "FAIL_OPEN" })],
        tcpProxy: { cluster: "echo", upstreamConnectMode: "ON_DOWNSTREAM_DATA", maxEarlyDataBytes: 1024 },
      },
    }) as any;
    assert.deepEqual(cfg.admin.address.socket_address, { address: "127.0.0.1", port_value: 9901 });
    const [wasm, tcp] = cfg.static_resources.listeners[0].filter_chains[0].filters;
    assert.equal(wasm.name, "envoy.filters.network.wasm");
    assert.deepEqual(wasm.typed_config.config, {
      configuration: { "@type": "type.googleapis.com/google.protobuf.StringValue", value: '{"k":"v"}' },
      fail_open: true,
      name: "tcp-stats",
      root_id: "tcp-stats",
      vm_config: { code: { local: { filename: "/w/tcp-stats.wasm" } }, runtime: "envoy.wasm.runtime.v8", vm_id: "tcp-stats" },
    });
    assert.equal(tcp.name, "envoy.filters.network.tcp_proxy");
    assert.equal(tcp.typed_config.upstream_connect_mode, "ON_DOWNSTREAM_DATA");
    assert.equal(tcp.typed_config.max_early_data_bytes, 1024);
    assert.equal(cfg.static_resources.clusters[0].type, "STATIC");
  });

  it("refuses props Envoy would refuse, saying what to fix", () => {
    assert.throws(() => tcpProxyFilter({ cluster: "echo", upstreamConnectMode: "ON_DOWNSTREAM_DATA" }), /needs maxEarlyDataBytes/);
    assert.throws(
      () => bootstrap({ clusters: [{ name: "a", endpoints: [{ address: "127.0.0.1", port: 1 }] }], listener: { port: 1, filters: [], tcpProxy: { cluster: "b" } } }),
      /tcpProxy\.cluster "b" is not a cluster; define it in clusters or use one of: a/,
    );
    assert.throws(() => standaloneBootstrapProps({ filter: "nope" }), /unknown filter "nope"; known filters: tcp-stats/);
  });
});

describe("Istio EnvoyFilter", () => {
  it("validates against Istio's schema and matches inbound tcp_proxy on the port", () => {
    const ef = wasmEnvoyFilter({ filter: "tcp-stats", port: 9080, namespace: "demo", workloadLabels: { app: "ratings" } }) as any;
    assert.doesNotThrow(() => validateEnvoyFilter(ef));
    assert.equal(ef.apiVersion, "networking.istio.io/v1alpha3");
    const patch = ef.spec.configPatches[0];
    assert.equal(patch.applyTo, "NETWORK_FILTER");
    assert.deepEqual(patch.match, { context: "SIDECAR_INBOUND", listener: { filterChain: { filter: { name: "envoy.filters.network.tcp_proxy" } }, portNumber: 9080 } });
    assert.equal(patch.patch.operation, "INSERT_BEFORE");
    assert.equal(patch.patch.value.name, "envoy.filters.network.wasm");
    assert.deepEqual(ef.spec.workloadSelector, { labels: { app: "ratings" } });
  });

  it("rejects a broken EnvoyFilter (wrong applyTo, wrong context)", () => {
    const ef = wasmEnvoyFilter({ filter: "tcp-stats", port: 9080 }) as any;
    ef.spec.configPatches[0].applyTo = "NETWORK_FILTERS";
    assert.throws(() => validateEnvoyFilter(ef), /invalid EnvoyFilter: .*applyTo must be equal to one of the allowed values/);
    const ef2 = wasmEnvoyFilter({ filter: "tcp-stats", port: 9080 }) as any;
    ef2.spec.configPatches[0].match.context = "INBOUND";
    assert.throws(() => validateEnvoyFilter(ef2), /context must be equal to one of the allowed values/);
  });

  it("CLI renders istio YAML and validates files with exit codes", async () => {
    const r = await cli("render", "istio", "--filter", "tcp-stats", "--port", "9080", "--selector", "app=a");
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^# Generated by protomesh/);
    assert.equal(parse(r.stdout).kind, "WasmPlugin", "tcp-stats only needs placing: a WasmPlugin by default");
    const ef = await cli("render", "istio", "--filter", "tcp-stats", "--port", "9080", "--kind", "envoyfilter");
    assert.equal(ef.code, 0, ef.stderr);
    assert.equal(parse(ef.stdout).kind, "EnvoyFilter");
    const ok = await cli("validate", new URL("../../envoy/tcp-stats.yaml", import.meta.url).pathname);
    assert.equal(ok.code, 0, ok.stderr);
    const bad = join(tmpdir(), `protomesh-bad-${process.pid}.yaml`);
    writeFileSync(bad, readFileSync(new URL("../../envoy/tcp-stats.yaml", import.meta.url), "utf8").replace("cluster_name:", "clustername:"));
    try {
      const invalid = await cli("validate", bad);
      assert.equal(invalid.code, 1);
      assert.match(invalid.stderr, /protomesh-bad-\d+\.yaml:\d+:\d+: static_resources\.clusters\[0\]\.load_assignment\.clustername: unknown field .*did you mean "cluster_name"/);
    } finally {
      rmSync(bad, { force: true });
    }
    const usage = await cli("render", "envoy", "--filter", "nope");
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /Allowed choices are tcp-stats/);
  });
});
