// The shared table (../cases.json via the generated ./cases.ts): every field kind's validator and
// whole filter configurations give exactly the errors the controller gives for the same input.
import { parseJson } from "../../json";
import { Fields } from "..";
import { parseSnifferConfig } from "../../../filters/sniffer/config";
import { parseTcpStatsConfig } from "../../../filters/tcp-stats/config";
import { CONFIG_CASES, FIELD_CASES, FieldCase } from "./cases";

function check(c: FieldCase): string {
  const p = parseJson(c.value);
  if (!p.ok) return "unparsable case value: " + p.message();
  const v = p.value!;
  const f = new Fields();
  if (c.kind == "stat_prefix") f.statPrefix(v, "x");
  else if (c.kind == "cluster_name") f.clusterName(v, "x");
  else if (c.kind == "cidr") f.cidr(v, "x");
  else if (c.kind == "port_range") f.portRange(v, "x");
  else if (c.kind == "duration_ms") f.durationMs(v, "x", c.lo, c.hi);
  else if (c.kind == "byte_size") f.byteSize(v, "x", c.lo, c.hi);
  else return "unknown kind " + c.kind;
  return f.error;
}

describe("field validators (shared table)", () => {
  it("covers every kind", () => {
    const kinds = ["stat_prefix", "cluster_name", "cidr", "port_range", "duration_ms", "byte_size"];
    for (let k = 0; k < kinds.length; k++) {
      let accepted = 0;
      let rejected = 0;
      for (let i = 0; i < FIELD_CASES.length; i++) {
        if (FIELD_CASES[i].kind != kinds[k]) continue;
        if (FIELD_CASES[i].error.length == 0) accepted++;
        else rejected++;
      }
      expect(accepted).toBeGreaterThan(0, kinds[k]);
      expect(rejected).toBeGreaterThan(0, kinds[k]);
    }
  });

  it("gives each case's exact error", () => {
    for (let i = 0; i < FIELD_CASES.length; i++) {
      const c = FIELD_CASES[i];
      expect(check(c)).toBe(c.error, c.kind + " " + c.value);
    }
  });

  it("gives each configuration's exact error", () => {
    for (let i = 0; i < CONFIG_CASES.length; i++) {
      const c = CONFIG_CASES[i];
      const error = c.filter == "sniffer" ? parseSnifferConfig(c.config).error : parseTcpStatsConfig(c.config).error;
      const want = c.error.length == 0 ? "" : c.filter + ": invalid configuration: " + c.error;
      expect(error).toBe(want, c.config);
    }
  });
});
