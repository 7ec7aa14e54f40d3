import { HeaderPair } from "../../runtime/pairs";
import { AttributeBag, Reporter, Workload } from "../attributes";
import { applyLabels, setPeerField, PEER_FIELDS } from "../labels";
import { decodeInt64 } from "../reader";
import { TCP_LABELS, encodeTags, labelValue, overflowTags, tcpLabelValues, tcpMetricName, TcpMetric } from "../prometheus";

function pairs(kv: string[]): HeaderPair[] {
  const out = new Array<HeaderPair>();
  for (let i = 0; i + 1 < kv.length; i += 2) out.push(new HeaderPair(kv[i], kv[i + 1]));
  return out;
}

describe("workload labels", () => {
  it("takes canonical service/revision and prefers the qualified app/version labels", () => {
    const w = new Workload();
    applyLabels(w, pairs(["app", "short", "app.kubernetes.io/name", "long", "version", "v1",
      "service.istio.io/canonical-name", "reviews", "service.istio.io/canonical-revision", "v2"]));
    expect(w.app).toBe("long");
    expect(w.version).toBe("v1");
    expect(w.canonicalService).toBe("reviews");
    expect(w.canonicalRevision).toBe("v2");
  });

  it("leaves absent labels empty", () => {
    const w = new Workload();
    applyLabels(w, pairs([]));
    expect(w.app).toBe("");
    expect(w.canonicalService).toBe("");
  });

  it("maps every metadata-exchange field", () => {
    const w = new Workload();
    for (let i = 0; i < PEER_FIELDS.length; i++) setPeerField(w, i, PEER_FIELDS[i] + "-v");
    expect(w.workload).toBe("workload-v");
    expect(w.namespace).toBe("namespace-v");
    expect(w.cluster).toBe("cluster-v");
    expect(w.canonicalService).toBe("service-v");
    expect(w.canonicalRevision).toBe("revision-v");
    expect(w.app).toBe("app-v");
    expect(w.version).toBe("version-v");
  });
});

describe("property decoders", () => {
  it("reads a little-endian int64 and falls back on a bad size", () => {
    const b = new ArrayBuffer(8);
    store<i64>(changetype<usize>(b), 2);
    expect(decodeInt64(b, 0)).toBe(2);
    expect(decodeInt64(new ArrayBuffer(4), -1)).toBe(-1);
  });
});

describe("attribute bag", () => {
  it("puts the local workload on the reporter's side", () => {
    const bag = new AttributeBag();
    bag.reporter = Reporter.Source;
    bag.local().workload = "me";
    bag.peer().workload = "them";
    expect(bag.source.workload).toBe("me");
    expect(bag.destination.workload).toBe("them");
    expect(bag.securityPolicy()).toBe("unknown");
    bag.reporter = Reporter.Destination;
    expect(bag.securityPolicy()).toBe("none");
    bag.connectionMtls = true;
    expect(bag.securityPolicy()).toBe("mutual_tls");
  });
});

describe("prometheus name encoding", () => {
  it("encodes Istio's TCP label set in order, unknown for empty", () => {
    const bag = new AttributeBag();
    bag.destination.workload = "ratings-v1";
    bag.destination.namespace = "bookinfo";
    bag.destination.canonicalService = "ratings";
    bag.requestProtocol = "dubbo";
    const v = tcpLabelValues(bag);
    expect(v.length).toBe(TCP_LABELS.length);
    expect(v[0]).toBe("destination");
    expect(v[1]).toBe("unknown");
    expect(v[9]).toBe("ratings-v1");
    expect(v[14]).toBe("ratings"); // destination_service falls back to the canonical name
    expect(v[18]).toBe("bookinfo");
    expect(v[20]).toBe("dubbo");
    expect(v[21]).toBe("-");
    expect(v[22]).toBe("none");
    const tags = encodeTags(v);
    expect(tags.startsWith("reporter=.=destination;.;source_workload=.=unknown;.;")).toBe(true);
    expect(tags.endsWith("request_protocol=.=dubbo;.;response_flags=.=-;.;connection_security_policy=.=none;.;")).toBe(true);
  });

  it("makes values safe for the tag regex", () => {
    expect(labelValue("")).toBe("unknown");
    expect(labelValue("a;.;b")).toBe("a_._b");
    expect(labelValue("x\ny")).toBe("x_y");
    expect(labelValue("plain")).toBe("plain");
    expect(labelValue("z".repeat(200)).length).toBe(128);
  });

  it("names the four TCP metrics and the overflow series", () => {
    expect(tcpMetricName(TcpMetric.ConnectionsOpened)).toBe("tcp_connections_opened_total");
    expect(tcpMetricName(TcpMetric.ReceivedBytes)).toBe("tcp_received_bytes_total");
    expect(overflowTags().startsWith("reporter=.=overflow;.;")).toBe(true);
  });
});
