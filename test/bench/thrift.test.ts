/**
 * Keeps the Thrift decoder's fuzz and bench drivers (fuzz/thrift.ts, bench/thrift.ts) from
 * rotting: tiny counts, the shape of what they report. No timing is asserted.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { describe, test } from "node:test";
import { promisify } from "node:util";
import { REPO } from "../../tools/harness/drive.js";
import { renderThriftBench, runThriftBench, SIZES, THRIFT_HEADING } from "../../bench/thrift.js";
import { describeThriftFuzz, runThriftFuzz } from "../../fuzz/thrift.js";
import { thriftMessages } from "../fixtures/thrift-messages/messages.js";

describe("thrift decoder drivers", () => {
  test("fuzz: mutated messages decode without a trap and memory stays flat", async () => {
    const r = await runThriftFuzz(1234, 20_000);
    assert.equal(r.failure, undefined, describeThriftFuzz(r));
    assert.equal(r.iterations, 20_000);
    assert.equal(r.errors + r.needMore, 20_000);
    // Verbatim corpus entries are whole messages: some must decode.
    assert.ok(r.messages > 0, `messages ${r.messages}`);
    assert.equal(r.pagesEnd, r.pagesWarm);
  });

  test("fuzz: the same seed replays the same run", async () => {
    const a = await runThriftFuzz(99, 3_000);
    const b = await runThriftFuzz(99, 3_000);
    assert.deepEqual([a.messages, a.errors, a.needMore], [b.messages, b.errors, b.needMore]);
  });

  test("npm run fuzz -- --filter thrift-decoder runs this driver", async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ["--import", "tsx", "fuzz/run.ts", "--filter", "thrift-decoder", "--seed", "5", "--iterations", "2000"], { cwd: REPO });
    assert.match(stdout, /fuzz:thrift: seed=5 inputs=2,000 /);
    assert.match(stdout, /fuzz:thrift: OK \(no trap, memory flat\)/);
  });

  test("bench: a row per stack, mode and payload size, with the C floor where it applies", async () => {
    const { rows, note } = await runThriftBench(1, 1);
    assert.equal(rows.length, 6 * SIZES.length);
    for (const r of rows) assert.ok(Number.isFinite(r.as.median) && r.as.median > 0, `${r.stack} ${r.size}`);
    const floored = rows.filter((r) => r.c !== undefined).map((r) => `${r.stack} ${r.size}`);
    if (note === "") {
      assert.deepEqual(floored, [
        "framed-binary 100 B", "framed-binary 10 KiB", "framed-binary 1 MiB",
        "header-binary 100 B", "header-binary 10 KiB", "header-binary 1 MiB",
      ]);
    } else {
      assert.match(note, /^C floor skipped: /);
      assert.deepEqual(floored, []);
    }
    assert.match(renderThriftBench(rows, note, 1), new RegExp(`^${THRIFT_HEADING}\\n`));
  });

  test("fixtures: 72 messages, one per transport × protocol × message kind", () => {
    const m = thriftMessages();
    assert.equal(m.length, 72);
    assert.equal(new Set(m.map((x) => x.label)).size, 72);
  });
});
