/**
 * Keeps the whole-filter Dubbo bench (bench/dubbo-filter.ts) from rotting: tiny counts over
 * build/dubbo.wasm and the shape of what it reports. No timing is asserted.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { dubboRequest } from "../../bench/dubbo.js";
import {
  CLUSTER, DUBBO_FILTER_HEADING, INTERFACE, RULE_COUNTS, dubboResponse, filterCases, filterConfig, measureDubboFilter, renderDubboFilter,
} from "../../bench/dubbo-filter.js";

describe("dubbo filter bench", () => {
  test("a row per rule count and body size, each checked to count the request to the rule's cluster", async () => {
    const r = await measureDubboFilter({ rounds: 1, targetMs: 1 });
    assert.equal(r.skipped, undefined);
    assert.deepEqual(
      r.rows.map((x) => `${x.rules} ${x.reads} ${x.bodyBytes}`),
      filterCases().map((x) => `${x.rules} ${x.reads} ${x.bodyBytes}`),
    );
    assert.deepEqual([...new Set(r.rows.map((x) => x.rules))], [10, 1000]);
    assert.deepEqual([...new Set(r.rows.map((x) => x.reads))], ["names", "attachments"]);
    for (const x of r.rows) {
      for (const s of [x.nullC, x.nullAs, x.dubbo]) assert.ok(Number.isFinite(s.median) && s.median > 0, `${x.rules} rules, ${x.bodyBytes} B`);
      assert.equal(x.bytes, 16 + x.bodyBytes);
    }
    const text = renderDubboFilter(r, 1);
    assert.match(text, new RegExp(`^${DUBBO_FILTER_HEADING}\\n`));
    assert.match(text, /\| +1,000 \| names +\| 1 MiB +\| +1,048,592 \|/);
    assert.match(text, /\| +10 \| attachments \| 1 MiB +\| +1,048,592 \|/);
    assert.match(text, /- 10 rules reading names: flat in the body size when /);
    assert.match(text, /- 1,000 vs 10 rules: at most \d+\.\d\d× the time per request/);
  });

  test("configurations hold n exact-interface rules, the matching one last; the response answers the request", () => {
    for (const n of RULE_COUNTS) {
      const c = JSON.parse(filterConfig(n)) as { routing: string; rules: Array<{ match: { service: { exact: string }; headers?: unknown }; route: { cluster: string } }> };
      assert.equal(c.routing, "request");
      assert.equal(c.rules.length, n);
      assert.equal(c.rules.at(-1)!.match.service.exact, INTERFACE);
      assert.equal(c.rules.at(-1)!.route.cluster, CLUSTER);
      assert.equal(c.rules.filter((x) => x.match.service.exact === INTERFACE).length, 1);
      assert.ok(c.rules.every((x) => x.match.headers === undefined), "names only: no rule reads attachments");
    }
    const a = JSON.parse(filterConfig(10, "attachments")) as { rules: Array<{ match: { headers?: Array<{ name: string; exact: string }> } }> };
    assert.deepEqual(a.rules.at(-1)!.match.headers, [{ name: "path", exact: INTERFACE }]);
    const call = dubboRequest(100);
    const answer = dubboResponse();
    assert.equal(answer.readUInt16BE(0), 0xdabb);
    assert.equal(answer[2]! & 0x80, 0, "a response");
    assert.equal(answer[3], 20, "status OK");
    assert.deepEqual(answer.subarray(4, 12), call.subarray(4, 12), "the request's id");
    assert.equal(answer.readInt32BE(12), answer.length - 16);
  });
});
