/**
 * Shared plumbing for the real-server launchers: free ports, temp dirs owned by an unprivileged
 * user, a child process with a bounded log tail, and bounded waits that fail with that tail.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chownSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import * as net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { skipUnless, type DebianPackage } from "../../scripts/provision.mjs";

/** Default bound for a server to come up (initdb / install-db are slow on a shared 2-core box). */
export const START_TIMEOUT_MS = 30_000;

/** A port the kernel just handed out. Another process may take it before us: callers retry. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export const isRoot = (): boolean => typeof process.getuid === "function" && process.getuid() === 0;

/** Uid/gid of a system user, undefined when it does not exist. */
export function lookupUser(name: string): { uid: number; gid: number } | undefined {
  const r = spawnSync("id", ["-u", name], { encoding: "utf8" });
  const g = spawnSync("id", ["-g", name], { encoding: "utf8" });
  if (r.status !== 0 || g.status !== 0) return undefined;
  return { uid: Number(r.stdout.trim()), gid: Number(g.stdout.trim()) };
}

/** A fresh temp dir; when running as root it is chowned to `owner` so the server can write it. */
export function tempDir(prefix: string, owner?: string): string {
  const dir = mkdtempSync(join(tmpdir(), `protomesh-${prefix}-`));
  if (owner !== undefined && isRoot()) {
    const u = lookupUser(owner);
    if (u === undefined) throw new Error(`${prefix}: system user ${JSON.stringify(owner)} does not exist; install the server package`);
    chownSync(dir, u.uid, u.gid);
  }
  return dir;
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** argv that runs `cmd` as `user` when we are root (servers refuse root), unchanged otherwise. */
export function asUser(user: string, cmd: string, args: ReadonlyArray<string>): [string, string[]] {
  if (!isRoot()) return [cmd, [...args]];
  return ["runuser", ["-u", user, "--", cmd, ...args]];
}

/** Last `max` characters a process wrote, plus an optional log file read on demand. */
export class LogTail {
  private text = "";
  constructor(
    private readonly max = 4000,
    private readonly file?: string,
  ) {}
  push(chunk: Buffer | string): void {
    this.text = (this.text + chunk.toString()).slice(-this.max);
  }
  toString(): string {
    let fileText = "";
    if (this.file !== undefined) {
      try {
        fileText = readFileSync(this.file, "utf8").slice(-this.max);
      } catch {
        fileText = `(no log file ${this.file})`;
      }
    }
    return [this.text.trim(), fileText.trim()].filter((s) => s.length > 0).join("\n--- log file ---\n");
  }
}

/** Runs a command to completion; on failure the error names it and carries its output. */
export function runChecked(what: string, cmd: string, args: ReadonlyArray<string>, timeoutMs = START_TIMEOUT_MS): void {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: timeoutMs });
  if (r.error !== undefined || r.status !== 0) {
    const why = r.error !== undefined ? r.error.message : `exit ${r.status ?? r.signal}`;
    const out = `${r.stdout ?? ""}\n${r.stderr ?? ""}`.trim().slice(-4000);
    throw new Error(`${what} failed (${why}): ${cmd} ${args.join(" ")}\n${out}`);
  }
}

export interface Daemon {
  readonly child: ChildProcess;
  readonly log: LogTail;
  /** Resolves once the process exited. */
  readonly exited: Promise<void>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when it is gone. */
  stop(graceMs?: number): Promise<void>;
}

export function startDaemon(name: string, cmd: string, args: ReadonlyArray<string>, logFile?: string): Daemon {
  const log = new LogTail(4000, logFile);
  const child = spawn(cmd, [...args], { stdio: ["ignore", "pipe", "pipe"] });
  child.stdout!.on("data", (c: Buffer) => log.push(c));
  child.stderr!.on("data", (c: Buffer) => log.push(c));
  const exited = new Promise<void>((resolve) => {
    child.once("error", (e) => {
      log.push(`${name}: spawn error ${e.message}\n`);
      resolve();
    });
    child.once("exit", () => resolve());
  });
  return {
    child,
    log,
    exited,
    async stop(graceMs = 5000): Promise<void> {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** True once a TCP connect to the port succeeds. */
function tryConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: "127.0.0.1", port });
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

/**
 * Polls until `ready()` is true, the daemon exits, or `timeoutMs` passes; the last two throw an
 * error carrying the daemon's log tail. Polling is the only signal a foreign server gives.
 */
export async function waitReady(
  name: string,
  daemon: Daemon,
  ready: () => Promise<boolean>,
  timeoutMs = START_TIMEOUT_MS,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void daemon.exited.then(() => (exited = true));
  while (Date.now() < deadline) {
    if (exited) throw new Error(`${name} exited during start (code ${daemon.child.exitCode ?? daemon.child.signalCode}):\n${daemon.log}`);
    if (await ready()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  await daemon.stop(1000);
  throw new Error(`${name} did not become ready within ${timeoutMs} ms:\n${daemon.log}`);
}

export const portOpen = (port: number) => (): Promise<boolean> => tryConnect(port);

/**
 * Starts a daemon on a free port; retries twice when the port was taken between `freePort()`
 * and the server's bind (the error then looks like any other start failure, hence the retry).
 */
export async function withFreePortRetry<T>(start: (port: number) => Promise<T>): Promise<T> {
  let last: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await start(await freePort());
    } catch (err) {
      last = err;
      if (!/address already in use|EADDRINUSE|Address in use|bind/i.test(String((err as Error).message))) throw err;
    }
  }
  throw last;
}

/**
 * A real server from a Debian package, started once per test file in the background. Its tests
 * declare `{ skip: peer.skip }` and `await peer.ready()`: a missing package skips exactly those
 * tests, with a reason naming the package and its install command; a server that is installed
 * but fails to start fails exactly those tests, with its log tail. Tests on Node peers never wait
 * for it.
 */
export class DaemonPeer<T extends { stop(): Promise<void> }> {
  /** node:test `skip` option: false, or why the tests that need this server cannot run here. */
  readonly skip: string | false;
  private running: Promise<T> | undefined;

  constructor(
    readonly pkg: DebianPackage,
    private readonly startServer: () => Promise<T>,
    /** Whether this machine has the package; tests of this class pass it. @default skipUnless(pkg) */
    skip: string | false = skipUnless(pkg),
  ) {
    this.skip = skip;
  }

  /** Starts the server unless its package is missing; call from `before` (all peers start in parallel). */
  start(): void {
    if (this.skip !== false || this.running !== undefined) return;
    this.running = this.startServer();
    // Rejections surface in the tests that await ready(); this only marks the promise handled.
    this.running.catch(() => undefined);
  }

  /** The running server; rejects with the start error. */
  ready(): Promise<T> {
    if (this.running === undefined) {
      return Promise.reject(new Error(`${this.pkg}: not started (${this.skip === false ? "start() was not called" : this.skip})`));
    }
    return this.running;
  }

  /** Stops the server if it started; a failed start leaves nothing to stop. */
  async stop(): Promise<void> {
    const server = await this.running?.catch(() => undefined);
    await server?.stop();
  }
}

/**
 * A readiness probe for servers that answer on a fresh connection: connect, optionally send
 * `request`, and judge the first bytes that come back (1 s bound per try).
 */
export function firstReply(port: number, request: Uint8Array | undefined, accept: (reply: Buffer) => boolean): () => Promise<boolean> {
  return () =>
    new Promise((resolve) => {
      const s = net.connect({ host: "127.0.0.1", port });
      const timer = setTimeout(() => {
        s.destroy();
        resolve(false);
      }, 1000);
      if (request) s.once("connect", () => s.write(request));
      s.once("data", (c: Buffer) => {
        clearTimeout(timer);
        s.destroy();
        resolve(accept(c));
      });
      s.once("error", () => {
        clearTimeout(timer);
        resolve(false);
      });
    });
}
