/**
 * Keeps the bench and fuzz harnesses from rotting: runs their code paths with tiny counts and
 * checks the shape of what they report. No timing is asserted (timings belong in BENCHMARKS.md).
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { before, describe, test } from "node:test";
import { promisify } from "node:util";
import { BUILD, ensureNullC } from "../../tools/harness/drive.js";
import { runBench } from "../../bench/run.js";
import { CORPUS } from "../../fuzz/corpus.js";
import { Mutator } from "../../fuzz/mutate.js";
import { Rng } from "../../fuzz/rng.js";
import { describe as describeFuzz, runFuzz } from "../../fuzz/run.js";
import { FUZZ_MODES, fuzzConfig, renderFuzzSection, runSnifferFuzz, snifferBooks, split } from "../../fuzz/sniffer.js";
import { loadCaptures } from "../../tools/harness/captures.js";
import { extractSection, FUZZ_HEADING, replaceSection } from "../../tools/harness/markdown.js";
import { SNIFFER_GOAL_NS } from "../../bench/lib/sniffer.js";
import { SNIFFER_MODES } from "../../tools/harness/sniffer.js";
import { skipUnless } from "../../scripts/provision.mjs";

/** The protocol each recorded first flight is (by its file name), as the codecs README says. */
function expectedProtocol(capture: string): string {
  const table: Array<[RegExp, string]> = [
    [/^amqp/, "amqp"], [/^dubbo/, "dubbo"], [/^(grpc|h2c)/, "h2c"], [/^http1/, "http/1.1"], [/^kafka/, "kafka"],
    [/^mqtt/, "mqtt"], [/^mysql/, "mysql"], [/^postgres/, "postgres"], [/^redis/, "redis"], [/^ssh/, "tcp"],
    [/^thrift/, "thrift"], [/^tls/, "tls"],
  ];
  for (const [re, p] of table) if (re.test(capture)) return p;
  throw new Error(`no expected protocol for capture ${capture}: extend expectedProtocol`);
}

/** The C floor (bench/null-c) and the leak fixture need clang + lld; everything else runs without. */
const needsClang = skipUnless("clang", "lld");

describe("null-c", { skip: needsClang }, () => {
  before(async () => {
    await ensureNullC();
  });

  test("exports the ABI marker, memory, malloc and the 0.2.1 network and HTTP callbacks", async () => {
    const module = await WebAssembly.compile(await readFile(path.join(BUILD, "fixtures", "null-c.wasm")));
    assert.deepEqual(WebAssembly.Module.imports(module), []);
    const names = new Set(WebAssembly.Module.exports(module).map((e) => e.name));
    for (const name of [
      "memory", "malloc", "proxy_abi_version_0_2_1", "proxy_on_context_create", "proxy_on_vm_start",
      "proxy_on_configure", "proxy_on_new_connection", "proxy_on_downstream_data", "proxy_on_upstream_data",
      "proxy_on_downstream_connection_close", "proxy_on_upstream_connection_close", "proxy_on_done",
      "proxy_on_log", "proxy_on_delete", "proxy_on_request_headers", "proxy_on_response_headers",
      "proxy_on_request_body", "proxy_on_response_body", "proxy_on_http_call_response", "proxy_on_tick",
    ]) {
      assert.ok(names.has(name), `null-c.wasm does not export ${name}`);
    }
  });

  test("malloc hands out distinct, growing, reusable blocks", async () => {
    const { instance } = await WebAssembly.instantiate(await readFile(path.join(BUILD, "fixtures", "null-c.wasm")));
    const x = instance.exports as { malloc(n: number): number; free(p: number): void; memory: WebAssembly.Memory };
    const a = x.malloc(16);
    const b = x.malloc(200_000); // larger than the initial memory: must grow it
    assert.ok(a > 0 && b > a + 16, `a=${a} b=${b}`);
    assert.ok(x.memory.buffer.byteLength >= b + 200_000);
    x.free(a);
    assert.equal(x.malloc(8), a);
  });
});

describe("bench", () => {
  test("reports every section for null-c, null and tcp-stats", { skip: needsClang }, async () => {
    const r = await runBench({
      dataIterations: 200,
      lifecycleIterations: 50,
      rounds: 2,
      memoryConnections: 200,
      snifferIterations: 20,
      detectorIterations: 50,
      out: undefined,
      print: false,
    });
    assert.deepEqual(r.costs.map((c) => c.filter), ["null-c", "null", "tcp-stats"]);
    for (const c of r.costs) {
      assert.ok(c.data.median > 0 && Number.isFinite(c.data.median), `${c.filter} data ${c.data.median}`);
      assert.ok(c.lifecycle.median > 0 && Number.isFinite(c.lifecycle.median), `${c.filter} lifecycle`);
      assert.equal(c.data.rounds, 2);
    }
    assert.equal(r.costs[0]!.dataRatio, 1);
    assert.deepEqual(
      r.overhead.map((o) => o.path),
      [
        "null-c: direct wasm export call",
        "null-c: host adapter (NetworkFilter)",
        "null-c: host.connection (filter manager)",
        "null (AS): direct wasm export call",
      ],
    );
    for (const o of r.overhead) assert.ok(o.data.median > 0 && o.lifecycle.median > 0, o.path);
    assert.deepEqual(r.goals.map((g) => g.name), ["downstream-data callback", "connection lifecycle"]);
    for (const g of r.goals) assert.equal(g.pass, g.measured <= g.limit);
    assert.deepEqual(r.memory.map((m) => m.filter), ["null-c", "null", "tcp-stats"]);
    for (const m of r.memory) {
      assert.equal(m.failed, false, `${m.filter} VM failed`);
      assert.ok(m.pagesEnd >= 1);
    }
    const names = r.sizes.map((s) => s.name);
    for (const n of ["tcp-stats", "fixtures/null", "fixtures/null-c"]) assert.ok(names.includes(n), `sizes lack ${n}`);
    assert.ok(r.sizes.find((s) => s.name === "tcp-stats")!.debug! > 0);
    assert.match(r.markdown, /^# Benchmarks/);
    assert.match(r.markdown, /\| downstream-data callback +\|.*\| (PASS|MISS) +\|/);
    assert.match(r.markdown, new RegExp(`${r.machine.cores} cores`));

    // Sniffer section: every capture in both modes, baselines driven alongside.
    const captures = await loadCaptures();
    assert.ok(captures.length >= 30, `only ${captures.length} captures`);
    assert.ok(r.sniffer, "build/sniffer.wasm missing: npm run build");
    const sn = r.sniffer;
    assert.equal(sn.rows.length, captures.length * SNIFFER_MODES.length);
    for (const row of sn.rows) {
      for (const s of [row.nullC, row.nullAs, row.sniffer]) assert.ok(s.median > 0 && s.rounds === 2, `${row.capture} ${row.mode}`);
      assert.equal(row.added, row.sniffer.median - row.nullAs.median);
      assert.equal(row.pass, row.added <= SNIFFER_GOAL_NS);
      assert.equal(row.script.greeting, row.mode === "observe" && row.capture.startsWith("mysql-"));
      assert.ok(row.direct.sniffer.median > 0 && row.direct.nullAs.median > 0, `${row.capture} ${row.mode} direct`);
      // The contract's results, once per connection: protocol property, a counter, and in route
      // mode the tcp_proxy cluster (every protocol routes to a cluster or the passthrough one).
      assert.equal(row.hostCalls.set_property! >= 1, true, `${row.capture} ${row.mode}: ${JSON.stringify(row.hostCalls)}`);
      assert.ok((row.hostCalls.increment_metric ?? 0) >= 1, `${row.capture} ${row.mode}: ${JSON.stringify(row.hostCalls)}`);
      assert.equal(row.hostCalls.call_foreign_function ?? 0, row.mode === "route" ? 1 : 0, `${row.capture} ${row.mode}`);
    }
    // Observe classifies what the detector alone classifies (same cap, MySQL after a greeting).
    const observed = new Map(sn.rows.filter((x) => x.mode === "observe").map((x) => [x.capture, x.protocol]));
    for (const d of r.detector) {
      assert.equal(d.protocol, expectedProtocol(d.capture), `detector on ${d.capture}`);
      assert.equal(observed.get(d.capture), d.protocol, `sniffer(observe) on ${d.capture}`);
      assert.ok(d.sample.median > 0 && Number.isFinite(d.sample.median), d.capture);
    }
    assert.deepEqual(r.detector.map((d) => d.capture), captures.map((c) => c.name));
    for (const mode of SNIFFER_MODES) {
      const own = sn.protocols.filter((p) => p.mode === mode);
      assert.equal(own.reduce((n, p) => n + p.captures, 0), captures.length, mode);
      for (const p of own) assert.equal(p.pass, p.addedMax <= SNIFFER_GOAL_NS);
    }
    assert.deepEqual(sn.goals.map((g) => g.mode), [...SNIFFER_MODES]);
    for (const g of sn.goals) assert.equal(g.pass, g.worst <= SNIFFER_GOAL_NS);
    assert.match(r.markdown, /## Sniffer: cost of a classification/);
    assert.match(r.markdown, /\| decision per connection \(reset \+ classify until decided\) +\|.*\| (PASS|MISS) +\|/);
    assert.match(r.markdown, /\| whole sniffer per connection \(decision \+ host calls\) \| route +\|.*\| (PASS|MISS) +\|/);
    assert.match(r.markdown, /### Pure detector/);
  });

  test("the fuzz section survives a regenerated BENCHMARKS.md", () => {
    const doc = "# Benchmarks\n\n## A\n\na\n\n## Fuzz\n\nold\n\n## B\n\nb\n";
    assert.equal(extractSection(doc, FUZZ_HEADING), "## Fuzz\n\nold");
    const replaced = replaceSection(doc, FUZZ_HEADING, "## Fuzz\n\nnew");
    assert.equal(extractSection(replaced, FUZZ_HEADING), "## Fuzz\n\nnew");
    assert.equal(extractSection(replaced, "## B"), "## B\n\nb");
    assert.match(replaceSection("# Benchmarks\n", FUZZ_HEADING, "## Fuzz\n\nx"), /^# Benchmarks\n\n## Fuzz\n\nx\n$/);
  });
});

describe("fuzz", () => {
  test("the same seed produces the same inputs", () => {
    const draw = (seed: number): string[] => {
      const m = new Mutator(new Rng(seed), CORPUS);
      return Array.from({ length: 50 }, () => Buffer.from(m.next()).toString("hex"));
    };
    assert.deepEqual(draw(7), draw(7));
    assert.notDeepEqual(draw(7), draw(8));
  });

  test("tcp-stats survives a short run with flat memory and counts every byte it was fed", async () => {
    // 3,000 connections: with Istio label sets per connection, tcp-stats' heap reaches its working
    // size (16 pages) only after a few hundred connections, past a 300-connection run's warm-up
    // (collection runs every 256 callbacks, docs/adr/0006-minimal-runtime.md).
    const r = await runFuzz({ seed: 12345, iterations: 3000, filter: "tcp-stats" });
    assert.equal(r.failure, undefined, r.failure && describeFuzz(r));
    assert.equal(r.iterations, 3000);
    assert.ok(r.downstreamCalls >= 3000);
    assert.ok(r.inputBytes > 0 && r.upstreamBytes > 0);
    assert.ok(r.pagesEnd <= r.pagesWarm + 2);
    assert.match(describeFuzz(r), /seed=12345/);
    // The fuzz loop really drives the filter: tcp-stats' books match what the loop sent.
    const stat = (name: string) => r.stats.find((s) => s.name === `wasmcustom.tcp_stats.${name}`)?.value;
    assert.equal(stat("connections_opened"), 3000n);
    assert.equal(stat("connections_closed"), 3000n);
    assert.equal(stat("connections_active"), 0n);
    assert.equal(stat("received_bytes"), BigInt(r.inputBytes));
    assert.equal(stat("sent_bytes"), BigInt(r.upstreamBytes));
  });

  test("a filter whose memory keeps growing fails the run", { skip: needsClang }, async (t) => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "protomesh-fuzz-"));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const wasm = path.join(dir, "leak.wasm");
    await promisify(execFile)("clang", [
      "--target=wasm32", "-nostdlib", "-O2", "-Wl,--no-entry", "-Wl,--export-dynamic", "-Wl,--allow-undefined",
      "-o", wasm, path.join(import.meta.dirname, "../../fuzz/fixtures/leak.c"),
    ]);
    const r = await runFuzz({ seed: 3, iterations: 40, filter: wasm, warmup: 5, slackPages: 2 });
    assert.equal(r.failure?.kind, "memory", r.failure ? describeFuzz(r) : "no failure");
    assert.ok(r.pagesEnd > r.pagesWarm + 2);
    assert.match(describeFuzz(r), /FAILED \(memory\)/);
  });

  test("the sniffer in route, bypass and observe mode: no trap, memory flat, every connection counted once", async () => {
    assert.deepEqual(split(1_000_000, 3), [333_334, 333_333, 333_333]);
    const runs = await runSnifferFuzz({ seed: 2024, iterations: 900 });
    assert.deepEqual(runs.map((x) => x.mode), [...FUZZ_MODES]);
    for (const { mode, result, books } of runs) {
      assert.equal(result.failure, undefined, result.failure && describeFuzz(result));
      assert.equal(result.filter, "sniffer");
      assert.equal(result.iterations, 300);
      assert.equal(result.connections, 300, mode);
      assert.ok(result.ticks > 0, `${mode}: the sniffer set no tick period, so timeouts were never exercised`);
      assert.ok(result.pagesEnd <= result.pagesWarm + 2, mode);
      assert.equal(result.errorLogs, 0, `${mode}: ${result.errorSamples.join(" | ")}`);
      // Exactly once: each connection lands in one protocol counter (or bypass's destination denial).
      assert.equal(books.counted, BigInt(result.connections), `${mode}: ${JSON.stringify(books, (_, v) => (typeof v === "bigint" ? Number(v) : v))}`);
      assert.ok(Object.keys(books.byProtocol).includes("tcp"), mode);
      assert.ok((books.byProtocol["http/1.1"] ?? 0n) > 0n, `${mode}: no http/1.1 among 300 mostly-real first flights`);
    }
    const [route, bypass, observe] = runs;
    assert.ok(route!.books.deniedRoute > 0n, "route: redis → deny never fired");
    assert.ok(bypass!.books.deniedDestination > 0n, "bypass: no destination outside allowed_destinations");
    assert.equal(observe!.books.deniedRoute + observe!.books.deniedDestination, 0n);
    const section = renderFuzzSection(runs, 2024);
    assert.match(section, /^## Fuzz\n/);
    assert.match(section, /Result: \*\*OK\*\*, 900 first flights/);
    for (const mode of FUZZ_MODES) assert.ok(section.includes(`\`${fuzzConfig(mode)}\``), mode);
  });

  test("npm run fuzz -- --filter sniffer --config <json> drives the sniffer by name", async () => {
    const r = await runFuzz({ seed: 5, iterations: 120, filter: "sniffer", configuration: JSON.stringify({ mode: "route" }) });
    assert.equal(r.failure, undefined, r.failure && describeFuzz(r));
    assert.equal(snifferBooks(r.stats).counted, 120n);
    assert.match(describeFuzz(r), /filter=sniffer seed=5/);
  });

  test("a trapping filter is reported with its seed and input", async () => {
    const r = await runFuzz({ seed: 1, iterations: 50, filter: "probe", configuration: "trap_in=data" });
    assert.ok(r.failure, "probe with trap_in=data did not fail the run");
    assert.ok(r.failure.kind === "trap" || r.failure.kind === "exception", r.failure.kind);
    const text = describeFuzz(r);
    assert.match(text, /--seed 1 /);
    assert.match(text, /input \(\d+ bytes, hex\): [0-9a-f]*/);
  });
});
