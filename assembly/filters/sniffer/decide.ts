// Detection + configuration → action. Pure code: no host calls, no allocation on the hot path
// (names are static strings; the debug line is built only when debug logging is on).
import { Protocol, protocolName } from "../../codecs/detect/result";
import { SniffState } from "../../codecs/detect/index";
import { tlsWireLimit } from "../../codecs/tls/index";
import { Mode, SnifferConfig, TargetKind } from "./config";

/** What the sniffer does with a connection once it has decided. */
export const enum Verdict {
  /** route: `envoy.tcp_proxy.cluster` = the target cluster. */
  Cluster = 0,
  /** route: `envoy.tcp_proxy.cluster` = passthrough_cluster. */
  Passthrough = 1,
  /** route: close the downstream connection. */
  Deny = 2,
  /** observe/bypass: count only. */
  Observe = 3,
}

export const VERDICT_COUNT: i32 = 4;

export function verdictName(v: Verdict): string {
  switch (v) {
    case Verdict.Cluster: return "cluster";
    case Verdict.Passthrough: return "passthrough";
    case Verdict.Deny: return "deny";
    default: return "observe";
  }
}

/** Why the decision was made (the `decision=` word of the debug line). */
export const enum Reason {
  /** The bytes identified a protocol, or ruled every detector out (tcp). */
  Match = 0,
  /** Every undecided detector reached its byte cap; a partial answer or tcp was forced. */
  Cap = 1,
  /** detect_timeout_ms passed without a decision: tcp. */
  Timeout = 2,
  /** The client half-closed (or the connection ended) before a decision. */
  Eos = 3,
}

export function reasonName(r: Reason): string {
  switch (r) {
    case Reason.Cap: return "cap";
    case Reason.Timeout: return "timeout";
    case Reason.Eos: return "eos";
    default: return "match";
  }
}

/**
 * Why `classifyPtr` decided: a full match, or tcp because every detector said NoMatch, is a
 * match; anything else (a partial answer, or tcp with detectors still undecided) was forced by
 * the cap. Read only once `st.decided`.
 */
export function classifyReason(st: SniffState): Reason {
  if (st.protocol != Protocol.Tcp) return st.complete ? Reason.Match : Reason.Cap;
  return st.alive == 0 ? Reason.Match : Reason.Cap;
}

/** The verdict for a detected protocol under the configuration's mode. */
export function verdictFor(cfg: SnifferConfig, p: Protocol): Verdict {
  if (cfg.mode != Mode.Route) return Verdict.Observe;
  const k = cfg.targetFor(p).kind;
  if (k == TargetKind.Deny) return Verdict.Deny;
  if (k == TargetKind.Passthrough) return Verdict.Passthrough;
  return Verdict.Cluster;
}

/** The cluster for `envoy.tcp_proxy.cluster`, or "" when the verdict writes none. */
export function clusterFor(cfg: SnifferConfig, p: Protocol): string {
  if (cfg.mode != Mode.Route) return "";
  const t = cfg.targetFor(p);
  return t.kind == TargetKind.Deny ? "" : t.cluster;
}

/** The contract's per-connection debug line. */
export function debugLine(p: Protocol, bytes: i32, r: Reason, v: Verdict): string {
  return "sniffer: protocol=" + protocolName(p) + " bytes=" + bytes.toString() + " decision=" + reasonName(r) +
    " action=" + verdictName(v);
}

/**
 * How many ticks after a connection starts its timeout fires: with a tick of `periodMs`, a
 * connection that started just before a tick has waited almost nothing at that tick, so one
 * extra tick guarantees at least `timeoutMs` (and at most timeoutMs + periodMs). 0 = never.
 */
export function ticksToExpire(timeoutMs: i32, periodMs: i32): u32 {
  if (timeoutMs <= 0 || periodMs <= 0) return 0;
  return <u32>((timeoutMs + periodMs - 1) / periodMs) + 1;
}

/** Tick granularity: the timeout itself when short, else 100 ms. 0 = no tick. */
export function tickPeriodMs(timeoutMs: i32): i32 {
  if (timeoutMs <= 0) return 0;
  return timeoutMs < 100 ? timeoutMs : 100;
}

/**
 * Bytes a connection needs to keep: while its detector is alive, TLS may read a ClientHello of
 * `maxTlsBytes` plus its record and handshake headers (tlsWireLimit).
 */
export function keepLimit(cfg: SnifferConfig, tlsAlive: bool): i32 {
  const cap = cfg.maxDetectBytes;
  const tls = tlsWireLimit(cfg.maxTlsBytes);
  return tlsAlive && tls > cap ? tls : cap;
}

/**
 * Metric name, Istio style: tags encoded in the name as `key=.=value;.;` (the separators of
 * istio/proxy's wasm stats plugin, extracted by `stats_tags` regexes `(key=\.=(.*?);\.;)`),
 * then the Prometheus name. Envoy strips the tag text and its `wasmcustom.` namespace, so a
 * scrape shows `protomesh_<prefix>_<suffix>{key="value",...}`.
 */
export function metricName(prefix: string, suffix: string, keys: string[], values: string[]): string {
  let s = "";
  for (let i = 0; i < keys.length; i++) s += keys[i] + "=.=" + values[i] + ";.;";
  return s + "protomesh_" + prefix + "_" + suffix;
}
