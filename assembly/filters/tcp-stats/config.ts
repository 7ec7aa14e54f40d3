// tcp-stats configuration: optional JSON object `{"stat_prefix": "tcp_stats"}`. Pure code.
import { JsonKind, kindName, parseJson } from "../../runtime/json";

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

/** Empty or whitespace-only configuration means all defaults. */
export function parseTcpStatsConfig(text: string): TcpStatsConfigParse {
  const c = new TcpStatsConfig();
  if (text.trim().length == 0) return new TcpStatsConfigParse(c, "");
  const p = parseJson(text);
  if (!p.ok) return invalid(c, p.message());
  const v = p.value!;
  if (v.kind != JsonKind.Object) return invalid(c, "expected a JSON object, found " + kindName(v.kind));
  for (let i = 0; i < v.keys.length; i++) {
    const key = v.keys[i];
    const value = v.values[i];
    if (key == "stat_prefix") {
      if (value.kind != JsonKind.String || value.str.length == 0) {
        return invalid(c, "\"stat_prefix\" must be a non-empty string");
      }
      c.statPrefix = value.str;
    } else {
      return invalid(c, "unknown field \"" + key + "\"");
    }
  }
  return new TcpStatsConfigParse(c, "");
}
