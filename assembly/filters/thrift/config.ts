// thrift filter configuration: the rule model's JSON form (controller/rules/schema.ts) plus the
// transport, protocol, timeout and seed the filter needs. Pure code: as-pect tests it directly.
//
//   {"stat_prefix": "thrift", "transport": "auto", "protocol": "auto", "decode_timeout_ms": 5000,
//    "seed": 0, "rules": [{"name": "orders", "match": {"service": {"exact": "Orders"}},
//                          "route": {"cluster": "orders-v1"}}]}
import { JsonKind, isBlank, kindName, parseJsonBytes } from "../../runtime/json";
import { TelemetryConfig, DEFAULT_RPC_LOG_ATTRIBUTES, parseTelemetrySection } from "../../telemetry/config";
import { JsonValue } from "../../runtime/json";
import { Fields, show } from "../../runtime/fields";
import { ThriftProtocol, ThriftTransport } from "../../codecs/thrift/index";
import { Rule } from "../rpc/rule";
import { RuleSyntax, parseRules } from "../rpc/rule-parse";

// Every default in one place.
export const DEFAULT_STAT_PREFIX = "thrift";
export const DEFAULT_DECODE_TIMEOUT_MS: i32 = 5000;
export const MAX_DECODE_TIMEOUT_MS: i32 = 600000;
export const MAX_RULES: i32 = 256;
/** TApplicationException type of our answers: INTERNAL_ERROR (apache/thrift TApplicationException.java). */
export const DENY_EXCEPTION_TYPE: i32 = 6;

export const ROUTING_NAMES: string[] = ["connection", "request"];
/** Listed in the order of ThriftTransport / ThriftProtocol, so a name's index is its value. */
export const TRANSPORT_NAMES: string[] = ["auto", "framed", "unframed", "header"];
export const PROTOCOL_NAMES: string[] = ["auto", "binary", "compact", "lax_binary"];
/** Thrift has no service version or group (those are Dubbo's); it carries out delays. */
export const THRIFT_RULES = new RuleSyntax(false, true);

export class ThriftFilterConfig {
  statPrefix: string = DEFAULT_STAT_PREFIX;
  transport: ThriftTransport = ThriftTransport.None;
  protocol: ThriftProtocol = ThriftProtocol.None;
  decodeTimeoutMs: i32 = DEFAULT_DECODE_TIMEOUT_MS;
  /**
   * true: in front of thrift_proxy, which routes each call; the filter neither holds the
   * connection nor writes envoy.tcp_proxy.cluster (`"routing": "request"`).
   */
  perRequest: bool = false;
  /** 0: seeded from the clock at start; otherwise deterministic weighted picks (tests). */
  seed: u32 = 0;
  rules: Rule[] = [];
  /** Handlers and rules of the telemetry engine (`telemetry`); default: one prometheus handler fed every call. */
  telemetry: TelemetryConfig = new TelemetryConfig();
}

/** `error` is the full log line when the configuration is rejected, "" otherwise. */
export class ThriftConfigParse {
  constructor(public config: ThriftFilterConfig, public error: string) {}
}

function invalid(c: ThriftFilterConfig, why: string): ThriftConfigParse {
  return new ThriftConfigParse(c, "thrift: invalid configuration: " + why);
}

export function parseThriftConfig(text: string): ThriftConfigParse {
  return parseThriftConfigBytes(String.UTF8.encode(text));
}

const TOP_FIELDS = "stat_prefix, routing, transport, protocol, decode_timeout_ms, seed, rules, telemetry";

export function parseThriftConfigBytes(bytes: ArrayBuffer): ThriftConfigParse {
  const c = new ThriftFilterConfig();
  const f = new Fields();
  if (isBlank(bytes)) {
    parseTelemetrySection(f, null, c.telemetry, DEFAULT_RPC_LOG_ATTRIBUTES);
    return new ThriftConfigParse(c, "");
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
      const t = f.oneOf(val, key, ROUTING_NAMES);
      if (f.ok) c.perRequest = t == 1;
    } else if (key == "transport") {
      const t = f.oneOf(val, key, TRANSPORT_NAMES);
      if (f.ok) c.transport = <ThriftTransport>t;
    } else if (key == "protocol") {
      const t = f.oneOf(val, key, PROTOCOL_NAMES);
      if (f.ok) c.protocol = <ThriftProtocol>t;
    } else if (key == "decode_timeout_ms") {
      c.decodeTimeoutMs = f.durationMs(val, key, 1, MAX_DECODE_TIMEOUT_MS);
    } else if (key == "seed") {
      c.seed = <u32>f.int(val, key, "a seed", 0, 2147483647);
    } else if (key == "rules") {
      parseRules(f, val, key, MAX_RULES, THRIFT_RULES, c.rules);
    } else if (key == "telemetry") {
      telemetry = val;
    } else {
      f.unknown(key, TOP_FIELDS);
    }
  }
  if (f.ok) parseTelemetrySection(f, telemetry, c.telemetry, DEFAULT_RPC_LOG_ATTRIBUTES);
  if (!f.ok) return invalid(c, f.error);
  return new ThriftConfigParse(c, "");
}

// The rule model, shared with the other RPC filters (../rpc/).
export { NameKind, NameMatch, globMatch } from "../rpc/name-match";
export { HeaderKind, HeaderMatch, asciiLower } from "../rpc/header-match";
export { Rule, denyMessage } from "../rpc/rule";
export { MAX_WEIGHT, parseDurationMs } from "../rpc/rule-parse";
// `show` is re-exported so tests can build expected error texts the same way.
export { show };
