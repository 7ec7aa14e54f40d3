import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { parse } from "yaml";
import { main } from "../../controller/cli.js";
import { bootstrap } from "../../controller/envoy/bootstrap.js";
import { EnvoyValidator, formatIssue } from "../../controller/envoy/validate.js";
import { validateEnvoyFilter } from "../../controller/istio/envoy-filter.js";
import { SNIFFER_MODES, snifferConfig, SnifferConfigError, type SnifferMode } from "../../controller/sniffer/config.js";
import { ISTIO_1_29_OR_LATER, snifferEnvoyFilter } from "../../controller/sniffer/istio.js";
import { pairTcpProxy, ROUTE_MAX_EARLY_DATA_BYTES } from "../../controller/sniffer/pairing.js";
import { tcpProxyFilter } from "../../controller/envoy/tcp-proxy.js";
import { committedSnifferOptions, snifferBootstrapProps } from "../../controller/sniffer/standalone.js";
import { istioExtraStatTags, SNIFFER_STAT_TAG_KEYS, snifferStatsTags } from "../../controller/sniffer/stats.js";

const validator = EnvoyValidator.shared();

async function cli(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const saved = process.exitCode;
  const code = await main(argv, { stdout: (t) => { stdout += t; }, stderr: (t) => { stderr += t; } });
  process.exitCode = saved;
  return { code, stdout, stderr };
}

/** The command in the committed file's header, as CLI arguments. */
function headerArgs(text: string): string[] {
  const line = text.split("\n")[1]!;
  const m = /controller\/cli\.ts (.*) > envoy\//.exec(line);
  assert.ok(m, `no regenerate command in: ${line}`);
  const args: string[] = [];
  for (const part of m[1]!.matchAll(/'([^']*)'|(\S+)/g)) args.push(part[1] ?? part[2]!);
  return args;
}

function standalone(mode: SnifferMode, extra: Partial<Parameters<typeof snifferBootstrapProps>[0]> = {}): any {
  return bootstrap(snifferBootstrapProps({ mode, ...extra }));
}

function listener(cfg: any): any {
  return cfg.static_resources.listeners[0];
}

function tcpProxyOf(chain: any): any {
  const f = chain.filters.at(-1);
  assert.equal(f.name, "envoy.filters.network.tcp_proxy");
  return f.typed_config;
}

function snifferJson(chain: any): Record<string, unknown> {
  const f = chain.filters[0];
  assert.equal(f.name, "envoy.filters.network.wasm");
  assert.equal(f.typed_config.config.root_id, "sniffer");
  assert.equal(f.typed_config.config.configuration["@type"], "type.googleapis.com/google.protobuf.StringValue");
  return JSON.parse(f.typed_config.config.configuration.value);
}


/** Bypass needs an HTTP port and an explicit authorization input (test/controller/rbac.test.ts covers both). */
const BYPASS_HTTP_PORT = { noAuthorizationPolicies: true, portName: "http-web" } as const;

describe("sniffer: committed envoy/sniffer-<mode>.yaml", () => {
  for (const mode of SNIFFER_MODES) {
    it(`envoy/sniffer-${mode}.yaml equals the rendered output of its header command and validates`, async () => {
      const file = new URL(`../../envoy/sniffer-${mode}.yaml`, import.meta.url);
      const committed = readFileSync(file, "utf8");
      const r = await cli(...headerArgs(committed));
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, committed, `envoy/sniffer-${mode}.yaml drifted; regenerate it with the command in its header`);
      assert.deepEqual(validator.validateFile(file.pathname).map(formatIssue), []);
      // The library path renders the same object.
      assert.deepEqual(parse(committed), bootstrap(snifferBootstrapProps(committedSnifferOptions(mode))));
    });
  }
});

describe("sniffer: tcp_proxy pairing", () => {
  it("route: IMMEDIATE with max_early_data_bytes 16384, whatever the sniffer's byte caps", () => {
    const chain = listener(standalone("route", { configuration: { default_route: "upstream" } })).filter_chains[0];
    assert.deepEqual(snifferJson(chain), { default_route: "upstream", mode: "route" });
    const tcp = tcpProxyOf(chain);
    assert.equal(tcp.upstream_connect_mode, "IMMEDIATE");
    assert.equal(tcp.max_early_data_bytes, ROUTE_MAX_EARLY_DATA_BYTES);
    assert.equal(ROUTE_MAX_EARLY_DATA_BYTES, 16384);
    assert.equal(tcp.cluster, "upstream");
    // The held bytes wait in the connection's buffer, not in tcp_proxy's: no tie to max_tls_bytes.
    const small = tcpProxyOf(listener(standalone("route", { configuration: { max_tls_bytes: 4096 } })).filter_chains[0]);
    assert.equal(small.max_early_data_bytes, 16384);
    assert.equal(pairTcpProxy("route", snifferConfig("route"), { maxEarlyDataBytes: 1024 }).maxEarlyDataBytes, 1024);
    assert.equal(pairTcpProxy("route", snifferConfig("route", { max_detect_bytes: 2048, max_tls_bytes: 1024 }), { maxEarlyDataBytes: 0 }).maxEarlyDataBytes, 0);
  });

  it("route: serves server-first ports (IMMEDIATE connects after the sniffer's timeout)", () => {
    const tcp = tcpProxyOf(listener(standalone("route", { serverFirst: true })).filter_chains[0]);
    assert.deepEqual([tcp.upstream_connect_mode, tcp.max_early_data_bytes], ["IMMEDIATE", 16384]);
  });

  it("route: refuses ON_DOWNSTREAM_DATA and the TLS-handshake mode, saying why", () => {
    assert.throws(() => standalone("route", { upstreamConnectMode: "ON_DOWNSTREAM_DATA" }),
      /needs tcp_proxy upstream_connect_mode IMMEDIATE \(with max_early_data_bytes\), got ON_DOWNSTREAM_DATA: .*server-first port .*waits for good; set upstreamConnectMode IMMEDIATE/);
    assert.throws(() => standalone("route", { serverFirst: true, upstreamConnectMode: "ON_DOWNSTREAM_DATA" }), /server-first port \(this one\)/);
    assert.throws(() => standalone("route", { upstreamConnectMode: "ON_DOWNSTREAM_TLS_HANDSHAKE" }), /got ON_DOWNSTREAM_TLS_HANDSHAKE: .*TLS handshake/);
  });

  it("route: refuses max_early_data_bytes above 1048576, naming Envoy's validate rule", () => {
    assert.equal(pairTcpProxy("route", snifferConfig("route"), { maxEarlyDataBytes: 1_048_576 }).maxEarlyDataBytes, 1_048_576);
    for (const n of [1_048_577, 2_000_000, -1, 1.5]) {
      assert.throws(() => standalone("route", { maxEarlyDataBytes: n }), /max_early_data_bytes \[\(validate\.rules\)\.uint32 = \{lte: 1048576\}\]/);
    }
    assert.throws(() => tcpProxyFilter({ cluster: "a", maxEarlyDataBytes: 2_000_000 }), /lte 1048576/);
  });

  it("route: refuses a tcp_proxy with weighted_clusters, which ignores envoy.tcp_proxy.cluster", () => {
    assert.throws(() => pairTcpProxy("route", snifferConfig("route"), { weightedClusters: true }),
      /weighted_clusters: tcp_proxy then draws its cluster from the weights and ignores envoy\.tcp_proxy\.cluster/);
    assert.deepEqual(pairTcpProxy("observe", snifferConfig("observe"), { weightedClusters: true }), { upstreamConnectMode: "IMMEDIATE" });
    const weighted = tcpProxyFilter({ cluster: "", weightedClusters: [{ name: "a", weight: 3 }, { name: "b", weight: 1 }] }) as any;
    assert.equal(weighted.typed_config.cluster, undefined);
    assert.deepEqual(weighted.typed_config.weighted_clusters, { clusters: [{ name: "a", weight: 3 }, { name: "b", weight: 1 }] });
    assert.deepEqual(validator.validate(weighted, "envoy.config.listener.v3.Filter").map(formatIssue), []);
  });

  it("observe and bypass: IMMEDIATE; refuse ON_DOWNSTREAM_DATA and a stray maxEarlyDataBytes", () => {
    const observe = listener(standalone("observe")).filter_chains[0];
    assert.deepEqual(snifferJson(observe), { mode: "observe" });
    assert.equal(tcpProxyOf(observe).upstream_connect_mode, "IMMEDIATE");
    assert.equal(tcpProxyOf(observe).max_early_data_bytes, undefined);
    assert.equal(tcpProxyOf(listener(standalone("observe", { serverFirst: true })).filter_chains[0]).upstream_connect_mode, "IMMEDIATE");
    for (const mode of ["observe", "bypass"] as const) {
      assert.throws(() => standalone(mode, { upstreamConnectMode: "ON_DOWNSTREAM_DATA", maxEarlyDataBytes: 16384 }),
        new RegExp(`mode ${mode} needs tcp_proxy upstream_connect_mode IMMEDIATE, got ON_DOWNSTREAM_DATA.*server-first`));
      assert.throws(() => standalone(mode, { maxEarlyDataBytes: 16384 }), new RegExp(`only applies to mode route.*remove it for mode ${mode}`));
    }
  });
});

describe("sniffer: configuration checked at render time", () => {
  const bad = (mode: SnifferMode, input: Record<string, unknown>, pattern: RegExp): void => {
    assert.throws(() => snifferConfig(mode, input), (err: Error) => {
      assert.ok(err instanceof SnifferConfigError, String(err));
      assert.match(err.message, pattern);
      return true;
    });
  };

  // The filter's own words (assembly/filters/sniffer/config.ts); the shared table
  // (assembly/runtime/fields/cases.json) holds the exact sentences both sides give.
  it("names the bad field in the filter's words", () => {
    bad("observe", { modee: "route" }, /unknown field "modee" \(known: mode, max_detect_bytes/);
    bad("observe", { mode: "sniff" }, /"mode" must be one of observe, route, bypass, found "sniff"/);
    bad("observe", { max_detect_bytes: 0 }, /"max_detect_bytes" must be a size in bytes, an integer 1\.\.16384, found 0/);
    bad("observe", { max_detect_bytes: 1.5 }, /"max_detect_bytes" must be a size in bytes, an integer 1\.\.16384, found 1.5/);
    bad("observe", { max_detect_bytes: "x" }, /"max_detect_bytes" must be a size in bytes, an integer 1\.\.16384, found "x"/);
    bad("observe", { max_tls_bytes: 16385 }, /"max_tls_bytes" must be a size in bytes, an integer 1\.\.16384, found 16385/);
    bad("observe", { detect_timeout_ms: -1 }, /"detect_timeout_ms" must be a duration in milliseconds, an integer 0\.\.3600000, found -1/);
    bad("observe", { stat_prefix: "my-sniffer" }, /"stat_prefix" must be a stat prefix: letters, digits and '_'/);
    bad("route", { routes: { redis: "" } }, /"routes.redis" must be a cluster name: 1 to 512 bytes/);
    bad("route", { routes: { redis: "a b" } }, /"routes.redis" must be a cluster name: 1 to 512 bytes .*, found "a b"/);
    bad("route", { routes: { redi: "r" } }, /unknown protocol "redi" in "routes" \(known: tcp, http\/1.1, h2c, tls/);
    bad("route", { routes: [] }, /"routes" must be an object mapping protocol names to targets, found array/);
    bad("route", { passthrough_cluster: "" }, /"passthrough_cluster" must be a cluster name/);
    bad("bypass", { allowed_destinations: [{ cidr: "10.0.0.0/33" }] }, /"allowed_destinations\[0\].cidr" must be an IPv4 or IPv6 CIDR/);
    bad("bypass", { allowed_destinations: [{ cidr: "10.0.0.0/8", ports: ["8100-8000"] }] },
      /"allowed_destinations\[0\].ports\[0\]" must be a port 1\.\.65535 or a range "lo-hi", found "8100-8000"/);
    bad("bypass", { allowed_destinations: [{ cidr: "10.0.0.0/8", port: [1] }] }, /unknown field "allowed_destinations\[0\].port" \(known: cidr, ports\)/);
    bad("bypass", { allowed_destinations: [{ ports: [1] }] }, /"allowed_destinations\[0\].cidr" is required/);
  });

  it("refuses fields that mean nothing in the rendered mode, and a conflicting mode", () => {
    bad("observe", { routes: { redis: "r" } }, /"routes" applies only to mode route; remove it for mode observe/);
    bad("bypass", { default_route: "deny" }, /"default_route" applies only to mode route/);
    bad("route", { allowed_destinations: [] }, /"allowed_destinations" applies only to mode bypass/);
    bad("observe", { mode: "route" }, /"mode" is "route" but the deployment renders mode observe/);
  });

  it("accepts the contract's forms and renders them as sorted JSON", () => {
    const config = snifferConfig("bypass", {
      stat_prefix: "edge_sniffer",
      allowed_destinations: [{ ports: [6379, "8000-8100", "9000"], cidr: "10.0.0.0/8" }, { cidr: "fd00::/8" }, { cidr: "192.168.1.7" }],
      max_detect_bytes: 128,
    });
    const chain = listener(standalone("bypass", { configuration: config })).default_filter_chain;
    const text = chain.filters[0].typed_config.config.configuration.value as string;
    assert.equal(text, '{"allowed_destinations":[{"cidr":"10.0.0.0/8","ports":[6379,"8000-8100","9000"]},{"cidr":"fd00::/8"},{"cidr":"192.168.1.7"}],"max_detect_bytes":128,"mode":"bypass","stat_prefix":"edge_sniffer"}');
  });
});

describe("sniffer: standalone layouts", () => {
  it("bypass: inspectors in order, HTTP kept by application_protocols, the rest to the default chain → ORIGINAL_DST", () => {
    const cfg = standalone("bypass");
    const l = listener(cfg);
    assert.deepEqual(l.listener_filters.map((f: any) => f.name), [
      "envoy.filters.listener.original_dst", "envoy.filters.listener.tls_inspector", "envoy.filters.listener.http_inspector",
    ]);
    assert.equal(l.continue_on_listener_filters_timeout, true);
    assert.equal(l.listener_filters_timeout, "1s");
    assert.equal(l.filter_chains.length, 1);
    assert.deepEqual(l.filter_chains[0].filter_chain_match, { application_protocols: ["http/1.0", "http/1.1", "h2c"], transport_protocol: "raw_buffer" });
    assert.equal(l.filter_chains[0].filters[0].name, "envoy.filters.network.http_connection_manager");
    assert.equal(l.default_filter_chain.filter_chain_match, undefined);
    assert.deepEqual(snifferJson(l.default_filter_chain), { mode: "bypass" });
    const tcp = tcpProxyOf(l.default_filter_chain);
    assert.equal(tcp.cluster, "PassthroughCluster");
    assert.equal(tcp.upstream_connect_mode, "IMMEDIATE");
    const pass = cfg.static_resources.clusters.find((c: any) => c.name === "PassthroughCluster");
    assert.deepEqual(pass, { connect_timeout: "1s", lb_policy: "CLUSTER_PROVIDED", name: "PassthroughCluster", type: "ORIGINAL_DST" });
  });

  it("route: every target cluster must exist; passthrough brings the ORIGINAL_DST cluster and original_dst", () => {
    assert.throws(() => standalone("route", { configuration: { routes: { redis: "redis" } } }),
      /route target cluster "redis" is not defined; add it to clusters \(CLI: --cluster redis=host:port\) or route to one of: upstream, passthrough, deny/);
    const cfg = standalone("route", {
      clusters: [{ name: "redis", endpoints: [{ address: "10.0.0.9", port: 6379 }] }],
      configuration: { routes: { redis: "redis", mysql: "deny" } },
    });
    assert.deepEqual(cfg.static_resources.clusters.map((c: any) => c.name), ["upstream", "redis", "PassthroughCluster"]);
    assert.equal(tcpProxyOf(listener(cfg).filter_chains[0]).cluster, "PassthroughCluster");
    assert.deepEqual(listener(cfg).listener_filters.map((f: any) => f.name), ["envoy.filters.listener.original_dst"]);
    const direct = standalone("route", { configuration: { default_route: "upstream" } });
    assert.deepEqual(direct.static_resources.clusters.map((c: any) => c.name), ["upstream"]);
    assert.equal(listener(direct).listener_filters, undefined);
    assert.throws(() => standalone("route", { clusters: [{ name: "PassthroughCluster", endpoints: [{ address: "10.0.0.1", port: 1 }] }] }),
      /"PassthroughCluster" is the passthrough \(ORIGINAL_DST\) cluster; give the static cluster another name/);
  });

  it("a broken listener filter or chain is caught by the Envoy validator", () => {
    const props = snifferBootstrapProps({ mode: "bypass" });
    const l = props.listener as any;
    const broken = { ...props, listener: { ...l, listenerFilters: [{ ...l.listenerFilters[2], typed_config: { "@type": l.listenerFilters[2].typed_config["@type"], timeout: "1s" } }] } };
    assert.throws(() => bootstrap(broken), /listener_filters\[0\]\.typed_config\.timeout: unknown field in envoy\.extensions\.filters\.listener\.http_inspector\.v3\.HttpInspector/);
    const badMatch = { ...props, listener: { ...l, filterChains: [{ ...l.filterChains[0], match: { applicationProtocols: [] } }] } };
    assert.throws(() => bootstrap(badMatch), /applicationProtocols is empty; omit it to match any protocol/);
  });
});

describe("sniffer: Istio EnvoyFilter", () => {
  const envoyType: Record<string, string> = {
    NETWORK_FILTER: "envoy.config.listener.v3.Filter",
    LISTENER_FILTER: "envoy.config.listener.v3.ListenerFilter",
    FILTER_CHAIN: "envoy.config.listener.v3.FilterChain",
  };
  const render = (mode: SnifferMode, extra: Partial<Parameters<typeof snifferEnvoyFilter>[0]> = {}): any =>
    snifferEnvoyFilter({ mode, port: 6379, namespace: "demo", workloadLabels: { app: "redis" }, ...(mode === "bypass" ? BYPASS_HTTP_PORT : {}), ...extra });

  it("every mode passes Istio's schema; every non-MERGE patch value is a valid Envoy object", () => {
    for (const mode of SNIFFER_MODES) {
      const ef = render(mode);
      assert.doesNotThrow(() => validateEnvoyFilter(ef));
      assert.equal(ef.metadata.name, `protomesh-sniffer-${mode}-6379`);
      assert.deepEqual(ef.spec.workloadSelector, { labels: { app: "redis" } });
      for (const p of ef.spec.configPatches) {
        assert.equal(p.match.context, "SIDECAR_INBOUND");
        if (p.patch.operation === "MERGE") continue;
        assert.deepEqual(validator.validate(p.patch.value, envoyType[p.applyTo]!).map(formatIssue), [], `${mode} ${p.applyTo}`);
      }
    }
  });

  it("observe: one INSERT_BEFORE tcp_proxy on the port, no connect-mode change", () => {
    const ef = render("observe");
    assert.equal(ef.spec.configPatches.length, 1);
    const [p] = ef.spec.configPatches;
    assert.equal(p.applyTo, "NETWORK_FILTER");
    assert.deepEqual(p.match.listener, { filterChain: { filter: { name: "envoy.filters.network.tcp_proxy" } }, portNumber: 6379 });
    assert.equal(p.patch.operation, "INSERT_BEFORE");
    assert.deepEqual(snifferJson({ filters: [p.patch.value] }), { mode: "observe" });
  });

  it("route: insert + MERGE of tcp_proxy IMMEDIATE and max_early_data_bytes, both only on proxies >= 1.29", () => {
    const ef = render("route", { configuration: { routes: { redis: "outbound|6379||redis.demo.svc.cluster.local" } } });
    const [insert, merge] = ef.spec.configPatches;
    assert.equal(insert.patch.operation, "INSERT_BEFORE");
    assert.deepEqual(snifferJson({ filters: [insert.patch.value] }), {
      mode: "route", passthrough_cluster: "InboundPassthroughCluster", routes: { redis: "outbound|6379||redis.demo.svc.cluster.local" },
    });
    assert.equal(merge.applyTo, "NETWORK_FILTER");
    assert.equal(merge.patch.operation, "MERGE");
    assert.deepEqual(merge.match.listener, insert.match.listener);
    assert.deepEqual(merge.patch.value, {
      name: "envoy.filters.network.tcp_proxy",
      typed_config: {
        "@type": "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy",
        max_early_data_bytes: 16384,
        upstream_connect_mode: "IMMEDIATE",
      },
    });
    const version = new RegExp(ISTIO_1_29_OR_LATER);
    for (const p of [insert, merge]) assert.equal(p.match.proxy.proxyVersion, ISTIO_1_29_OR_LATER);
    for (const v of ["1.29.0", "1.29.1-distroless", "1.30.2", "1.100.0"]) assert.ok(version.test(v), v);
    for (const v of ["1.28.3", "1.2.9", "1.9.0", "1.29x"]) assert.ok(!version.test(v), v);
    assert.equal(render("route", { serverFirst: true }).spec.configPatches[1].patch.value.typed_config.upstream_connect_mode, "IMMEDIATE");
    assert.throws(() => render("route", { maxEarlyDataBytes: 2_000_000 }), /lte: 1048576/);
  });

  it("bypass: http_inspector on the port, HTTP chain narrowed to HTTP ALPNs, a raw_buffer chain to InboundPassthroughCluster", () => {
    const ef = render("bypass");
    const [inspector, narrow, add] = ef.spec.configPatches;
    assert.equal(inspector.applyTo, "LISTENER_FILTER");
    assert.equal(inspector.patch.operation, "ADD");
    assert.deepEqual(inspector.match.listener, { name: "virtualInbound" });
    assert.equal(inspector.patch.value.name, "envoy.filters.listener.http_inspector");
    assert.deepEqual(inspector.patch.value.filter_disabled, { not_match: { destination_port_range: { end: 6380, start: 6379 } } });
    assert.equal(narrow.applyTo, "FILTER_CHAIN");
    assert.equal(narrow.patch.operation, "MERGE");
    assert.deepEqual(narrow.match.listener, {
      filterChain: { filter: { name: "envoy.filters.network.http_connection_manager" }, transportProtocol: "raw_buffer" },
      name: "virtualInbound",
      portNumber: 6379,
    });
    assert.deepEqual(narrow.patch.value, { filter_chain_match: { application_protocols: ["http/1.0", "http/1.1", "h2c"] } });
    assert.equal(add.applyTo, "FILTER_CHAIN");
    assert.equal(add.patch.operation, "ADD");
    assert.deepEqual(add.patch.value.filter_chain_match, { destination_port: 6379, transport_protocol: "raw_buffer" });
    assert.deepEqual(snifferJson(add.patch.value), { mode: "bypass", passthrough_cluster: "InboundPassthroughCluster" });
    const tcp = tcpProxyOf(add.patch.value);
    assert.equal(tcp.cluster, "InboundPassthroughCluster");
    assert.equal(tcp.upstream_connect_mode, undefined, "Envoy's default IMMEDIATE, so older istiod can parse the patch");
    assert.doesNotThrow(() => render("bypass", { peerAuthentication: "DISABLE" }));
    assert.throws(() => render("bypass", { peerAuthentication: "STRICT" }), /PeerAuthentication STRICT must refuse; use PERMISSIVE or DISABLE/);
  });

  it("refuses a bad port, a bad name and a bad configuration before rendering", () => {
    assert.throws(() => render("observe", { port: 15006 }), /sidecar's own redirect port/);
    assert.throws(() => render("observe", { port: 0 }), /port 0 must be a workload port/);
    assert.throws(() => render("observe", { name: "Bad_Name" }), /DNS-1123/);
    assert.throws(() => render("observe", { configuration: { max_detect_bytes: 99999 } }), /"max_detect_bytes" must be a size in bytes, an integer 1\.\.16384, found 99999/);
  });
});

describe("sniffer: stats tag extraction", () => {
  /** Envoy's TagExtractorStdRegexImpl: regex_search; group 1 is cut from the name, group 2 is the value. */
  function extract(name: string): { name: string; tags: Record<string, string> } {
    const tags: Record<string, string> = {};
    const cut: [number, number][] = [];
    for (const t of snifferStatsTags()) {
      const m = new RegExp(t.regex, "d").exec(name);
      if (m === null || m.indices?.[1] === undefined) continue;
      tags[t.tagName] = m[2]!;
      cut.push(m.indices[1]);
    }
    let out = "";
    for (let i = 0; i < name.length; i++) if (!cut.some(([a, b]) => i >= a && i < b)) out += name[i];
    return { name: out, tags };
  }

  it("turns the filter's key=.=value;.; names into tags and a clean Prometheus name", () => {
    const got = extract("wasmcustom.protocol=.=redis;.;mode=.=route;.;action=.=cluster;.;protomesh_sniffer_connections_total");
    assert.deepEqual(got, { name: "wasmcustom.protomesh_sniffer_connections_total", tags: { action: "cluster", mode: "route", protocol: "redis" } });
    const denied = extract("mode=.=bypass;.;reason=.=destination;.;protomesh_sniffer_denied_total");
    assert.deepEqual(denied, { name: "protomesh_sniffer_denied_total", tags: { mode: "bypass", reason: "destination" } });
  });

  it("does not take another plugin's request_protocol for protocol", () => {
    const got = extract("wasmcustom.reporter=.=destination;.;request_protocol=.=http;.;istio_requests_total");
    assert.deepEqual(got.tags, {});
  });

  it("is in every rendered standalone bootstrap, and Istio gets the same keys", () => {
    for (const mode of SNIFFER_MODES) {
      const cfg = standalone(mode, mode === "route" ? { configuration: { default_route: "upstream" } } : {});
      assert.deepEqual(cfg.stats_config.stats_tags.map((t: any) => t.tag_name), [...SNIFFER_STAT_TAG_KEYS]);
    }
    assert.deepEqual(istioExtraStatTags(), ["protocol", "mode", "action", "reason"]);
  });
});

describe("sniffer: CLI", () => {
  it("renders istio YAML per mode and explains a missing or misplaced --mode", async () => {
    const r = await cli("render", "istio", "--filter", "sniffer", "--mode", "route", "--port", "6379", "--selector", "app=redis");
    assert.equal(r.code, 0, r.stderr);
    const ef = parse(r.stdout);
    assert.equal(ef.spec.configPatches.length, 2);
    assert.doesNotThrow(() => validateEnvoyFilter(ef));
    const missing = await cli("render", "envoy", "--filter", "sniffer");
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /--filter sniffer needs --mode observe\|route\|bypass/);
    const misplaced = await cli("render", "envoy", "--filter", "tcp-stats", "--mode", "route");
    assert.equal(misplaced.code, 1);
    assert.match(misplaced.stderr, /--mode applies to --filter sniffer only/);
    const serverFirst = await cli("render", "istio", "--filter", "sniffer", "--mode", "route", "--port", "3306", "--server-first");
    assert.equal(serverFirst.code, 0, serverFirst.stderr);
    assert.equal(parse(serverFirst.stdout).spec.configPatches[1].patch.value.typed_config.upstream_connect_mode, "IMMEDIATE");
    const onData = await cli("render", "istio", "--filter", "sniffer", "--mode", "route", "--port", "3306", "--upstream-connect-mode", "ON_DOWNSTREAM_DATA");
    assert.equal(onData.code, 1);
    assert.match(onData.stderr, /got ON_DOWNSTREAM_DATA: .*waits for good/);
    const tooBig = await cli("render", "envoy", "--filter", "sniffer", "--mode", "route", "--max-early-data-bytes", "2000000");
    assert.equal(tooBig.code, 2);
    assert.match(tooBig.stderr, /must be an integer in \[0, 1048576\].*\(validate\.rules\)\.uint32 lte 1048576/);
    const badMode = await cli("render", "envoy", "--filter", "sniffer", "--mode", "sniff");
    assert.equal(badMode.code, 2);
    assert.match(badMode.stderr, /Allowed choices are observe, route, bypass/);
    const cluster = await cli("render", "envoy", "--filter", "sniffer", "--mode", "route", "--cluster", "redis=redis:6379",
      "--configuration", '{"routes":{"redis":"redis"},"default_route":"upstream"}');
    assert.equal(cluster.code, 0, cluster.stderr);
    assert.deepEqual(parse(cluster.stdout).static_resources.clusters.map((c: any) => c.name), ["upstream", "redis"]);
  });
});

describe("sniffer: more pairing and Istio options", () => {
  it("bypass: an optional virtualInbound listener_filters_timeout, checked", () => {
    const ef = snifferEnvoyFilter({ ...BYPASS_HTTP_PORT, mode: "bypass", port: 8080, listenerFiltersTimeout: "1s" }) as any;
    const [timeout] = ef.spec.configPatches;
    assert.deepEqual(timeout, {
      applyTo: "LISTENER",
      match: { context: "SIDECAR_INBOUND", listener: { name: "virtualInbound" } },
      patch: { operation: "MERGE", value: { listener_filters_timeout: "1s" } },
    });
    assert.deepEqual(validator.validate({ ...timeout.patch.value, name: "virtualInbound" }, "envoy.config.listener.v3.Listener").map(formatIssue), []);
    assert.equal((snifferEnvoyFilter({ ...BYPASS_HTTP_PORT, mode: "bypass", port: 8080 }) as any).spec.configPatches.length, 3);
    assert.throws(() => snifferEnvoyFilter({ ...BYPASS_HTTP_PORT, mode: "bypass", port: 8080, listenerFiltersTimeout: "1000ms" }), /must be a duration such as "1s"/);
  });
});

/**
 * The rendered layouts run through the host emulator's copy of Envoy's listener step
 * (test/host/listener-filters.ts inspectors, test/host/tcp.ts pickFilterChain), so a chain layout
 * that sends HTTP or non-HTTP to the wrong chain fails here.
 */
describe("sniffer: bypass layouts select the right chain (host emulator's Envoy matching)", () => {
  const HTTP = new TextEncoder().encode("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
  const REDIS = new TextEncoder().encode("*1\r\n$4\r\nPING\r\n");
  const DUBBO = Uint8Array.from([0xda, 0xbb, 0xc2, 0x00, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 4, 0x01, 0x02, 0x03, 0x04]);

  interface Chain { readonly name: string; readonly match?: { destinationPort?: number; transportProtocol?: string; applicationProtocols?: string[] } }

  function toChain(c: any): Chain {
    const m = c.filter_chain_match;
    return {
      match: m === undefined ? undefined : { applicationProtocols: m.application_protocols, destinationPort: m.destination_port, transportProtocol: m.transport_protocol },
      name: c.name,
    };
  }

  /** Envoy's listener step as far as chain selection needs it: http_inspector when enabled, then raw_buffer. */
  async function facts(bytes: Uint8Array, port: number, httpInspectorOn: boolean): Promise<any> {
    const { inspectHttp } = await import("../host/listener-filters.js");
    const r = httpInspectorOn ? inspectHttp(bytes, "legacy") : { state: "Error" as const };
    return {
      applicationProtocols: r.state === "Done" ? [r.protocol] : [],
      destination: { host: "10.0.0.5", port },
      requestedServerName: "",
      source: { host: "10.0.0.9", port: 40000 },
      transportProtocol: "raw_buffer",
    };
  }

  async function pick(chains: readonly Chain[], f: any, def?: Chain): Promise<string | undefined> {
    const { pickFilterChain } = await import("../host/tcp.js");
    return (pickFilterChain(chains as any, f, def as any) as Chain | undefined)?.name;
  }

  /** Envoy's ListenerFilterChainMatchPredicate, for the shapes rendered here. */
  function disabled(pred: any, port: number): boolean {
    if (pred === undefined) return false;
    if (pred.not_match !== undefined) return !disabled(pred.not_match, port);
    if (pred.or_match !== undefined) return pred.or_match.rules.some((r: any) => disabled(r, port));
    if (pred.destination_port_range !== undefined) return port >= pred.destination_port_range.start && port < pred.destination_port_range.end;
    throw new Error(`predicate not modelled: ${JSON.stringify(pred)}`);
  }

  function distinct(chains: readonly Chain[]): void {
    const seen = new Set<string>();
    for (const c of chains) {
      for (const ap of c.match?.applicationProtocols ?? [""]) {
        const key = JSON.stringify([c.match?.destinationPort ?? 0, c.match?.transportProtocol ?? "", ap]);
        assert.ok(!seen.has(key), `Envoy would refuse the listener: two chains match ${key}`);
        seen.add(key);
      }
    }
  }

  it("standalone: HTTP to the HTTP chain; Redis, Dubbo (at once on 1.37/1.38, after the listener-filter timeout on 1.39) and TLS to the default chain", async () => {
    const l = listener(standalone("bypass"));
    const chains = l.filter_chains.map(toChain);
    const def = toChain(l.default_filter_chain);
    assert.equal(await pick(chains, await facts(HTTP, 10000, true), def), "sniffer-bypass-http");
    assert.equal(await pick(chains, await facts(REDIS, 10000, true), def), "sniffer-bypass");
    const { inspectHttp } = await import("../host/listener-filters.js");
    assert.equal(inspectHttp(DUBBO, "legacy").state, "Error", "Envoy 1.37/1.38: the legacy http-parser rules 0xda out at once");
    assert.equal(inspectHttp(DUBBO, "balsa").state, "Continue", "Envoy 1.39: Balsa waits on binary bytes without a newline");
    assert.equal(await pick(chains, await facts(DUBBO, 10000, true), def), "sniffer-bypass");
    assert.equal(await pick(chains, await facts(new Uint8Array(), 10000, false), def), "sniffer-bypass");
    assert.equal(await pick(chains, { ...(await facts(new Uint8Array(), 10000, false)), transportProtocol: "tls" }, def), "sniffer-bypass");
  });

  it("Istio: on a PERMISSIVE HTTP port, Istio's chain keeps HTTP and the sniffer's chain takes the rest", async () => {
    const port = 8080;
    // virtualInbound as istiod 1.29 builds it (listener_inbound.go, filterchain_options.go).
    const http = { filter_chain_match: { destination_port: port, transport_protocol: "raw_buffer" }, name: "0.0.0.0_8080" };
    const istioChains: any[] = [
      { filter_chain_match: { destination_port: 15006 }, name: "virtualInbound-blackhole" },
      { filter_chain_match: { application_protocols: ["istio-http/1.0", "istio-http/1.1", "istio-h2"], transport_protocol: "tls" }, name: "virtualInbound-catchall-http" },
      { filter_chain_match: { application_protocols: ["http/1.0", "http/1.1", "h2c"], transport_protocol: "raw_buffer" }, name: "virtualInbound-catchall-http" },
      { filter_chain_match: { application_protocols: ["istio-peer-exchange", "istio"], transport_protocol: "tls" }, name: "virtualInbound" },
      { filter_chain_match: { transport_protocol: "raw_buffer" }, name: "virtualInbound" },
      { filter_chain_match: { transport_protocol: "tls" }, name: "virtualInbound" },
      { filter_chain_match: { application_protocols: ["istio", "istio-peer-exchange", "istio-http/1.0", "istio-http/1.1", "istio-h2"], destination_port: port, transport_protocol: "tls" }, name: "0.0.0.0_8080" },
      http,
    ];
    // Istio's http_inspector: enabled by default (port 0 needs it), disabled on explicit ports.
    const istioInspector = { filter_disabled: { destination_port_range: { end: port + 1, start: port } } };

    // Before the patches: non-HTTP bytes reach the HTTP connection manager (the problem bypass fixes).
    assert.equal(await pick(istioChains.map(toChain), await facts(REDIS, port, !disabled(istioInspector.filter_disabled, port))), "0.0.0.0_8080");

    // Apply the EnvoyFilter the way istiod's listener_patch.go does.
    const ef = snifferEnvoyFilter({ ...BYPASS_HTTP_PORT, mode: "bypass", port }) as any;
    const chains = structuredClone(istioChains);
    const listenerFilters: any[] = [istioInspector];
    for (const p of ef.spec.configPatches) {
      const l = p.match.listener;
      assert.equal(l.name, "virtualInbound");
      if (p.applyTo === "LISTENER_FILTER" && p.patch.operation === "ADD") listenerFilters.push(p.patch.value);
      else if (p.applyTo === "FILTER_CHAIN" && p.patch.operation === "MERGE") {
        const hits = chains.filter((c) => c.filter_chain_match?.destination_port === l.portNumber &&
          (l.filterChain?.transportProtocol === undefined || c.filter_chain_match?.transport_protocol === l.filterChain.transportProtocol));
        assert.equal(hits.length, 1, "the MERGE must hit exactly the port's plaintext HTTP chain");
        for (const c of hits) {
          c.filter_chain_match.application_protocols = [...(c.filter_chain_match.application_protocols ?? []), ...p.patch.value.filter_chain_match.application_protocols];
        }
      } else if (p.applyTo === "FILTER_CHAIN" && p.patch.operation === "ADD") chains.push(p.patch.value);
      else assert.fail(`patch not modelled: ${p.applyTo} ${p.patch.operation}`);
    }
    const selected = chains.map(toChain);
    distinct(selected);
    const inspectorOn = listenerFilters.some((f) => !disabled(f.filter_disabled, port));
    assert.ok(inspectorOn, "an http_inspector must run on the port");
    assert.equal(await pick(selected, await facts(HTTP, port, inspectorOn)), "0.0.0.0_8080");
    assert.equal(await pick(selected, await facts(REDIS, port, inspectorOn)), "protomesh-sniffer-bypass-8080");
    assert.equal(await pick(selected, await facts(new Uint8Array(), port, false)), "protomesh-sniffer-bypass-8080");
    // Other ports are untouched: our inspector is disabled there, and their traffic still takes Istio's chains.
    assert.ok(listenerFilters.slice(1).every((f) => disabled(f.filter_disabled, 9090)));
    assert.equal(await pick(selected, await facts(REDIS, 9090, true)), "virtualInbound");
    // mTLS from a meshed client keeps Istio's chain.
    assert.equal(await pick(selected, { ...(await facts(HTTP, port, false)), applicationProtocols: ["istio-http/1.1"], transportProtocol: "tls" }), "0.0.0.0_8080");
  });
});
