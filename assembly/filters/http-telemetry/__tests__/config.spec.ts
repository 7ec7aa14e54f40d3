import { parseHttpTelemetryConfig, DEFAULT_HANDLER_NAME, DEFAULT_LOG_ATTRIBUTES, DEFAULT_MAX_CONNECTIONS, DEFAULT_STAT_PREFIX } from "../config";
import { PrometheusHandler, MetricNames } from "../../../telemetry/handlers/prometheus";
import { AccessLogHandler } from "../../../telemetry/handlers/accesslog";
import { LogLevel } from "../../../runtime/enums";
import { MatchKind } from "../../../telemetry/rules";

const PREFIX = "http-telemetry: invalid configuration: ";

describe("http-telemetry configuration", () => {
  it("defaults: one prometheus handler, one rule feeding it", () => {
    for (let i = 0; i < 2; i++) {
      const p = parseHttpTelemetryConfig(i == 0 ? "" : "{}");
      expect(p.error).toBe("");
      const c = p.config;
      expect(c.statPrefix).toBe(DEFAULT_STAT_PREFIX);
      expect(c.maxConnections).toBe(DEFAULT_MAX_CONNECTIONS);
      expect(c.handlers.length).toBe(1);
      expect(c.handlers[0].name).toBe(DEFAULT_HANDLER_NAME);
      expect(c.handlers[0].kind).toBe("prometheus");
      expect(c.handlers[0].failOpen).toBe(true);
      expect(c.handlers[0].samplingMilli).toBe(100000);
      expect(changetype<PrometheusHandler>(c.handlers[0]).names).toBe(MetricNames.Auto);
      expect(c.rules.length).toBe(1);
      expect(c.rules[0].handlerMask).toBe(1);
    }
  });

  it("reads handlers and rules, wherever rules stand", () => {
    const p = parseHttpTelemetryConfig('{"rules": [{"name": "e", "match": {"response.code": {"exact": 503}, "request.path": {"present": true}}, "handlers": ["log"]}],' +
      ' "handlers": [{"name": "p", "kind": "prometheus", "metrics": "istio", "max_series": 3, "dimensions": {"m": "request.method"}},' +
      ' {"name": "log", "kind": "accesslog", "fail_open": false, "sampling": 12.5, "level": "warn", "max_line_bytes": 100}], "seed": 9}');
    expect(p.error).toBe("");
    const c = p.config;
    expect(c.seed).toBe(9);
    const prom = changetype<PrometheusHandler>(c.handlers[0]);
    expect(prom.names).toBe(MetricNames.Istio);
    expect(prom.maxSeries).toBe(3);
    expect(prom.dimensionKeys.join(",")).toBe("m");
    const log = changetype<AccessLogHandler>(c.handlers[1]);
    expect(log.failOpen).toBe(false);
    expect(log.samplingMilli).toBe(12500);
    expect(log.level).toBe(LogLevel.Warn);
    expect(log.maxLineBytes).toBe(100);
    expect(log.attrs.length).toBe(DEFAULT_LOG_ATTRIBUTES.length);
    expect(c.rules[0].handlerMask).toBe(2);
    expect(c.rules[0].matches[0].kind).toBe(MatchKind.Exact);
    expect(c.rules[0].matches[0].value).toBe("503");
    expect(c.rules[0].matches[1].kind).toBe(MatchKind.Present);
  });

  it("names the bad field", () => {
    const cases: string[][] = [
      ['{"x": 1}', 'unknown field "x" (known: stat_prefix, seed, max_connections, handlers, rules)'],
      ['{"handlers": [{"name": "p", "kind": "prometheus", "metric": 1}]}', 'unknown field "handlers[0].metric" (known: name, kind, fail_open, sampling, metrics, max_series, dimensions)'],
      ['{"handlers": [{"name": "l", "kind": "accesslog", "attributes": ["request.verb"]}]}', '"handlers[0].attributes[0]" must be an attribute name ('],
      ['{"handlers": [{"name": "p", "kind": "prometheus"}, {"name": "p", "kind": "accesslog"}]}', '"handlers[1].name" repeats handler "p"'],
      ['{"rules": [{"name": "r", "handlers": ["x"]}]}', '"rules[0].handlers[0]" must name a handler (prometheus), found "x"'],
      ['{"rules": [{"name": "r", "match": {"request.path": {"glob": "/a"}}, "handlers": ["prometheus"]}]}', 'unknown field "rules[0].match.request.path.glob" (known: exact, prefix, present)'],
      ['{"rules": [{"handlers": ["prometheus"]}]}', '"rules[0].name" is required'],
      ['[]', "expected a JSON object, found array"],
    ];
    for (let i = 0; i < cases.length; i++) {
      const p = parseHttpTelemetryConfig(cases[i][0]);
      expect(p.error.startsWith(PREFIX + cases[i][1])).toBe(true, p.error);
    }
  });
});
