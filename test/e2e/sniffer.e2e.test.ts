/**
 * The sniffer in a real Envoy (docker, pinned image): the bootstrap the controller renders for a
 * mode, build/sniffer.wasm, real protocol peers on this machine (test/peers), and the counters
 * read back from Envoy's admin endpoint.
 *
 * - route: Dubbo (hessian2) and Thrift (framed binary) on the same listener port reach clusters
 *   `dubbo` and `thrift`; the catch-all `upstream` cluster sees nothing.
 * - observe: a TLS client goes through to its server untouched and is counted as `tls`.
 *
 * The sniffer's counter is defined as `protocol=.=<p>;.;mode=.=<m>;.;action=.=<a>;.;
 * protomesh_sniffer_connections_total` (assembly/filters/sniffer/README.md, "Metrics"): `/stats`
 * shows that full name (Envoy may prefix its `wasmcustom.` namespace), and the rendered
 * `stats_config.stats_tags` (controller/sniffer/stats.ts) turn it into Prometheus labels.
 *
 * Needs a Docker engine; without one each suite is skipped with the reason.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { bootstrapYaml } from "../../controller/envoy/bootstrap.js";
import { snifferBootstrapProps, UPSTREAM_CLUSTER } from "../../controller/sniffer/standalone.js";
import { startDubboProvider, dubboInvoke, type DubboPeer } from "../peers/dubbo.js";
import { startEchoServer } from "../peers/echo.js";
import type { Closable } from "../peers/listen.js";
import { startThriftServer, thriftEcho, type ThriftPeer } from "../peers/thrift.js";
import { startTlsServer, tlsEcho, TLS_SERVER_NAME, type TlsPeer } from "../peers/tls.js";
import {
  DOCKER_HOST_ALIAS,
  dumpStats,
  ENVOY_ADMIN_PORT,
  ENVOY_IMAGE,
  ENVOY_WASM_DIR,
  EnvoyContainer,
  probeDocker,
  type PromSample,
  type StatMap,
} from "./docker.js";

const WASM = new URL("../../build/sniffer.wasm", import.meta.url).pathname;
const LISTEN_PORT = 10000;
const COUNTER = "protomesh_sniffer_connections_total";
/** Image pull + Envoy start (the start itself is bounded at 60 s inside EnvoyContainer). */
const SETUP_TIMEOUT_MS = 180_000;
const TEST_TIMEOUT_MS = 60_000;

const probe = await probeDocker();

const escapeRe = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");

/** A stat name carries `key=value` as the filter writes it (`key=.=value;.;`). */
function hasTag(name: string, key: string, value: string): boolean {
  return new RegExp(`(^|[.;])${escapeRe(key)}=\\.=${escapeRe(value)};\\.;`).test(name);
}

type Tags = Readonly<{ protocol: string; mode: string; action: string }>;

/** The `/stats` value of the connection counter with exactly these tags; undefined if absent. */
function connections(stats: StatMap, tags: Tags): number | undefined {
  const hits = [...stats].filter(([name]) => name.endsWith(COUNTER) && Object.entries(tags).every(([k, v]) => hasTag(name, k, v)));
  assert.ok(hits.length <= 1, `more than one ${COUNTER} stat with ${JSON.stringify(tags)}:\n${dumpStats(stats)}`);
  return hits[0]?.[1];
}

/** Prometheus: the counter's name has no tag text left, and the tags are labels. */
async function assertPrometheus(envoy: EnvoyContainer, tags: Tags, value: number): Promise<void> {
  const samples = await envoy.prometheus(new RegExp(`(^|_)${COUNTER}$`));
  const show = (s: readonly PromSample[]): string => s.map((x) => `${x.name}${JSON.stringify(x.labels)} ${x.value}`).join("\n");
  assert.ok(samples.length > 0, `no ${COUNTER} in /stats/prometheus: the stats_tags did not cut the tags out of the name`);
  const match = samples.filter((s) => Object.entries(tags).every(([k, v]) => s.labels[k] === v));
  assert.equal(match.length, 1, `one ${COUNTER} sample labelled ${JSON.stringify(tags)} among:\n${show(samples)}`);
  assert.equal(match[0]!.value, value, show(match));
}

const countersFilter = `${COUNTER}|^cluster\\.[a-z]+\\.upstream_cx_total$`;

// One suite around both modes: without Docker it is one SKIP line with the reason.
describe(`sniffer in Envoy ${ENVOY_IMAGE}`, { skip: probe.ok ? false : probe.reason }, () => {
  describe("route mode", () => {
    let envoy: EnvoyContainer | undefined;
    let dubbo: DubboPeer | undefined;
    let thrift: ThriftPeer | undefined;
    let fallback: (Closable & { readonly accepted: () => number }) | undefined;
    let front: Closable | undefined;

    before(async () => {
      if (!probe.ok) return;
      assert.ok(existsSync(WASM), `${WASM} is missing; run npm run build first`);
      dubbo = await startDubboProvider();
      thrift = await startThriftServer("framed-binary");
      fallback = await startEchoServer();
      const at = (port: number) => [{ address: DOCKER_HOST_ALIAS, port }];
      const yaml = bootstrapYaml(snifferBootstrapProps({
        mode: "route",
        configuration: { routes: { dubbo: "dubbo", thrift: "thrift" }, default_route: "deny" },
        clusters: [{ name: "dubbo", endpoints: at(dubbo.port) }, { name: "thrift", endpoints: at(thrift.port) }],
        upstream: { address: DOCKER_HOST_ALIAS, port: fallback.port },
        adminAddress: "0.0.0.0",
        adminPort: ENVOY_ADMIN_PORT,
        listenPort: LISTEN_PORT,
        wasmDir: ENVOY_WASM_DIR,
      }));
      envoy = await EnvoyContainer.start(probe.tc, {
        yaml,
        wasm: [WASM],
        ports: [LISTEN_PORT],
        hostPorts: [dubbo.port, thrift.port, fallback.port],
        name: "envoy sniffer-route",
      });
      front = await envoy.loopbackPort(LISTEN_PORT);
    }, { timeout: SETUP_TIMEOUT_MS });

    after(async () => {
      await front?.close();
      await envoy?.stop();
      await Promise.all([dubbo?.close(), thrift?.close(), fallback?.close()]);
    });

    it("Dubbo → cluster dubbo and Thrift → cluster thrift on one port, counted per protocol", { timeout: TEST_TIMEOUT_MS }, async () => {
      const e = envoy;
      assert.ok(e !== undefined && front !== undefined && dubbo !== undefined && thrift !== undefined && fallback !== undefined, "setup did not finish");
      const [port, d, t, f] = [front.port, dubbo, thrift, fallback];
      await e.explain(async () => {
        assert.equal(await dubboInvoke(port, "org.protomesh.Greeter", "sayHello", "via envoy"), "sayHello:via envoy");
        assert.equal(await thriftEcho(port, "framed-binary", "via envoy"), "echo:via envoy");

        // Each request reached its own server, once, and nothing fell through to `upstream`.
        assert.deepEqual(d.requests.map((r) => [r.service, r.method, r.args[0]]), [["org.protomesh.Greeter", "sayHello", "via envoy"]]);
        assert.deepEqual(t.calls, ["via envoy"]);
        assert.equal(f.accepted(), 0, `the ${UPSTREAM_CLUSTER} cluster got a connection`);

        const dubboTags = { protocol: "dubbo", mode: "route", action: "cluster" };
        const thriftTags = { protocol: "thrift", mode: "route", action: "cluster" };
        const stats = await e.waitFor(
          () => e.stats(countersFilter),
          (s) => connections(s, dubboTags) === 1 && connections(s, thriftTags) === 1,
          dumpStats,
        );
        // Envoy's own view of where tcp_proxy connected.
        assert.equal(stats.get("cluster.dubbo.upstream_cx_total"), 1, dumpStats(stats));
        assert.equal(stats.get("cluster.thrift.upstream_cx_total"), 1, dumpStats(stats));
        assert.equal(stats.get(`cluster.${UPSTREAM_CLUSTER}.upstream_cx_total`), 0, dumpStats(stats));
        // Defined for every protocol at configure time, untouched here.
        assert.equal(connections(stats, { protocol: "tls", mode: "route", action: "deny" }), 0, dumpStats(stats));
        await assertPrometheus(e, dubboTags, 1);
        await assertPrometheus(e, thriftTags, 1);
      });
    });
  });

  describe("observe mode", () => {
    let envoy: EnvoyContainer | undefined;
    let tlsPeer: TlsPeer | undefined;
    let front: Closable | undefined;

    before(async () => {
      if (!probe.ok) return;
      assert.ok(existsSync(WASM), `${WASM} is missing; run npm run build first`);
      tlsPeer = await startTlsServer();
      const yaml = bootstrapYaml(snifferBootstrapProps({
        mode: "observe",
        upstream: { address: DOCKER_HOST_ALIAS, port: tlsPeer.port },
        adminAddress: "0.0.0.0",
        adminPort: ENVOY_ADMIN_PORT,
        listenPort: LISTEN_PORT,
        wasmDir: ENVOY_WASM_DIR,
      }));
      envoy = await EnvoyContainer.start(probe.tc, {
        yaml,
        wasm: [WASM],
        ports: [LISTEN_PORT],
        hostPorts: [tlsPeer.port],
        name: "envoy sniffer-observe",
      });
      front = await envoy.loopbackPort(LISTEN_PORT);
    }, { timeout: SETUP_TIMEOUT_MS });

    after(async () => {
      await front?.close();
      await envoy?.stop();
      await tlsPeer?.close();
    });

    it("a TLS client passes through untouched and is counted as tls", { timeout: TEST_TIMEOUT_MS }, async () => {
      const e = envoy;
      assert.ok(e !== undefined && front !== undefined && tlsPeer !== undefined, "setup did not finish");
      const [port, peer] = [front.port, tlsPeer];
      await e.explain(async () => {
        const payload = Buffer.from("over tls through envoy ".repeat(50));
        const r = await tlsEcho(port, peer.cert, payload, ["h2", "http/1.1"]);
        assert.equal(r.authorized, true, "the server's certificate verified: the handshake was not altered");
        assert.equal(r.alpn, "h2");
        assert.deepEqual(r.echoed, payload);
        assert.deepEqual(peer.sessions, [{ servername: TLS_SERVER_NAME, alpn: "h2" }]);

        const tags = { protocol: "tls", mode: "observe", action: "observe" };
        const stats = await e.waitFor(() => e.stats(countersFilter), (s) => connections(s, tags) === 1, dumpStats);
        assert.equal(stats.get(`cluster.${UPSTREAM_CLUSTER}.upstream_cx_total`), 1, dumpStats(stats));
        assert.equal(connections(stats, { protocol: "tcp", mode: "observe", action: "observe" }), 0, dumpStats(stats));
        await assertPrometheus(e, tags, 1);
      });
    });
  });
});
