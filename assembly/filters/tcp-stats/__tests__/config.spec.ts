import { DEFAULT_MAX_SERIES, DEFAULT_STAT_PREFIX, IstioMetrics, parseTcpStatsConfig, parseTcpStatsConfigBytes } from "../config";
import { RULE_STAT_PREFIX } from "../../../runtime/fields";
import { DEFAULT_TCP_LOG_ATTRIBUTES } from "../config";
import { AccessLogHandler } from "../../../telemetry/handlers/accesslog";
import { HTTP_ATTRIBUTES } from "../../../telemetry/request";

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
      .toBe("tcp-stats: invalid configuration: unknown field \"statPrefix\" (known: stat_prefix, istio_metrics, max_series, otlp, handlers, rules)");
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

  it("keeps today's behaviour without handlers and rules", () => {
    expect(parseTcpStatsConfig('{"istio_metrics": "istio"}').config.telemetry).toBeNull();
  });

  it("reads handlers and rules with the engine's schema, the TCP access-log defaults", () => {
    const p = parseTcpStatsConfig('{"handlers": [{"name": "prom", "kind": "prometheus", "metrics": "istio"}, {"name": "log", "kind": "accesslog"}, {"name": "no", "kind": "denier"}],'
      + ' "rules": [{"name": "all", "handlers": ["prom", "log"]}, {"name": "redis", "match": {"destination.port": {"exact": 6379}}, "handlers": ["no"]}]}');
    expect(p.error).toBe("");
    const t = p.config.telemetry!;
    expect(t.handlers.length).toBe(3);
    expect(t.rules.length).toBe(2);
    expect(t.rules[1].matches[0].value).toBe("6379");
    const log = changetype<AccessLogHandler>(t.handlers[1]);
    expect(log.attrs.length).toBe(DEFAULT_TCP_LOG_ATTRIBUTES.length);
    expect(HTTP_ATTRIBUTES[log.attrs[0]]).toBe("connection.id");
  });

  it("rules alone feed the default prometheus handler", () => {
    const p = parseTcpStatsConfig('{"rules": [{"name": "mesh", "match": {"source.principal": {"present": true}}, "handlers": ["prometheus"]}]}');
    expect(p.error).toBe("");
    expect(p.config.telemetry!.handlers[0].kind).toBe("prometheus");
  });

  it("names what a TCP connection cannot give", () => {
    const e = "tcp-stats: invalid configuration: ";
    expect(parseTcpStatsConfig('{"istio_metrics": "istio", "handlers": [{"name": "p", "kind": "prometheus"}]}').error)
      .toBe(e + "\"istio_metrics\" applies only without handlers; with handlers, a prometheus handler's \"metrics\" (auto, prefixed, istio) names the Istio-style metrics");
    expect(parseTcpStatsConfig('{"handlers": [{"name": "p", "kind": "prometheus", "dimensions": {"sni": "connection.requested_server_name"}}]}').error)
      .toBe(e + "prometheus handler \"p\": \"dimensions\" are not supported by tcp-stats (a TCP series carries Istio's TCP label set only)");
    expect(parseTcpStatsConfig('{"handlers": [{"name": "p", "kind": "prometheus"}], "rules": [{"name": "long", "match": {"connection.duration": {"present": true}}, "handlers": ["p"]}]}').error)
      .toBe(e + "rule \"long\" feeds prometheus handler \"p\" (its series is chosen when the peer is known) but matches connection.duration, known only at close");
    expect(parseTcpStatsConfig('{"handlers": [{"name": "q", "kind": "memquota", "max_amount": 1, "key": ["connection.sent.bytes"]}]}').error.startsWith(e + "\"handlers[0].key[0]\" must be an attribute known at request headers")).toBe(true);
  });
});
