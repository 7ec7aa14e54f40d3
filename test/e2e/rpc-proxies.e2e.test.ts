/**
 * The per-request deployment in a real Envoy (docker, pinned image): the bootstrap `render rules`
 * writes for a rule set, Envoy's native dubbo_proxy / thrift_proxy, real Dubbo (hessian.js) and
 * Apache Thrift peers on this machine. The same cases run against the host emulator in
 * test/host/dubbo-proxy.test.ts and test/host/thrift-proxy.test.ts; here Envoy itself answers, so
 * a drift between the emulator and Envoy shows up as a failure of one of the two.
 *
 * Needs a Docker engine; without one each suite is skipped with the reason.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { bootstrapYaml } from "../../controller/envoy/bootstrap.js";
import { dubboProxyFilter } from "../../controller/dubbo/filter.js";
import { parseRuleSet } from "../../controller/rules/load.js";
import { perRequestBootstrapProps } from "../../controller/rules/per-request.js";
import { thriftProxyFilter } from "../../controller/thrift/filter.js";
import { DubboConsumer, startDubboProvider, type DubboPeer } from "../peers/dubbo.js";
import { startThriftServer, thriftClient, type ThriftPeer } from "../peers/thrift.js";
import { DOCKER_HOST_ALIAS, ENVOY_ADMIN_PORT, ENVOY_IMAGE, EnvoyContainer, probeDocker, type Testcontainers } from "./docker.js";

const LISTEN_PORT = 10000;
const SETUP_TIMEOUT_MS = 180_000;
const TEST_TIMEOUT_MS = 60_000;

const probe = await probeDocker();

const RULES = `
apiVersion: protomesh.io/v1alpha1
kind: RpcRouteRules
metadata: { name: e2e }
spec:
  rules:
    - name: canary
      match: { service: { exact: com.acme.Orders }, headers: [{ name: x-canary, exact: "1" }] }
      route: { cluster: a }
    - name: orders-hello
      match: { service: { exact: Orders }, method: { exact: hello } }
      route: { cluster: a }
    - name: rest
      match: { method: { exact: hello } }
      route: { cluster: b }
    - name: orders
      match: { service: { exact: com.acme.Orders } }
      route: { cluster: b }
`;

async function start(tc: Testcontainers, proxy: "dubbo" | "thrift", a: number, b: number): Promise<EnvoyContainer> {
  const rules = parseRuleSet(RULES, "e2e-rules.yaml");
  const { filter } = proxy === "dubbo" ? dubboProxyFilter({ rules }) : thriftProxyFilter({ rules });
  const at = (port: number) => [{ address: DOCKER_HOST_ALIAS, port }];
  const yaml = bootstrapYaml(perRequestBootstrapProps({
    rules, endpoints: { a: at(a), b: at(b) }, defaultPort: 1, listenPort: LISTEN_PORT,
    admin: { address: "0.0.0.0", port: ENVOY_ADMIN_PORT },
  }, filter));
  return EnvoyContainer.start(tc, {
    yaml, wasm: [], ports: [LISTEN_PORT], hostPorts: [a, b], name: `envoy ${proxy}_proxy`,
  });
}

describe(`dubbo_proxy per request in Envoy ${ENVOY_IMAGE}`, { skip: probe.ok ? false : probe.reason }, () => {
  let envoy: EnvoyContainer | undefined;
  let front: { port: number; close(): Promise<void> } | undefined;
  const peers: DubboPeer[] = [];

  before(async () => {
    if (!probe.ok) return;
    peers.push(await startDubboProvider(), await startDubboProvider());
    envoy = await start(probe.tc, "dubbo", peers[0]!.port, peers[1]!.port);
    front = await envoy.loopbackPort(LISTEN_PORT);
  }, { timeout: SETUP_TIMEOUT_MS });

  after(async () => {
    await front?.close();
    await envoy?.stop();
    await Promise.all(peers.map((p) => p.close()));
  });

  it("routes consecutive calls on one connection by attachment, answers heartbeats and unroutable calls itself", { timeout: TEST_TIMEOUT_MS }, async () => {
    assert.ok(envoy !== undefined && front !== undefined, "setup did not finish");
    const [a, b] = [peers[0]!, peers[1]!];
    await envoy.explain(async () => {
      const c = await DubboConsumer.connect(front!.port);
      try {
        const call = { service: "com.acme.Orders", method: "get", arg: "1" };
        assert.equal((await c.call({ ...call, attachments: { "x-canary": "1" } })).values[1], "get:1");
        assert.equal((await c.call(call)).values[1], "get:1");
        assert.deepEqual([a.requests.length, b.requests.length], [1, 1]);
        const hb = await c.heartbeat();
        assert.deepEqual([hb.flag, hb.status, hb.values], [0x22, 20, [null]]);
        const nope = await c.call({ service: "com.acme.Nope", method: "get", arg: "1" });
        assert.deepEqual([nope.status, nope.values], [60, [0, "dubbo router: no route for interface 'com.acme.Nope'"]]);
      } finally {
        await c.close();
      }
    });
  });
});

describe(`thrift_proxy per request in Envoy ${ENVOY_IMAGE}`, { skip: probe.ok ? false : probe.reason }, () => {
  let envoy: EnvoyContainer | undefined;
  let front: { port: number; close(): Promise<void> } | undefined;
  const servers: ThriftPeer[] = [];

  before(async () => {
    if (!probe.ok) return;
    servers.push(await startThriftServer("framed-binary"), await startThriftServer("framed-binary"));
    envoy = await start(probe.tc, "thrift", servers[0]!.port, servers[1]!.port);
    front = await envoy.loopbackPort(LISTEN_PORT);
  }, { timeout: SETUP_TIMEOUT_MS });

  after(async () => {
    await front?.close();
    await envoy?.stop();
    await Promise.all(servers.map((s) => s.close()));
  });

  it("routes consecutive calls on one connection by service and method, answers an unroutable call with UnknownMethod", { timeout: TEST_TIMEOUT_MS }, async () => {
    assert.ok(envoy !== undefined && front !== undefined, "setup did not finish");
    await envoy.explain(async () => {
      const c = await thriftClient(front!.port, "framed-binary");
      try {
        assert.equal(await c.client.call("Orders:hello", "x"), "hello:x");
        assert.equal(await c.client.call("hello", "y"), "hello:y");
        assert.deepEqual([servers[0]!.names, servers[1]!.names], [["Orders:hello"], ["hello"]]);
        await assert.rejects(c.client.call("bye", "z"), /no route for method 'bye'/);
      } finally {
        c.close();
      }
    });
  });
});
