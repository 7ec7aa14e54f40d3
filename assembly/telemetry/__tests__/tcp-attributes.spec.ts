import { AttributeBag, Reporter } from "../attributes";
import { applyClusterService } from "../tcp-attributes";
import { tcpLabelValues } from "../prometheus";
import { Attr, AttrJson, RequestAttributes, attrIndex, attrJson, attrValue, isResponseAttr } from "../request";

function service(cluster: string): string[] {
  const bag = new AttributeBag();
  applyClusterService(bag, cluster);
  return [bag.destinationService, bag.destinationServiceName];
}

describe("destination service from the upstream cluster", () => {
  it("takes an outbound service's host, and its name up to the first dot", () => {
    const cases: string[][] = [
      ["outbound|9080||reviews.bookinfo.svc.cluster.local", "reviews.bookinfo.svc.cluster.local", "reviews"],
      ["outbound|9080|v2|reviews.bookinfo.svc.cluster.local", "reviews.bookinfo.svc.cluster.local", "reviews"],
      ["outbound|443||example", "example", "example"],
      ["PassthroughCluster", "", "PassthroughCluster"],
      ["BlackHoleCluster", "", "BlackHoleCluster"],
      ["InboundPassthroughClusterIpv4", "", "InboundPassthroughClusterIpv4"],
      ["inbound|9080||", "", ""],
      ["outbound|9080|", "", ""],
      ["outbound|9080|a|b|c", "", ""],
      ["outbound|9080||", "", ""],
      ["backend", "", ""],
    ];
    for (let i = 0; i < cases.length; i++) {
      const got = service(cases[i][0]);
      expect(got[0]).toBe(cases[i][1], cases[i][0]);
      expect(got[1]).toBe(cases[i][2], cases[i][0]);
    }
  });
});

describe("Istio TCP label values", () => {
  it("prints an unknown peer as unknown, its revision latest, the local side as it is", () => {
    const bag = new AttributeBag();
    bag.reporter = Reporter.Source;
    bag.source.workload = "ratings-v1";
    applyClusterService(bag, "outbound|9080||reviews.bookinfo.svc.cluster.local");
    const v = tcpLabelValues(bag);
    expect(v.length).toBe(23);
    expect(v[0]).toBe("source");
    expect(v[1]).toBe("ratings-v1");
    expect(v[2]).toBe(""); // local canonical service absent: empty, as istio.stats prints the node's value
    expect(v[9]).toBe("unknown");
    expect(v[14]).toBe("reviews.bookinfo.svc.cluster.local");
    expect(v[16]).toBe("latest");
    expect(v[17]).toBe("reviews");
    expect(v[18]).toBe("unknown");
    expect(v[22]).toBe("unknown");
  });

  it("falls back to the local canonical service inbound, unknown outbound", () => {
    const bag = new AttributeBag();
    bag.destination.canonicalService = "ratings";
    expect(tcpLabelValues(bag)[14]).toBe("ratings");
    bag.reporter = Reporter.Source;
    expect(tcpLabelValues(bag)[14]).toBe("unknown");
  });
});

describe("TCP connection attributes", () => {
  it("are named after the RPC ones and read from the bag and the connection record", () => {
    expect(attrIndex("connection.received.bytes")).toBe(Attr.ConnectionReceivedBytes);
    expect(attrIndex("connection.sent.bytes")).toBe(Attr.ConnectionSentBytes);
    expect(attrIndex("connection.duration")).toBe(Attr.ConnectionDuration);
    expect(attrIndex("connection.requested_server_name")).toBe(Attr.ConnectionRequestedServerName);
    expect(attrIndex("destination.address")).toBe(Attr.DestinationAddress);
    expect(attrIndex("destination.port")).toBe(Attr.DestinationPort);
    expect(attrIndex("protomesh.protocol")).toBe(Attr.ProtomeshProtocol);
    expect(Attr.ConnectionReceivedBytes).toBe(Attr.ResponseFlags + 1);
    const bag = new AttributeBag();
    bag.receivedBytes = 5;
    bag.sentBytes = 11;
    bag.destinationAddress = "10.0.0.7:6379";
    bag.destinationPort = 6379;
    bag.requestedServerName = "redis.example.com";
    bag.sniffedProtocol = "redis";
    const r = new RequestAttributes();
    r.durationMs = 42;
    expect(attrValue(Attr.ConnectionReceivedBytes, bag, r)).toBe("5");
    expect(attrValue(Attr.ConnectionSentBytes, bag, r)).toBe("11");
    expect(attrValue(Attr.ConnectionDuration, bag, r)).toBe("42");
    expect(attrValue(Attr.DestinationPort, bag, r)).toBe("6379");
    expect(attrValue(Attr.DestinationAddress, bag, r)).toBe("10.0.0.7:6379");
    expect(attrValue(Attr.ConnectionRequestedServerName, bag, r)).toBe("redis.example.com");
    expect(attrValue(Attr.ProtomeshProtocol, bag, r)).toBe("redis");
    expect(attrJson(Attr.DestinationPort)).toBe(AttrJson.Number);
    expect(attrJson(Attr.ConnectionDuration)).toBe(AttrJson.Number);
  });

  it("counts bytes and duration as known only at close", () => {
    expect(isResponseAttr(Attr.ConnectionReceivedBytes)).toBe(true);
    expect(isResponseAttr(Attr.ConnectionSentBytes)).toBe(true);
    expect(isResponseAttr(Attr.ConnectionDuration)).toBe(true);
    expect(isResponseAttr(Attr.DestinationPort)).toBe(false);
    expect(isResponseAttr(Attr.ProtomeshProtocol)).toBe(false);
  });
});
