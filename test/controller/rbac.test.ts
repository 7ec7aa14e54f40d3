/**
 * Bypass keeps authorization: the workload's AuthorizationPolicies become network RBAC on the
 * added chain (controller/sniffer/rbac.ts), read and selected like istiod does
 * (controller/istio/authorization-policy.ts); bypass refuses to render without them or on a port
 * Istio does not treat as HTTP. The rendered RBAC is loaded into the host emulator's copy of
 * Envoy's filter (test/host/rbac.ts) and driven with real sockets.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { parse } from "yaml";
import { main } from "../../controller/cli.js";
import { assertValidEnvoy, EnvoyConfigError } from "../../controller/envoy/validate.js";
import {
  loadAuthorizationPolicies,
  parseAuthorizationPolicies,
  selectPolicies,
  type AuthorizationPolicyDocument,
} from "../../controller/istio/authorization-policy.js";
import { istioPortProtocol, snifferEnvoyFilter, snifferEnvoyFilterYaml } from "../../controller/sniffer/istio.js";
import { bypassRbacFilters, RBAC_NETWORK_FILTER_NAME } from "../../controller/sniffer/rbac.js";
import { Host } from "../host/index.js";
import { fakeHost, readAll, recordingServer, withTimeout, type RecordingServer } from "../host/fakes.js";
import { rbacNetworkFilter, type RbacNetworkFilterFactory } from "../host/rbac.js";
import { startTcpListener, type TcpFilterChain, type TcpListener } from "../host/tcp.js";
import { FilterState, type ConnectionInfo, type NetworkFilterSource } from "../host/types.js";

async function cli(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const saved = process.exitCode;
  const code = await main(argv, { stdout: (t) => { stdout += t; }, stderr: (t) => { stderr += t; } });
  process.exitCode = saved;
  return { code, stdout, stderr };
}

/** YAML of one AuthorizationPolicy. */
function ap(name: string, spec: unknown, meta: Record<string, unknown> = {}, apiVersion = "security.istio.io/v1"): string {
  return JSON.stringify({ apiVersion, kind: "AuthorizationPolicy", metadata: { name, namespace: "shop", ...meta }, spec });
}

function policies(...docs: string[]): AuthorizationPolicyDocument[] {
  return parseAuthorizationPolicies(docs.join("\n---\n"), "policies.yaml");
}

const HTTP_PORT = { mode: "bypass", namespace: "shop", port: 8080, portName: "http-web", workloadLabels: { app: "web" } } as const;

/** The chain the bypass EnvoyFilter adds. */
function addedChain(ef: any): any {
  const add = ef.spec.configPatches.find((p: any) => p.applyTo === "FILTER_CHAIN" && p.patch.operation === "ADD");
  assert.ok(add, "bypass adds a filter chain");
  return add.patch.value;
}

function rbacFiltersOf(chain: any): any[] {
  return chain.filters.filter((f: any) => f.name === RBAC_NETWORK_FILTER_NAME);
}

function conn(source: string, port = 8080): ConnectionInfo {
  return {
    destination: { host: "10.0.0.5", port },
    filterChainName: "",
    filterState: new FilterState(),
    id: 1n,
    listenerDirection: "INBOUND",
    requestedServerName: "",
    source: { host: source, port: 40000 },
  };
}

/** Whether the rendered RBAC filters, run in chain order in the emulator, let a plaintext connection through. */
function admits(docs: readonly AuthorizationPolicyDocument[], source: string, port = 8080): boolean {
  const filters = bypassRbacFilters({ policies: docs, statPrefix: "p." });
  for (const f of filters) assertValidEnvoy(f, "envoy.config.listener.v3.Filter");
  for (const f of filters) {
    const filter = rbacNetworkFilter(f.typed_config).create({ closeConnection: () => {}, connection: conn(source, port), continueReading: () => {} })!;
    assert.equal(filter.onNewConnection(), "Continue");
    if (filter.onData({ bytes: Uint8Array.of(0x2a) }, false) === "StopIteration") return false;
  }
  return true;
}

describe("bypass RBAC: Istio's TCP translation of AuthorizationPolicies", () => {
  it("ipBlocks → direct_remote_ip, remoteIpBlocks → remote_ip, ports → destination_port, notX under not, in Istio's shape", () => {
    const [f] = bypassRbacFilters({
      policies: policies(ap("a", {
        rules: [{
          from: [{ source: { ipBlocks: ["10.0.0.0/8"], notIpBlocks: ["10.9.0.0/16"], remoteIpBlocks: ["192.0.2.7"] } }],
          to: [{ operation: { notPorts: ["9090"], ports: ["8080"] } }],
        }],
      })),
      statPrefix: "protomesh_bypass_8080.",
    });
    assert.deepEqual(f, {
      name: "envoy.filters.network.rbac",
      typed_config: {
        "@type": "type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC",
        rules: {
          action: "ALLOW",
          policies: {
            "ns[shop]-policy[a]-rule[0]": {
              permissions: [{ and_rules: { rules: [
                { or_rules: { rules: [{ destination_port: 8080 }] } },
                { not_rule: { or_rules: { rules: [{ destination_port: 9090 }] } } },
              ] } }],
              principals: [{ and_ids: { ids: [
                { or_ids: { ids: [{ remote_ip: { address_prefix: "192.0.2.7", prefix_len: 32 } }] } },
                { or_ids: { ids: [{ direct_remote_ip: { address_prefix: "10.0.0.0", prefix_len: 8 } }] } },
                { not_id: { or_ids: { ids: [{ direct_remote_ip: { address_prefix: "10.9.0.0", prefix_len: 16 } }] } } },
              ] } }],
            },
          },
        },
        stat_prefix: "protomesh_bypass_8080.allow.",
      },
    });
    assertValidEnvoy(f, "envoy.config.listener.v3.Filter");
  });

  it("DENY is evaluated before ALLOW; any ALLOW policy means a connection must match one", () => {
    const docs = policies(
      ap("allow-ten", { rules: [{ from: [{ source: { ipBlocks: ["10.0.0.0/8"] } }] }] }),
      ap("deny-one", { action: "DENY", rules: [{ from: [{ source: { ipBlocks: ["10.6.6.6"] } }] }] }),
    );
    const filters = bypassRbacFilters({ policies: docs, statPrefix: "p." });
    assert.deepEqual(filters.map((f: any) => f.typed_config.rules.action), ["DENY", "ALLOW"]);
    assert.equal(admits(docs, "10.1.1.1"), true);
    assert.equal(admits(docs, "10.6.6.6"), false, "DENY wins over a matching ALLOW");
    assert.equal(admits(docs, "192.168.1.1"), false, "no ALLOW rule matched");
    const denyOnly = policies(ap("deny-one", { action: "DENY", rules: [{ from: [{ source: { ipBlocks: ["10.6.6.6"] } }] }] }));
    assert.equal(admits(denyOnly, "192.168.1.1"), true, "without ALLOW policies, what no DENY matches passes");
  });

  it("spec {} (ALLOW, no rules) denies all; rules [{}] allows all; DENY with no rules denies nothing", () => {
    assert.equal(admits(policies(ap("nothing", {})), "10.0.0.1"), false);
    assert.equal(admits(policies(ap("all", { rules: [{}] })), "10.0.0.1"), true);
    assert.equal(admits(policies(ap("nothing", {}), ap("all", { rules: [{}] })), "10.0.0.1"), true, "ALLOW policies OR");
    assert.equal(admits(policies(ap("deny-none", { action: "DENY" })), "10.0.0.1"), true);
    assert.equal(admits(policies(ap("deny-all", { action: "DENY", rules: [{}] })), "10.0.0.1"), false);
  });

  it("mTLS identities never match plaintext: ALLOW rules needing them admit nothing, DENY rules needing them deny nothing", () => {
    const ids = [{ principals: ["cluster.local/ns/shop/sa/web"] }, { namespaces: ["shop"] }, { serviceAccounts: ["web"] }];
    for (const source of ids) {
      assert.equal(admits(policies(ap("a", { rules: [{ from: [{ source }] }] })), "10.0.0.1"), false, JSON.stringify(source));
      assert.equal(admits(policies(ap("d", { action: "DENY", rules: [{ from: [{ source }] }] })), "10.0.0.1"), true, JSON.stringify(source));
    }
    // A negated identity holds for every plaintext client, as Envoy computes not(authenticated).
    assert.equal(admits(policies(ap("a", { rules: [{ from: [{ source: { notNamespaces: ["evil"] } }] }] })), "10.0.0.1"), true);
    assert.equal(admits(policies(ap("a", { rules: [{ when: [{ key: "connection.sni", values: ["*.example.com"] }] }] })), "10.0.0.1"), false);
  });

  it("HTTP-only fields: an ALLOW rule with them matches nothing, a DENY rule drops them and denies wider (Istio's checkError)", () => {
    const http = [
      { to: [{ operation: { methods: ["GET"] } }] },
      { to: [{ operation: { paths: ["/admin"] } }] },
      { to: [{ operation: { hosts: ["web.shop"] } }] },
      { from: [{ source: { requestPrincipals: ["*"] } }] },
      { when: [{ key: "request.headers[x-token]", values: ["a"] }] },
      { when: [{ key: "request.auth.claims[iss]", values: ["x"] }] },
    ];
    for (const rule of http) {
      assert.equal(admits(policies(ap("a", { rules: [rule] })), "10.0.0.1"), false, `ALLOW ${JSON.stringify(rule)}`);
      assert.equal(admits(policies(ap("d", { action: "DENY", rules: [rule] })), "10.0.0.1"), false, `DENY ${JSON.stringify(rule)}`);
    }
    // The DENY keeps its TCP conditions: only the source it names is refused.
    const scoped = policies(ap("d", { action: "DENY", rules: [{ from: [{ source: { ipBlocks: ["10.6.0.0/16"] } }], to: [{ operation: { methods: ["POST"] } }] }] }));
    assert.equal(admits(scoped, "10.6.1.1"), false);
    assert.equal(admits(scoped, "10.7.1.1"), true);
    // Another ALLOW rule without HTTP fields still admits.
    assert.equal(admits(policies(ap("a", { rules: [{ to: [{ operation: { methods: ["GET"] } }] }, { from: [{ source: { ipBlocks: ["10.0.0.0/8"] } }] }] })), "10.0.0.1"), true);
  });

  it("ports and when conditions on destination.port / source.ip / remote.ip / destination.ip", () => {
    const docs = policies(ap("a", { rules: [{ to: [{ operation: { ports: ["8080"] } }], when: [{ key: "source.ip", notValues: ["10.6.0.0/16"] }] }] }));
    assert.equal(admits(docs, "10.0.0.1", 8080), true);
    assert.equal(admits(docs, "10.0.0.1", 9090), false);
    assert.equal(admits(docs, "10.6.0.1", 8080), false);
    const when = policies(ap("a", { rules: [{ when: [{ key: "destination.port", values: ["8080"] }, { key: "remote.ip", values: ["10.0.0.0/8"] }, { key: "destination.ip", values: ["10.0.0.0/24"] }] }] }));
    assert.equal(admits(when, "10.0.0.1", 8080), true);
    assert.equal(admits(when, "11.0.0.1", 8080), false);
  });

  it("AUDIT and dry-run policies render nothing; CUSTOM and metadata conditions are refused with the reason", () => {
    assert.deepEqual(bypassRbacFilters({ policies: policies(ap("audit", { action: "AUDIT", rules: [{}] })), statPrefix: "p." }), []);
    const dry = policies(ap("dry", { rules: [{ from: [{ source: { ipBlocks: ["10.0.0.0/8"] } }] }] }, { annotations: { "istio.io/dry-run": "true" } }));
    assert.deepEqual(bypassRbacFilters({ policies: dry, statPrefix: "p." }), []);
    assert.throws(() => bypassRbacFilters({ policies: policies(ap("ext", { action: "CUSTOM", provider: { name: "opa" }, rules: [{}] })), statPrefix: "p." }),
      /policies\.yaml:1: AuthorizationPolicy shop\/ext has action CUSTOM \(provider "opa"\).*ext_authz.*Do not use mode bypass/);
    assert.throws(() => bypassRbacFilters({ policies: policies(ap("m", { rules: [{ when: [{ key: "experimental.envoy.filters.network.mysql_proxy[db.table]", values: ["[update]"] }] }] })), statPrefix: "p." }),
      /matches dynamic metadata, which no filter writes on the bypass chain/);
  });

  it("renders the same bytes for the same policies in any order, RBAC before the sniffer, validated against Envoy's protos", () => {
    const a = ap("a", { rules: [{ from: [{ source: { ipBlocks: ["10.0.0.0/8"] } }] }, {}] });
    const b = ap("b", { action: "DENY", rules: [{ from: [{ source: { ipBlocks: ["10.6.6.6"] } }] }] });
    const one = snifferEnvoyFilterYaml({ ...HTTP_PORT, authorizationPolicies: policies(a, b) });
    const two = snifferEnvoyFilterYaml({ ...HTTP_PORT, authorizationPolicies: policies(b, a) });
    assert.equal(one, two);
    const chain = addedChain(parse(one));
    assert.deepEqual(chain.filters.map((f: any) => f.name), [
      "envoy.filters.network.rbac", "envoy.filters.network.rbac", "envoy.filters.network.wasm", "envoy.filters.network.tcp_proxy",
    ]);
    assert.deepEqual(Object.keys(chain.filters[1].typed_config.rules.policies), ["ns[shop]-policy[a]-rule[0]", "ns[shop]-policy[a]-rule[1]"]);
    assert.doesNotThrow(() => assertValidEnvoy(chain, "envoy.config.listener.v3.FilterChain"));
    // The validator reads into the RBAC Any: a wrong field there is caught.
    const broken = structuredClone(chain.filters[0]);
    broken.typed_config.rules.policies["ns[shop]-policy[b]-rule[0]"].principals[0].and_ids.ids[0].or_ids.ids[0].direct_remote_ip.prefix = 8;
    assert.throws(() => assertValidEnvoy(broken, "envoy.config.listener.v3.Filter"), EnvoyConfigError);
    const noStat = structuredClone(chain.filters[0]);
    noStat.typed_config.stat_prefix = "";
    assert.throws(() => assertValidEnvoy(noStat, "envoy.config.listener.v3.Filter"), /stat_prefix/);
  });
});

describe("bypass RBAC: which policies apply to the workload (istiod's selection)", () => {
  const docs = policies(
    ap("ns-wide", { rules: [{}] }),
    ap("mine", { rules: [{}], selector: { matchLabels: { app: "web" } } }),
    ap("other-app", { rules: [{}], selector: { matchLabels: { app: "db" } } }),
    ap("gateway", { rules: [{}], targetRefs: [{ group: "gateway.networking.k8s.io", kind: "Gateway", name: "gw" }] }),
    ap("mesh", { rules: [{}] }, { namespace: "istio-system" }),
    ap("mesh-web", { rules: [{}], selector: { matchLabels: { app: "web" } } }, { namespace: "istio-system" }),
    ap("elsewhere", { rules: [{}] }, { namespace: "billing" }),
  );

  it("namespace-wide, selected, root-namespace policies apply; other labels, targetRefs and other namespaces do not", () => {
    const { applied, skipped } = selectPolicies(docs, { labels: { app: "web" }, namespace: "shop" });
    assert.deepEqual(applied.map((p) => `${p.namespace}/${p.name}`), ["istio-system/mesh", "istio-system/mesh-web", "shop/mine", "shop/ns-wide"]);
    assert.deepEqual(skipped.map((s) => s.policy.name).sort(), ["elsewhere", "gateway", "other-app"]);
    assert.match(skipped.find((s) => s.policy.name === "gateway")!.reason, /never to a sidecar/);
    assert.deepEqual(selectPolicies(docs, { labels: { app: "web" }, namespace: "shop", rootNamespace: "mesh-root" }).skipped.map((s) => s.policy.name).sort(),
      ["elsewhere", "gateway", "mesh", "mesh-web", "other-app"]);
  });

  it("refuses when the answer depends on what was not said: a labelled policy without --selector, a namespace without --namespace", () => {
    assert.throws(() => selectPolicies(docs, { namespace: "shop" }),
      /AuthorizationPolicy shop\/mine selects app=web, which the workload selector \(--selector\) does not fix.*--selector app=web/);
    assert.throws(() => selectPolicies(policies(ap("x", { rules: [{}] })), { labels: { app: "web" } }), /give the workload's namespace \(--namespace\)/);
    assert.throws(() => selectPolicies(policies(ap("x", {}), ap("x", { rules: [{}] })), { namespace: "shop" }), /policies\.yaml:3: AuthorizationPolicy shop\/x is also defined at policies\.yaml:1; give each policy once/);
  });
});

describe("bypass RBAC: reading policy files", () => {
  let dir: string;
  before(() => { dir = mkdtempSync(join(tmpdir(), "protomesh-ap-")); });
  after(() => rmSync(dir, { force: true, recursive: true }));
  const file = (name: string, text: string): string => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  };

  it("multi-document files, kubectl Lists, v1 and v1beta1", () => {
    const multi = file("multi.yaml", `${ap("a", { rules: [{}] })}\n---\n${ap("b", {}, {}, "security.istio.io/v1beta1")}\n---\n`);
    const list = file("list.yaml", JSON.stringify({ apiVersion: "v1", items: [JSON.parse(ap("c", {})), JSON.parse(ap("d", {}))], kind: "List" }));
    assert.deepEqual(loadAuthorizationPolicies([multi, list]).map((p) => p.name), ["a", "b", "c", "d"]);
  });

  it("errors name the file, the line and the field", () => {
    const bad = (text: string, re: RegExp): void => {
      const p = file("bad.yaml", text);
      assert.throws(() => loadAuthorizationPolicies([p]), (err: Error) => err.message.startsWith(p) && re.test(err.message));
    };
    bad(`${ap("a", {})}\n---\napiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: b}\nspec:\n  rules:\n  - from:\n    - source:\n        ipBlocks: ["10.0.0.300"]\n`,
      /bad\.yaml:10: spec\.rules\[0\]\.from\[0\]\.source\.ipBlocks\[0\]: "10\.0\.0\.300" is not an IP address or CIDR/);
    bad(ap("a", { rules: [{ to: [{ operation: { ports: ["http"] } }] }] }), /"http" is not a port in \[0, 65535\]/);
    bad(ap("a", { rules: [{ from: [{ source: { ipBlock: ["10.0.0.1"] } }] }] }), /unknown field "ipBlock"/);
    bad(ap("a", { rules: [{ when: [{ key: "source.ipaddr", values: ["1"] }] }] }), /unknown attribute "source\.ipaddr"/);
    bad(ap("a", { action: "CUSTOM" }), /action CUSTOM needs a provider/);
    bad(JSON.stringify({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "x" } }), /kind "ConfigMap" is not an AuthorizationPolicy/);
    bad("a: [", /YAML:/);
    bad("", /holds no AuthorizationPolicy document/);
    assert.throws(() => loadAuthorizationPolicies([join(dir, "missing.yaml")]), /missing\.yaml: cannot read AuthorizationPolicy file: no such file/);
    assert.throws(() => loadAuthorizationPolicies([dir]), /is a directory/);
  });
});

describe("bypass: refuses without authorization input or on a port Istio does not treat as HTTP", () => {
  it("no policies and no --no-authorization-policies: refused, saying why and how", () => {
    assert.throws(() => snifferEnvoyFilter({ ...HTTP_PORT }),
      /carries none of the workload's AuthorizationPolicies.*--authorization-policy <file\.\.\.>.*--no-authorization-policies/);
    assert.throws(() => snifferEnvoyFilter({ ...HTTP_PORT, authorizationPolicies: [] }), /--no-authorization-policies/);
    assert.equal(rbacFiltersOf(addedChain(snifferEnvoyFilter({ ...HTTP_PORT, noAuthorizationPolicies: true }))).length, 0);
    assert.throws(() => snifferEnvoyFilter({ ...HTTP_PORT, authorizationPolicies: policies(ap("a", {})), noAuthorizationPolicies: true }), /contradict/);
    // Policies given but none attached to the workload: Istio enforces none either.
    const other = policies(ap("x", { rules: [{}] }, { namespace: "billing" }));
    assert.equal(rbacFiltersOf(addedChain(snifferEnvoyFilter({ ...HTTP_PORT, authorizationPolicies: other }))).length, 0);
  });

  it("Istio's protocol for a Service port (pkg/config/kube/conversion.go ConvertProtocol)", () => {
    const table: Array<[number, string | undefined, string | undefined, string]> = [
      [8080, "http-web", undefined, "http"], [8080, "HTTP2", undefined, "http2"], [8080, "grpc-web-api", undefined, "grpc-web"],
      [8080, "grpc", undefined, "grpc"], [8080, "web", undefined, "auto"], [8080, undefined, undefined, "auto"],
      [8080, "tcp-web", "http", "http"], [8080, "http-web", "tcp", "tcp"], [8080, undefined, "kubernetes.io/h2c", "http2"],
      [3306, undefined, undefined, "tcp"], [3306, "http-x", undefined, "http"], [8080, "redis", undefined, "redis"],
    ];
    for (const [port, name, app, want] of table) assert.equal(istioPortProtocol(port, name, app), want, JSON.stringify([port, name, app]));
  });

  it("refuses a port that is not HTTP for Istio, naming the consequence", () => {
    const render = (extra: Record<string, unknown>): unknown => snifferEnvoyFilter({ ...HTTP_PORT, noAuthorizationPolicies: true, portName: undefined, ...extra });
    assert.throws(() => render({}), /needs to know that Istio treats port 8080 as HTTP: give the Service port's name \(portName \/ --port-name/);
    assert.throws(() => render({ portName: "web" }), /names no protocol, so Istio detects the protocol.*refuses the virtualInbound listener/);
    assert.throws(() => render({ portName: "tcp-web" }), /Istio serves port 8080 as tcp.*Use mode observe or route/);
    assert.throws(() => render({ appProtocol: "redis", portName: "http-web" }), /with appProtocol "redis" Istio serves port 8080 as redis/);
    for (const ok of [{ portName: "http-web" }, { portName: "grpc" }, { appProtocol: "http", portName: "web" }, { appProtocol: "kubernetes.io/h2c" }]) {
      assert.doesNotThrow(() => render(ok), JSON.stringify(ok));
    }
  });

  it("why: on a detected (auto) port istiod's MERGE hits both plaintext chains and Envoy refuses the listener", async () => {
    const port = 8080;
    // virtualInbound's chains for an auto port, PERMISSIVE (filterchain_options.go inboundPermissiveFilterChainMatchWithMxcOptions).
    const http = ["http/1.0", "http/1.1", "h2c"];
    const chains: any[] = [
      { filter_chain_match: { application_protocols: ["istio-http/1.0", "istio-http/1.1", "istio-h2"], destination_port: port, transport_protocol: "tls" }, filters: ["hcm"], name: "http-mtls" },
      { filter_chain_match: { application_protocols: [...http], destination_port: port, transport_protocol: "raw_buffer" }, filters: ["hcm"], name: "http-plain" },
      { filter_chain_match: { application_protocols: ["istio-peer-exchange", "istio"], destination_port: port, transport_protocol: "tls" }, filters: ["tcp_proxy"], name: "tcp-mtls" },
      { filter_chain_match: { destination_port: port, transport_protocol: "raw_buffer" }, filters: ["tcp_proxy"], name: "tcp-plain" },
      { filter_chain_match: { destination_port: port, transport_protocol: "tls" }, filters: ["tcp_proxy"], name: "tcp-tls" },
    ];
    // The patches as they would be rendered if the port check were not there.
    const ef = snifferEnvoyFilter({ ...HTTP_PORT, noAuthorizationPolicies: true }) as any;
    for (const p of ef.spec.configPatches.filter((x: any) => x.applyTo === "FILTER_CHAIN")) {
      const l = p.match.listener;
      if (p.patch.operation === "MERGE") {
        // listener_patch.go filterChainMatch: port and transport protocol compared, filterChain.filter never.
        for (const c of chains) {
          if (c.filter_chain_match.destination_port === l.portNumber && c.filter_chain_match.transport_protocol === l.filterChain.transportProtocol) {
            c.filter_chain_match.application_protocols = [...(c.filter_chain_match.application_protocols ?? []), ...p.patch.value.filter_chain_match.application_protocols];
          }
        }
      } else chains.push({ ...p.patch.value, filters: ["sniffer"] });
    }
    const toEmulator = (c: any): TcpFilterChain => ({
      filters: [],
      match: { applicationProtocols: c.filter_chain_match.application_protocols, destinationPort: c.filter_chain_match.destination_port, transportProtocol: c.filter_chain_match.transport_protocol },
      name: c.name,
      tcpProxy: { cluster: "x" },
    });
    await assert.rejects(startTcpListener(fakeHost(), { filterChains: chains.map(toEmulator) }), /multiple filter chains with the same matching rules are defined/);
  });
});

describe("bypass RBAC: CLI", () => {
  let dir: string;
  before(() => { dir = mkdtempSync(join(tmpdir(), "protomesh-ap-cli-")); });
  after(() => rmSync(dir, { force: true, recursive: true }));

  it("--authorization-policy files render RBAC; skipped policies are noted; refusals exit 1 with the reason", async () => {
    const f = join(dir, "ap.yaml");
    writeFileSync(f, [ap("a", { rules: [{ from: [{ source: { ipBlocks: ["10.0.0.0/8"] } }] }] }), ap("x", { rules: [{}] }, { namespace: "billing" })].join("\n---\n"));
    const base = ["render", "istio", "--filter", "sniffer", "--mode", "bypass", "--port", "8080", "--namespace", "shop", "--selector", "app=web"];
    const ok = await cli(...base, "--port-name", "http-web", "--authorization-policy", f);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(rbacFiltersOf(addedChain(parse(ok.stdout))).length, 1);
    assert.match(ok.stderr, /note: .*ap\.yaml:\d+: AuthorizationPolicy billing\/x does not apply to the workload: namespace billing/);
    const none = await cli(...base, "--port-name", "http-web");
    assert.equal(none.code, 1);
    assert.match(none.stderr, /--no-authorization-policies/);
    const declared = await cli(...base, "--port-name", "http-web", "--no-authorization-policies");
    assert.equal(declared.code, 0, declared.stderr);
    const notHttp = await cli(...base, "--port-name", "tcp-web", "--no-authorization-policies");
    assert.equal(notHttp.code, 1);
    assert.match(notHttp.stderr, /as tcp/);
    const wrongMode = await cli("render", "istio", "--filter", "sniffer", "--mode", "observe", "--port", "8080", "--authorization-policy", f);
    assert.equal(wrongMode.code, 1);
    assert.match(wrongMode.stderr, /--authorization-policy apply to --filter sniffer --mode bypass only/);
    const missing = await cli(...base, "--port-name", "http-web", "--authorization-policy", join(dir, "nope.yaml"));
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /nope\.yaml: cannot read AuthorizationPolicy file: no such file/);
  });
});

describe("bypass RBAC through the emulated data plane (real sockets, the rendered chain)", () => {
  const snifferWasm = new URL("../../build/sniffer.wasm", import.meta.url).pathname;
  let upstream: RecordingServer;
  let host: Host;
  let listener: TcpListener;
  const rbac: RbacNetworkFilterFactory[] = [];

  before(async () => {
    upstream = await recordingServer("echo");
    host = new Host({ clusters: { InboundPassthroughCluster: { endpoints: [{ host: "127.0.0.1", port: upstream.port }] } } });
    const docs = policies(
      ap("allow-loopback", { rules: [{ from: [{ source: { ipBlocks: ["127.0.0.0/8"] } }], to: [{ operation: { ports: ["8080"] } }] }] }),
      ap("deny-two", { action: "DENY", rules: [{ from: [{ source: { ipBlocks: ["127.0.0.2"] } }] }] }),
    );
    const chain = addedChain(snifferEnvoyFilter({ ...HTTP_PORT, authorizationPolicies: docs }));
    // Each rendered filter becomes its emulator counterpart; nothing is copied by hand.
    const filters: NetworkFilterSource[] = [];
    for (const f of chain.filters.slice(0, -1)) {
      if (f.name === RBAC_NETWORK_FILTER_NAME) {
        const r = rbacNetworkFilter(f.typed_config);
        rbac.push(r);
        filters.push(r);
      } else {
        assert.equal(f.name, "envoy.filters.network.wasm");
        const c = f.typed_config.config;
        filters.push(await host.loadPlugin({ configuration: c.configuration.value, failOpen: c.fail_open, name: c.name, rootId: c.root_id, vmCount: 1, wasm: snifferWasm }));
      }
    }
    const tcpProxy = chain.filters.at(-1).typed_config;
    listener = await host.tcpListener({
      filterChains: [{
        filters,
        match: { destinationPort: chain.filter_chain_match.destination_port, transportProtocol: chain.filter_chain_match.transport_protocol },
        name: chain.name,
        tcpProxy: { cluster: tcpProxy.cluster, statPrefix: tcpProxy.stat_prefix },
      }],
      // What iptables REDIRECT + original_dst give virtualInbound: the workload's port.
      originalDst: { host: "127.0.0.1", port: 8080 },
    });
  });

  after(async () => {
    await host?.close();
    await upstream?.close();
  });

  function talk(localAddress: string, payload: string): Promise<{ bytes: Buffer; error?: string }> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ allowHalfOpen: true, host: "127.0.0.1", localAddress, port: listener.port });
      s.once("error", reject);
      s.once("connect", () => {
        s.off("error", reject);
        const all = readAll(s);
        s.end(Buffer.from(payload));
        all.then(resolve, reject);
      });
    });
  }

  it("an allowed source passes the RBAC, the sniffer and tcp_proxy; a denied one is closed with no byte", async () => {
    const ok = await withTimeout(talk("127.0.0.1", "*1\r\n$4\r\nPING\r\n"), 10_000, "allowed client");
    assert.equal(ok.bytes.toString(), "*1\r\n$4\r\nPING\r\n", "echoed through the bypass chain");
    const denied = await withTimeout(talk("127.0.0.2", "*1\r\n$4\r\nPING\r\n"), 10_000, "denied client");
    assert.equal(denied.bytes.length, 0);
    await Promise.all(listener.connections.map((c) => c.closed));
    assert.deepEqual(listener.connections.map((c) => [c.filterChainName, c.info.source.host]), [
      ["protomesh-sniffer-bypass-8080", "127.0.0.1"], ["protomesh-sniffer-bypass-8080", "127.0.0.2"],
    ]);
    assert.equal(listener.connections[1]!.bytesToUpstream, 0, "nothing of the denied client reaches the workload");
    const [deny, allow] = rbac;
    assert.equal(deny!.stats.get("protomesh_bypass_8080.deny.rbac.allowed"), 1);
    assert.equal(deny!.stats.get("protomesh_bypass_8080.deny.rbac.denied"), 1);
    assert.equal(allow!.stats.get("protomesh_bypass_8080.allow.rbac.allowed"), 1);
    assert.deepEqual(deny!.decisions.map((d) => d.policy), ["none", "ns[shop]-policy[deny-two]-rule[0]"]);
  });
});
