// The Dubbo and Thrift filters' ingestion adapter: each call becomes a protocol-neutral request
// record (assembly/telemetry/request.ts) fed to the telemetry engine's rules and handlers when
// its answer comes (or at once for a call without one), and the engine's check handlers (denier,
// list, memquota) decide before the call is forwarded. Values per call (README "Metrics"):
// request_protocol `dubbo` / `thrift`, response_code as the protocol gives it, response_flags
// DI / UAEX / RL / FI, the routed cluster as the destination service.
import { getCurrentTimeNanoseconds } from "../../runtime";
import { RequestAttributes } from "../../telemetry/request";
import { setServiceFromCluster } from "../../telemetry/service";
import { CHECK_ALLOWED, CHECK_FAIL_CLOSED, TelemetryEngine } from "../../telemetry/engine";
import { ConnectionAttributes } from "../../telemetry/handlers/handler";
import { CheckHandler } from "../../telemetry/handlers/check";
import { matchedHandlers } from "../../telemetry/rules";
import { Refusal, Verdict } from "./verdict";
import { readConnectionId } from "../../telemetry/reader";

/** response_flags of a refusal (Refusal order: none, denied, rate limited, aborted), as Envoy writes them. */
export const REFUSAL_FLAGS: StaticArray<string> = ["", "UAEX", "RL", "FI"];
/** response_flags of a call held by a delay fault (Envoy's fault filter: DI). */
export const DELAYED_FLAG = "DI";
/** response_code of a call that gets no answer. */
export const ONEWAY_CODE = "oneway";

/** The connection's attributes, read once at its start; its calls carry their own service. */
export function rpcConnection(engine: TelemetryEngine): ConnectionAttributes {
  const c = engine.connection(readConnectionId());
  c.perCallService = true;
  return c;
}

/** A call's record: `cluster` is the Envoy cluster it is routed to, "" when not known. */
export function rpcCall(protocol: string, id: string, cluster: string, requestBytes: u64): RequestAttributes {
  const r = new RequestAttributes();
  r.rpc = protocol;
  r.id = id;
  r.cluster = cluster;
  r.requestBytes = requestBytes;
  setServiceFromCluster(r, cluster);
  return r;
}

/**
 * The engine's check handlers on a call the rules let through, and the fail-closed policy:
 * a refusal becomes `v`'s (Denied: denier, list, a failing fail-closed handler; RateLimited:
 * memquota) with the handler's message, carried out by the filter as its own refusals are.
 */
export function checkCall(engine: TelemetryEngine, conn: ConnectionAttributes, r: RequestAttributes, v: Verdict): void {
  if (v.refusal != Refusal.None) return;
  const closed = engine.closedMask();
  if (engine.checkMask == 0 && closed == 0) return;
  // Inbound, metadata exchange has run before this filter: the peer can decide.
  engine.resolvePeerOnce(conn);
  if (closed != 0 && (matchedHandlers(engine.config.rules, conn.bag, r, true) & closed) != 0) {
    v.refusal = Refusal.Denied;
    v.message = "telemetry handler unavailable";
    return;
  }
  if (engine.checkMask == 0) return;
  const at = engine.check(conn, r, getCurrentTimeNanoseconds() / 1000000, -1);
  if (at == CHECK_ALLOWED) return;
  if (at == CHECK_FAIL_CLOSED) {
    v.refusal = Refusal.Denied;
    v.message = "telemetry handler unavailable";
    return;
  }
  const h = changetype<CheckHandler>(engine.config.handlers[at]);
  v.refusal = h.kind == "memquota" ? Refusal.RateLimited : Refusal.Denied;
  // The handler's HTTP body ends with a newline; the protocol's error message does not.
  const body = h.body;
  v.message = (body.endsWith("\n") ? body.substring(0, body.length - 1) : body) + " (telemetry rule " + engine.checkRule + ")";
}

/** The call is over: its code, answer size and duration since `startNs`; fed to the handlers. */
export function reportCall(engine: TelemetryEngine, conn: ConnectionAttributes, r: RequestAttributes, code: string, responseBytes: u64, startNs: u64): void {
  r.code = code;
  r.responseBytes = responseBytes;
  if (startNs > 0) {
    const now = getCurrentTimeNanoseconds();
    r.durationMs = now > startNs ? (now - startNs) / 1000000 : 0;
  }
  engine.resolvePeerOnce(conn);
  // Sampling at random: RPC ids (Dubbo request ids, Thrift seq ids) restart on every connection.
  engine.report(conn, r, -1);
}
