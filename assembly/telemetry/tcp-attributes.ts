// The TCP ingestion adapter's view of a connection's destination service. Pure code.
//
// istio.stats takes `destination_service` / `_name` of a TCP connection from the upstream
// cluster, never from a Host header (istio/proxy source/extensions/filters/http/istio_stats/
// istio_stats.cc, populatePeerInfo: the cluster metadata's `istio.services[0].host` / `.name`,
// the name defaulting to the host up to its first '.'; the cluster's own name for
// BlackHoleCluster, PassthroughCluster and InboundPassthroughCluster[Ipv4|Ipv6]). Reading that
// metadata from wasm means fetching `xds.cluster_metadata` as a serialized Metadata message and
// decoding a Struct list; the cluster's name carries the same host for an outbound service,
// because istiod builds it from that service: `outbound|<port>|<subset>|<host>` (istio/istio
// pilot/pkg/model/service.go BuildSubsetKey). One property read per connection instead.
import { AttributeBag } from "./attributes";

const PASSTHROUGH: string[] = [
  "BlackHoleCluster", "PassthroughCluster", "InboundPassthroughCluster", "InboundPassthroughClusterIpv4", "InboundPassthroughClusterIpv6",
];

/**
 * Fills `destinationService` (the service host) and `destinationServiceName` from the upstream
 * cluster's name; leaves both "" for a cluster name that names no service (`inbound|<port>||`,
 * a non-Istio cluster), so the labels fall back as istio.stats' do.
 */
export function applyClusterService(bag: AttributeBag, cluster: string): void {
  if (PASSTHROUGH.includes(cluster)) {
    bag.destinationService = "";
    bag.destinationServiceName = cluster;
    return;
  }
  if (!cluster.startsWith("outbound|")) return;
  const host = cluster.substring(cluster.lastIndexOf("|") + 1);
  // Exactly four parts: outbound, port, subset, host.
  let bars = 0;
  for (let i = 0; i < cluster.length; i++) if (cluster.charCodeAt(i) == 0x7c) bars++;
  if (bars != 3 || host.length == 0) return;
  const dot = host.indexOf(".");
  bag.destinationService = host;
  bag.destinationServiceName = dot < 0 ? host : host.substring(0, dot);
}
