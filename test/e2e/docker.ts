/**
 * Finds out, quickly and without hanging, whether a Docker engine answers here, and loads
 * testcontainers only then. Returns the reason to skip, or the loaded module.
 *
 * testcontainers itself tries several strategies (DOCKER_HOST, ~/.testcontainers.properties,
 * unix sockets) and can take long to give up; we look at the same places first, ping the socket
 * with a short timeout, and bound the library's own probe too.
 */
import { existsSync, readFileSync } from "node:fs";
import { request } from "node:http";
import { homedir, userInfo } from "node:os";
import { join } from "node:path";

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

function ping(socketPath: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const req = request({ socketPath, path: "/_ping", method: "GET", timeout: PROBE_TIMEOUT_MS }, (res) => {
      res.resume();
      resolve(res.statusCode === 200 ? undefined : `GET /_ping answered ${res.statusCode}`);
    });
    req.on("timeout", () => req.destroy(new Error(`no answer within ${PROBE_TIMEOUT_MS} ms`)));
    req.on("error", (err) => resolve(err.message));
    req.end();
  });
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
    if (host.startsWith("unix://")) {
      const err = await ping(host.slice("unix://".length));
      if (err !== undefined) return { ok: false, reason: `no Docker engine: ${host} did not answer (${err})` };
    }
  } else {
    const candidates = socketCandidates();
    const socket = candidates.find((s) => existsSync(s));
    if (socket === undefined) {
      return { ok: false, reason: `no Docker engine: DOCKER_HOST is unset and no socket at ${candidates.join(", ")}` };
    }
    const err = await ping(socket);
    if (err !== undefined) return { ok: false, reason: `no Docker engine: ${socket} did not answer /_ping (${err})` };
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
