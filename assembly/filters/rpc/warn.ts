// One wording for a failed host call, so each call site pays only for its own words.
import { LogLevel, WasmResult, log } from "../../runtime";

/** Logs `<call> failed status=<n><consequence>` at warn ("; allowing" style consequences). */
export function warnFailed(call: string, status: WasmResult, consequence: string = ""): void {
  log(LogLevel.Warn, call + " failed status=" + (<i32>status).toString() + consequence);
}
