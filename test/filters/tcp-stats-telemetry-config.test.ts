/**
 * tcp-stats `handlers` / `rules`: the controller's schema refuses what the filter's on_configure
 * refuses, in the filter's words, and accepts what it accepts (both run here on the same inputs).
 */
import { describe } from "node:test";
import { itAgrees } from "./config-agreement.js";

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
  itAgrees("tcp-stats", wasm, BAD, GOOD);
});
