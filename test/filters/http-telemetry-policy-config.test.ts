/**
 * Check handler configuration (denier, list, memquota): the controller's schema refuses what the
 * filter's on_configure refuses, in the filter's words, and accepts what it accepts (both run here
 * on the same inputs).
 */
import { describe } from "node:test";
import { itAgrees } from "./config-agreement.js";

const wasm = new URL("../../build/http-telemetry.wasm", import.meta.url).pathname;

const BAD: readonly string[] = [
  '{"handlers": [{"name": "d", "kind": "denier", "status_code": 200}]}',
  '{"handlers": [{"name": "d", "kind": "denier", "status_code": 403.5}]}',
  '{"handlers": [{"name": "d", "kind": "denier", "message": 3}]}',
  `{"handlers": [{"name": "d", "kind": "denier", "message": "${"m".repeat(1025)}"}]}`,
  '{"handlers": [{"name": "d", "kind": "denier", "attribute": "request.host"}]}',
  '{"handlers": [{"name": "l", "kind": "list", "entries": ["a"]}]}',
  '{"handlers": [{"name": "l", "kind": "list", "attribute": "request.host"}]}',
  '{"handlers": [{"name": "l", "kind": "list", "attribute": "request.verb", "entries": []}]}',
  '{"handlers": [{"name": "l", "kind": "list", "attribute": "response.code", "entries": []}]}',
  '{"handlers": [{"name": "l", "kind": "list", "attribute": "request.host", "entries": [1]}]}',
  '{"handlers": [{"name": "l", "kind": "list", "attribute": "request.host", "entries": [{"prefix": ""}]}]}',
  '{"handlers": [{"name": "l", "kind": "list", "attribute": "request.host", "entries": [{"prefix": "a", "exact": "b"}]}]}',
  '{"handlers": [{"name": "l", "kind": "list", "attribute": "request.host", "entries": [], "blacklist": "yes"}]}',
  '{"handlers": [{"name": "l", "kind": "list", "attribute": "request.host", "entries": [], "mode": "deny"}]}',
  '{"handlers": [{"name": "q", "kind": "memquota"}]}',
  '{"handlers": [{"name": "q", "kind": "memquota", "max_amount": 0}]}',
  '{"handlers": [{"name": "q", "kind": "memquota", "max_amount": 1, "valid_duration_ms": 0}]}',
  '{"handlers": [{"name": "q", "kind": "memquota", "max_amount": 1, "max_keys": 100001}]}',
  '{"handlers": [{"name": "q", "kind": "memquota", "max_amount": 1, "key": "request.host"}]}',
  '{"handlers": [{"name": "q", "kind": "memquota", "max_amount": 1, "key": ["response.duration"]}]}',
  '{"handlers": [{"name": "q", "kind": "memquota", "max_amount": 1, "key": ["a","b","c","d","e","f","g","h","i"]}]}',
  '{"handlers": [{"name": "q", "kind": "memquota", "max_amount": 1, "valid_duration": "1s"}]}',
  '{"handlers": [{"name": "d", "kind": "denier"}], "rules": [{"name": "errors", "match": {"response.code": {"exact": 500}}, "handlers": ["d"]}]}',
  '{"handlers": [{"name": "d", "kind": "denier"}], "rules": [{"name": "failed", "match": {"response.flags": {"exact": "UF"}}, "handlers": ["d"]}]}',
  '{"handlers": [{"name": "p", "kind": "prometheus"}, {"name": "q", "kind": "memquota", "max_amount": 1}], "rules": [{"match": {"request.path": {"prefix": "/"}, "request.total_size": {"present": true}}, "handlers": ["p", "q"], "name": "big"}]}',
];

const GOOD: readonly string[] = [
  '{"handlers": [{"name": "d", "kind": "denier"}]}',
  '{"handlers": [{"name": "d", "kind": "denier", "status_code": 451, "message": "", "fail_open": false, "sampling": 50}]}',
  '{"handlers": [{"name": "l", "kind": "list", "attribute": "source.principal", "entries": []}]}',
  '{"handlers": [{"name": "l", "kind": "list", "attribute": "source.namespace", "blacklist": true, "entries": ["default", {"prefix": "dev-"}]}]}',
  '{"handlers": [{"name": "q", "kind": "memquota", "max_amount": 100, "valid_duration_ms": 1000, "max_keys": 10, "key": ["source.principal", "request.path"], "fail_open": false}]}',
  '{"handlers": [{"name": "p", "kind": "prometheus"}, {"name": "d", "kind": "denier"}],' +
    ' "rules": [{"name": "e", "match": {"response.code": {"prefix": "5"}}, "handlers": ["p"]}, {"name": "a", "match": {"request.path": {"prefix": "/admin"}}, "handlers": ["d"]}]}',
];

describe("http-telemetry check handler configuration: controller and filter agree", () => {
  itAgrees("http-telemetry", wasm, BAD, GOOD);
});
