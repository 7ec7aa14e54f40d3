// `destination_service`, `_name` and `_namespace` of an RPC call from the Envoy cluster it was
// routed to. Pure code.
//
// istio_stats takes the service host from the cluster's `istio.services[0]` metadata, its name
// from that entry's `name` or else the host up to the first '.' (istio/proxy
// source/extensions/filters/http/istio_stats/istio_stats.cc, populatePeerInfo). A wasm filter
// cannot read a cluster's metadata by name, but istiod names a service's clusters
// `outbound|<port>|<subset>|<host>` (istio/istio pilot/pkg/model/service.go BuildSubsetKey; the
// controller renders them in controller/istio/cluster-name.ts), and a Kubernetes service host is
// `<name>.<namespace>.svc.<domain>`: the same three values follow from the name.
import { RequestAttributes } from "./request";

const SVC = ".svc.";

/**
 * Sets `r`'s service fields from `cluster`:
 * - `outbound|<port>|<subset>|<host>`: host; name = host up to the first '.'; namespace = the
 *   second label when the third is `svc`, else unknown ("");
 * - `inbound|<port>||` or "": none (the caller's fallback: the local canonical service inbound,
 *   `unknown` outbound, as for an HTTP request without a Host);
 * - any other name (a standalone Envoy's cluster): the name as the service, name and namespace
 *   unknown.
 */
export function setServiceFromCluster(r: RequestAttributes, cluster: string): void {
  r.serviceHost = "";
  r.serviceName = "";
  r.serviceNamespace = "";
  if (cluster.length == 0 || cluster.startsWith("inbound|")) return;
  if (!cluster.startsWith("outbound|")) {
    r.serviceHost = cluster;
    return;
  }
  const bar = cluster.lastIndexOf("|");
  const host = cluster.substring(bar + 1);
  if (host.length == 0) return;
  r.serviceHost = host;
  const dot = host.indexOf(".");
  r.serviceName = dot < 0 ? host : host.substring(0, dot);
  if (dot < 0) return;
  const dot2 = host.indexOf(".", dot + 1);
  if (dot2 > dot + 1 && host.substr(dot2, SVC.length) == SVC) r.serviceNamespace = host.substring(dot + 1, dot2);
  else if (dot2 > dot + 1 && dot2 + 4 == host.length && host.endsWith(".svc")) r.serviceNamespace = host.substring(dot + 1, dot2);
}
