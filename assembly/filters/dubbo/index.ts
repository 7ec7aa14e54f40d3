// dubbo: a network filter in front of tcp_proxy (per connection) or dubbo_proxy (per request) that
// routes, refuses, delays and measures Dubbo 2 requests (README.md). Host glue only;
// configuration, the rule index and the frames we write are pure code (config.ts, rule-index.ts,
// codecs/dubbo/encode.ts); rules, matching, picks, the token bucket and the metrics are the RPC
// filters' shared code (../rpc/).
//
// Per connection the first request decides: the filter holds the connection (StopIteration from
// on_new_connection and on_downstream_data, as the sniffer does) until the first request's
// interface and method (and attachments, when a rule reads them) are decoded, then writes
// `envoy.tcp_proxy.cluster` and lets tcp_proxy connect. Later requests whose rule names another
// destination are counted as route_mismatch (logged once per connection).
//
// Refusing a request (deny, rate limit, abort): proxy-wasm gives a network filter no way to write
// to the downstream, so the request frame is rewritten on its way in into a two-way heartbeat
// request with the same id (encode.ts). The provider's HeartbeatHandler, or dubbo_proxy itself
// (source/extensions/filters/network/dubbo_proxy/conn_manager.cc onHeartbeat writes the answer
// with connection().write(), which runs the write filters; the wasm network filter is one, added
// with addFilter in source/extensions/filters/network/wasm/config.cc), answers with a heartbeat response
// of that id, which the filter replaces on its way back with a Dubbo error response carrying the
// rule's message; a refused oneway request's answer is dropped. Buffers are rewritten whole (start
// 0, length = size): Envoy's Buffer::copyFrom (source/extensions/common/wasm/context.cc) accepts a
// prefix replacement only in that form in every version.
//
// Delay: the connection's bytes are held (StopIteration) and released from on_tick with
// proxy_set_effective_context + proxy_continue_stream(Downstream), which resumes the later filters
// with what was held (Envoy: Network::ReadFilterCallbacks::continueReading).
//
// Never throws or aborts; a failed host call is logged at warn and the data passes untouched.
import {
  Action, BufferType, Context, LifeSpan, LogLevel, RootContext, WasmResult,
  getBufferBytesInto, getCurrentTimeNanoseconds, getPluginConfiguration,
  log, registerRootContext, setBufferBytes, setEnvoyFilterState, setTickPeriodMilliseconds,
} from "../../runtime";
import { DecodeStatus } from "../../codecs/decoder";
import { DubboDecodeLevel, DubboDecoder, DubboDecoderOptions, DubboState } from "../../codecs/dubbo/decoder";
import { encodeDubboErrorResponse, encodeHeartbeatRequest } from "../../codecs/dubbo/encode";
import { Rule } from "../rpc/rule";
import { Call } from "../rpc/call";
import { Rng, pickCluster } from "../rpc/rng";
import { Refusal, Verdict } from "../rpc/verdict";
import { Deadlines, nowMs, resumeDownstream } from "../rpc/deadlines";
import { FilterCounters, count } from "../rpc/request-metrics";
import { DELAYED_FLAG, ONEWAY_CODE, REFUSAL_FLAGS, checkCall, reportCall, rpcCall, rpcConnection } from "../rpc/telemetry";
import { TelemetryEngine } from "../../telemetry/engine";
import { RPC_BATCH_REQUESTS } from "../../telemetry/handlers/prometheus";
import { ConnectionAttributes } from "../../telemetry/handlers/handler";
import { RequestAttributes, setHeaderAttrs } from "../../telemetry/request";
import { Answer, PendingCall, PendingCalls } from "../rpc/pending-calls";
import { warnFailed } from "../rpc/warn";
import { ABORT_STATUS, DENY_STATUS, DubboFilterConfig, MAX_PENDING_REQUESTS, RATE_LIMIT_STATUS, parseDubboConfigBytes } from "./config";
import { RuleIndex } from "./rule-index";
export * from "../../runtime/network-exports";
// An otlp telemetry handler's export answers (proxy_grpc_call) come to the root context.
export { proxy_on_grpc_receive, proxy_on_grpc_close } from "../../runtime/exports";

const TCP_PROXY_CLUSTER = "envoy.tcp_proxy.cluster";
/** Clock of decode timeouts and delays: a delay ends within one tick after its duration. */
const TICK_MS: u32 = 20;
/**
 * Bytes copied from the host per decode: a callback's first copy, and the first after a skipped
 * body, hold a frame's header and the names of almost every request (Route level); the window
 * doubles with each further copy, up to MAX_WINDOW, for a body read whole (Full level) or a run of
 * small frames. The rest of a body nothing reads is skipped by count (DubboDecoder.skipUnread).
 */
const MIN_WINDOW: i32 = 1024;
const MAX_WINDOW: i32 = 65536;

// PendingCall.outcome: DELAYED for a call held by a delay fault, REFUSED + Refusal for a refused one.
const DELAYED: i32 = 1;
/** REFUSED + Refusal (Denied 1, RateLimited 2, Aborted 3). */
const REFUSED: i32 = 2;

function refusalStatus(outcome: i32): u32 {
  const r = outcome - REFUSED;
  return r == Refusal.RateLimited ? RATE_LIMIT_STATUS : r == Refusal.Aborted ? ABORT_STATUS : DENY_STATUS;
}

class DubboRoot extends RootContext {
  cfg: DubboFilterConfig | null = null;
  index: RuleIndex = new RuleIndex([]);
  metrics: FilterCounters | null = null;
  /** Rules → handlers for every request (README "Metrics"). */
  engine: TelemetryEngine = new TelemetryEngine("dubbo");
  nonHessian2: i64 = -1;
  rng: Rng = new Rng(1);
  /** Distinct clusters of the rules, then "unknown" (tcp_proxy's own cluster, or dubbo_proxy's pick). */
  clusters: string[] = [];
  /** Per rule, per route cluster: index into `clusters`. */
  ruleClusters: i32[][] = [];
  level: DubboDecodeLevel = DubboDecodeLevel.Route;
  verdict: Verdict = new Verdict();
  /** Connections waiting for their first request (decode timeout) or held by a delay. */
  waits: Deadlines<DubboStream> = new Deadlines<DubboStream>();

  onConfigure(configuration_size: u32): bool {
    const parsed = parseDubboConfigBytes(getPluginConfiguration().value);
    if (parsed.error.length > 0) {
      log(LogLevel.Error, parsed.error);
      return false;
    }
    const cfg = parsed.config;
    const clusters: string[] = [];
    const ruleClusters: i32[][] = [];
    for (let i = 0; i < cfg.rules.length; i++) {
      const r = cfg.rules[i];
      const idx: i32[] = [];
      for (let k = 0; k < r.clusters.length; k++) {
        let at = clusters.indexOf(r.clusters[k]);
        if (at < 0) {
          at = clusters.length;
          clusters.push(r.clusters[k]);
        }
        idx.push(at);
      }
      ruleClusters.push(idx);
    }
    clusters.push("unknown");
    if (!this.engine.start(cfg.telemetry, cfg.statPrefix, cfg.seed, RPC_BATCH_REQUESTS)) return false;
    const m = new FilterCounters(cfg.statPrefix);
    this.nonHessian2 = m.counter("non_hessian2_total");
    this.metrics = m;
    this.clusters = clusters;
    this.ruleClusters = ruleClusters;
    this.index = new RuleIndex(cfg.rules);
    // Attachments are decoded only when a rule or a telemetry `request.headers.<key>` reads them.
    this.level = this.index.readsAttachments || cfg.telemetry.headerSlots.length > 0 ? DubboDecodeLevel.Full : DubboDecodeLevel.Route;
    this.rng = new Rng(cfg.seed != 0 ? cfg.seed : <u32>getCurrentTimeNanoseconds() | 1);
    const s = setTickPeriodMilliseconds(TICK_MS);
    if (s != WasmResult.Ok) warnFailed("dubbo: set_tick_period_milliseconds", s, "; no timeouts or delays");
    this.cfg = cfg;
    return true;
  }

  onGrpcReceive(token: u32, response_size: u32): void {
    this.engine.onGrpcReceive(token);
  }

  onGrpcClose(token: u32, status_code: u32): void {
    this.engine.onGrpcClose(token, status_code);
  }

  onTick(): void {
    this.engine.onTickDue(getCurrentTimeNanoseconds(), TICK_MS);
    if (this.waits.size == 0) return;
    const due = this.waits.take(nowMs());
    for (let i = 0; i < due.length; i++) unchecked(due[i]).onDeadline();
  }

  /** The VM is going: what is still batched goes to the host first. */
  onDone(): bool {
    if (this.engine.ready) this.engine.flush();
    return true;
  }

  /** The Envoy cluster of destination label `dest`, "" for "unknown". */
  clusterName(dest: i32): string {
    return dest == this.clusters.length - 1 ? "" : unchecked(this.clusters[dest]);
  }

  createContext(context_id: u32): Context {
    return new DubboStream(context_id, this);
  }
}

/** A replacement of original stream bytes [start, end), applied once the host holds all of them. */
class Edit {
  constructor(public start: i64, public end: i64, public bytes: ArrayBuffer) {}
}

/** Copies host buffer bytes [from, to) into `out` at `at`; false (logged) when the host gave fewer. */
function copyHost(type: BufferType, from: i32, to: i32, out: ArrayBuffer, at: i32): bool {
  const want = to - from;
  if (want <= 0) return true;
  const n = getBufferBytesInto(type, <u32>from, <u32>want, out, at);
  if (n == want) return true;
  warnFailed("dubbo: get_buffer_bytes", n < 0 ? <WasmResult>-n : WasmResult.Ok, "; read " + n.toString() + " of " + want.toString() + " bytes, edits dropped");
  return false;
}

/**
 * One direction: the decoder, our copy of the bytes it has not finished with, and pending edits.
 * Bytes come in a window at a time; body bytes no rule reads are counted past, never copied.
 */
class Side {
  dec: DubboDecoder;
  buf: ArrayBuffer = new ArrayBuffer(256);
  len: i32 = 0;
  /** Stream offset of buf[0]. */
  base: i64 = 0;
  /** Stream offset of the host buffer's first byte (edits applied so far shift it). */
  hostBase: i64 = 0;
  /** Stream bytes copied into buf or skipped so far. */
  seen: i64 = 0;
  /** Body bytes of the current frame still to skip uncopied (DubboDecoder.skipUnread). */
  skip: i64 = 0;
  /** Bytes the next copy takes at most (MIN_WINDOW..MAX_WINDOW). */
  window: i32 = MIN_WINDOW;
  failed: bool = false;
  edits: Edit[] = [];

  constructor(level: DubboDecodeLevel, maxBody: i32) {
    const o = new DubboDecoderOptions();
    o.level = level;
    o.maxBody = maxBody;
    this.dec = new DubboDecoder(o);
  }

  /** Skips, then copies up to `window` of the host buffer's new bytes; false when the host call failed. */
  copyIn(type: BufferType, size: u32): bool {
    let fresh = this.hostBase + <i64>size - this.seen;
    if (fresh <= 0) return true;
    // Skipped body bytes are counted, not copied: buf is empty meanwhile, so base follows seen.
    const k = fresh < this.skip ? fresh : this.skip;
    this.skip -= k;
    this.seen += k;
    this.base += k;
    fresh -= k;
    if (fresh <= 0) return true;
    if (fresh > <i64>this.window) fresh = <i64>this.window;
    const start = <i32>(this.seen - this.hostBase);
    const need = this.len + <i32>fresh;
    if (need > this.buf.byteLength) {
      let cap = this.buf.byteLength;
      while (cap < need) cap <<= 1;
      const next = new ArrayBuffer(cap);
      memory.copy(changetype<usize>(next), changetype<usize>(this.buf), <usize>this.len);
      this.buf = next;
    }
    const n = getBufferBytesInto(type, <u32>start, <u32>fresh, this.buf, this.len);
    // Nothing copied from a buffer that should hold more: never loop on it.
    if (n <= 0) return false;
    this.len += n;
    this.seen += n;
    if (this.window < MAX_WINDOW) this.window <<= 1;
    return true;
  }

  /** The host buffer holds bytes not copied or skipped yet (the next window). */
  more(size: u32): bool {
    return !this.failed && this.seen < this.hostBase + <i64>size;
  }

  decode(): DecodeStatus {
    return this.dec.decode(changetype<usize>(this.buf), this.len);
  }

  /**
   * After a decode that stopped in a body nothing reads (SkipBody): the rest of the body is
   * skipped by count, so a request costs the same whatever its body size. compact() then empties
   * buf, so base keeps following seen while skipping.
   */
  skipBody(): void {
    if (this.failed) return;
    const n = this.dec.skipUnread();
    if (n <= 0) return;
    this.compact();
    this.skip = n;
    this.window = MIN_WINDOW;
  }

  /** A frame has begun but its fields are not decoded yet: the host must keep its bytes. */
  get midFrame(): bool {
    const d = this.dec;
    const st = d.state;
    if (this.failed || st == DubboState.SkipBody) return false;
    return st != DubboState.Header || d.offset < this.len;
  }

  /** Drops what the decoder is done with (keeps an unfinished frame from its header). */
  compact(): void {
    if (this.failed) return;
    const d = this.dec;
    const st = d.state;
    const keep = st != DubboState.Header && st != DubboState.SkipBody ? d.message.frameStart : d.offset;
    if (keep <= 0) return;
    memory.copy(changetype<usize>(this.buf), changetype<usize>(this.buf) + <usize>keep, <usize>(this.len - keep));
    this.len -= keep;
    this.base += keep;
    d.discard(keep);
  }

  /** Stream offsets [start, end) of the frame last reported Done. */
  frameStart(): i64 {
    return this.base + <i64>this.dec.message.frameStart;
  }

  frameEnd(): i64 {
    const m = this.dec.message;
    return this.frameStart() + 16 + <i64>m.bodyLength;
  }

  get editsWaiting(): bool {
    return this.edits.length > 0;
  }

  /**
   * Applies the edits whose bytes the host now holds, by rewriting the host buffer whole, and
   * keeps the others for a later callback. Only the bytes around the edits are read from the host:
   * a refused frame's body (skipped, never copied) is not copied to be dropped either.
   */
  applyEdits(type: BufferType, size: u32): void {
    if (this.edits.length == 0) return;
    let ready = 0;
    while (ready < this.edits.length && unchecked(this.edits[ready]).end <= this.seen) ready++;
    if (ready == 0) return;
    let total = <i32>size;
    for (let i = 0; i < ready; i++) {
      const e = unchecked(this.edits[i]);
      total += e.bytes.byteLength - <i32>(e.end - e.start);
    }
    const out = new ArrayBuffer(total);
    let from = 0;
    let at = 0;
    for (let i = 0; i < ready; i++) {
      const e = unchecked(this.edits[i]);
      const start = <i32>(e.start - this.hostBase);
      if (!copyHost(type, from, start, out, at)) {
        this.dropEdits(ready);
        return;
      }
      at += start - from;
      memory.copy(changetype<usize>(out) + <usize>at, changetype<usize>(e.bytes), <usize>e.bytes.byteLength);
      at += e.bytes.byteLength;
      from = <i32>(e.end - this.hostBase);
    }
    if (!copyHost(type, from, <i32>size, out, at)) {
      this.dropEdits(ready);
      return;
    }
    this.dropEdits(ready);
    const w = setBufferBytes(type, 0, size, out);
    if (w != WasmResult.Ok) {
      warnFailed("dubbo: set_buffer_bytes", w);
      return;
    }
    this.hostBase -= <i64>(total - <i32>size);
  }

  /** Forgets the first `n` edits (in place: Array#slice would add its code to the module). */
  dropEdits(n: i32): void {
    const e = this.edits;
    const left = e.length - n;
    for (let i = 0; i < left; i++) unchecked((e[i] = e[i + n]));
    e.length = left;
  }

  /** The host passed its buffer on: the next callback's buffer starts at the next new byte. */
  released(): void {
    this.hostBase = this.seen;
  }
}

const enum Phase {
  /** Per connection, before the first request's decision. */
  Pending = 0,
  Decided = 1,
}

class DubboStream extends Context {
  root_: DubboRoot;
  phase: Phase = Phase.Decided;
  /** Deadline in the root's `waits` (decode timeout or end of a delay), ms of nowMs(); 0 = none. */
  dueMs: u64 = 0;
  /** Held by a delay fault until this time; 0 when not held. */
  heldUntil: u64 = 0;
  down: Side | null = null;
  up: Side | null = null;
  /** Destination label index (root.clusters); "unknown" until routed. */
  dest: i32 = 0;
  /** Rule whose route decided the connection, -1 for none. */
  routeRule: i32 = -1;
  mismatchLogged: bool = false;
  calls: PendingCalls = new PendingCalls(MAX_PENDING_REQUESTS);
  /** Refused requests whose answer is still to come (the upstream side holds frames for them). */
  refusalsOut: i32 = 0;
  /** The connection's attributes for the telemetry engine, read at its start. */
  conn: ConnectionAttributes | null = null;

  constructor(context_id: u32, root: DubboRoot) {
    super(context_id, root);
    this.root_ = root;
  }

  onNewConnection(): Action {
    const r = this.root_;
    const cfg = r.cfg;
    if (cfg === null) return Action.Continue;
    this.down = new Side(r.level, cfg.maxBodyBytes);
    this.up = new Side(DubboDecodeLevel.Header, cfg.maxBodyBytes);
    this.dest = r.clusters.length - 1;
    this.conn = rpcConnection(r.engine);
    // Per request dubbo_proxy routes every request: nothing to hold for, nothing to decide.
    if (cfg.perRequest) return Action.Continue;
    this.phase = Phase.Pending;
    r.waits.set(this, nowMs() + <u64>cfg.decodeTimeoutMs);
    // Hold tcp_proxy's onNewConnection (it picks the cluster there) until the first request decides.
    return Action.Pause;
  }

  // ---- deadlines (DubboRoot.onTick) ----

  /** A decode timeout (no request yet: tcp_proxy's own cluster) or the end of a delay. */
  onDeadline(): void {
    if (this.phase == Phase.Pending) {
      count(this.root_.metrics!.timeouts);
      this.giveUp("decode_timeout_ms passed");
    } else {
      this.heldUntil = 0;
      // A frame still waiting for its decision or edit keeps the bytes: its next data continues.
      const s = this.down!;
      if (s.midFrame || s.editsWaiting) return;
    }
    // The host passes what it holds on to the next filter, without calling this one again.
    this.down!.released();
    resumeDownstream(this.context_id);
  }

  /** Stops decoding this connection's requests; their bytes pass untouched from now on. */
  giveUp(why: string): void {
    // The decode timeout is over; a delay's deadline (Decided) still releases the held bytes.
    if (this.phase == Phase.Pending) this.dueMs = 0;
    this.phase = Phase.Decided;
    const s = this.down;
    if (s !== null) {
      s.failed = true;
      s.edits = [];
    }
    log(LogLevel.Debug, "dubbo: context " + this.context_id.toString() + ": " + why + "; passing bytes through");
  }

  // ---- downstream: requests ----

  onDownstreamData(data_size: u32, end_of_stream: bool): Action {
    const s = this.down;
    if (s === null) return Action.Continue;
    if (!s.failed) {
      // A window at a time: the body behind a request's names is then skipped, not copied.
      s.window = MIN_WINDOW;
      do {
        if (!s.copyIn(BufferType.NetworkDownstreamData, data_size)) {
          this.giveUp("get_buffer_bytes failed");
          break;
        }
        // While skipping a body buf is empty: a decode would end the frame before its bytes came.
        while (s.skip == 0) {
          const st = s.decode();
          if (st == DecodeStatus.Error) {
            count(this.root_.metrics!.decodeErrors);
            this.giveUp("downstream: " + s.dec.error);
            break;
          }
          if (st != DecodeStatus.Done) {
            s.skipBody();
            break;
          }
          this.onRequest(s);
        }
        s.compact();
      } while (s.more(data_size));
      s.applyEdits(BufferType.NetworkDownstreamData, data_size);
    }
    if (this.phase == Phase.Pending) {
      if (!end_of_stream) return Action.Pause;
      this.giveUp("closed before a request");
    }
    if (this.heldUntil != 0 && !end_of_stream) return Action.Pause;
    if ((s.midFrame || s.editsWaiting) && !end_of_stream) return Action.Pause;
    s.released();
    return Action.Continue;
  }

  onRequest(s: Side): void {
    const d = s.dec;
    const m = d.message;
    // Responses from the client (callbacks) and the client's own heartbeats pass untouched.
    if (!m.isRequest || m.event) return;
    const r = this.root_;
    const cfg = r.cfg!;
    let ri = -1;
    let call: Call | null = null;
    if (!m.hessian2) {
      // Another serialization: header only, so no rule can see its interface.
      count(r.nonHessian2);
    } else {
      const method = d.stringOf(m.method);
      const c = Call.named(d.stringOf(m.servicePath), true, method, method);
      call = c;
      c.version = d.stringOf(m.serviceVersion);
      if (m.decoded == DubboDecodeLevel.Full) {
        for (let i = 0; i < m.attachmentCount; i++) {
          const v = d.attachmentValue(i);
          if (v === null) continue;
          const k = d.attachmentKey(i);
          // Group is the attachment `group`, by its exact key (as dubbo_proxy's message_impl.cc reads it).
          if (k == "group") c.group = v;
          c.addHeader(k, v);
        }
      }
      ri = r.index.first(c);
    }
    const rule = ri >= 0 ? unchecked(cfg.rules[ri]) : null;
    if (cfg.perRequest) {
      // dubbo_proxy routes this request by the same rules: one cluster is known, a weighted pick is not.
      this.dest = rule !== null && rule.clusters.length == 1 ? unchecked(unchecked(r.ruleClusters[ri])[0]) : r.clusters.length - 1;
    } else if (this.phase == Phase.Pending) {
      this.decide(ri, rule);
    } else if (rule !== null && rule.clusters.length > 0 && ri != this.routeRule && !this.sameDestination(ri)) {
      this.mismatch(rule);
    }
    const req = rpcCall("dubbo", m.requestId.toString(), r.clusterName(this.dest), <u64>(16 + m.bodyLength));
    if (call !== null) {
      req.apiService = call.service;
      req.apiOperation = call.method;
      req.apiVersion = call.version;
      req.apiGroup = call.group;
      setHeaderAttrs(req, cfg.telemetry.headerSlots, call.headerKeys, call.headerValues);
    }
    const v = r.verdict;
    v.judge(rule, r.rng, "protomesh.dubbo.rl.");
    checkCall(r.engine, this.conn!, req, v);
    // An aborted request may be delayed too (Envoy's fault filter delays before it aborts).
    if (v.delayMs > 0) this.hold(nowMs() + <u64>v.delayMs);
    if (v.delayMs > 0) req.flags = DELAYED_FLAG;
    if (v.refusal != Refusal.None) {
      this.refuse(s, REFUSED + <i32>v.refusal, v.message, req);
      return;
    }
    if (!m.twoWay) {
      reportCall(r.engine, this.conn!, req, ONEWAY_CODE, 0, 0);
      return;
    }
    const c = this.calls.add(m.requestId, getCurrentTimeNanoseconds(), this.dest);
    if (c === null) return;
    c.outcome = v.delayMs > 0 ? DELAYED : 0;
    c.req = req;
  }

  /** True when rule `ri` routes to the cluster the connection already uses. */
  sameDestination(ri: i32): bool {
    const idx = unchecked(this.root_.ruleClusters[ri]);
    for (let i = 0; i < idx.length; i++) if (unchecked(idx[i]) == this.dest) return true;
    return false;
  }

  mismatch(rule: Rule): void {
    count(this.root_.metrics!.routeMismatch);
    if (this.mismatchLogged) return;
    this.mismatchLogged = true;
    log(LogLevel.Info, "dubbo: context " + this.context_id.toString() + ": a request matches rule " + rule.name +
      ", not the connection's " + this.root_.clusters[this.dest] + " (route_mismatch, logged once)");
  }

  decide(ri: i32, rule: Rule | null): void {
    const r = this.root_;
    this.phase = Phase.Decided;
    this.dueMs = 0;
    if (rule === null || rule.clusters.length == 0) return;
    const k = pickCluster(rule, r.rng);
    this.routeRule = ri;
    this.dest = unchecked(unchecked(r.ruleClusters[ri])[k]);
    const f = setEnvoyFilterState(TCP_PROXY_CLUSTER, unchecked(rule.clusters[k]), LifeSpan.DownstreamConnection);
    if (f != WasmResult.Ok) {
      warnFailed("dubbo: set_envoy_filter_state", f);
      this.dest = r.clusters.length - 1;
    }
  }

  /** Holds the connection's bytes (and every request behind this one) until `untilMs` at least. */
  hold(untilMs: u64): void {
    if (untilMs <= this.heldUntil) return;
    this.heldUntil = untilMs;
    this.root_.waits.set(this, untilMs);
  }

  /** Rewrites the request into a heartbeat with its id and arranges its answer's replacement. */
  refuse(s: Side, outcome: i32, message: string, req: RequestAttributes): void {
    const m = s.dec.message;
    const r = this.root_;
    s.edits.push(new Edit(s.frameStart(), s.frameEnd(), encodeHeartbeatRequest(m.requestId)));
    req.flags = unchecked(REFUSAL_FLAGS[outcome - REFUSED]);
    const c = this.calls.add(m.requestId, getCurrentTimeNanoseconds(), this.dest);
    // Reported when its answer is replaced; a oneway request (the heartbeat's answer is dropped)
    // or one the full table cannot follow, now.
    if (c === null || !m.twoWay) reportCall(r.engine, this.conn!, req, refusalStatus(outcome).toString(), 0, 0);
    // A full table still refuses: the request never reaches the provider, its answer stays a heartbeat.
    if (c === null) return;
    if (m.twoWay) c.req = req;
    c.answer = m.twoWay ? Answer.Replace : Answer.Drop;
    c.outcome = outcome;
    c.message = message;
    this.refusalsOut++;
  }

  // ---- upstream: responses ----

  onUpstreamData(data_size: u32, end_of_stream: bool): Action {
    const s = this.up;
    if (s === null || s.failed) return Action.Continue;
    s.window = MIN_WINDOW;
    do {
      if (!s.copyIn(BufferType.NetworkUpstreamData, data_size)) {
        s.failed = true;
        s.edits = [];
        return Action.Continue;
      }
      while (s.skip == 0) {
        const st = s.decode();
        if (st == DecodeStatus.Error) {
          count(this.root_.metrics!.decodeErrors);
          s.failed = true;
          s.edits = [];
          log(LogLevel.Debug, "dubbo: context " + this.context_id.toString() + ": " + s.dec.error + "; passing bytes through");
          break;
        }
        if (st != DecodeStatus.Done) {
          s.skipBody();
          break;
        }
        this.onResponse(s);
      }
      s.compact();
    } while (s.more(data_size));
    s.applyEdits(BufferType.NetworkUpstreamData, data_size);
    if (!end_of_stream && (s.editsWaiting || (this.refusalsOut > 0 && s.midFrame))) return Action.Pause;
    s.released();
    return Action.Continue;
  }

  onResponse(s: Side): void {
    const m = s.dec.message;
    if (m.isRequest) return;
    const c: PendingCall | null = this.calls.take(m.requestId);
    if (c === null) return;
    const engine = this.root_.engine;
    const req = c.req;
    if (c.answer != Answer.Pass) {
      this.refusalsOut--;
      let bytes = new ArrayBuffer(0);
      if (c.answer == Answer.Replace) {
        const status = refusalStatus(c.outcome);
        bytes = encodeDubboErrorResponse(c.id, status, c.message);
        if (req !== null) reportCall(engine, this.conn!, req, status.toString(), <u64>bytes.byteLength, c.startNs);
      }
      s.edits.push(new Edit(s.frameStart(), s.frameEnd(), bytes));
      return;
    }
    if (req !== null) reportCall(engine, this.conn!, req, m.status.toString(), <u64>(16 + m.bodyLength), c.startNs);
  }

  /** The connection is gone: no timeout to count, nothing to resume. */
  onDelete(): void {
    this.dueMs = 0;
  }
}

registerRootContext((context_id: u32): RootContext => new DubboRoot(context_id), "dubbo");
