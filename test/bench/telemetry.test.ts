/**
 * Keeps the HTTP telemetry bench section (bench/telemetry.ts) from rotting: a short run, the
 * shape of its report and the host-call counts it derives. No timing is asserted.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  COMPETITORS, REQUESTS_PER_TICK, TELEMETRY_HEADING, TELEMETRY_HOST_CALL_GOAL, measureTelemetry, renderTelemetry,
} from "../../bench/telemetry.js";

describe("HTTP telemetry bench", () => {
  test("a row per competitor: time, host calls per ABI function, memory flat", async () => {
    const r = await measureTelemetry({ rounds: 1, iterations: 500, countedRequests: 2 * REQUESTS_PER_TICK, memoryRequests: 2 * REQUESTS_PER_TICK });
    assert.deepEqual(r.rows.map((x) => x.competitor), Object.keys(COMPETITORS));
    for (const row of r.rows) {
      assert.ok(Number.isFinite(row.time.median) && row.time.median > 0, row.competitor);
      assert.equal(row.time.rounds, 1);
      assert.ok(row.pagesWarm > 0, row.competitor);
      assert.equal(row.pagesEnd, row.pagesWarm, `${row.competitor}: memory grew`);
      assert.equal(row.memory.requests, 2 * REQUESTS_PER_TICK);
      assert.equal(row.memory.verdict, undefined, row.competitor);
      for (const [name, n] of [...Object.entries(row.calls.request), ...Object.entries(row.calls.tick)]) {
        assert.match(name, /^proxy_/, row.competitor);
        assert.ok(n > 0, `${row.competitor} ${name}`);
      }
    }
    const [nul, prom, logged, all] = r.rows;
    // The null filter makes no host call; every request reads its headers once each way.
    assert.equal(nul!.calls.requestTotal + nul!.calls.tickTotal, 0);
    assert.equal(prom!.calls.request.proxy_get_header_map_pairs, 2);
    // Metric updates are batched: none in the request callbacks, one sample per histogram on tick.
    assert.equal(prom!.calls.request.proxy_record_metric, undefined);
    assert.equal(prom!.calls.request.proxy_increment_metric, undefined);
    assert.equal(prom!.calls.tick.proxy_record_metric, 3);
    // Duration, response flags and connection id: one CEL evaluation per request, no property read.
    assert.equal(prom!.calls.request.proxy_call_foreign_function, 1);
    assert.equal(prom!.calls.request.proxy_get_property, undefined);
    assert.equal(prom!.calls.requestTotal, 3);
    // Without expr_create (Windows builds) the same values cost one property read each.
    assert.equal(r.fallback.request.proxy_get_header_map_pairs, 2);
    assert.equal(r.fallback.request.proxy_get_property, 3);
    assert.equal(r.fallback.request.proxy_call_foreign_function, undefined);
    assert.equal(r.fallback.tick.proxy_record_metric, 3);
    // The access log adds exactly one proxy_log per request to what prometheus makes.
    assert.equal(logged!.calls.request.proxy_log, 1);
    assert.equal(prom!.calls.request.proxy_log, undefined);
    // Every adapter: the checks' counters are batched too (no increment in the request callbacks);
    // memquota takes its token through shared data (a get and a CAS set per request).
    assert.equal(all!.competitor, "all adapters");
    assert.equal(all!.calls.request.proxy_increment_metric, undefined);
    assert.equal(all!.calls.request.proxy_get_shared_data, 1);
    assert.equal(all!.calls.request.proxy_set_shared_data, 1);
    assert.equal(r.memoryFlat, true);
    assert.equal(r.goalPass, prom!.calls.requestTotal <= TELEMETRY_HOST_CALL_GOAL);
    const md = renderTelemetry(r);
    assert.match(md, new RegExp(`^${TELEMETRY_HEADING.replace(/[()]/g, "\\$&")}\\n`));
    assert.match(md, /\| prometheus\+accesslog +\|/);
    assert.match(md, /\*\*PASS\*\* \(3 in the request callbacks, plus 3(\.\d+)? in on_tick\)/);
    assert.match(md, /property-read path: 5 in the request callbacks/);
    assert.match(md, /\| all adapters +\|/);
    assert.match(md, /Memory \(issue 9: flat over 2,000 requests\) — \*\*FLAT\*\*/);
    assert.match(md, /^- all adapters: \d+ pages after warm-up, \d+ after 2,000 requests.*: flat$/m);
  });
});
