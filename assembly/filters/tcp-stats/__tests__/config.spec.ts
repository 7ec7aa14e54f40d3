import { DEFAULT_MAX_SERIES, DEFAULT_STAT_PREFIX, IstioMetrics, parseTcpStatsConfig, parseTcpStatsConfigBytes } from "../config";
import { RULE_STAT_PREFIX } from "../../../runtime/fields";

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

  it("names a bad stat_prefix and the value found", () => {
    const want = "tcp-stats: invalid configuration: \"stat_prefix\" " + RULE_STAT_PREFIX + ", found ";
    expect(parseTcpStatsConfig('{"stat_prefix": ""}').error).toBe(want + '""');
    expect(parseTcpStatsConfig('{"stat_prefix": 3}').error).toBe(want + "3");
    expect(parseTcpStatsConfig('{"stat_prefix": null}').error).toBe(want + "null");
    expect(parseTcpStatsConfig('{"stat_prefix": 1e309}').error).toBe(want + "1e309");
    expect(parseTcpStatsConfig('{"stat_prefix": "a b"}').error).toBe(want + '"a b"');
    expect(parseTcpStatsConfig('{"stat_prefix": "a=.=b;.;c"}').error).toBe(want + '"a=.=b;.;c"');
    expect(parseTcpStatsConfig('{"stat_prefix": "a\\u0000b"}').error).toBe(want + '"a\\u0000b"');
    expect(parseTcpStatsConfig('{"stat_prefix": "\\ud800"}').error)
      .toBe("tcp-stats: invalid configuration: unpaired surrogate \\ud800 in string at byte 17");
  });

  it("names an unknown field", () => {
    expect(parseTcpStatsConfig('{"stat_prefix": "a", "statPrefix": "b"}').error)
      .toBe("tcp-stats: invalid configuration: unknown field \"statPrefix\" (known: stat_prefix, istio_metrics, max_series, otlp)");
  });

  it("rejects non-objects and malformed JSON", () => {
    expect(parseTcpStatsConfig("[]").error).toBe("tcp-stats: invalid configuration: expected a JSON object, found array");
    expect(parseTcpStatsConfig('{"stat_prefix": "a"').error)
      .toBe("tcp-stats: invalid configuration: expected ',' or '}' in object, found end of input at byte 19");
  });

  it("rejects invalid UTF-8 instead of reading another prefix", () => {
    // {"stat_prefix":"tcp_stat\xF3"}stats"} once became metric tcp_stat󢽳tats.*
    const text = String.UTF8.encode('{"stat_prefix":"tcp_statX"}stats"}');
    store<u8>(changetype<usize>(text) + 24, 0xf3);
    expect(parseTcpStatsConfigBytes(text).error)
      .toBe("tcp-stats: invalid configuration: invalid UTF-8 (bytes 0xf3 0x22 0x7d 0x73) at byte 24");
    const lone = new ArrayBuffer(1);
    store<u8>(changetype<usize>(lone), 0xfb);
    expect(parseTcpStatsConfigBytes(lone).error).toBe("tcp-stats: invalid configuration: invalid UTF-8 (bytes 0xfb) at byte 0");
  });

  it("reads istio_metrics and max_series, with their defaults", () => {
    const d = parseTcpStatsConfig("{}").config;
    expect(d.istioMetrics).toBe(IstioMetrics.Prefixed);
    expect(d.maxSeries).toBe(DEFAULT_MAX_SERIES);
    const p = parseTcpStatsConfig('{"istio_metrics": "istio", "max_series": 5}');
    expect(p.error).toBe("");
    expect(p.config.istioMetrics).toBe(IstioMetrics.Istio);
    expect(p.config.maxSeries).toBe(5);
    expect(parseTcpStatsConfig('{"istio_metrics": "off"}').config.istioMetrics).toBe(IstioMetrics.Off);
  });

  it("names a bad istio_metrics or max_series", () => {
    expect(parseTcpStatsConfig('{"istio_metrics": "on"}').error)
      .toBe("tcp-stats: invalid configuration: \"istio_metrics\" must be one of off, prefixed, istio, found \"on\"");
    expect(parseTcpStatsConfig('{"max_series": 0}').error)
      .toBe("tcp-stats: invalid configuration: \"max_series\" must be a number of label sets, an integer 1..100000, found 0");
  });
});
