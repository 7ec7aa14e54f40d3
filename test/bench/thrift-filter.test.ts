/**
 * Keeps the whole-filter Thrift bench and fuzz target (bench/thrift-filter.ts,
 * fuzz/thrift-filter.ts) from rotting: tiny counts over build/thrift.wasm, the shape of what they
 * report, and that the fuzz streams reach the filter's decoding and routing. No timing is asserted.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { describe, test } from "node:test";
import { promisify } from "node:util";
import { REPO } from "../../tools/harness/drive.js";
import { CLUSTER, filterCases, filterConfig, measureThriftFilter, renderThriftFilter, THRIFT_FILTER_HEADING } from "../../bench/thrift-filter.js";
import { reply, request } from "../../bench/thrift.js";
import {
  describeThriftFilterFuzz,
  runThriftFilterFuzz,
  thriftFilterBooks,
  thriftFilterConfigs,
  thriftStreamCorpus,
} from "../../fuzz/thrift-filter.js";

describe("thrift filter bench", () => {
  test("a row per routing, rule kind and payload, each checked to route to the rule's cluster", async () => {
    const r = await measureThriftFilter({ rounds: 1, targetMs: 1 });
    assert.equal(r.skipped, undefined);
    assert.deepEqual(
      r.rows.map((x) => `${x.routing} ${x.stack} ${x.size}`),
      filterCases().map((x) => `${x.routing} ${x.stack} ${x.size}`),
    );
    for (const x of r.rows) {
      for (const s of [x.nullC, x.nullAs, x.thrift]) assert.ok(Number.isFinite(s.median) && s.median > 0, `${x.routing} ${x.stack} ${x.size}`);
    }
    const large = r.rows.find((x) => x.routing === "request" && x.size === "1 MiB")!;
    assert.ok(large.bytes > 1024 * 1024, `a 1 MiB payload makes a call of ${large.bytes} bytes`);
    const text = renderThriftFilter(r, 1);
    assert.match(text, new RegExp(`^${THRIFT_FILTER_HEADING}\\n`));
    assert.match(text, /per request, THeader header: flat in the payload size when /);
  });

  test("configurations name the routing, transport and the rule that matches last", () => {
    const c = JSON.parse(filterConfig({ routing: "connection", match: "THeader header", stack: "header-binary" })) as {
      routing: string;
      transport: string;
      rules: Array<{ name: string; route: { cluster: string } }>;
    };
    assert.equal(c.routing, "connection");
    assert.equal(c.transport, "header");
    assert.equal(c.rules.length, 10);
    assert.equal(c.rules.at(-1)!.route.cluster, CLUSTER);
    // The reply answers the call: same name and seq id, REPLY (2) in the version word.
    const call = request("framed-binary", 100);
    const answer = reply("framed-binary");
    assert.equal(call.readUInt32BE(4), 0x80010001);
    assert.equal(answer.readUInt32BE(4), 0x80010002);
    assert.deepEqual(answer.subarray(8, 27), call.subarray(8, 27)); // name length, "Catalog:put", seq id
  });
});

describe("thrift filter fuzz", () => {
  test("streams of every configuration run through the filter: decoded, routed, no trap, memory flat", async () => {
    // A smoke run: the full target (10^6 streams) is `npm run fuzz -- --target thrift-filter`.
    // 50 streams of warm-up: the module now starts from 4 pages and reaches its 8-page working
    // size within them (the telemetry engine's connection attributes and series).
    const runs = await runThriftFilterFuzz({ seed: 3, iterations: 600, warmup: 50 });
    const text = describeThriftFilterFuzz(runs, 3);
    assert.equal(runs.length, thriftFilterConfigs().length, text);
    for (const { config, result } of runs) {
      assert.equal(result.failure, undefined, `${config.name}: ${text}`);
      assert.equal(result.iterations, 100);
      assert.ok(result.upstreamCalls > 0, `${config.name}: no reply reached the filter`);
      assert.equal(result.pagesEnd, result.pagesWarm);
    }
    // Verbatim calls decode and count: the streams reach the filter's routing, not only its errors.
    const requests = runs.reduce((n, r) => n + thriftFilterBooks(r.result.stats).requests, 0n);
    assert.ok(requests > 0n, "no call was counted in istio_requests_total");
    assert.match(text, /OK \(0 traps, memory flat\)/);
  });

  test("each configuration's corpus holds calls and replies of its own stacks only", () => {
    for (const config of thriftFilterConfigs()) {
      const { calls, replies } = thriftStreamCorpus(config);
      assert.ok(calls.length > 0 && replies.length > 0, config.name);
      for (const s of [...calls, ...replies]) {
        if (config.transport === 3) assert.match(s.name, /^header-/, `${config.name}: ${s.name}`);
        if (config.transport === 1) assert.match(s.name, /^framed-/, `${config.name}: ${s.name}`);
      }
      for (const s of replies) assert.match(s.name, /-(reply-|exception)/, `${config.name}: ${s.name}`);
    }
  });

  test("npm run fuzz -- --target thrift-filter runs this target", async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ["--import", "tsx", "fuzz/run.ts", "--target", "thrift-filter", "--seed", "3", "--iterations", "600"],
      { cwd: REPO },
    );
    assert.match(stdout, /fuzz:thrift-filter: run seed=3: 600 streams through thrift/);
    assert.match(stdout, /fuzz:thrift-filter: OK \(0 traps, memory flat\)/);
  });
});
