/**
 * The cluster names istiod gives a sidecar, which is what a rule set must name inside a mesh:
 * `outbound|<port>|<subset>|<host>` for a service (the subset empty when there is none) and
 * `inbound|<port>||` for the workload's own port (istio/istio release-1.29 pilot/pkg/model/service.go,
 * BuildSubsetKey / BuildInboundSubsetKey). A subset cluster exists only when a DestinationRule for
 * the host defines that subset, and an outbound cluster only when the sidecar's scope (the Sidecar
 * resource's egress hosts) includes the service; tcp_proxy, dubbo_proxy and thrift_proxy treat a
 * missing cluster like an unhealthy one (the connection or call fails).
 *
 * A target as the command line writes it (`--cluster <rule cluster>=<target>`):
 * - `<host>`, `<host>:<port>`, `<host>/<subset>`, `<host>:<port>/<subset>`: an outbound cluster,
 *   the port defaulting to the rendered port;
 * - `inbound`: the workload's own port, `inbound|<port>||`;
 * - an Istio cluster name as is (`outbound|20880|v2|orders.shop.svc.cluster.local`).
 */

/** One of istiod's sidecar clusters. */
export type IstioCluster =
  | { readonly direction: "outbound"; readonly port: number; readonly host: string; readonly subset?: string }
  | { readonly direction: "inbound"; readonly port: number };

/** A DNS-1123 subdomain (Kubernetes Service FQDNs, ServiceEntry hosts). */
const DNS_1123_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** A DNS-1123 label: what istiod's webhook accepts as a DestinationRule subset name (pkg/config/validation, validateSubsetName). */
const DNS_1123_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

function checkPort(port: number, what: string): void {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`${what}: port ${port} must be an integer in [1, 65535]`);
}

/** `outbound|<port>|<subset>|<host>` or `inbound|<port>||`, after checking each part. */
export function istioClusterName(cluster: IstioCluster): string {
  checkPort(cluster.port, "Istio cluster");
  if (cluster.direction === "inbound") return `inbound|${cluster.port}||`;
  if (!DNS_1123_SUBDOMAIN.test(cluster.host)) {
    throw new Error(`Istio cluster: host ${JSON.stringify(cluster.host)} must be a lower-case DNS name such as orders.shop.svc.cluster.local`);
  }
  if (!cluster.host.includes(".")) {
    throw new Error(
      `Istio cluster: host ${JSON.stringify(cluster.host)} is a short name; istiod names clusters by the service's FQDN, ` +
        `e.g. ${cluster.host}.<namespace>.svc.cluster.local`,
    );
  }
  const subset = cluster.subset ?? "";
  if (subset !== "" && !DNS_1123_LABEL.test(subset)) {
    throw new Error(`Istio cluster: subset ${JSON.stringify(subset)} must be a DNS-1123 label, as DestinationRule subset names are`);
  }
  return `outbound|${cluster.port}|${subset}|${cluster.host}`;
}

/** Parses an Istio sidecar cluster name; undefined when `name` is not one. */
export function parseIstioClusterName(name: string): IstioCluster | undefined {
  const m = /^(inbound|outbound)\|(\d{1,5})\|([^|]*)\|([^|]*)$/.exec(name);
  if (m === null) return undefined;
  const port = Number(m[2]);
  if (port < 1 || port > 65535) return undefined;
  if (m[1] === "inbound") return m[3] === "" && m[4] === "" ? { direction: "inbound", port } : undefined;
  if (m[4] === "" || !DNS_1123_SUBDOMAIN.test(m[4]!) || (m[3] !== "" && !DNS_1123_LABEL.test(m[3]!))) return undefined;
  return m[3] === "" ? { direction: "outbound", host: m[4]!, port } : { direction: "outbound", host: m[4]!, port, subset: m[3]! };
}

/**
 * The Istio cluster name for a command-line target (see the module comment), `port` being the
 * port rendered for. Throws naming the target and the accepted forms.
 */
export function istioClusterForTarget(target: string, port: number): string {
  const forms = "<host>[:<port>][/<subset>] (e.g. orders.shop.svc.cluster.local/v2), inbound, or an Istio cluster name (outbound|<port>|<subset>|<host>)";
  if (target === "inbound") return istioClusterName({ direction: "inbound", port });
  if (target.includes("|")) {
    const parsed = parseIstioClusterName(target);
    if (parsed === undefined) throw new Error(`cluster target ${JSON.stringify(target)} is not an Istio cluster name; give ${forms}`);
    return istioClusterName(parsed);
  }
  const m = /^([^:/]+)(?::(\d+))?(?:\/(.+))?$/.exec(target);
  if (m === null) throw new Error(`cluster target ${JSON.stringify(target)}: give ${forms}`);
  try {
    return istioClusterName({ direction: "outbound", host: m[1]!, port: m[2] === undefined ? port : Number(m[2]), subset: m[3] });
  } catch (err) {
    throw new Error(`cluster target ${JSON.stringify(target)}: ${(err as Error).message.replace(/^Istio cluster: /, "")}`);
  }
}
