#!/usr/bin/env node
// The Debian packages the tests need beyond Node: clang + lld (the C benchmark floor and the fuzz
// leak fixture) and the real servers the peer tests start in temp dirs (redis-server, postgresql,
// mariadb-server; the packages' own services are not used).
//
// `npm test` runs this first: a missing package is installed with apt-get when that is possible
// without asking (root, or sudo without a password), all in one apt-get run; otherwise one line
// names what is missing and the command that installs it, and exactly the tests that need it skip
// (test files ask `skipUnless()`). `.ci/run` runs it with `--require`: in CI nothing may skip.
//
// Environment:
//   PROTOMESH_NO_INSTALL=1          never install; report and skip instead.
//   PROTOMESH_ASSUME_MISSING=a,b    treat these packages (or `all`) as missing, never install
//                                   them: exercises the skip path on a machine that has them.
//   PROTOMESH_PG_BIN=dir            the PostgreSQL bin dir (initdb, postgres) to use.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** Each package, what needs it, and the files that prove it is installed. */
export const PACKAGES = [
  { name: "clang", purpose: "the C benchmark floor and the fuzz leak fixture", present: () => onPath("clang") },
  // clang --target=wasm32 links with wasm-ld; Debian's lld puts it on PATH (lld-<n> under llvm-<n>).
  { name: "lld", purpose: "wasm-ld, the linker of clang --target=wasm32", present: () => onPath("wasm-ld") || llvmTool("wasm-ld") },
  { name: "redis-server", purpose: "the real Redis peer", present: () => onPath("redis-server") },
  { name: "postgresql", purpose: "the real PostgreSQL peer", present: () => postgresBinDir() !== undefined },
  { name: "mariadb-server", purpose: "the real MariaDB peer", present: () => mariadbBinaries() !== undefined },
];

const NAMES = PACKAGES.map((p) => p.name);

function onPath(cmd) {
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
    if (dir !== "" && existsSync(path.join(dir, cmd))) return true;
  }
  return false;
}

function llvmTool(name) {
  const root = "/usr/lib";
  if (!existsSync(root)) return false;
  return readdirSync(root).some((d) => /^llvm-\d+$/.test(d) && existsSync(path.join(root, d, "bin", name)));
}

/** PROTOMESH_PG_BIN, else the newest Debian /usr/lib/postgresql/<major>/bin with initdb; undefined when none. */
export function postgresBinDir() {
  const env = process.env.PROTOMESH_PG_BIN;
  if (env) return existsSync(path.join(env, "initdb")) ? env : undefined;
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return undefined;
  const majors = readdirSync(root)
    .filter((d) => /^\d+$/.test(d) && existsSync(path.join(root, d, "bin", "initdb")))
    .sort((a, b) => Number(b) - Number(a));
  return majors.length > 0 ? path.join(root, majors[0], "bin") : undefined;
}

/** mariadb-install-db and mariadbd as Debian's mariadb-server installs them (older names too). */
export function mariadbBinaries() {
  const first = (names) => names.find((n) => existsSync(n));
  const installDb = first(["/usr/bin/mariadb-install-db", "/usr/bin/mysql_install_db"]);
  const server = first(["/usr/sbin/mariadbd", "/usr/sbin/mysqld"]);
  return installDb !== undefined && server !== undefined ? { installDb, server } : undefined;
}

function assumedMissing(env) {
  const list = (env.PROTOMESH_ASSUME_MISSING ?? "").split(",").map((s) => s.trim()).filter((s) => s !== "");
  if (list.includes("all")) return new Set(NAMES);
  for (const name of list) {
    if (!NAMES.includes(name)) throw new Error(`PROTOMESH_ASSUME_MISSING: unknown package ${JSON.stringify(name)} (known: all, ${NAMES.join(", ")})`);
  }
  return new Set(list);
}

/** The given packages (default: all) that are not installed, or assumed missing, in PACKAGES order. */
export function missingPackages(names = NAMES, env = process.env) {
  const assumed = assumedMissing(env);
  return PACKAGES.filter((p) => names.includes(p.name) && (assumed.has(p.name) || !p.present())).map((p) => p.name);
}

const isRoot = () => typeof process.getuid === "function" && process.getuid() === 0;

/** The command a person runs to install `names`. */
export function installCommand(names, root = isRoot()) {
  return `${root ? "" : "sudo "}apt-get install -y --no-install-recommends ${names.join(" ")}`;
}

/**
 * A node:test `skip` option: false when every package is installed, else the reason, naming the
 * missing packages, what needs them and the command that installs them.
 */
export function skipUnless(...names) {
  const missing = missingPackages(names);
  if (missing.length === 0) return false;
  const needed = PACKAGES.filter((p) => missing.includes(p.name));
  const why = needed.length === 1 ? needed[0].purpose : needed.map((p) => `${p.name}: ${p.purpose}`).join("; ");
  return `needs the Debian package${missing.length > 1 ? "s" : ""} ${missing.join(" + ")} (${why}); install: ${installCommand(missing)}`;
}

/**
 * Whether this process may install, decided from the facts: an install argv prefix, or why not.
 * `noInstall`: PROTOMESH_NO_INSTALL is set; `sudo`: `sudo -n true` succeeds.
 */
export function installPlan({ noInstall, aptGet, root, sudo }) {
  if (noInstall) return { install: false, reason: "PROTOMESH_NO_INSTALL is set" };
  if (!aptGet) return { install: false, reason: "apt-get not found" };
  if (root) return { install: true, prefix: [] };
  if (sudo) return { install: true, prefix: ["sudo", "-n"] };
  return { install: false, reason: "not root, and sudo needs a password" };
}

function canSudo() {
  if (!onPath("sudo")) return false;
  return spawnSync("sudo", ["-n", "true"], { stdio: "ignore", timeout: 10_000 }).status === 0;
}

function run(prefix, args) {
  const [cmd, ...rest] = [...prefix, "env", "DEBIAN_FRONTEND=noninteractive", ...args];
  const r = spawnSync(cmd, rest, { stdio: ["ignore", "pipe", "pipe"], encoding: "utf8", timeout: 20 * 60_000, maxBuffer: 64 << 20 });
  if (r.error === undefined && r.status === 0) return undefined;
  const why = r.error !== undefined ? r.error.message : `exit ${r.status ?? r.signal}`;
  const tail = `${r.stdout ?? ""}\n${r.stderr ?? ""}`.trim().split("\n").slice(-5).join(" | ");
  return `${args.join(" ")} failed (${why}): ${tail}`;
}

/**
 * Installs what is missing where it may, else reports it. Prints at most two lines. Returns the
 * packages still missing afterwards (`--require` on the command line fails when there are any).
 */
export function provision({ env = process.env, log = (line) => console.log(line) } = {}) {
  const missing = missingPackages(NAMES, env);
  if (missing.length === 0) return { installed: [], missing: [] };
  const assumed = assumedMissing(env);
  const installable = missing.filter((p) => !assumed.has(p));
  const noInstall = Boolean(env.PROTOMESH_NO_INSTALL);
  let plan = installPlan({ noInstall, aptGet: onPath("apt-get"), root: isRoot(), sudo: !noInstall && !isRoot() && canSudo() });
  if (plan.install && installable.length === 0) plan = { install: false, reason: "PROTOMESH_ASSUME_MISSING" };
  let reason = plan.reason;
  let installed = [];
  if (plan.install) {
    log(`provision: installing ${installable.join(" ")} with apt-get for npm test (PROTOMESH_NO_INSTALL=1 skips this)`);
    reason = run(plan.prefix, ["apt-get", "update", "-q"]) ?? run(plan.prefix, ["apt-get", "install", "-y", "-q", "--no-install-recommends", ...installable]);
    if (reason === undefined) installed = installable.filter((p) => !missingPackages([p], env).length);
  }
  const still = missingPackages(NAMES, env);
  if (still.length > 0) {
    log(`provision: ${still.join(", ")} missing (${reason ?? "installed but not found"}); the tests that need ${still.length > 1 ? "them" : "it"} skip. Install: ${installCommand(still)}`);
  }
  return { installed, missing: still };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const unknown = args.filter((a) => a !== "--require");
  if (unknown.length > 0) {
    console.error(`provision: unknown argument ${unknown[0]} (usage: node scripts/provision.mjs [--require])`);
    process.exit(2);
  }
  const { missing } = provision();
  if (args.includes("--require") && missing.length > 0) {
    console.error(`provision: --require: ${missing.join(", ")} still missing`);
    process.exit(1);
  }
}
