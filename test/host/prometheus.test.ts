/**
 * The emulator's `/stats/prometheus` text against fixed expected text, and every rendering
 * through a strict exposition-format parser.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { extractTags, formatG32, renderPrometheus, statNameCompare, type PromStat, type StatsTag } from "./prometheus.js";
import { ExpositionError, parsePrometheusText } from "./prometheus-parse.js";

/** istio/istio tools/packaging/common/envoy_bootstrap.json: one entry per extraStatTags key. */
const istioTag = (key: string): StatsTag => ({ tagName: key, regex: `(${key}=\\.=(.*?);\\.;)` });
const CLUSTER_NAME: StatsTag = { tagName: "cluster_name", regex: "^cluster\\.((.+?(\\..+?\\.svc\\.cluster\\.local)?)\\.)" };

describe("Envoy /stats/prometheus rendering", () => {
  it("cuts the first group out of the full name and takes the second as the value, in extractor order", () => {
    assert.deepEqual(
      extractTags("wasmcustom.source_workload=.=a;.;reporter=.=destination;.;istio_tcp_connections_opened_total", [
        istioTag("reporter"),
        istioTag("source_workload"),
      ]),
      {
        extracted: "wasmcustom.istio_tcp_connections_opened_total",
        tags: [
          { name: "reporter", value: "destination" },
          { name: "source_workload", value: "a" },
        ],
      },
    );
    assert.deepEqual(extractTags("cluster.backend.upstream_cx_total", [CLUSTER_NAME]), {
      extracted: "cluster.upstream_cx_total",
      tags: [{ name: "cluster_name", value: "backend" }],
    });
  });

  it("orders StatNames token by token", () => {
    assert.deepEqual(["a_b.c", "a.c", "a.b.c", "a"].sort(statNameCompare), ["a", "a.b.c", "a.c", "a_b.c"]);
  });

  it("prints numbers like fmt {:.32g}", () => {
    assert.deepEqual([0.5, 1, 3600000, 0, 133.5].map(formatG32), ["0.5", "1", "3600000", "0", "133.5"]);
    assert.equal(formatG32(0.1), "0.10000000000000000555111512312578");
  });

  it("renders counters, gauges and histograms exactly as Envoy does", () => {
    const stats: PromStat[] = [
      { name: "wasmcustom.reporter=.=destination;.;source_workload=.=b;.;t_total", type: "counter", value: 2n },
      { name: "wasmcustom.reporter=.=destination;.;source_workload=.=a\"q\\z;.;t_total", type: "counter", value: 1n },
      // `.` stops at a newline (ECMAScript grammar, as Envoy's std::regex): no tag, a mangled name.
      { name: "wasmcustom.source_workload=.=x\ny;.;u_total", type: "counter", value: 4n },
      { name: "wasmcustom.native", type: "gauge", value: 1n, tags: [{ name: "peer.name", value: "x\ny" }] },
      { name: "wasmcustom.plain.count", type: "counter", value: 7n },
      { name: "wasmcustom.9lives", type: "counter", value: 9n },
      { name: "cluster.backend.upstream_cx_total", type: "counter", value: 3n },
      { name: "wasmcustom.tcp-stats.active", type: "gauge", value: 0n },
      { name: "wasmcustom.lat_ms", type: "histogram", samples: [0n, 3n, 5n, 120n] },
    ];
    const text = renderPrometheus(stats, { statsTags: [CLUSTER_NAME, istioTag("reporter"), istioTag("source_workload")] });
    const buckets = (counts: number[]) =>
      ["0.5", "1", "5", "10", "25", "50", "100", "250", "500", "1000", "2500", "5000", "10000", "30000", "60000", "300000", "600000", "1800000", "3600000"]
        .map((le, i) => `lat_ms_bucket{le="${le}"} ${counts[i]}\n`)
        .join("");
    assert.equal(
      text,
      "# TYPE envoy_cluster_upstream_cx_total counter\n" +
        'envoy_cluster_upstream_cx_total{cluster_name="backend"} 3\n' +
        "\n" +
        "# TYPE plain_count counter\n" +
        "plain_count{} 7\n" +
        "\n" +
        "# TYPE source_workload___x_y___u_total counter\n" +
        "source_workload___x_y___u_total{} 4\n" +
        "\n" +
        "# TYPE t_total counter\n" +
        't_total{reporter="destination",source_workload="a\\"q\\\\z"} 1\n' +
        't_total{reporter="destination",source_workload="b"} 2\n' +
        "\n" +
        "# TYPE native gauge\n" +
        'native{peer_name="x\\ny"} 1\n' +
        "\n" +
        "# TYPE tcp_stats_active gauge\n" +
        "tcp_stats_active{} 0\n" +
        "\n" +
        "# TYPE lat_ms histogram\n" +
        buckets([1, 1, 2, 3, 3, 3, 3, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4]) +
        'lat_ms_bucket{le="+Inf"} 4\n' +
        "lat_ms_sum{} 133.0999999999999943156581139192\n" +
        "lat_ms_count{} 4\n" +
        "\n",
    );
    const families = parsePrometheusText(text);
    assert.deepEqual(
      families.map((f) => [f.name, f.type, f.samples.length]),
      [
        ["envoy_cluster_upstream_cx_total", "counter", 1],
        ["plain_count", "counter", 1],
        ["source_workload___x_y___u_total", "counter", 1],
        ["t_total", "counter", 2],
        ["native", "gauge", 1],
        ["tcp_stats_active", "gauge", 1],
        ["lat_ms", "histogram", 22],
      ],
    );
    assert.equal(families[3]!.samples[0]!.labels.source_workload, 'a"q\\z');
    assert.equal(families[4]!.samples[0]!.labels.peer_name, "x\ny");
  });

  it("prints one family per namespace: the same name in wasmcustom and istiocustom is two TYPE lines", () => {
    const stats: PromStat[] = [
      { name: "wasmcustom.reporter=.=destination;.;istio_tcp_connections_opened_total", type: "counter", value: 1n },
      { name: "istiocustom.istio_tcp_connections_opened_total", type: "counter", value: 5n, tags: [{ name: "reporter", value: "destination" }, { name: "request_protocol", value: "tcp" }] },
    ];
    const text = renderPrometheus(stats, { statsTags: [istioTag("reporter")], customNamespaces: ["wasmcustom", "istiocustom"] });
    assert.equal(
      text,
      "# TYPE istio_tcp_connections_opened_total counter\n" +
        'istio_tcp_connections_opened_total{reporter="destination",request_protocol="tcp"} 5\n' +
        "\n" +
        "# TYPE istio_tcp_connections_opened_total counter\n" +
        'istio_tcp_connections_opened_total{reporter="destination"} 1\n' +
        "\n",
    );
    assert.throws(() => parsePrometheusText(text), (e: unknown) => e instanceof ExpositionError && /second TYPE line for istio_tcp_connections_opened_total/.test(e.message));
  });

  it("the strict parser rejects what Prometheus rejects", () => {
    const bad = [
      "a{} 1\na{} 2\n",
      "# TYPE a counter\na{} 1\n# TYPE b counter\nb{} 1\na{x=\"1\"} 1\n",
      'a{x="\\t"} 1\n',
      "a{} one\n",
      "# TYPE h histogram\nh_bucket{} 1\n",
      "a{} 1",
    ];
    for (const t of bad) assert.throws(() => parsePrometheusText(t), ExpositionError, JSON.stringify(t));
  });
});
