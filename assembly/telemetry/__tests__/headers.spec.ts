import { parseHttpTelemetryConfig, MAX_HEADER_ATTRIBUTES } from "../../filters/http-telemetry/config";
import { parseTcpStatsConfig } from "../../filters/tcp-stats/config";
import { parseDubboConfig } from "../../filters/dubbo/config";
import { PrometheusHandler } from "../handlers/prometheus";
import { AccessLogHandler, accessLogLine } from "../handlers/accesslog";
import { ConnectionAttributes } from "../handlers/handler";
import { HEADER_ATTR_BASE, HEADER_NAMES, MAX_HEADER_VALUE, RequestAttributes, attrName, attrValue, setHeaderAttr, setHeaderAttrs } from "../request";
import { ruleMatches } from "../rules";

const PREFIX = "http-telemetry: invalid configuration: ";

describe("request.headers.<name> attributes", () => {
  it("resolve to one slot per name, shared by dimensions, rules and log attributes", () => {
    const p = parseHttpTelemetryConfig('{"handlers": [{"name": "p", "kind": "prometheus", "dimensions": {"tenant": "request.headers.x-tenant"}},' +
      ' {"name": "l", "kind": "accesslog", "attributes": ["request.headers.x-tenant", "request.headers.x-b3-traceid", "request.method"]}],' +
      ' "rules": [{"name": "r", "match": {"request.headers.x-tenant": {"prefix": "acme"}}, "handlers": ["p", "l"]}]}');
    expect(p.error).toBe("");
    const c = p.config;
    expect(c.headerSlots.length).toBe(2);
    expect(c.headerField).toBe("handlers[0].dimensions.tenant");
    const prom = changetype<PrometheusHandler>(c.handlers[0]);
    const log = changetype<AccessLogHandler>(c.handlers[1]);
    expect(prom.dimensionAttrs[0]).toBe(log.attrs[0]);
    expect(c.rules[0].matches[0].attr).toBe(log.attrs[0]);
    expect(attrName(log.attrs[0])).toBe("request.headers.x-tenant");
    expect(attrName(log.attrs[1])).toBe("request.headers.x-b3-traceid");
    expect(attrName(log.attrs[2])).toBe("request.method");
    // A second configuration in the same VM reuses the slot.
    const q = parseHttpTelemetryConfig('{"handlers": [{"name": "l", "kind": "accesslog", "attributes": ["request.headers.x-tenant"]}]}');
    expect(q.error).toBe("");
    expect(changetype<AccessLogHandler>(q.config.handlers[0]).attrs[0]).toBe(log.attrs[0]);
  });

  it("take values from the request's headers, first wins, cut as labels are", () => {
    const p = parseHttpTelemetryConfig('{"handlers": [{"name": "l", "kind": "accesslog", "attributes": ["request.headers.x-tenant", "request.headers.x-zone"]}],' +
      ' "rules": [{"name": "r", "match": {"request.headers.x-tenant": {"exact": "acme"}}, "handlers": ["l"]}]}');
    expect(p.error).toBe("");
    const c = p.config;
    const conn = new ConnectionAttributes();
    const r = new RequestAttributes();
    expect(ruleMatches(c.rules[0], conn.bag, r, false)).toBe(false);
    setHeaderAttr(r, c.headerSlots, "x-tenant", "acme");
    setHeaderAttr(r, c.headerSlots, "x-tenant", "other");
    setHeaderAttr(r, c.headerSlots, "x-other", "ignored");
    expect(ruleMatches(c.rules[0], conn.bag, r, false)).toBe(true);
    const log = changetype<AccessLogHandler>(c.handlers[0]);
    expect(accessLogLine(log.attrs, conn, r)).toBe('{"request.headers.x-tenant":"acme","request.headers.x-zone":""}');
    const long = "z".repeat(MAX_HEADER_VALUE + 50);
    setHeaderAttrs(r, c.headerSlots, ["x-zone"], [long]);
    expect(attrValue(log.attrs[1], conn.bag, r).length).toBe(MAX_HEADER_VALUE);
  });

  it("cost nothing when none is configured", () => {
    const p = parseHttpTelemetryConfig("{}");
    expect(p.config.headerSlots.length).toBe(0);
    const r = new RequestAttributes();
    setHeaderAttrs(r, p.config.headerSlots, ["x-tenant"], ["acme"]);
    expect(r.headers).toBeNull();
    expect(attrValue(HEADER_ATTR_BASE, new ConnectionAttributes().bag, r)).toBe("");
  });

  it("name the bad field", () => {
    const many: string[] = [];
    for (let i = 0; i <= MAX_HEADER_ATTRIBUTES; i++) many.push('"request.headers.h' + i.toString() + '"');
    const cases: string[][] = [
      ['{"handlers": [{"name": "l", "kind": "accesslog", "attributes": ["request.headers.X-Tenant"]}]}',
        '"handlers[0].attributes[0]" must name a header: request.headers.<name>, the name 1 to 64 lower-case token characters, found "request.headers.X-Tenant"'],
      ['{"handlers": [{"name": "p", "kind": "prometheus", "dimensions": {"t": "request.headers."}}]}',
        '"handlers[0].dimensions.t" must name a header'],
      ['{"rules": [{"name": "r", "match": {"request.headers.a b": {"present": true}}, "handlers": ["prometheus"]}]}',
        '"rules[0].match.request.headers.a b" must name a header'],
      ['{"handlers": [{"name": "l", "kind": "accesslog", "attributes": [' + many.join(",") + ']}]}',
        '"handlers[0].attributes[' + MAX_HEADER_ATTRIBUTES.toString() + ']" is one header attribute too many: a configuration names at most 8'],
    ];
    for (let i = 0; i < cases.length; i++) {
      const p = parseHttpTelemetryConfig(cases[i][0]);
      expect(p.error.startsWith(PREFIX + cases[i][1])).toBe(true, p.error);
    }
  });

  it("are refused by tcp-stats, naming the field", () => {
    const p = parseTcpStatsConfig('{"handlers": [{"name": "l", "kind": "accesslog", "attributes": ["source.address", "request.headers.x-tenant"]}]}');
    expect(p.error).toBe("tcp-stats: invalid configuration: \"handlers[0].attributes[1]\" names a request.headers attribute, but a TCP connection has no headers (use the http-telemetry, dubbo or thrift filter)");
  });

  it("are read from a Dubbo filter's telemetry section", () => {
    const p = parseDubboConfig('{"telemetry": {"handlers": [{"name": "p", "kind": "prometheus", "dimensions": {"tenant": "request.headers.tenant"}}]}}');
    expect(p.error).toBe("");
    expect(p.config.telemetry.headerSlots.length).toBe(1);
    expect(HEADER_NAMES[p.config.telemetry.headerSlots[0]]).toBe("tenant");
  });
});
