import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parse } from "yaml";
import { main } from "../../controller/cli.js";
import { wasmFailureFields, wasmNetworkFilter } from "../../controller/envoy/wasm-network-filter.js";
import { wasmEnvoyFilter } from "../../controller/istio/envoy-filter.js";
import { guardProxyVersion, ISTIO_1_29_OR_LATER, istioAtLeast, requiredEnvoyMinor } from "../../controller/istio/proxy-version.js";
import { validateWasmPlugin, wasmPlugin, wasmPluginYaml } from "../../controller/istio/wasm-plugin.js";
import { snifferConfig } from "../../controller/sniffer/config.js";
import { defaultSnifferFailurePolicy } from "../../controller/sniffer/filter.js";
import { snifferEnvoyFilter } from "../../controller/sniffer/istio.js";

async function cli(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const code = await main(argv, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) });
  return { code, stdout, stderr };
}

const SHA = "a".repeat(64);

/** The failure fields of the one wasm filter inside a rendered EnvoyFilter. */
function wasmConfigOf(ef: any): Record<string, unknown> {
  const found: any[] = [];
  const visit = (v: any): void => {
    if (Array.isArray(v)) v.forEach(visit);
    else if (v !== null && typeof v === "object") {
      if (v.name === "envoy.filters.network.wasm") found.push(v.typed_config.config);
      Object.values(v).forEach(visit);
    }
  };
  visit(ef);
  assert.equal(found.length, 1);
  return found[0];
}

describe("wasm failure policy: the field that reaches the host", () => {
  it("renders FAIL_OPEN as fail_open (read by cpp-host's CHECK_FAIL), the others as failure_policy, never both", () => {
    assert.deepEqual(wasmFailureFields("FAIL_OPEN"), { fail_open: true });
    assert.deepEqual(wasmFailureFields("FAIL_CLOSED"), { failure_policy: "FAIL_CLOSED" });
    assert.deepEqual(wasmFailureFields("FAIL_RELOAD"), { failure_policy: "FAIL_RELOAD" });
    assert.throws(() => wasmFailureFields("FAIL_SOMETIMES" as never), /must be one of FAIL_OPEN, FAIL_CLOSED, FAIL_RELOAD/);
    const c = (wasmNetworkFilter({ name: "x", wasmPath: "/x.wasm" }) as any).typed_config.config;
    assert.equal(c.failure_policy, "FAIL_CLOSED", "Envoy's own default, stated");
    assert.equal("fail_open" in c, false);
  });

  it("defaults: observe, bypass and tcp-stats fail open; route and enforcing bypass reload", () => {
    assert.equal(defaultSnifferFailurePolicy(snifferConfig("observe", {})), "FAIL_OPEN");
    assert.equal(defaultSnifferFailurePolicy(snifferConfig("bypass", {})), "FAIL_OPEN");
    assert.equal(defaultSnifferFailurePolicy(snifferConfig("bypass", { allowed_destinations: [{ cidr: "10.0.0.0/8" }] })), "FAIL_RELOAD");
    assert.equal(defaultSnifferFailurePolicy(snifferConfig("route", {})), "FAIL_RELOAD");
    assert.deepEqual(wasmConfigOf(snifferEnvoyFilter({ mode: "observe", port: 9000 })).fail_open, true);
    assert.deepEqual(wasmConfigOf(snifferEnvoyFilter({ mode: "bypass", noAuthorizationPolicies: true, port: 8080, portName: "http-web" })).fail_open, true);
    assert.equal(wasmConfigOf(snifferEnvoyFilter({ mode: "route", port: 6379 })).failure_policy, "FAIL_RELOAD");
    assert.equal(wasmConfigOf(wasmEnvoyFilter({ filter: "tcp-stats", port: 9080 })).fail_open, true);
    const closed = wasmConfigOf(snifferEnvoyFilter({ mode: "observe", port: 9000, failurePolicy: "FAIL_CLOSED" }));
    assert.equal(closed.failure_policy, "FAIL_CLOSED");
    assert.equal("fail_open" in closed, false);
  });

  it("CLI: --failure-policy overrides, --fail-open is its shorthand, and the two cannot disagree", async () => {
    const r = await cli("render", "envoy", "--filter", "sniffer", "--mode", "observe", "--failure-policy", "FAIL_RELOAD");
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /failure_policy: FAIL_RELOAD/);
    assert.doesNotMatch(r.stdout, /fail_open/);
    const open = await cli("render", "envoy", "--filter", "sniffer", "--mode", "route", "--fail-open");
    assert.equal(open.code, 0, open.stderr);
    assert.match(open.stdout, /fail_open: true/);
    const both = await cli("render", "envoy", "--filter", "tcp-stats", "--fail-open", "--failure-policy", "FAIL_CLOSED");
    assert.equal(both.code, 1);
    assert.match(both.stderr, /--fail-open means --failure-policy FAIL_OPEN; it contradicts --failure-policy FAIL_CLOSED/);
  });
});

describe("proxyVersion guard for fields newer than the proxy", () => {
  const table: Array<[string, boolean]> = [
    ["1.29.0", true], ["1.29.6", true], ["1.29", true], ["1.29-dev", true], ["1.29.0-beta.1", true],
    ["1.30.1", true], ["1.31-alpha.4f2c0e1", true], ["1.39.0", true], ["1.100.0", true], ["2.0.0", true], ["10.1.0", true],
    ["1.28.9", false], ["1.28-dev", false], ["1.2.9", false], ["1.9.0", false], ["1.3", false], ["0.29.0", false],
    ["", false], ["1.", false], ["1.29x", false], ["v1.29.0", false],
  ];
  for (const [version, want] of table) {
    it(`${ISTIO_1_29_OR_LATER} ${want ? "matches" : "does not match"} ISTIO_VERSION ${JSON.stringify(version)}`, () => {
      assert.equal(new RegExp(ISTIO_1_29_OR_LATER).test(version), want);
    });
  }

  it("builds the regex for any two-digit minor (every tens and ones boundary)", () => {
    for (let min = 10; min <= 99; min++) {
      const re = new RegExp(istioAtLeast(min));
      for (let m = 0; m <= 120; m++) assert.equal(re.test(`1.${m}.3`), m >= min, `istioAtLeast(${min}) on 1.${m}.3`);
    }
    assert.throws(() => istioAtLeast(9), /two-digit/);
  });

  it("finds newer fields inside typed objects, nested (a filter chain's wasm filter) or not", () => {
    assert.equal(requiredEnvoyMinor({ name: "t", typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy", max_early_data_bytes: 1 } }), 37);
    const chain = { filters: [wasmNetworkFilter({ name: "x", wasmPath: "/x.wasm", failurePolicy: "FAIL_RELOAD" })] };
    assert.equal(requiredEnvoyMinor(chain), 33);
    assert.equal(requiredEnvoyMinor(wasmNetworkFilter({ name: "x", wasmPath: "/x.wasm", failurePolicy: "FAIL_OPEN" })), 0);
  });

  it("guards every patch of an EnvoyFilter when one needs a newer Envoy, none otherwise", () => {
    const route = snifferEnvoyFilter({ mode: "route", port: 6379 }) as any;
    for (const p of route.spec.configPatches) assert.equal(p.match.proxy?.proxyVersion, ISTIO_1_29_OR_LATER);
    const observe = snifferEnvoyFilter({ mode: "observe", port: 9000 }) as any;
    for (const p of observe.spec.configPatches) assert.equal(p.match.proxy, undefined);
    const reload = snifferEnvoyFilter({ failurePolicy: "FAIL_RELOAD", mode: "bypass", noAuthorizationPolicies: true, port: 8080, portName: "http-web" }) as any;
    for (const p of reload.spec.configPatches) assert.equal(p.match.proxy?.proxyVersion, istioAtLeast(25));
    assert.throws(
      () => guardProxyVersion([{ match: { proxy: { proxyVersion: "^1\\.2.*" } }, patch: { value: { typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy", upstream_connect_mode: "IMMEDIATE" } } } }]),
      /already matches proxyVersion "\^1\\\\.2\.\*", but its fields need/,
    );
  });
});

describe("Istio WasmPlugin (type NETWORK)", () => {
  it("renders tcp-stats as a NETWORK plugin on the inbound port, STATS phase, fail open, validated", () => {
    const wp = wasmPlugin({ filter: "tcp-stats", port: 9080, namespace: "demo", workloadLabels: { app: "ratings" } }) as any;
    assert.deepEqual(wp, {
      apiVersion: "extensions.istio.io/v1alpha1",
      kind: "WasmPlugin",
      metadata: { name: "protomesh-tcp-stats-9080", namespace: "demo" },
      spec: {
        failStrategy: "FAIL_OPEN",
        match: [{ mode: "SERVER", ports: [{ number: 9080 }] }],
        phase: "STATS",
        pluginName: "tcp-stats",
        selector: { matchLabels: { app: "ratings" } },
        type: "NETWORK",
        url: "file:///var/local/lib/wasm/tcp-stats.wasm",
      },
    });
  });

  it("renders the sniffer in mode observe with its configuration and refuses route and bypass", () => {
    const wp = wasmPlugin({
      filter: "sniffer", port: 20880, url: `oci://ghcr.io/acme/sniffer@sha256:${SHA}`, sha256: SHA, configuration: { stat_prefix: "edge" }, priority: 10,
    }) as any;
    assert.deepEqual(wp.spec.pluginConfig, { mode: "observe", stat_prefix: "edge" });
    assert.equal(wp.spec.pluginName, "sniffer");
    assert.equal(wp.spec.priority, 10);
    assert.equal(wp.metadata.name, "protomesh-sniffer-observe-20880");
    assert.throws(() => wasmPlugin({ filter: "sniffer", mode: "route", port: 6379 }), /mode route cannot be a WasmPlugin: .*MERGE into tcp_proxy.*--kind envoyfilter/);
    assert.throws(() => wasmPlugin({ filter: "sniffer", mode: "bypass", port: 8080 }), /mode bypass cannot be a WasmPlugin: .*filter chain/);
    assert.throws(() => wasmPlugin({ filter: "sniffer", port: 1, configuration: { max_detect_bytes: "x" } }), /max_detect_bytes/);
    assert.throws(() => wasmPlugin({ filter: "tcp-stats", mode: "observe", port: 1 }), /mode applies to the sniffer only/);
  });

  it("maps each failure policy to Istio's failStrategy", () => {
    const strategy = (failurePolicy: "FAIL_OPEN" | "FAIL_CLOSED" | "FAIL_RELOAD") =>
      (wasmPlugin({ filter: "tcp-stats", port: 9080, failurePolicy }) as any).spec.failStrategy;
    assert.equal(strategy("FAIL_OPEN"), "FAIL_OPEN");
    assert.equal(strategy("FAIL_CLOSED"), "FAIL_CLOSE");
    assert.equal(strategy("FAIL_RELOAD"), "FAIL_RELOAD");
  });

  it("checks url and sha256 the way the module will be fetched", () => {
    assert.throws(() => wasmPlugin({ filter: "tcp-stats", port: 1, url: "ghcr.io/acme/tcp-stats:1" }), /must start with oci:\/\/, file:\/\/, https:\/\/, http:\/\//);
    assert.throws(() => wasmPlugin({ filter: "tcp-stats", port: 1, url: "https://x/t.wasm" }), /fetched over https: give sha256/);
    assert.doesNotThrow(() => wasmPlugin({ filter: "tcp-stats", port: 1, url: "https://x/t.wasm", sha256: SHA }));
    assert.throws(() => wasmPlugin({ filter: "tcp-stats", port: 1, url: "file:///w/t.wasm", sha256: SHA }), /sha256 is not checked for file:\/\//);
    assert.throws(() => wasmPlugin({ filter: "tcp-stats", port: 1, url: "oci://r/t:1", sha256: "ABC" }), /64 lower-case hex digits/);
    assert.throws(() => wasmPlugin({ filter: "tcp-stats", port: 1, url: `oci://r/t@sha256:${"b".repeat(64)}`, sha256: SHA }), /differs from the digest/);
    assert.throws(() => wasmPlugin({ filter: "tcp-stats", port: 15006 }), /sidecar's own redirect port/);
    assert.throws(() => wasmPlugin({ filter: "tcp-stats", port: 9080, name: "Bad_Name" }), /DNS-1123/);
  });

  it("validateWasmPlugin catches what @kubernetes-models/istio 2.3.0 does not know", () => {
    const good = wasmPlugin({ filter: "tcp-stats", port: 9080 }) as any;
    const broken = (edit: (s: any) => void): any => {
      const copy = structuredClone(good);
      edit(copy.spec);
      return copy;
    };
    assert.throws(() => validateWasmPlugin(broken((s) => (s.type = "L4"))), /spec\.type "L4" must be one of UNSPECIFIED_PLUGIN_TYPE, HTTP, NETWORK/);
    assert.throws(() => validateWasmPlugin(broken((s) => (s.failStrategy = "FAIL_CLOSED"))), /spec\.failStrategy "FAIL_CLOSED" must be one of FAIL_CLOSE, FAIL_OPEN, FAIL_RELOAD/);
    assert.throws(() => validateWasmPlugin(broken((s) => (s.url = "ftp://x"))), /spec\.url/);
    assert.throws(() => validateWasmPlugin(broken((s) => (s.sha256 = "xyz"))), /spec\.sha256/);
    assert.throws(() => validateWasmPlugin(broken((s) => (s.priority = 2 ** 31))), /int32/);
    assert.throws(() => validateWasmPlugin(broken((s) => (s.match[0].ports[0].number = 70000))), /ports\[0\]\.number 70000/);
    assert.throws(() => validateWasmPlugin(broken((s) => (s.phase = "LATE"))), /invalid WasmPlugin: .*phase/);
    assert.throws(() => validateWasmPlugin(broken((s) => (s.match[0].mode = "INBOUND"))), /invalid WasmPlugin: .*mode/);
  });

  it("is deterministic: the same props give the same bytes, keys sorted", () => {
    const a = wasmPluginYaml({ filter: "sniffer", port: 20880, configuration: { stat_prefix: "s", max_detect_bytes: 32 } });
    const b = wasmPluginYaml({ filter: "sniffer", port: 20880, configuration: { max_detect_bytes: 32, stat_prefix: "s" } });
    assert.equal(a, b);
    assert.ok(a.indexOf("failStrategy") < a.indexOf("match") && a.indexOf("match") < a.indexOf("phase"));
  });

  it("CLI: WasmPlugin is the default for tcp-stats and sniffer observe, EnvoyFilter for route/bypass", async () => {
    const tcp = await cli("render", "istio", "--filter", "tcp-stats", "--port", "9080", "--url", "oci://r/tcp-stats:1", "--phase", "AUTHZ");
    assert.equal(tcp.code, 0, tcp.stderr);
    const doc = parse(tcp.stdout);
    assert.equal(doc.kind, "WasmPlugin");
    assert.equal(doc.spec.phase, "AUTHZ");
    assert.equal(doc.spec.url, "oci://r/tcp-stats:1");
    const observe = await cli("render", "istio", "--filter", "sniffer", "--mode", "observe", "--port", "3306", "--server-first");
    assert.equal(observe.code, 0, observe.stderr);
    assert.equal(parse(observe.stdout).kind, "WasmPlugin", "observe suits a server-first port: tcp_proxy stays IMMEDIATE");
    const patch = await cli("render", "istio", "--filter", "sniffer", "--mode", "observe", "--port", "3306", "--upstream-connect-mode", "IMMEDIATE");
    assert.equal(patch.code, 1);
    assert.match(patch.stderr, /patch tcp_proxy or the listener: they need --kind envoyfilter/);
    const route = await cli("render", "istio", "--filter", "sniffer", "--mode", "route", "--port", "6379");
    assert.equal(parse(route.stdout).kind, "EnvoyFilter");
    const forced = await cli("render", "istio", "--filter", "sniffer", "--mode", "route", "--port", "6379", "--kind", "wasmplugin");
    assert.equal(forced.code, 1);
    assert.match(forced.stderr, /cannot be a WasmPlugin/);
    const mixed = await cli("render", "istio", "--filter", "tcp-stats", "--port", "9080", "--wasm-path", "/w/t.wasm");
    assert.equal(mixed.code, 1);
    assert.match(mixed.stderr, /--wasm-path applies to --kind envoyfilter; a WasmPlugin takes --url file:\/\/\/<path>/);
    const efOnly = await cli("render", "istio", "--filter", "tcp-stats", "--port", "9080", "--kind", "envoyfilter", "--sha256", SHA);
    assert.equal(efOnly.code, 1);
    assert.match(efOnly.stderr, /apply to --kind wasmplugin/);
  });
});
