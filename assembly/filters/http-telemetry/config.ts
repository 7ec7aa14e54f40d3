// http-telemetry configuration: the filter's own fields, then the engine's handlers and rules
// (assembly/telemetry/config.ts, the same schema the dubbo and thrift filters take under
// `telemetry`). Pure code: as-pect tests it directly.
//
//   {"stat_prefix": "http_telemetry", "seed": 0, "max_connections": 1024,
//    "handlers": [{"name": "prom", "kind": "prometheus", "metrics": "auto", "max_series": 1000,
//                  "dimensions": {"request_method": "request.method"}},
//                 {"name": "audit", "kind": "accesslog", "fail_open": false, "sampling": 10,
//                  "attributes": ["request.method", "request.path", "response.code"]}],
//    "rules": [{"name": "api", "match": {"request.path": {"prefix": "/api/"}}, "handlers": ["prom", "audit"]}]}
import { JsonKind, JsonValue, isBlank, kindName, parseJsonBytes } from "../../runtime/json";
import { Fields } from "../../runtime/fields";
import { DEFAULT_LOG_ATTRIBUTES, TelemetryConfig, finishTelemetry, parseTelemetryHandlers } from "../../telemetry/config";

export * from "../../telemetry/config";

export const DEFAULT_STAT_PREFIX = "http_telemetry";
/** Connections whose attributes a VM keeps (oldest forgotten first). */
export const DEFAULT_MAX_CONNECTIONS: i32 = 1024;
export const MAX_MAX_CONNECTIONS: i32 = 65536;

const TOP_FIELDS = "stat_prefix, seed, max_connections, handlers, rules";

export class HttpTelemetryConfig extends TelemetryConfig {
  statPrefix: string = DEFAULT_STAT_PREFIX;
  /** Sampling seed; 0 means 0 (decisions depend only on the request id, the same on every proxy). */
  seed: u32 = 0;
  maxConnections: i32 = DEFAULT_MAX_CONNECTIONS;
}

/** `error` is the full log line when the configuration is rejected, "" otherwise. */
export class HttpTelemetryConfigParse {
  constructor(public config: HttpTelemetryConfig, public error: string) {}
}

function invalid(c: HttpTelemetryConfig, why: string): HttpTelemetryConfigParse {
  return new HttpTelemetryConfigParse(c, "http-telemetry: invalid configuration: " + why);
}

export function parseHttpTelemetryConfig(text: string): HttpTelemetryConfigParse {
  return parseHttpTelemetryConfigBytes(String.UTF8.encode(text));
}

export function parseHttpTelemetryConfigBytes(bytes: ArrayBuffer): HttpTelemetryConfigParse {
  const c = new HttpTelemetryConfig();
  const f = new Fields();
  let handlersSeen = false;
  let rulesValue: JsonValue | null = null;
  if (!isBlank(bytes)) {
    const p = parseJsonBytes(bytes);
    if (!p.ok) return invalid(c, p.message());
    const v = p.value!;
    if (v.kind != JsonKind.Object) return invalid(c, "expected a JSON object, found " + kindName(v.kind));
    for (let i = 0; i < v.keys.length && f.ok; i++) {
      const key = v.keys[i];
      const val = v.values[i];
      if (key == "stat_prefix") {
        const s = f.statPrefix(val, key);
        if (f.ok) c.statPrefix = s;
      } else if (key == "seed") {
        c.seed = <u32>f.int(val, key, "a seed", 0, 2147483647);
      } else if (key == "max_connections") {
        c.maxConnections = f.int(val, key, "a number of connections", 1, MAX_MAX_CONNECTIONS);
      } else if (key == "handlers") {
        handlersSeen = true;
        parseTelemetryHandlers(f, val, c, DEFAULT_LOG_ATTRIBUTES, "");
      } else if (key == "rules") {
        rulesValue = val;
      } else {
        f.unknown(key, TOP_FIELDS);
      }
    }
  }
  // Rules name handlers, so they are read once every handler is known, wherever they stand.
  finishTelemetry(f, handlersSeen, rulesValue, c, "");
  if (!f.ok) return invalid(c, f.error);
  return new HttpTelemetryConfigParse(c, "");
}
