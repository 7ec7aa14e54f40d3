import { AttributeBag, Reporter } from "../attributes";
import { HTTP_LABELS } from "../http-labels";
import {
  Attr, RequestAttributes, attrIndex, attrValue, destinationService, httpConnectionLabels, httpRequestLabels, jsonString,
  principalNamespace, safeValue, sampleBucket,
} from "../request";
import { AttrMatch, MatchKind, TelemetryRule, matchedHandlers, ruleMatches } from "../rules";
import { encodeLabels, overflowLabels } from "../series";
import { ConnectionAttributes } from "../handlers/handler";
import { accessLogLine } from "../handlers/accesslog";
import { MetricNames, connectionTags, metricPrefix } from "../handlers/prometheus";

function inboundBag(): AttributeBag {
  const bag = new AttributeBag();
  bag.reporter = Reporter.Destination;
  bag.destination.workload = "ratings-v1";
  bag.destination.namespace = "bookinfo";
  bag.destination.canonicalService = "ratings";
  bag.destination.canonicalRevision = "v1";
  bag.destination.app = "ratings";
  bag.destination.version = "v1";
  bag.destination.cluster = "Kubernetes";
  return bag;
}

function request(): RequestAttributes {
  const r = new RequestAttributes();
  r.method = "GET";
  r.path = "/a?b=\"c\"";
  r.host = "ratings:9080";
  r.id = "req-1";
  r.responseCode = 404;
  r.durationMs = 7;
  r.requestBytes = 120;
  r.responseBytes = 33;
  return r;
}

describe("istio HTTP labels (istio_stats.cc populatePeerInfo)", () => {
  it("inbound: unknown peer prints unknown / latest, the local side as it is", () => {
    const v = httpConnectionLabels(inboundBag());
    expect(v.length).toBe(20);
    expect(v[0]).toBe("destination");
    expect(v[1]).toBe("unknown");
    expect(v[3]).toBe("latest");
    expect(v[9]).toBe("ratings-v1");
    expect(v[11]).toBe("unknown");
    expect(v[14]).toBe("");
    expect(v[15]).toBe("ratings");
    expect(v[18]).toBe("bookinfo");
    expect(v[19]).toBe("Kubernetes");
  });

  it("outbound: the local side's empty values stay empty, the peer's namespace comes from its principal", () => {
    const bag = new AttributeBag();
    bag.reporter = Reporter.Source;
    bag.destination.principal = "spiffe://cluster.local/ns/shop/sa/web";
    bag.destination.namespace = "other";
    const v = httpConnectionLabels(bag);
    expect(v[0]).toBe("source");
    expect(v[1]).toBe("");
    expect(v[5]).toBe("unknown");
    expect(v[10]).toBe("shop");
    expect(v[11]).toBe("spiffe://cluster.local/ns/shop/sa/web");
    expect(v[16]).toBe("latest");
    expect(v[18]).toBe("shop");
  });

  it("per-request labels and the service from the Host", () => {
    const bag = inboundBag();
    const r = request();
    const out = new Array<string>();
    httpRequestLabels(bag, r, out);
    expect(out.join("|")).toBe("http|404||-|none");
    r.grpc = true;
    r.grpcStatus = "14";
    const g = new Array<string>();
    httpRequestLabels(bag, r, g);
    expect(g.join("|")).toBe("grpc|404|14|-|none");
    expect(destinationService(bag, r)).toBe("ratings:9080");
    r.host = "";
    expect(destinationService(bag, r)).toBe("ratings");
    bag.reporter = Reporter.Source;
    expect(destinationService(bag, r)).toBe("unknown");
  });

  it("encodes the connection part once, without the two service labels", () => {
    const c = new ConnectionAttributes();
    c.bag = inboundBag();
    const tags = connectionTags(c);
    expect(tags.startsWith("reporter=.=destination;.;source_workload=.=unknown;.;")).toBe(true);
    expect(tags.includes("destination_service=.=")).toBe(false);
    expect(tags.includes("destination_service_namespace=.=bookinfo;.;")).toBe(true);
    expect(tags.endsWith("destination_cluster=.=Kubernetes;.;")).toBe(true);
    expect(HTTP_LABELS.length).toBe(25);
  });

  it("makes values safe for the tag regex and keeps empty values empty", () => {
    expect(safeValue("")).toBe("");
    expect(safeValue("a;.;b")).toBe("a_._b");
    expect(safeValue("x\ny")).toBe("x_y");
    expect(safeValue("z".repeat(300)).length).toBe(128);
    expect(principalNamespace("spiffe://td/ns/a/sa/b")).toBe("a");
    expect(principalNamespace("spiffe://td/ns/a")).toBe("a");
    expect(principalNamespace("spiffe://td/sa/b")).toBe("");
  });

  it("names families by mode and proxy", () => {
    expect(metricPrefix(MetricNames.Auto, false)).toBe("istio_");
    expect(metricPrefix(MetricNames.Auto, true)).toBe("protomesh_");
    expect(metricPrefix(MetricNames.Prefixed, false)).toBe("protomesh_");
    expect(metricPrefix(MetricNames.Istio, true)).toBe("istio_");
    expect(encodeLabels(["a", "b"], ["1", ""])).toBe("a=.=1;.;b=.=;.;");
    expect(overflowLabels(["a"])).toBe("a=.=overflow;.;");
  });
});

describe("rules", () => {
  it("matches exact, prefix and present; response conditions are open before the response", () => {
    const bag = inboundBag();
    const r = request();
    const rule = new TelemetryRule();
    rule.matches.push(new AttrMatch(Attr.RequestPath, MatchKind.Prefix, "/a"));
    rule.matches.push(new AttrMatch(Attr.ResponseCode, MatchKind.Exact, "500"));
    rule.handlerMask = 2;
    expect(ruleMatches(rule, bag, r, false)).toBe(false);
    expect(ruleMatches(rule, bag, r, true)).toBe(true);
    r.responseCode = 500;
    expect(ruleMatches(rule, bag, r, false)).toBe(true);
    const present = new TelemetryRule();
    present.matches.push(new AttrMatch(Attr.SourceWorkload, MatchKind.Present, ""));
    present.handlerMask = 1;
    expect(matchedHandlers([rule, present], bag, r, false)).toBe(2);
    bag.source.workload = "web";
    expect(matchedHandlers([rule, present], bag, r, false)).toBe(3);
    const all = new TelemetryRule();
    all.handlerMask = 4;
    expect(matchedHandlers([all], bag, r, false)).toBe(4);
  });
});

describe("attributes and the access log line", () => {
  it("writes the chosen attributes in order as JSON, numbers bare", () => {
    const c = new ConnectionAttributes();
    c.bag = inboundBag();
    c.bag.connectionMtls = true;
    const line = accessLogLine([Attr.RequestId, Attr.RequestPath, Attr.ResponseCode, Attr.ResponseDuration, Attr.ConnectionMtls, Attr.DestinationWorkload], c, request());
    expect(line).toBe("{\"request.id\":\"req-1\",\"request.path\":\"/a?b=\\\"c\\\"\",\"response.code\":404,\"response.duration\":7,\"connection.mtls\":true,\"destination.workload\":\"ratings-v1\"}");
    expect(attrIndex("response.total_size")).toBe(Attr.ResponseTotalSize);
    expect(attrIndex("request.verb")).toBe(-1);
    expect(attrValue(Attr.Reporter, c.bag, request())).toBe("destination");
  });

  it("escapes JSON strings per RFC 8259", () => {
    expect(jsonString("a\"b\\c\nd\te\u0001")).toBe("\"a\\\"b\\\\c\\nd\\te\\u0001\"");
    expect(jsonString("plain")).toBe("\"plain\"");
  });

  it("samples by FNV-1a of seed and request id (values the node test computes too)", () => {
    expect(sampleBucket("req-1", 7)).toBe(3692);
    expect(sampleBucket("", 0)).toBe(18805);
    expect(sampleBucket("abc", 0)).toBe(63451);
  });
});
