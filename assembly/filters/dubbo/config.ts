// dubbo filter configuration: the rule model's JSON form (controller/rules/schema.ts, parsed by the
// shared rpc/rule-parse.ts with Dubbo's version, group and fault.delay) plus the deployment,
// limits and seed. Pure code: as-pect tests it directly.
//
//   {"stat_prefix": "dubbo", "routing": "connection", "decode_timeout_ms": 5000,
//    "max_body_bytes": 8388608, "seed": 0,
//    "rules": [{"name": "orders", "match": {"service": {"exact": "com.acme.OrderService"}},
//               "route": {"cluster": "orders-v1"}}]}
import { JsonKind, isBlank, kindName, parseJsonBytes } from "../../runtime/json";
import { TelemetryConfig, DEFAULT_RPC_LOG_ATTRIBUTES, parseTelemetrySection } from "../../telemetry/config";
import { JsonValue } from "../../runtime/json";
import { Fields } from "../../runtime/fields";
import { DUBBO_STATUS_SERVICE_ERROR, DUBBO_STATUS_SERVER_THREADPOOL_EXHAUSTED } from "../../codecs/dubbo/decoder";
import { Rule } from "../rpc/rule";
import { RuleSyntax, parseRules } from "../rpc/rule-parse";

// Every default and limit in one place (controller/config/dubbo.ts mirrors them).
export const DEFAULT_STAT_PREFIX = "dubbo";
export const DEFAULT_DECODE_TIMEOUT_MS: i32 = 5000;
export const MAX_DECODE_TIMEOUT_MS: i32 = 600000;
export const DEFAULT_MAX_BODY_BYTES: i32 = 8 * 1024 * 1024;
/** Envoy's dubbo_proxy refuses larger bodies (dubbo_protocol_impl.cc MaxBodySize). */
export const MAX_MAX_BODY_BYTES: i32 = 16 * 1024 * 1024;
export const MAX_RULES: i32 = 256;
/** Requests waiting for their response per connection; more go unmeasured (never refused). */
export const MAX_PENDING_REQUESTS: i32 = 1024;

/**
 * Response status of our refusals (apache/dubbo org.apache.dubbo.remoting.exchange.Response).
 * Deny and abort: SERVICE_ERROR (70), what a provider answers when the invocation fails on its
 * side. Rate limit: SERVER_THREADPOOL_EXHAUSTED_ERROR (100), what a provider answers when it sheds
 * load (dubbo-remoting-api/.../transport/dispatcher/all/AllChannelHandler.java on a rejected
 * execution), so consumers and dashboards treat our limit like a busy provider. A Java consumer
 * turns either into a RemotingException carrying our message (DefaultFuture.doReceived); only
 * 30 / 31 would become timeouts.
 */
export const DENY_STATUS: u32 = DUBBO_STATUS_SERVICE_ERROR;
export const ABORT_STATUS: u32 = DUBBO_STATUS_SERVICE_ERROR;
export const RATE_LIMIT_STATUS: u32 = DUBBO_STATUS_SERVER_THREADPOOL_EXHAUSTED;

export const ROUTING_NAMES: string[] = ["connection", "request"];
const TOP_FIELDS = "stat_prefix, routing, decode_timeout_ms, max_body_bytes, seed, rules, telemetry";
/** Dubbo rules say version, group and fault.delay. */
const DUBBO_SYNTAX = new RuleSyntax(true, true);

export class DubboFilterConfig {
  statPrefix: string = DEFAULT_STAT_PREFIX;
  /**
   * true: in front of dubbo_proxy, which routes each request; the filter neither holds the
   * connection nor writes envoy.tcp_proxy.cluster (`"routing": "request"`).
   */
  perRequest: bool = false;
  decodeTimeoutMs: i32 = DEFAULT_DECODE_TIMEOUT_MS;
  maxBodyBytes: i32 = DEFAULT_MAX_BODY_BYTES;
  /** 0: seeded from the clock at start; otherwise deterministic picks (tests). */
  seed: u32 = 0;
  rules: Rule[] = [];
  /** Handlers and rules of the telemetry engine (`telemetry`); default: one prometheus handler fed every call. */
  telemetry: TelemetryConfig = new TelemetryConfig();
}

/** `error` is the full log line when the configuration is rejected, "" otherwise. */
export class DubboConfigParse {
  constructor(public config: DubboFilterConfig, public error: string) {}
}

function invalid(c: DubboFilterConfig, why: string): DubboConfigParse {
  return new DubboConfigParse(c, "dubbo: invalid configuration: " + why);
}

export function parseDubboConfig(text: string): DubboConfigParse {
  return parseDubboConfigBytes(String.UTF8.encode(text));
}

export function parseDubboConfigBytes(bytes: ArrayBuffer): DubboConfigParse {
  const c = new DubboFilterConfig();
  const f = new Fields();
  if (isBlank(bytes)) {
    parseTelemetrySection(f, null, c.telemetry, DEFAULT_RPC_LOG_ATTRIBUTES);
    return new DubboConfigParse(c, "");
  }
  const p = parseJsonBytes(bytes);
  if (!p.ok) return invalid(c, p.message());
  const v = p.value!;
  if (v.kind != JsonKind.Object) return invalid(c, "expected a JSON object, found " + kindName(v.kind));
  let telemetry: JsonValue | null = null;
  for (let i = 0; i < v.keys.length && f.ok; i++) {
    const key = v.keys[i];
    const val = v.values[i];
    if (key == "stat_prefix") {
      const s = f.statPrefix(val, key);
      if (f.ok) c.statPrefix = s;
    } else if (key == "routing") {
      c.perRequest = f.oneOf(val, key, ROUTING_NAMES) == 1;
    } else if (key == "decode_timeout_ms") {
      c.decodeTimeoutMs = f.durationMs(val, key, 1, MAX_DECODE_TIMEOUT_MS);
    } else if (key == "max_body_bytes") {
      c.maxBodyBytes = f.byteSize(val, key, 1, MAX_MAX_BODY_BYTES);
    } else if (key == "seed") {
      c.seed = <u32>f.int(val, key, "a seed", 0, 2147483647);
    } else if (key == "rules") {
      parseRules(f, val, key, MAX_RULES, DUBBO_SYNTAX, c.rules);
    } else if (key == "telemetry") {
      telemetry = val;
    } else {
      f.unknown(key, TOP_FIELDS);
    }
  }
  if (f.ok) parseTelemetrySection(f, telemetry, c.telemetry, DEFAULT_RPC_LOG_ATTRIBUTES);
  if (!f.ok) return invalid(c, f.error);
  return new DubboConfigParse(c, "");
}
