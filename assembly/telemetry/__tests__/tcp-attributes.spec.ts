import { AttributeBag, Reporter } from "../attributes";
import { applyClusterService } from "../tcp-attributes";
import { tcpLabelValues } from "../prometheus";

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
