/**
 * tcp-stats' Istio TCP labels against fixed tables of what istio.stats prints for the same
 * connection (istio/proxy source/extensions/filters/http/istio_stats/istio_stats.cc,
 * populatePeerInfo): inbound and outbound, peer known (metadata exchange's peer object) and
 * unknown. Real client → emulated TCP listener (tcp-stats + tcp_proxy) → real upstream; the
 * labels are read from Envoy's Prometheus text with the controller's stats_tags.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Host } from "../host/index.js";
import type { NetworkFilterFactory } from "../host/types.js";
import { connect, doublingServer, readAll, withTimeout } from "../host/fakes.js";
import { prometheusText } from "../host/prometheus.js";
import { parsePrometheusText } from "../host/prometheus-parse.js";
import { ISTIO_TCP_LABELS, tcpStatsTags } from "../../controller/telemetry/stats-tags.js";

const wasm = new URL("../../build/tcp-stats.wasm", import.meta.url).pathname;

/** The local pod: both app label spellings, so the table shows which one istio.stats takes. */
const NODE = {
  WORKLOAD_NAME: "ratings-v1",
  NAMESPACE: "bookinfo",
  CLUSTER_ID: "Kubernetes",
  LABELS: {
    app: "ratings",
    version: "v1",
    "app.kubernetes.io/name": "ratings-app",
    "app.kubernetes.io/version": "1.0.0",
    "service.istio.io/canonical-name": "ratings",
    "service.istio.io/canonical-revision": "v1",
  },
};
/** The peer object metadata exchange leaves (istio/proxy source/extensions/common/metadata_object.h fields). */
const PEER = { workload: "productpage-v1", namespace: "frontend", cluster: "Kubernetes", service: "productpage", revision: "v2", app: "productpage", version: "v2" };
const OUTBOUND_CLUSTER = "outbound|9080||reviews.bookinfo.svc.cluster.local";

function peerExchange(key: "downstream_peer_obj" | "upstream_peer_obj"): NetworkFilterFactory {
  return {
    name: "istio.metadata_exchange",
    create: (cb) => ({
      onNewConnection: () => {
        cb.connection.filterState.set(key, { value: new Uint8Array(0), span: "FilterChain", readOnly: false, fields: PEER });
        return "Continue";
      },
      onData: () => "Continue",
      onWrite: () => "Continue",
      onEvent: () => {},
    }),
  };
}

const INBOUND_UNKNOWN_PEER = {
  reporter: "destination",
  source_workload: "unknown",
  source_canonical_service: "unknown",
  source_canonical_revision: "latest",
  source_workload_namespace: "unknown",
  source_principal: "unknown",
  source_app: "unknown",
  source_version: "unknown",
  source_cluster: "unknown",
  destination_workload: "ratings-v1",
  destination_workload_namespace: "bookinfo",
  destination_principal: "unknown",
  destination_app: "ratings",
  destination_version: "v1",
  destination_service: "ratings",
  destination_canonical_service: "ratings",
  destination_canonical_revision: "v1",
  destination_service_name: "ratings",
  destination_service_namespace: "bookinfo",
  destination_cluster: "Kubernetes",
  request_protocol: "tcp",
  response_flags: "-",
  connection_security_policy: "none",
};

const INBOUND_KNOWN_PEER = {
  ...INBOUND_UNKNOWN_PEER,
  source_workload: "productpage-v1",
  source_canonical_service: "productpage",
  source_canonical_revision: "v2",
  source_workload_namespace: "frontend",
  source_app: "productpage",
  source_version: "v2",
  source_cluster: "Kubernetes",
};

const OUTBOUND_UNKNOWN_PEER = {
  reporter: "source",
  source_workload: "ratings-v1",
  source_canonical_service: "ratings",
  source_canonical_revision: "v1",
  source_workload_namespace: "bookinfo",
  source_principal: "unknown",
  source_app: "ratings",
  source_version: "v1",
  source_cluster: "Kubernetes",
  destination_workload: "unknown",
  destination_workload_namespace: "unknown",
  destination_principal: "unknown",
  destination_app: "unknown",
  destination_version: "unknown",
  destination_service: "reviews.bookinfo.svc.cluster.local",
  destination_canonical_service: "unknown",
  destination_canonical_revision: "latest",
  destination_service_name: "reviews",
  destination_service_namespace: "unknown",
  destination_cluster: "unknown",
  request_protocol: "tcp",
  response_flags: "-",
  connection_security_policy: "unknown",
};

const OUTBOUND_KNOWN_PEER = {
  ...OUTBOUND_UNKNOWN_PEER,
  destination_workload: "productpage-v1",
  destination_workload_namespace: "frontend",
  destination_app: "productpage",
  destination_version: "v2",
  destination_canonical_service: "productpage",
  destination_canonical_revision: "v2",
  destination_service_namespace: "frontend",
  destination_cluster: "Kubernetes",
};

/** A pod without Istio's node metadata: istio.stats prints the local side's values as they are, empty. */
const INBOUND_NO_NODE = {
  ...INBOUND_UNKNOWN_PEER,
  destination_workload: "",
  destination_workload_namespace: "",
  destination_app: "",
  destination_version: "",
  destination_service: "",
  destination_canonical_service: "",
  destination_canonical_revision: "",
  destination_service_name: "",
  destination_service_namespace: "",
  destination_cluster: "",
};

describe("tcp-stats Istio TCP labels equal istio.stats'", () => {
  let upstream: Awaited<ReturnType<typeof doublingServer>>;

  before(async () => {
    upstream = await doublingServer();
  });
  after(async () => {
    await upstream.close();
  });

  const cases: { name: string; direction: "INBOUND" | "OUTBOUND"; cluster: string; peer?: "downstream_peer_obj" | "upstream_peer_obj"; node: boolean; want: Record<string, string> }[] = [
    { name: "inbound, peer unknown", direction: "INBOUND", cluster: "inbound|9080||", node: true, want: INBOUND_UNKNOWN_PEER },
    { name: "inbound, peer known", direction: "INBOUND", cluster: "inbound|9080||", peer: "downstream_peer_obj", node: true, want: INBOUND_KNOWN_PEER },
    { name: "outbound, peer unknown", direction: "OUTBOUND", cluster: OUTBOUND_CLUSTER, node: true, want: OUTBOUND_UNKNOWN_PEER },
    { name: "outbound, peer known", direction: "OUTBOUND", cluster: OUTBOUND_CLUSTER, peer: "upstream_peer_obj", node: true, want: OUTBOUND_KNOWN_PEER },
    { name: "inbound, no node metadata", direction: "INBOUND", cluster: "backend", node: false, want: INBOUND_NO_NODE },
  ];

  for (const c of cases) {
    it(c.name, async () => {
      const host = new Host({
        clusters: { [c.cluster]: { endpoints: [{ host: "127.0.0.1", port: upstream.port }] } },
        nodeMetadata: c.node ? (NODE as never) : undefined,
      });
      try {
        const plugin = await host.loadPlugin({ name: "tcp-stats", wasm, rootId: "tcp-stats", vmCount: 1, configuration: '{"istio_metrics": "istio"}' });
        const filters = c.peer === undefined ? [plugin] : [peerExchange(c.peer), plugin];
        const l = await host.tcpListener({ direction: c.direction, filterChains: [{ filters, tcpProxy: { cluster: c.cluster } }] });
        const s = await connect(l.port);
        const reading = readAll(s);
        s.end(Buffer.alloc(5, 0x62));
        assert.equal((await reading).bytes.length, 11);
        await withTimeout(Promise.all(l.connections.map((x) => x.closed)), 5000, "connection to close");
        const fams = parsePrometheusText(prometheusText(host, { statsTags: tcpStatsTags() }));
        for (const [name, value] of [
          ["istio_tcp_connections_opened_total", 1],
          ["istio_tcp_connections_closed_total", 1],
          ["istio_tcp_received_bytes_total", 5],
          ["istio_tcp_sent_bytes_total", 11],
        ] as const) {
          const f = fams.find((x) => x.name === name);
          assert.ok(f, name);
          assert.equal(f.samples.length, 1, `${name}: one series`);
          assert.deepEqual({ ...f.samples[0]!.labels }, c.want, name);
          assert.deepEqual(Object.keys(f.samples[0]!.labels), [...ISTIO_TCP_LABELS], `${name}: label order`);
          assert.equal(f.samples[0]!.value, value, name);
        }
      } finally {
        await host.close();
      }
    });
  }
});
