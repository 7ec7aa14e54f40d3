/**
 * tcp-stats `handlers` / `rules`: the controller's schema refuses what the filter's on_configure
 * refuses, in the filter's words, and accepts what it accepts (both run here on the same inputs).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { checkConfiguration } from "../../controller/config/index.js";
import { Host } from "../host/index.js";

const wasm = new URL("../../build/tcp-stats.wasm", import.meta.url).pathname;

const BAD: readonly string[] = [
  '{"istio_metrics": "istio", "handlers": [{"name": "p", "kind": "prometheus"}]}',
  '{"rules": [{"name": "r", "handlers": ["p"]}], "istio_metrics": "off"}',
  '{"handlers": []}',
  '{"handlers": [{"name": "p", "kind": "statsd"}]}',
  '{"handlers": [{"name": "p", "kind": "prometheus", "metrics": "both"}]}',
  '{"handlers": [{"name": "p", "kind": "prometheus", "dimensions": {"sni": "connection.requested_server_name"}}]}',
  '{"handlers": [{"name": "p", "kind": "prometheus"}], "rules": [{"name": "long", "match": {"connection.duration": {"present": true}}, "handlers": ["p"]}]}',
  '{"rules": [{"name": "big", "match": {"connection.received.bytes": {"exact": "0"}}, "handlers": ["prometheus"]}]}',
  '{"handlers": [{"name": "d", "kind": "denier"}], "rules": [{"name": "chatty", "match": {"connection.sent.bytes": {"prefix": "1"}}, "handlers": ["d"]}]}',
  '{"handlers": [{"name": "q", "kind": "memquota", "max_amount": 1, "key": ["connection.duration"]}]}',
  '{"handlers": [{"name": "l", "kind": "accesslog", "attributes": ["connection.bytes"]}]}',
  '{"handlers": [{"name": "l", "kind": "list", "attribute": "destination.port"}]}',
];

const GOOD: readonly string[] = [
  '{"handlers": [{"name": "p", "kind": "prometheus", "metrics": "istio", "max_series": 10}]}',
  '{"handlers": [{"name": "log", "kind": "accesslog", "attributes": ["connection.id", "destination.port", "connection.duration", "protomesh.protocol"]}],' +
    ' "rules": [{"name": "long", "match": {"connection.duration": {"present": true}}, "handlers": ["log"]}]}',
  '{"stat_prefix": "mesh.tcp", "otlp": {"cluster": "otel"}, "handlers": [{"name": "d", "kind": "denier"}, {"name": "p", "kind": "prometheus"}],' +
    ' "rules": [{"name": "redis", "match": {"destination.port": {"exact": 6379}}, "handlers": ["d"]}, {"name": "all", "handlers": ["p"]}]}',
  '{"handlers": [{"name": "q", "kind": "memquota", "max_amount": 100, "key": ["source.principal"]}, {"name": "l", "kind": "list", "attribute": "source.workload", "entries": [{"prefix": "frontend-"}]}]}',
];

describe("tcp-stats handlers and rules: controller and filter agree", () => {
  it("gives the filter's error line for each bad configuration", async () => {
    const host = new Host();
    try {
      for (const config of BAD) {
        await assert.rejects(host.loadPlugin({ name: "c", wasm, rootId: "tcp-stats", vmCount: 1, configuration: config }), config);
        const logged = host.logs.filter((e) => e.level === "error").at(-1)?.message ?? "";
        assert.match(logged, /^tcp-stats: invalid configuration: /, config);
        assert.deepEqual(checkConfiguration("tcp-stats", config).map((p) => `tcp-stats: invalid configuration: ${p}`), [logged], config);
      }
    } finally {
      await host.close();
    }
  });

  it("accepts what the filter accepts", async () => {
    const host = new Host();
    try {
      for (const [i, config] of GOOD.entries()) {
        assert.deepEqual(checkConfiguration("tcp-stats", config), [], config);
        await host.loadPlugin({ name: `ok${i}`, wasm, rootId: "tcp-stats", vmCount: 1, configuration: config });
      }
      assert.deepEqual(host.logs.filter((e) => e.level === "error"), []);
    } finally {
      await host.close();
    }
  });
});
