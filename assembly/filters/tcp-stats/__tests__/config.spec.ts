import { DEFAULT_STAT_PREFIX, parseTcpStatsConfig } from "../config";

describe("tcp-stats configuration", () => {
  it("uses defaults for an empty configuration", () => {
    const p = parseTcpStatsConfig("");
    expect(p.error).toBe("");
    expect(p.config.statPrefix).toBe(DEFAULT_STAT_PREFIX);
    expect(parseTcpStatsConfig(" \n ").config.statPrefix).toBe("tcp_stats");
  });

  it("uses defaults for an empty object", () => {
    const p = parseTcpStatsConfig("{}");
    expect(p.error).toBe("");
    expect(p.config.statPrefix).toBe("tcp_stats");
  });

  it("reads stat_prefix", () => {
    const p = parseTcpStatsConfig('{"stat_prefix": "mesh.tcp"}');
    expect(p.error).toBe("");
    expect(p.config.statPrefix).toBe("mesh.tcp");
  });

  it("names a bad stat_prefix", () => {
    const want = "tcp-stats: invalid configuration: \"stat_prefix\" must be a non-empty string";
    expect(parseTcpStatsConfig('{"stat_prefix": ""}').error).toBe(want);
    expect(parseTcpStatsConfig('{"stat_prefix": 3}').error).toBe(want);
    expect(parseTcpStatsConfig('{"stat_prefix": null}').error).toBe(want);
  });

  it("names an unknown field", () => {
    expect(parseTcpStatsConfig('{"stat_prefix": "a", "statPrefix": "b"}').error)
      .toBe("tcp-stats: invalid configuration: unknown field \"statPrefix\"");
  });

  it("rejects non-objects and malformed JSON", () => {
    expect(parseTcpStatsConfig("[]").error).toBe("tcp-stats: invalid configuration: expected a JSON object, found array");
    expect(parseTcpStatsConfig('{"stat_prefix": "a"').error)
      .toBe("tcp-stats: invalid configuration: expected ',' or '}' in object, found end of input at offset 19");
  });
});
