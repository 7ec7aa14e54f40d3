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
import { probeDocker } from "./docker.js";

/** Pinned: the newest 1.37.x we could confirm (envoyproxy/examples#1137 bumps 1.37.1 → 1.38.0). */
export const ENVOY_IMAGE = "envoyproxy/envoy:v1.37.1";
const WASM = new URL("../../build/tcp-stats.wasm", import.meta.url).pathname;
const LISTEN_PORT = 10000;
const ADMIN_PORT = 9901;

/** Bytes sent on each connection; each is echoed back in full before the client closes. */
const PAYLOADS = [1, 1000, 70_000];

const probe = await probeDocker();

describe("tcp-stats in Envoy " + ENVOY_IMAGE, { skip: probe.ok ? false : probe.reason }, () => {
  let echo: Server;
  let container: { getHost(): string; getMappedPort(p: number): number; stop(): Promise<unknown>; logs(): Promise<NodeJS.ReadableStream> } | undefined;
  let envoyLog = "";

  before(async () => {
    if (!probe.ok) return;
    assert.ok(existsSync(WASM), `${WASM} is missing; run npm run build first`);
    const { GenericContainer, TestContainers, Wait } = probe.tc;
    echo = createServer((s) => s.pipe(s));
    await new Promise<void>((resolve) => echo.listen(0, "127.0.0.1", resolve));
    const echoPort = (echo.address() as { port: number }).port;
    await TestContainers.exposeHostPorts(echoPort);
    const yaml = bootstrapYaml(standaloneBootstrapProps({
      adminAddress: "0.0.0.0",
      adminPort: ADMIN_PORT,
      filter: "tcp-stats",
      listenPort: LISTEN_PORT,
      upstream: { address: "host.testcontainers.internal", port: echoPort },
      wasmDir: "/etc/envoy/wasm",
    }));
    container = await new GenericContainer(ENVOY_IMAGE)
      .withCopyContentToContainer([{ content: yaml, target: "/etc/envoy/envoy.yaml", mode: 0o644 }])
      .withCopyFilesToContainer([{ source: WASM, target: "/etc/envoy/wasm/tcp-stats.wasm", mode: 0o644 }])
      .withCommand(["-c", "/etc/envoy/envoy.yaml", "--concurrency", "1", "--log-level", "info"])
      .withExposedPorts(LISTEN_PORT, ADMIN_PORT)
      .withLogConsumer((stream) => stream.on("data", (d: Buffer) => { envoyLog += d.toString(); }))
      .withWaitStrategy(Wait.forHttp("/ready", ADMIN_PORT).forStatusCode(200))
      .withStartupTimeout(60_000)
      .start();
  });

  after(async () => {
    await container?.stop();
    if (echo !== undefined) await new Promise<void>((resolve) => echo.close(() => resolve()));
  });

  it("counts connections and bytes of real traffic through Envoy", { timeout: 60_000 }, async () => {
    assert.ok(container !== undefined);
    const host = container.getHost();
    const port = container.getMappedPort(LISTEN_PORT);
    for (const size of PAYLOADS) {
      const echoed = await roundTrip(host, port, Buffer.alloc(size, 0x61));
      assert.equal(echoed, size, `connection with ${size} bytes: echoed ${echoed}\nEnvoy log:\n${envoyLog}`);
    }
    const total = PAYLOADS.reduce((a, b) => a + b, 0);
    // Envoy updates stats after the connection close callbacks ran; poll the admin endpoint
    // until the close of the last connection is counted (bounded by the test timeout).
    const stats = await waitForStats(container.getHost(), container.getMappedPort(ADMIN_PORT), (s) => counter(s, "connections_closed") === PAYLOADS.length);
    assert.equal(counter(stats, "connections_opened"), PAYLOADS.length, dump(stats));
    assert.equal(counter(stats, "connections_closed"), PAYLOADS.length, dump(stats));
    assert.equal(counter(stats, "connections_active"), 0, dump(stats));
    // tcp-stats: received = downstream → upstream bytes, sent = upstream → downstream bytes.
    assert.equal(counter(stats, "received_bytes"), total, dump(stats));
    assert.equal(counter(stats, "sent_bytes"), total, dump(stats));
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

/** `/stats?filter=tcp_stats` as name → value (counters and gauges; histograms skipped). */
async function readStats(host: string, port: number): Promise<Map<string, number>> {
  const res = await fetch(`http://${host}:${port}/stats?filter=tcp_stats`, { signal: AbortSignal.timeout(5000) });
  const out = new Map<string, number>();
  for (const line of (await res.text()).split("\n")) {
    const m = /^(\S+): (\d+)$/.exec(line.trim());
    if (m !== null) out.set(m[1]!, Number(m[2]));
  }
  return out;
}

async function waitForStats(host: string, port: number, done: (s: Map<string, number>) => boolean): Promise<Map<string, number>> {
  for (;;) {
    const stats = await readStats(host, port);
    if (done(stats)) return stats;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The stat named `tcp_stats.<suffix>`, with or without Envoy's `wasmcustom.` namespace prefix. */
function counter(stats: Map<string, number>, suffix: string): number | undefined {
  for (const [name, value] of stats) {
    if (name.endsWith(`tcp_stats.${suffix}`) || name.endsWith(`tcp_stats_${suffix}`)) return value;
  }
  return undefined;
}

function dump(stats: Map<string, number>): string {
  return [...stats].map(([k, v]) => `${k}: ${v}`).join("\n");
}
