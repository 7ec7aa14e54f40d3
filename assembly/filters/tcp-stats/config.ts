// tcp-stats configuration: optional JSON object `{"stat_prefix": "tcp_stats"}`. Pure code.
// stat_prefix is checked by the runtime's stat-prefix validator (../../runtime/fields), the same
// rule as every filter's and the controller's.
import { JsonKind, isBlank, kindName, parseJsonBytes } from "../../runtime/json";
import { Fields } from "../../runtime/fields";

export const DEFAULT_STAT_PREFIX = "tcp_stats";

export class TcpStatsConfig {
  statPrefix: string = DEFAULT_STAT_PREFIX;
}

/** `error` is the full log line when the configuration is rejected, "" otherwise. */
export class TcpStatsConfigParse {
  constructor(public config: TcpStatsConfig, public error: string) {}
}

function invalid(c: TcpStatsConfig, why: string): TcpStatsConfigParse {
  return new TcpStatsConfigParse(c, "tcp-stats: invalid configuration: " + why);
}

/** Parses `text` (as UTF-8); see parseTcpStatsConfigBytes. */
export function parseTcpStatsConfig(text: string): TcpStatsConfigParse {
  return parseTcpStatsConfigBytes(String.UTF8.encode(text));
}

/** The plugin configuration's bytes; empty or whitespace-only means all defaults. */
export function parseTcpStatsConfigBytes(bytes: ArrayBuffer): TcpStatsConfigParse {
  const c = new TcpStatsConfig();
  if (isBlank(bytes)) return new TcpStatsConfigParse(c, "");
  const p = parseJsonBytes(bytes);
  if (!p.ok) return invalid(c, p.message());
  const v = p.value!;
  if (v.kind != JsonKind.Object) return invalid(c, "expected a JSON object, found " + kindName(v.kind));
  const f = new Fields();
  for (let i = 0; i < v.keys.length; i++) {
    const key = v.keys[i];
    if (key == "stat_prefix") {
      const prefix = f.statPrefix(v.values[i], key);
      if (f.ok) c.statPrefix = prefix;
    } else {
      f.unknown(key, "stat_prefix");
    }
    if (!f.ok) return invalid(c, f.error);
  }
  return new TcpStatsConfigParse(c, "");
}
