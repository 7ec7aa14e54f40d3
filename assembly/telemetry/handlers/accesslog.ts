// accesslog backend: one JSON object per request or RPC call, the chosen attributes in the configured order,
// written to Envoy's log through proxy_log (assembly/filters/http-telemetry/README.md shows the
// line an operator sees).
import { LogLevel, WasmResult } from "../../runtime/enums";
import { log } from "../../runtime/hostcalls";
import { AttrJson, attrName, RequestAttributes, attrJsonFor, attrValue, jsonString } from "../request";
import { ConnectionAttributes, Handler } from "./handler";

export const LOG_LEVEL_NAMES: string[] = ["trace", "debug", "info", "warn", "error"];

/** The JSON object for one request (no newline: Envoy's logger ends the line). */
export function accessLogLine(attrs: i32[], conn: ConnectionAttributes, r: RequestAttributes): string {
  let s = "{";
  for (let i = 0; i < attrs.length; i++) {
    const a = attrs[i];
    if (i > 0) s += ",";
    s += "\"" + attrName(a) + "\":";
    const v = attrValue(a, conn.bag, r);
    s += attrJsonFor(a, r) == AttrJson.Text ? jsonString(v) : v;
  }
  return s + "}";
}

export class AccessLogHandler extends Handler {
  attrs: i32[] = [];
  level: LogLevel = LogLevel.Info;
  /** A longer line is not written (a cut JSON object would not parse): the report fails. */
  maxLineBytes: i32 = 16384;

  constructor(name: string) {
    super(name, "accesslog");
  }

  report(conn: ConnectionAttributes, r: RequestAttributes): bool {
    const line = accessLogLine(this.attrs, conn, r);
    if (String.UTF8.byteLength(line) > this.maxLineBytes) return false;
    return log(this.level, line) == WasmResult.Ok;
  }
}
