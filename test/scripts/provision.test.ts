/**
 * `npm test` on a fresh machine: scripts/provision.mjs installs the Debian packages where it may
 * and otherwise names them in one line, and the test files skip exactly the tests that need a
 * missing package (each skip names the package and its install command) instead of cancelling
 * every test in the file. PROTOMESH_ASSUME_MISSING plays the machine without the packages.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import path from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { installCommand, installPlan, missingPackages, PACKAGES } from "../../scripts/provision.mjs";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const ALL = PACKAGES.map((p) => p.name);

/** Runs node with `args` in the repo; bounded, output collected. */
function runNode(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 120_000): Promise<{ code: number | null; out: string }> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  // Set by the test runner for its own children; a nested `node --test` must not inherit it.
  delete childEnv.NODE_TEST_CONTEXT;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: REPO, env: childEnv, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    child.stderr.on("data", (c: Buffer) => (out += c.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("error", reject);
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

const skipLines = (out: string): string[] => out.split("\n").filter((l) => / # SKIP /.test(l));

describe("provision: who may install", () => {
  const cases: Array<[string, Parameters<typeof installPlan>[0], ReturnType<typeof installPlan>]> = [
    ["root installs with apt-get directly", { noInstall: false, aptGet: true, root: true, sudo: false }, { install: true, prefix: [] }],
    ["passwordless sudo installs through sudo -n", { noInstall: false, aptGet: true, root: false, sudo: true }, { install: true, prefix: ["sudo", "-n"] }],
    ["sudo with a password cannot", { noInstall: false, aptGet: true, root: false, sudo: false }, { install: false, reason: "not root, and sudo needs a password" }],
    ["no apt-get cannot, even as root", { noInstall: false, aptGet: false, root: true, sudo: false }, { install: false, reason: "apt-get not found" }],
    ["PROTOMESH_NO_INSTALL wins over root", { noInstall: true, aptGet: true, root: true, sudo: true }, { install: false, reason: "PROTOMESH_NO_INSTALL is set" }],
  ];
  for (const [name, facts, plan] of cases) {
    it(name, () => assert.deepEqual(installPlan(facts), plan));
  }

  it("the install command names every package, with sudo unless root", () => {
    assert.equal(installCommand(["redis-server", "mariadb-server"], true), "apt-get install -y --no-install-recommends redis-server mariadb-server");
    assert.equal(installCommand(["clang", "lld"], false), "sudo apt-get install -y --no-install-recommends clang lld");
  });

  it("PROTOMESH_ASSUME_MISSING marks packages missing, in package order, and rejects unknown names", () => {
    assert.deepEqual(missingPackages(ALL, { PROTOMESH_ASSUME_MISSING: "mariadb-server, clang" }).filter((p) => p === "clang" || p === "mariadb-server"), ["clang", "mariadb-server"]);
    assert.deepEqual(missingPackages(ALL, { PROTOMESH_ASSUME_MISSING: "all" }), ALL);
    assert.deepEqual(missingPackages(["redis-server"], { PROTOMESH_ASSUME_MISSING: "all" }), ["redis-server"]);
    assert.throws(() => missingPackages(ALL, { PROTOMESH_ASSUME_MISSING: "redis" }), /unknown package "redis".*redis-server/);
  });
});

describe("provision: the command npm test runs first", () => {
  it("prints one line naming every missing package and the command that installs them, exit 0", async () => {
    const r = await runNode(["scripts/provision.mjs"], { PROTOMESH_NO_INSTALL: "1", PROTOMESH_ASSUME_MISSING: "all" });
    assert.equal(r.code, 0, r.out);
    const lines = r.out.trim().split("\n");
    assert.equal(lines.length, 1, r.out);
    assert.match(lines[0]!, /^provision: clang, lld, redis-server, postgresql, mariadb-server missing \(PROTOMESH_NO_INSTALL is set\); the tests that need them skip\./);
    assert.ok(lines[0]!.endsWith(`Install: ${installCommand(ALL)}`), lines[0]);
  });

  it("--require (CI) fails when a package is still missing", async () => {
    const r = await runNode(["scripts/provision.mjs", "--require"], { PROTOMESH_NO_INSTALL: "1", PROTOMESH_ASSUME_MISSING: "redis-server" });
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, /--require: (.*, )?redis-server(, .*)? still missing/);
  });

  it("an unknown argument is refused with the usage", async () => {
    const r = await runNode(["scripts/provision.mjs", "--install"], {});
    assert.equal(r.code, 2);
    assert.match(r.out, /unknown argument --install \(usage: node scripts\/provision\.mjs \[--require\]\)/);
  });
});

describe("tests without the Debian packages skip per peer, never cancel", () => {
  it("real peers: the three daemons skip, each naming its package; every Node peer still runs", async () => {
    const r = await runNode(["--import", "tsx", "--test", "--test-reporter=tap", path.join("test", "peers", "peers.test.ts")], {
      PROTOMESH_ASSUME_MISSING: "redis-server,postgresql,mariadb-server",
    });
    assert.equal(r.code, 0, r.out);
    const skips = skipLines(r.out);
    assert.equal(skips.length, 3, skips.join("\n"));
    for (const pkg of ["redis-server", "postgresql", "mariadb-server"]) {
      assert.ok(
        skips.some((l) => l.includes(`needs the Debian package ${pkg} `) && l.includes(`apt-get install -y --no-install-recommends ${pkg}`)),
        `no skip line names ${pkg}:\n${skips.join("\n")}`,
      );
    }
    assert.match(r.out, /^# pass 8$/m);
    assert.match(r.out, /^# fail 0$/m);
    assert.match(r.out, /^# cancelled 0$/m);
  });

  it("bench/fuzz harness: only the tests that need clang + lld skip; the fuzz suite runs", async () => {
    const r = await runNode(["--import", "tsx", "--test", "--test-reporter=tap", path.join("test", "bench", "harness.test.ts")], {
      PROTOMESH_ASSUME_MISSING: "clang,lld",
    });
    assert.equal(r.code, 0, r.out);
    const skips = skipLines(r.out);
    assert.deepEqual(
      skips.map((l) => l.replace(/^\s*ok \d+ - /, "").replace(/ # SKIP .*/, "")),
      ["null-c", "reports every section for null-c, null and tcp-stats", "a filter whose memory keeps growing fails the run"],
    );
    for (const l of skips) assert.ok(l.includes("needs the Debian packages clang + lld (") && l.includes("apt-get install -y --no-install-recommends clang lld"), l);
    assert.match(r.out, /^# fail 0$/m);
    assert.match(r.out, /^# cancelled 0$/m);
    assert.match(r.out, /ok \d+ - the sniffer in route, bypass and observe mode/);
  });
});
