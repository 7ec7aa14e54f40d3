/**
 * `bench/run.ts --only detect`: the pure-detector rows alone, optionally next to a baseline
 * classify-bench in paired rounds. Checks what it reports with tiny counts; no timing is asserted.
 */
import assert from "node:assert/strict";
import path from "node:path";
import { describe, test } from "node:test";
import { BUILD } from "../../tools/harness/drive.js";
import { classifyBenchAt } from "../../bench/lib/classify.js";
import { runDetectOnly, selectCaptures } from "../../bench/run.js";

const CLASSIFY_BENCH = path.join(BUILD, "fixtures", "classify-bench.wasm");

describe("bench --only detect", () => {
  test("times the selected captures against a baseline module and reports paired ratios", async () => {
    const r = await runDetectOnly({ rounds: 3, iterations: 20, captures: ["tls"], baseline: CLASSIFY_BENCH });
    assert.deepEqual(r.rows.map((d) => d.capture), ["tls-no-sni", "tls-sni-alpn-h2", "tls12-sni"]);
    for (const d of r.rows) {
      assert.equal(d.protocol, "tls", d.capture);
      assert.ok(d.baseline, `${d.capture}: no baseline sample`);
      assert.equal(d.baseline.protocol, d.protocol, d.capture);
      assert.equal(d.baseline.complete, d.complete, d.capture);
      assert.equal(d.baseline.ratio.rounds, 3);
      assert.ok(d.baseline.ratio.median > 0 && Number.isFinite(d.baseline.ratio.median), `${d.capture} ratio ${d.baseline.ratio.median}`);
    }
    assert.match(r.text, /× baseline/);
    assert.match(r.text, /\| tls12-sni +\| tls +\| yes /);
  });

  test("without a baseline, prints the detector columns only", async () => {
    const r = await runDetectOnly({ rounds: 1, iterations: 10, captures: ["http1-get"] });
    assert.equal(r.rows.length, 1);
    assert.equal(r.rows[0]!.protocol, "http/1.1");
    assert.equal(r.rows[0]!.baseline, undefined);
    assert.doesNotMatch(r.text, /baseline/);
  });

  test("names the known captures when a selection matches none", () => {
    assert.throws(() => selectCaptures([{ name: "tls-no-sni" }], ["smtp"]), /no capture matches smtp: names are tls-no-sni/);
    assert.deepEqual(selectCaptures([{ name: "a-1" }, { name: "b" }, { name: "a-2" }], ["a"]).map((c) => c.name), ["a-1", "a-2"]);
  });

  test("rejects a baseline that is neither a .wasm file nor a git revision", async () => {
    await assert.rejects(classifyBenchAt(path.join(BUILD, "fixtures", "missing.wasm")), /ENOENT/);
    await assert.rejects(classifyBenchAt("no-such-revision-xyz"), /no-such-revision-xyz/);
  });
});
