/**
 * Shared plumbing of the e2e suites.
 *
 * `probeDocker` finds out, quickly and without hanging, whether a Docker engine answers here, and
 * loads testcontainers only then. Returns the reason to skip, or the loaded module.
 *
 * testcontainers itself tries several strategies (DOCKER_HOST, ~/.testcontainers.properties,
 * unix sockets) and can take long to give up; we look at the same places first, ping the socket
 * with a short timeout, and bound the library's own probe too.
 *
 * `EnvoyContainer` runs the pinned Envoy image with a rendered bootstrap and wasm files, and
 * reads its admin endpoint; failures carry Envoy's log, each line prefixed with the container's
 * name.
 */
import { existsSync, readFileSync } from "node:fs";
import { request } from "node:http";
import { connect, createServer, type AddressInfo, type Socket } from "node:net";
import { homedir, userInfo } from "node:os";
import { basename, join } from "node:path";
import type { StartedTestContainer } from "testcontainers";

export type Testcontainers = typeof import("testcontainers");

export type DockerProbe =
  | { readonly ok: true; readonly tc: Testcontainers; readonly where: string }
  | { readonly ok: false; readonly reason: string };

const PROBE_TIMEOUT_MS = 4000;

function socketCandidates(): string[] {
  const uid = userInfo().uid;
  const xdg = process.env["XDG_RUNTIME_DIR"];
  return [
    "/var/run/docker.sock",
    ...(xdg === undefined ? [] : [join(xdg, "docker.sock")]),
    join(homedir(), ".docker", "run", "docker.sock"),
    join(homedir(), ".docker", "desktop", "docker.sock"),
    `/run/user/${uid}/docker.sock`,
  ];
}

function configuredHost(): string | undefined {
  const env = process.env["DOCKER_HOST"] ?? process.env["TESTCONTAINERS_HOST_OVERRIDE"];
  if (env !== undefined && env !== "") return env;
  const props = join(homedir(), ".testcontainers.properties");
  if (!existsSync(props)) return undefined;
  const m = /^docker\.host\s*=\s*(.+)$/m.exec(readFileSync(props, "utf8"));
  return m?.[1]?.trim();
}

type Endpoint = { readonly socketPath: string } | { readonly host: string; readonly port: number };

function get(endpoint: Endpoint, path: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const req = request({ ...endpoint, path, method: "GET", timeout: PROBE_TIMEOUT_MS }, (res) => {
      res.resume();
      resolve(res.statusCode === 200 ? undefined : `GET ${path} answered ${res.statusCode}`);
    });
    req.on("timeout", () => req.destroy(new Error(`GET ${path}: no answer within ${PROBE_TIMEOUT_MS} ms`)));
    req.on("error", (err) => resolve(err.message));
    req.end();
  });
}

/**
 * `/_ping` and `/info` (the first calls testcontainers makes), each bounded. An engine that
 * accepts and then hangs must fail here: testcontainers' own request could not be cancelled
 * and would keep the test process alive after the suite was skipped.
 */
async function ping(endpoint: Endpoint): Promise<string | undefined> {
  return (await get(endpoint, "/_ping")) ?? (await get(endpoint, "/info"));
}

/** The plain-HTTP endpoint of a `tcp://` DOCKER_HOST; undefined for TLS or other schemes. */
function tcpEndpoint(host: string): Endpoint | undefined {
  const m = /^tcp:\/\/([^:/]+|\[[^\]]+\]):(\d+)\/?$/.exec(host);
  const tls = process.env["DOCKER_TLS_VERIFY"];
  if (m === null || (tls !== undefined && tls !== "" && tls !== "0")) return undefined;
  return { host: m[1]!.replace(/^\[|\]$/g, ""), port: Number(m[2]) };
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

export async function probeDocker(): Promise<DockerProbe> {
  const host = configuredHost();
  let where: string;
  if (host !== undefined) {
    where = host;
    const endpoint = host.startsWith("unix://") ? { socketPath: host.slice("unix://".length) } : tcpEndpoint(host);
    if (endpoint !== undefined) {
      const err = await ping(endpoint);
      if (err !== undefined) return { ok: false, reason: `no Docker engine: ${host} did not answer (${err})` };
    }
  } else {
    const candidates = socketCandidates();
    const socket = candidates.find((s) => existsSync(s));
    if (socket === undefined) {
      return { ok: false, reason: `no Docker engine: DOCKER_HOST is unset and no socket at ${candidates.join(", ")}` };
    }
    const err = await ping({ socketPath: socket });
    if (err !== undefined) return { ok: false, reason: `no Docker engine: ${socket} did not answer (${err})` };
    where = `unix://${socket}`;
  }
  let tc: Testcontainers;
  try {
    tc = await import("testcontainers");
  } catch (err) {
    // testcontainers 12 pulls undici 8, which needs Node >= 22.19 (zstd in node:zlib).
    return { ok: false, reason: `testcontainers cannot load on Node ${process.version}: ${(err as Error).message.split("\n")[0]}` };
  }
  try {
    await withTimeout(tc.getContainerRuntimeClient(), PROBE_TIMEOUT_MS, "getContainerRuntimeClient()");
  } catch (err) {
    return { ok: false, reason: `no Docker engine: testcontainers could not use ${where} (${(err as Error).message.split("\n")[0]})` };
  }
  return { ok: true, tc, where };
}

// ---------------------------------------------------------------------------------------------
// A containerized Envoy for the e2e suites: one bootstrap, wasm files, the admin port mapped.

/** Pinned: the newest 1.37.x we could confirm (envoyproxy/examples#1137 bumps 1.37.1 → 1.38.0). */
export const ENVOY_IMAGE = "envoyproxy/envoy:v1.37.1";
/** Where the wasm files go inside the container; pass it as the controller's `wasmDir`. */
export const ENVOY_WASM_DIR = "/etc/envoy/wasm";
/** Envoy's admin port inside the container; render the bootstrap with admin on 0.0.0.0:this. */
export const ENVOY_ADMIN_PORT = 9901;
/** The name containers resolve to this machine once its ports went through `exposeHostPorts`. */
export const DOCKER_HOST_ALIAS = "host.testcontainers.internal";

const STATS_POLL_MS = 200;

export interface EnvoyOptions {
  /** The bootstrap YAML the controller rendered. */
  readonly yaml: string;
  /** Host paths of wasm files; each is copied to ENVOY_WASM_DIR under its own base name. */
  readonly wasm: readonly string[];
  /** Container ports to map besides the admin port (the listeners). */
  readonly ports: readonly number[];
  /** Ports on this machine the bootstrap reaches as DOCKER_HOST_ALIAS. @default [] */
  readonly hostPorts?: readonly number[];
  /** Prefix of each Envoy log line in failure messages. @default "envoy" */
  readonly name?: string;
}

/** Counter and gauge values from `/stats` (text), by full stat name; histograms skipped. */
export type StatMap = Map<string, number>;

/** One Prometheus sample: metric name, labels, value. */
export interface PromSample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export class EnvoyContainer {
  private constructor(
    private readonly container: StartedTestContainer,
    private readonly name: string,
    private readonly logText: () => string,
  ) {}

  /**
   * Starts ENVOY_IMAGE with `options.yaml` and the wasm files and waits for admin `/ready`.
   * A failed start rejects with Envoy's log in the message.
   */
  static async start(tc: Testcontainers, options: EnvoyOptions): Promise<EnvoyContainer> {
    const { GenericContainer, TestContainers, Wait } = tc;
    const name = options.name ?? "envoy";
    let log = "";
    if (options.hostPorts !== undefined && options.hostPorts.length > 0) await TestContainers.exposeHostPorts(...options.hostPorts);
    const files = options.wasm.map((source) => ({ source, target: `${ENVOY_WASM_DIR}/${basename(source)}`, mode: 0o644 }));
    try {
      const container = await new GenericContainer(ENVOY_IMAGE)
        .withCopyContentToContainer([{ content: options.yaml, target: "/etc/envoy/envoy.yaml", mode: 0o644 }])
        .withCopyFilesToContainer(files)
        .withCommand(["-c", "/etc/envoy/envoy.yaml", "--concurrency", "1", "--log-level", "info"])
        .withExposedPorts(...options.ports, ENVOY_ADMIN_PORT)
        .withLogConsumer((stream) => stream.on("data", (d: Buffer) => { log += d.toString(); }))
        .withWaitStrategy(Wait.forHttp("/ready", ENVOY_ADMIN_PORT).forStatusCode(200))
        .withStartupTimeout(60_000)
        .start();
      return new EnvoyContainer(container, name, () => log);
    } catch (err) {
      throw withLog(err, name, log);
    }
  }

  get host(): string {
    return this.container.getHost();
  }

  mappedPort(containerPort: number): number {
    return this.container.getMappedPort(containerPort);
  }

  /** Envoy's output so far, each line prefixed `[<name>] `. */
  log(): string {
    return prefixLines(this.name, this.logText());
  }

  /** Runs `body`; a failure is rethrown with Envoy's log appended to its message. */
  async explain<T>(body: () => Promise<T>): Promise<T> {
    try {
      return await body();
    } catch (err) {
      throw withLog(err, this.name, this.logText());
    }
  }

  /** `/stats?filter=<regex>` (text form): counters and gauges by full name. */
  async stats(filter: string): Promise<StatMap> {
    const text = await this.admin(`/stats?filter=${encodeURIComponent(filter)}`);
    const out: StatMap = new Map();
    for (const line of text.split("\n")) {
      const m = /^(\S.*): (\d+)$/.exec(line.trim());
      if (m !== null) out.set(m[1]!, Number(m[2]));
    }
    return out;
  }

  /** `/stats/prometheus`: every sample whose metric name matches `name`. */
  async prometheus(name: RegExp): Promise<PromSample[]> {
    const text = await this.admin("/stats/prometheus");
    const out: PromSample[] = [];
    for (const line of text.split("\n")) {
      const m = /^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line.trim());
      if (m === null || !name.test(m[1]!)) continue;
      const labels: Record<string, string> = {};
      for (const l of (m[2] ?? "").matchAll(/([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
      out.push({ name: m[1]!, labels, value: Number(m[3]) });
    }
    return out;
  }

  /**
   * Polls `read` until `done` holds: Envoy counts a connection in callbacks that run after the
   * client saw its answer. Rejects after `timeoutMs` with the last value.
   */
  async waitFor<T>(read: () => Promise<T>, done: (v: T) => boolean, describe: (v: T) => string, timeoutMs = 10_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = await read();
      if (done(v)) return v;
      if (Date.now() > deadline) throw new Error(`not reached within ${timeoutMs} ms; last read:\n${describe(v)}`);
      await new Promise((r) => setTimeout(r, STATS_POLL_MS));
    }
  }

  /**
   * A port on 127.0.0.1 that reaches `containerPort`, for clients that only dial loopback (the
   * peers in test/peers): the mapped port itself when the engine is local, else a relay.
   */
  async loopbackPort(containerPort: number): Promise<{ readonly port: number; close(): Promise<void> }> {
    const port = this.mappedPort(containerPort);
    if (["localhost", "127.0.0.1", "::1"].includes(this.host)) return { port, close: async () => {} };
    return relay(this.host, port);
  }

  async stop(): Promise<void> {
    await this.container.stop();
  }

  private async admin(path: string): Promise<string> {
    const res = await fetch(`http://${this.host}:${this.mappedPort(ENVOY_ADMIN_PORT)}${path}`, { signal: AbortSignal.timeout(5000) });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`admin ${path}: HTTP ${res.status}: ${text.slice(0, 500)}`);
    return text;
  }
}

export function dumpStats(stats: StatMap): string {
  return [...stats].map(([k, v]) => `${k}: ${v}`).join("\n");
}

function prefixLines(name: string, text: string): string {
  return text.split("\n").filter((l) => l !== "").map((l) => `[${name}] ${l}`).join("\n");
}

function withLog(err: unknown, name: string, log: string): Error {
  const e = err instanceof Error ? err : new Error(String(err));
  e.message += `\n--- ${name} log ---\n${prefixLines(name, log) || `[${name}] (no output)`}`;
  return e;
}

/** 127.0.0.1:<port> → host:port, one upstream socket per accepted one. */
async function relay(host: string, port: number): Promise<{ readonly port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const track = (s: Socket): void => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  };
  const server = createServer({ allowHalfOpen: true }, (down) => {
    const up = connect({ host, port, allowHalfOpen: true });
    track(down);
    track(up);
    down.on("error", () => up.destroy());
    up.on("error", () => down.destroy());
    down.pipe(up);
    up.pipe(down);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
