// denier backend (Mixer's denier adapter): refuses every request its rules feed it, with a
// configured status and message.
import { RequestAttributes } from "../request";
import { CheckHandler, Verdict } from "./check";
import { ConnectionAttributes } from "./handler";

export class DenierHandler extends CheckHandler {
  message: string = "";

  constructor(name: string) {
    super(name, "denier");
    this.details = "http_telemetry_denied";
  }

  check(conn: ConnectionAttributes, r: RequestAttributes, nowMs: u64): Verdict {
    this.body = this.message + "\n";
    return Verdict.Deny;
  }
}
