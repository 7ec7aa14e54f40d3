/**
 * The shared table (assembly/runtime/fields/cases.json): the controller's checks give exactly the
 * filters' errors. The filters run the same file through as-pect (assembly/runtime/fields/
 * __tests__/fields.spec.ts, via the generated cases.ts checked here to be current).
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { checkConfiguration } from "../../controller/config/index.js";
import { FIELD_KINDS } from "../../controller/config/fields.js";
// @ts-expect-error: a plain .mjs module without types
import { CASES_JSON, CASES_TS, renderFieldCases } from "../../scripts/field-cases.mjs";

const ROOT = new URL("../../", import.meta.url);

interface FieldCase {
  readonly kind: keyof typeof FIELD_KINDS;
  readonly lo?: number;
  readonly hi?: number;
  readonly value: string;
  readonly error: string;
  readonly filterOnly?: string;
}
interface ConfigCase {
  readonly filter: string;
  readonly config: string;
  readonly error: string;
  readonly filterOnly?: string;
}
const cases = JSON.parse(readFileSync(new URL(CASES_JSON as string, ROOT), "utf8")) as { fields: FieldCase[]; configs: ConfigCase[] };

describe("field checks shared with the filters", () => {
  it("the as-pect copy of the table is current", () => {
    assert.equal(readFileSync(new URL(CASES_TS as string, ROOT), "utf8"), (renderFieldCases as (c: unknown) => string)(cases),
      "run npm run build to regenerate it");
  });

  it("covers every kind, accepted and rejected", () => {
    for (const kind of Object.keys(FIELD_KINDS)) {
      const mine = cases.fields.filter((c) => c.kind === kind);
      assert.ok(mine.some((c) => c.error === ""), `${kind}: no accepted case`);
      assert.ok(mine.some((c) => c.error !== ""), `${kind}: no rejected case`);
    }
  });

  for (const c of cases.fields.filter((c) => c.filterOnly === undefined)) {
    it(`${c.kind} ${c.value}`, () => {
      const why = FIELD_KINDS[c.kind](c.lo ?? 0, c.hi ?? 0)(JSON.parse(c.value));
      assert.equal(why === null ? "" : `"x" ${why}`, c.error);
    });
  }

  for (const c of cases.configs.filter((c) => c.filterOnly === undefined)) {
    it(`${c.filter} ${c.config}`, () => {
      assert.deepEqual(checkConfiguration(c.filter, c.config), c.error === "" ? [] : [c.error]);
    });
  }

  it("holds configurations to the filters' limits", () => {
    assert.deepEqual(checkConfiguration("tcp-stats", `{"stat_prefix":"${"a".repeat(1048576)}"}`),
      ["configuration of 1048594 bytes is larger than the limit of 1048576 bytes"]);
    assert.deepEqual(checkConfiguration("tcp-stats", { stat_prefix: "a".repeat(4097) }),
      ['string longer than the limit of 4096 bytes in "stat_prefix"']);
    assert.deepEqual(checkConfiguration("tcp-stats", { stat_prefix: "\ud800" }), ['unpaired surrogate in string in "stat_prefix"']);
    assert.deepEqual(checkConfiguration("sniffer", { allowed_destinations: new Array(100001).fill(1) }),
      ['more than 100000 items in an array (the limit per array) in "allowed_destinations"']);
    assert.deepEqual(checkConfiguration("sniffer", " \n"), []);
    assert.deepEqual(checkConfiguration("sniffer", "[]"), ["expected a JSON object, found array"]);
    assert.equal(checkConfiguration("sniffer", "{").length, 1);
  });
});
