/**
 * tcp-stats in a real Envoy: the bootstrap the controller renders, build/tcp-stats.wasm, an echo
 * server on this machine, real connections, and the counters read back from Envoy's admin
 * `/stats`. Needs a Docker engine; without one the suite is skipped with the reason.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { createServer, connect, type Server, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { bootstrapYaml } from "../../controller/envoy/bootstrap.js";
import { standaloneBootstrapProps } from "../../controller/envoy/standalone.js";
import { DOCKER_HOST_ALIAS, dumpStats, ENVOY_ADMIN_PORT, ENVOY_IMAGE, ENVOY_WASM_DIR, EnvoyContainer, probeDocker, type StatMap } from "./docker.js";

const WASM = new URL("../../build/tcp-stats.wasm", import.meta.url).pathname;
const LISTEN_PORT = 10000;

/** Bytes sent on each connection; each is echoed back in full before the client closes. */
const PAYLOADS = [1, 1000, 70_000];

const probe = await probeDocker();

describe("tcp-stats in Envoy " + ENVOY_IMAGE, { skip: probe.ok ? false : probe.reason }, () => {
  let echo: Server | undefined;
  let envoy: EnvoyContainer | undefined;

  before(async () => {
    if (!probe.ok) return;
    assert.ok(existsSync(WASM), `${WASM} is missing; run npm run build first`);
    const server = createServer((s) => s.pipe(s));
    echo = server;
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const echoPort = (server.address() as { port: number }).port;
    const yaml = bootstrapYaml(standaloneBootstrapProps({
      adminAddress: "0.0.0.0",
      adminPort: ENVOY_ADMIN_PORT,
      filter: "tcp-stats",
      listenPort: LISTEN_PORT,
      upstream: { address: DOCKER_HOST_ALIAS, port: echoPort },
      wasmDir: ENVOY_WASM_DIR,
    }));
    envoy = await EnvoyContainer.start(probe.tc, { yaml, wasm: [WASM], ports: [LISTEN_PORT], hostPorts: [echoPort], name: "envoy tcp-stats" });
  });

  after(async () => {
    await envoy?.stop();
    if (echo !== undefined) await new Promise<void>((resolve) => echo!.close(() => resolve()));
  });

  it("counts connections and bytes of real traffic through Envoy", { timeout: 60_000 }, async () => {
    const e = envoy;
    assert.ok(e !== undefined, "Envoy did not start");
    await e.explain(async () => {
      for (const size of PAYLOADS) {
        const echoed = await roundTrip(e.host, e.mappedPort(LISTEN_PORT), Buffer.alloc(size, 0x61));
        assert.equal(echoed, size, `connection with ${size} bytes: echoed ${echoed}`);
      }
      const total = PAYLOADS.reduce((a, b) => a + b, 0);
      // Envoy updates stats after the connection close callbacks ran; poll until the close of
      // the last connection is counted.
      const stats = await e.waitFor(() => e.stats("tcp_stats"), (s) => counter(s, "connections_closed") === PAYLOADS.length, dumpStats);
      assert.equal(counter(stats, "connections_opened"), PAYLOADS.length, dumpStats(stats));
      assert.equal(counter(stats, "connections_closed"), PAYLOADS.length, dumpStats(stats));
      assert.equal(counter(stats, "connections_active"), 0, dumpStats(stats));
      // tcp-stats: received = downstream → upstream bytes, sent = upstream → downstream bytes.
      assert.equal(counter(stats, "received_bytes"), total, dumpStats(stats));
      assert.equal(counter(stats, "sent_bytes"), total, dumpStats(stats));
    });
  });
});

function roundTrip(host: string, port: number, payload: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    let got = 0;
    const s: Socket = connect({ host, port }, () => s.write(payload));
    s.on("data", (d: Buffer) => {
      got += d.length;
      if (got >= payload.length) s.end();
    });
    s.on("close", () => resolve(got));
    s.on("error", reject);
    s.setTimeout(10_000, () => s.destroy(new Error(`no echo within 10 s (${got}/${payload.length} bytes)`)));
  });
}

/** The stat named `tcp_stats.<suffix>`, with or without Envoy's `wasmcustom.` namespace prefix. */
function counter(stats: StatMap, suffix: string): number | undefined {
  for (const [name, value] of stats) {
    if (name.endsWith(`tcp_stats.${suffix}`) || name.endsWith(`tcp_stats_${suffix}`)) return value;
  }
  return undefined;
}
