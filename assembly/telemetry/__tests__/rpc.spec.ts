import { AttributeBag, Reporter } from "../attributes";
import { HTTP_ATTRIBUTES } from "../http-labels";
import { Attr, AttrJson, RequestAttributes, attrIndex, attrJsonFor, attrPresent, attrValue, httpRequestLabels } from "../request";
import { AttrMatch, MatchKind, TelemetryRule, knownAtRequestHeaders, ruleMatches } from "../rules";
import { ConnectionAttributes } from "../handlers/handler";
import { accessLogLine } from "../handlers/accesslog";
import { PrometheusHandler, connectionTags } from "../handlers/prometheus";
import { DEFAULT_RPC_LOG_ATTRIBUTES, TelemetryConfig, parseTelemetry } from "../config";
import { Fields } from "../../runtime/fields";
import { parseJson } from "../../runtime/json";
import { setServiceFromCluster } from "../service";

function outboundConn(): ConnectionAttributes {
  const c = new ConnectionAttributes();
  c.perCallService = true;
  const bag = c.bag;
  bag.reporter = Reporter.Source;
  bag.source.workload = "web-v1";
  bag.source.namespace = "shop";
  bag.source.canonicalService = "web";
  bag.source.canonicalRevision = "v1";
  bag.source.cluster = "Kubernetes";
  bag.destination.workload = "orders-v2";
  bag.destination.namespace = "shop";
  bag.destination.cluster = "Kubernetes";
  return c;
}

function dubboCall(): RequestAttributes {
  const r = new RequestAttributes();
  r.rpc = "dubbo";
  r.id = "42";
  r.apiService = "org.apache.dubbo.demo.OrderService";
  r.apiOperation = "place";
  r.apiVersion = "1.0.0";
  r.apiGroup = "blue";
  r.code = "20";
  r.cluster = "outbound|20880|v2|orders.shop.svc.cluster.local";
  r.serviceHost = "orders.shop.svc.cluster.local";
  r.serviceName = "orders";
  r.serviceNamespace = "shop";
  r.durationMs = 4;
  r.requestBytes = 210;
  r.responseBytes = 48;
  return r;
}

describe("RPC request record", () => {
  it("names RPC attributes in Mixer's api.* vocabulary, appended after HTTP's", () => {
    expect(attrIndex("api.service")).toBe(Attr.ApiService);
    expect(attrIndex("api.operation")).toBe(Attr.ApiOperation);
    expect(attrIndex("api.version")).toBe(Attr.ApiVersion);
    expect(attrIndex("api.group")).toBe(Attr.ApiGroup);
    expect(attrIndex("xds.cluster_name")).toBe(Attr.ClusterName);
    expect(attrIndex("response.flags")).toBe(Attr.ResponseFlags);
    expect(HTTP_ATTRIBUTES.length).toBe(Attr.ResponseFlags + 1);
  });

  it("gives the protocol's values; response.code is the protocol's text", () => {
    const bag = new AttributeBag();
    const r = dubboCall();
    expect(attrValue(Attr.RequestProtocol, bag, r)).toBe("dubbo");
    expect(attrValue(Attr.ApiService, bag, r)).toBe("org.apache.dubbo.demo.OrderService");
    expect(attrValue(Attr.ApiOperation, bag, r)).toBe("place");
    expect(attrValue(Attr.ApiVersion, bag, r)).toBe("1.0.0");
    expect(attrValue(Attr.ApiGroup, bag, r)).toBe("blue");
    expect(attrValue(Attr.ClusterName, bag, r)).toBe("outbound|20880|v2|orders.shop.svc.cluster.local");
    expect(attrValue(Attr.DestinationService, bag, r)).toBe("orders.shop.svc.cluster.local");
    expect(attrValue(Attr.ResponseCode, bag, r)).toBe("20");
    expect(attrValue(Attr.ResponseFlags, bag, r)).toBe("-");
    expect(attrPresent(Attr.ResponseFlags, bag, r)).toBe(false);
    r.flags = "RL";
    r.code = "100";
    expect(attrValue(Attr.ResponseFlags, bag, r)).toBe("RL");
    expect(attrPresent(Attr.ResponseFlags, bag, r)).toBe(true);
    r.code = "";
    expect(attrPresent(Attr.ResponseCode, bag, r)).toBe(false);
    r.rpc = "thrift";
    r.code = "exception";
    expect(attrValue(Attr.ResponseCode, bag, r)).toBe("exception");
    expect(attrJsonFor(Attr.ResponseCode, r)).toBe(AttrJson.Text);
    expect(attrJsonFor(Attr.ResponseCode, new RequestAttributes())).toBe(AttrJson.Number);
    expect(knownAtRequestHeaders(Attr.ResponseFlags)).toBe(false);
    expect(knownAtRequestHeaders(Attr.ApiOperation)).toBe(true);
  });

  it("per-request labels: protocol, the protocol's code, empty grpc status, flags", () => {
    const c = outboundConn();
    const r = dubboCall();
    const out = new Array<string>();
    httpRequestLabels(c.bag, r, out);
    expect(out.join("|")).toBe("dubbo|20||-|unknown");
    r.rpc = "thrift";
    r.code = "exception";
    r.flags = "UAEX";
    const t = new Array<string>();
    httpRequestLabels(c.bag, r, t);
    expect(t.join("|")).toBe("thrift|exception||UAEX|unknown");
  });

  it("encodes the service labels per call on an RPC connection", () => {
    const c = outboundConn();
    const h = new PrometheusHandler("p");
    const tags = h.tags(c, dubboCall());
    expect(connectionTags(c).includes("destination_service_namespace")).toBe(false);
    expect(tags.includes("destination_service=.=orders.shop.svc.cluster.local;.;")).toBe(true);
    expect(tags.includes("destination_service_name=.=orders;.;")).toBe(true);
    expect(tags.includes("destination_service_namespace=.=shop;.;")).toBe(true);
    expect(tags.includes("request_protocol=.=dubbo;.;response_code=.=20;.;grpc_response_status=.=;.;")).toBe(true);
    // A call whose cluster is not an Istio name: the name as the service, the parts unknown.
    const r = dubboCall();
    r.serviceHost = "orders";
    r.serviceName = "";
    r.serviceNamespace = "";
    const t = h.tags(c, r);
    expect(t.includes("destination_service=.=orders;.;destination_service_name=.=unknown;.;destination_service_namespace=.=unknown;.;")).toBe(true);
    // No service for the call (not routed by the filter): as HTTP without a Host.
    r.serviceHost = "";
    const u = h.tags(c, r);
    expect(u.includes("destination_service=.=unknown;.;destination_service_name=.=unknown;.;destination_service_namespace=.=shop;.;")).toBe(true);
  });

  it("writes an RPC access log line with the code as a string", () => {
    const c = outboundConn();
    const attrs = new Array<i32>();
    for (let i = 0; i < DEFAULT_RPC_LOG_ATTRIBUTES.length; i++) attrs.push(attrIndex(DEFAULT_RPC_LOG_ATTRIBUTES[i]));
    expect(attrs.includes(-1)).toBe(false);
    const line = accessLogLine(attrs, c, dubboCall());
    expect(line).toBe("{\"request.id\":\"42\",\"request.protocol\":\"dubbo\",\"api.service\":\"org.apache.dubbo.demo.OrderService\"," +
      "\"api.operation\":\"place\",\"api.version\":\"1.0.0\",\"xds.cluster_name\":\"outbound|20880|v2|orders.shop.svc.cluster.local\"," +
      "\"response.code\":\"20\",\"response.flags\":\"-\",\"response.duration\":4,\"request.total_size\":210,\"response.total_size\":48," +
      "\"source.workload\":\"web-v1\",\"destination.workload\":\"orders-v2\"}");
  });

  it("matches rules on RPC attributes", () => {
    const c = outboundConn();
    const rule = new TelemetryRule();
    rule.matches.push(new AttrMatch(Attr.ApiService, MatchKind.Prefix, "org.apache.dubbo."));
    rule.matches.push(new AttrMatch(Attr.ResponseCode, MatchKind.Exact, "70"));
    const r = dubboCall();
    expect(ruleMatches(rule, c.bag, r, true)).toBe(true);
    expect(ruleMatches(rule, c.bag, r, false)).toBe(false);
    r.code = "70";
    expect(ruleMatches(rule, c.bag, r, false)).toBe(true);
  });
});

describe("engine configuration section", () => {
  it("defaults to one prometheus handler fed by one rule", () => {
    const f = new Fields();
    const c = new TelemetryConfig();
    parseTelemetry(f, null, null, c, DEFAULT_RPC_LOG_ATTRIBUTES, "telemetry.");
    expect(f.ok).toBe(true);
    expect(c.handlers.length).toBe(1);
    expect(c.handlers[0].kind).toBe("prometheus");
    expect(c.rules.length).toBe(1);
    expect(c.rules[0].handlerMask).toBe(1);
  });

  it("names fields under the section's prefix and takes the caller's log defaults", () => {
    const f = new Fields();
    const c = new TelemetryConfig();
    const h = parseJson('[{"name": "log", "kind": "accesslog"}]').value!;
    const rules = parseJson('[{"name": "r", "match": {"api.operation": {"exact": "place"}}, "handlers": ["nope"]}]').value!;
    parseTelemetry(f, h, rules, c, DEFAULT_RPC_LOG_ATTRIBUTES, "telemetry.");
    expect(f.ok).toBe(false);
    expect(f.error).toBe("\"telemetry.rules[0].handlers[0]\" must name a handler (log), found \"nope\"");
    const g = new Fields();
    const d = new TelemetryConfig();
    parseTelemetry(g, h, null, d, DEFAULT_RPC_LOG_ATTRIBUTES, "telemetry.");
    expect(g.ok).toBe(true);
    expect(d.handlers[0].kind).toBe("accesslog");
  });
});

describe("destination service from the routed cluster (service.ts)", () => {
  it("splits Istio's outbound names, keeps other names whole, leaves inbound and none to the fallback", () => {
    const cases: string[][] = [
      // cluster, host, name, namespace
      ["outbound|20880|v2|orders.shop.svc.cluster.local", "orders.shop.svc.cluster.local", "orders", "shop"],
      ["outbound|9090||catalog.store.svc", "catalog.store.svc", "catalog", "store"],
      ["outbound|443||api.example.com", "api.example.com", "api", ""],
      ["outbound|80||single", "single", "single", ""],
      ["orders-v1", "orders-v1", "", ""],
      ["inbound|20880||", "", "", ""],
      ["", "", "", ""],
    ];
    for (let i = 0; i < cases.length; i++) {
      const r = new RequestAttributes();
      setServiceFromCluster(r, cases[i][0]);
      expect(r.serviceHost).toBe(cases[i][1], cases[i][0]);
      expect(r.serviceName).toBe(cases[i][2], cases[i][0]);
      expect(r.serviceNamespace).toBe(cases[i][3], cases[i][0]);
    }
  });
});
