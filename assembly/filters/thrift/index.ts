// thrift: a network filter in front of tcp_proxy (per connection) or thrift_proxy (per request)
// that routes, refuses and measures Thrift calls (README.md). Host glue only; configuration,
// matching and the exception encoding are pure code in config.ts, match.ts and exception.ts.
//
// Per connection the first call decides: the filter holds the connection (StopIteration from
// on_new_connection and on_downstream_data, as the sniffer does) until that call's message begin
// is decoded, then writes `envoy.tcp_proxy.cluster` and lets tcp_proxy connect. Every call is
// decoded (DecodeMode.MessageBegin: framed payloads are skipped by length) for policy and
// telemetry; later calls whose rule names another destination are counted as route_mismatch.
//
// Refusing a call (deny, rate limit, abort): proxy-wasm gives a network filter no way to write to
// the downstream, so the call's method name is overwritten in place with '$' (same length, so the
// frame stays valid; '$' is in no Thrift identifier, so no server has such a method) and the
// server's answer to that seq id (the TApplicationException UNKNOWN_METHOD every Apache processor
// sends) is replaced on the way back by our TApplicationException. A refused oneway call's
// answer, if any, is dropped. Buffers are rewritten whole (start 0, length = size): Envoy's
// Buffer::copyFrom (source/extensions/common/wasm/context.cc) accepts a prefix replacement only in
// that form in every version.
//
// Delaying a call (fault.delay): the downstream is held (StopIteration from on_downstream_data)
// from the call's message begin until its delay is over; calls read behind it wait too, so the
// order on the connection is kept, and a delayed call among them extends the hold to its own end.
// on_tick resumes the stream (../rpc/deadlines.ts resumeDownstream: effective context +
// continue_stream(Downstream), which Envoy turns into continueReading on the next filter).
//
// Never throws or aborts; a failed host call is logged at warn and the data passes untouched.
import {
  Action, BufferType, Context, LifeSpan, LogLevel, RootContext, WasmResult,
  getBufferBytes, getBufferBytesInto, getCurrentTimeNanoseconds, getPluginConfiguration,
  log, registerRootContext, setBufferBytes, setEnvoyFilterState, setTickPeriodMilliseconds,
} from "../../runtime";
import { DecodeStatus } from "../../codecs/decoder";
import { DecodeMode, MessageType, ThriftDecoder, ThriftDecoderConfig } from "../../codecs/thrift/decoder";
import { ThriftTransport } from "../../codecs/thrift/index";
import { DENY_EXCEPTION_TYPE, ThriftFilterConfig, parseThriftConfigBytes } from "./config";
import { Call } from "../rpc/call";
import { Rule } from "../rpc/rule";
import { firstMatch } from "../rpc/match";
import { Rng, pickCluster } from "../rpc/rng";
import { Refusal, Verdict } from "../rpc/verdict";
import { FilterCounters, count } from "../rpc/request-metrics";
import { DELAYED_FLAG, ONEWAY_CODE, REFUSAL_FLAGS, checkCall, reportCall, rpcCall, rpcConnection } from "../rpc/telemetry";
import { TelemetryEngine } from "../../telemetry/engine";
import { RPC_BATCH_REQUESTS } from "../../telemetry/handlers/prometheus";
import { ConnectionAttributes } from "../../telemetry/handlers/handler";
import { RequestAttributes, setHeaderAttrs } from "../../telemetry/request";
import { Answer, PendingCall, PendingCalls } from "../rpc/pending-calls";
import { warnFailed } from "../rpc/warn";
import { Deadlines, nowMs, resumeDownstream } from "../rpc/deadlines";
import { encodeAppException } from "./exception";
export * from "../../runtime/network-exports";
// An otlp telemetry handler's export answers (proxy_grpc_call) come to the root context.
export { proxy_on_grpc_receive, proxy_on_grpc_close } from "../../runtime/exports";

const TCP_PROXY_CLUSTER = "envoy.tcp_proxy.cluster";
/** Clock of decode timeouts and delays: a delay ends within one tick after its duration. */
const TICK_MS: u32 = 20;
const MAX_PENDING_CALLS: i32 = 1024;
const DOLLAR: u8 = 36;
/** Bytes copied from the host per decode: what a message begin needs, never a whole payload. */
const WINDOW: i64 = 16384;

/** response_code of a call: Thrift's message type of its answer (our refusals answer an exception). */
const REPLY_CODE = "reply";
const EXCEPTION_CODE = "exception";

class ThriftRoot extends RootContext {
  cfg: ThriftFilterConfig | null = null;
  metrics!: FilterCounters;
  /** Rules → handlers for every call (README "Metrics"). */
  engine: TelemetryEngine = new TelemetryEngine("thrift");
  rng: Rng = new Rng(1);
  /** Distinct clusters of the rules, then "unknown" (tcp_proxy's own cluster). */
  clusters: string[] = [];
  /** Per rule, per route cluster: index into `clusters`. */
  ruleClusters: i32[][] = [];
  /** The current call's verdict (one object, refilled per call). */
  verdict: Verdict = new Verdict();
  /** Connections waiting for their first message begin (decode timeout) or held by a delay. */
  waits: Deadlines<ThriftStream> = new Deadlines<ThriftStream>();
  /** The tick runs: decode timeouts and delays can end. */
  ticking: bool = true;

  onConfigure(configuration_size: u32): bool {
    const parsed = parseThriftConfigBytes(getPluginConfiguration().value);
    if (parsed.error.length > 0) {
      log(LogLevel.Error, parsed.error);
      return false;
    }
    const cfg = parsed.config;
    const clusters: string[] = [];
    const ruleClusters: i32[][] = [];
    for (let i = 0; i < cfg.rules.length; i++) {
      const idx: i32[] = [];
      const r = cfg.rules[i];
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
    this.metrics = new FilterCounters(cfg.statPrefix);
    this.clusters = clusters;
    this.ruleClusters = ruleClusters;
    this.rng = new Rng(cfg.seed != 0 ? cfg.seed : <u32>getCurrentTimeNanoseconds() | 1);
    const s = setTickPeriodMilliseconds(TICK_MS);
    this.ticking = s == WasmResult.Ok;
    if (!this.ticking) warnFailed("thrift: set_tick_period_milliseconds", s, "; no decode timeouts, no delays");
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
    for (let i = 0; i < due.length; i++) due[i].onDeadline();
  }

  /** The VM is going: what is still batched goes to the host first. */
  onDone(): bool {
    if (this.engine.ready) this.engine.flush();
    return true;
  }

  /** The Envoy cluster of destination label `dest`, "" for "unknown". */
  clusterName(dest: i32): string {
    return dest == this.clusters.length - 1 ? "" : this.clusters[dest];
  }

  createContext(context_id: u32): Context {
    return new ThriftStream(context_id, this);
  }
}

/** One direction's decoding: the decoder and the bytes it has not consumed yet. */
class Side {
  dec: ThriftDecoder;
  buf: ArrayBuffer = new ArrayBuffer(256);
  len: i32 = 0;
  /** Stream offset of buf[0]. */
  base: i64 = 0;
  /** Stream offset of the host buffer's first byte (advances when the data passes). */
  hostBase: i64 = 0;
  /** Stream bytes copied into buf or skipped so far. */
  seen: i64 = 0;
  /** Payload bytes of the current frame still to skip uncopied (ThriftDecoder.skipUnread). */
  skip: i64 = 0;
  /** Stream offset of the current message's first byte (set when its begin is decoded). */
  msgStart: i64 = 0;
  /** The current message's begin was handled. */
  begun: bool = false;
  failed: bool = false;

  constructor(cfg: ThriftFilterConfig) {
    const c = new ThriftDecoderConfig();
    c.transport = cfg.transport;
    c.protocol = cfg.protocol;
    c.mode = DecodeMode.MessageBegin;
    this.dec = new ThriftDecoder(c);
  }

  /** Skips, then copies up to WINDOW of the host buffer's new bytes; false when the host call failed. */
  copyIn(type: BufferType, size: u32): bool {
    let fresh = this.hostBase + <i64>size - this.seen;
    if (fresh <= 0) return true;
    // Skipped payload is counted, not copied: buf is empty meanwhile, so base follows seen.
    const k = fresh < this.skip ? fresh : this.skip;
    this.skip -= k;
    this.seen += k;
    this.base += k;
    fresh -= k;
    if (fresh <= 0) return true;
    if (fresh > WINDOW) fresh = WINDOW;
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
    return true;
  }

  /** Drops consumed bytes (keeping an unfinished message begin). */
  compact(): void {
    const d = this.dec;
    let keep = this.begun ? d.pos : d.messageStart;
    if (keep > d.pos) keep = d.pos;
    if (keep <= 0) return;
    if (keep > this.len) keep = this.len;
    memory.copy(changetype<usize>(this.buf), changetype<usize>(this.buf) + <usize>keep, <usize>(this.len - keep));
    this.len -= keep;
    this.base += keep;
    d.discard(keep);
  }

  /** The host must keep its bytes: an unfinished message whose begin is not decoded yet. */
  get partial(): bool {
    return !this.begun && this.len > 0 && !this.failed;
  }

  /**
   * After a decode that stopped in a frame's payload: the rest of the frame is skipped by count,
   * so a framed message costs the same whatever its payload size. Needs a decoded begin (compact
   * then empties buf, so base keeps following seen while skipping).
   */
  skipPayload(): void {
    if (!this.begun || this.failed) return;
    const n = this.dec.skipUnread();
    if (n <= 0) return;
    this.compact();
    this.skip = n;
  }

  /** Marks the current message's begin: its stream offset. */
  begin(): void {
    this.begun = true;
    this.msgStart = this.base + <i64>this.dec.messageStart;
  }

  /** Stream bytes of the message just done. */
  get messageBytes(): i64 {
    return this.base + <i64>this.dec.pos - this.msgStart;
  }

  /** Host offset of a buffer offset. */
  host(o: i32): i32 {
    return <i32>(this.base + <i64>o - this.hostBase);
  }

  name(): string {
    const d = this.dec;
    return String.UTF8.decodeUnsafe(changetype<usize>(this.buf) + <usize>d.nameOffset, <usize>d.nameLength);
  }
}

/** A replacement of host bytes [start, end) decided while decoding one callback's data. */
class Edit {
  constructor(public start: i32, public end: i32, public bytes: ArrayBuffer) {}
}

const enum Phase {
  Idle = 0,
  Pending = 1,
  Decided = 2,
}

class ThriftStream extends Context {
  root_: ThriftRoot;
  phase: Phase = Phase.Idle;
  /** Per connection: waiting for the first message begin (decode_timeout_ms). */
  waiting: bool = false;
  /** Downstream held by a delay fault until this time (ms of nowMs()); 0 = not held. */
  heldUntil: u64 = 0;
  /** Deadline in the root's `waits` (decode timeout or delay end); 0 = none. */
  dueMs: u64 = 0;
  down: Side | null = null;
  up: Side | null = null;
  /** Destination label index of the connection (root.clusters), "unknown" until routed. */
  dest: i32 = 0;
  /** Rule whose route decided the connection, -1 for none. */
  routeRule: i32 = -1;
  mismatchLogged: bool = false;
  calls: PendingCalls = new PendingCalls(MAX_PENDING_CALLS);
  /** The call whose reply is being read (taken from `calls` at the reply's begin). */
  answering: PendingCall | null = null;
  /** The reply being held for a rewrite. */
  holding: PendingCall | null = null;
  /** THeader bytes after the size word of the held reply (its own header, for the rewrite). */
  holdHeader: ArrayBuffer = new ArrayBuffer(0);
  edits: Edit[] = [];
  /** The connection's attributes for the telemetry engine, read at its start. */
  conn: ConnectionAttributes | null = null;
  /** The call whose message is being read (its request bytes are known at its end). */
  reading: RequestAttributes | null = null;

  constructor(context_id: u32, root: ThriftRoot) {
    super(context_id, root);
    this.root_ = root;
  }

  /** One log line about this connection, named by its context id. */
  note(level: LogLevel, text: string): void {
    log(level, "thrift: context " + this.context_id.toString() + " " + text);
  }

  onNewConnection(): Action {
    const r = this.root_;
    const cfg = r.cfg;
    if (cfg === null) return Action.Continue;
    this.down = new Side(cfg);
    this.up = new Side(cfg);
    this.dest = r.clusters.length - 1;
    this.conn = rpcConnection(r.engine);
    // Per request thrift_proxy routes every call: nothing to hold, nothing to decide.
    if (cfg.perRequest) {
      this.phase = Phase.Decided;
      return Action.Continue;
    }
    this.phase = Phase.Pending;
    this.waiting = true;
    if (r.ticking) r.waits.set(this, nowMs() + <u64>cfg.decodeTimeoutMs);
    // Hold tcp_proxy's onNewConnection (it picks the cluster there) until the first call decides.
    return Action.Pause;
  }

  /** From on_tick: a decode timeout or the end of a delay. */
  onDeadline(): void {
    if (this.waiting) this.expire();
    else if (this.heldUntil != 0) this.release();
  }

  /** decode_timeout_ms passed without a message begin: tcp_proxy's own cluster. */
  expire(): void {
    this.waiting = false;
    count(this.root_.metrics.timeouts);
    this.giveUp("decode_timeout_ms passed");
    resumeDownstream(this.context_id);
  }

  /** Holds the downstream (and every call behind this one) until `untilMs` at least. */
  hold(untilMs: u64): void {
    if (untilMs <= this.heldUntil) return;
    this.heldUntil = untilMs;
    this.root_.waits.set(this, untilMs);
  }

  /**
   * The delay is over: everything read so far goes on. Bytes of a message whose begin is not
   * decoded yet stay until the next read decides them (that call may be refused or delayed).
   */
  release(): void {
    this.heldUntil = 0;
    const s = this.down!;
    if (s.partial) return;
    s.hostBase = s.seen;
    resumeDownstream(this.context_id);
  }

  /** Stops decoding this connection; the bytes pass untouched from now on. */
  giveUp(why: string): void {
    this.phase = Phase.Decided;
    this.waiting = false;
    if (this.down !== null) this.down!.failed = true;
    if (this.up !== null) this.up!.failed = true;
    this.note(LogLevel.Debug, why + "; passing bytes through");
  }

  onDownstreamData(data_size: u32, end_of_stream: bool): Action {
    const s = this.down;
    if (s === null) return Action.Continue;
    // Held bytes pass only through release(): Continue would hand the next filter the whole buffer.
    if (s.failed) return this.heldUntil != 0 ? Action.Pause : Action.Continue;
    const d = s.dec;
    // A window at a time: the payload behind a framed message begin is then skipped, not copied.
    do {
      // On failure the edits of earlier windows still apply: they belong to this buffer only.
      if (!s.copyIn(BufferType.NetworkDownstreamData, data_size)) {
        this.giveUp("get_buffer_bytes failed");
        break;
      }
      // While skipping a payload buf is empty: a decode would end the frame before its bytes came.
      while (s.skip == 0) {
        const st = d.decode(changetype<usize>(s.buf), s.len);
        if (st == DecodeStatus.Error) {
          count(this.root_.metrics.decodeErrors);
          this.giveUp("downstream: " + d.error);
          break;
        }
        if (d.messageBeginReady && !s.begun) {
          s.begin();
          this.callBegin(s);
        }
        if (st != DecodeStatus.Done) {
          s.skipPayload();
          break;
        }
        this.callDone(s);
        s.begun = false;
      }
      if (!s.failed) s.compact();
    } while (!s.failed && s.seen < s.hostBase + <i64>data_size);
    s.hostBase -= this.applyEdits(BufferType.NetworkDownstreamData, data_size);
    if (this.phase == Phase.Pending && !s.failed) {
      if (end_of_stream) {
        this.giveUp("closed before a message begin");
        return Action.Continue;
      }
      return Action.Pause;
    }
    if (this.heldUntil != 0 || (s.partial && !end_of_stream)) return Action.Pause;
    s.hostBase = s.seen;
    return Action.Continue;
  }

  callBegin(s: Side): void {
    const d = s.dec;
    const r = this.root_;
    const cfg = r.cfg!;
    const t = d.messageType;
    if (t != MessageType.Call && t != MessageType.Oneway) return;
    const h = d.header;
    const name = s.name();
    // Service and method as Envoy's thrift_proxy reads a multiplexed name (match.ts).
    const colon = name.indexOf(":");
    const call = Call.named(colon >= 0 ? name.substring(0, colon) : "", colon >= 0, name.substring(colon + 1), name);
    const p = changetype<usize>(s.buf);
    for (let i = 0; i < h.count; i++) {
      call.addHeader(String.UTF8.decodeUnsafe(p + <usize>h.keyOffset[i], <usize>h.keyLength[i]),
        String.UTF8.decodeUnsafe(p + <usize>h.valueOffset[i], <usize>h.valueLength[i]));
    }
    const ri = firstMatch(cfg.rules, call);
    const rule = ri >= 0 ? cfg.rules[ri] : null;
    if (cfg.perRequest) {
      // thrift_proxy routes this call by the same rules: one cluster is known, a weighted pick is not.
      this.dest = rule !== null && rule.clusters.length == 1 ? r.ruleClusters[ri][0] : r.clusters.length - 1;
    } else if (this.phase == Phase.Pending) {
      this.decide(ri, rule);
    } else if (rule !== null && rule.clusters.length > 0 && ri != this.routeRule && !this.sameDestination(ri)) {
      this.mismatch(name, rule);
    }
    // Request bytes are the whole message, known at its end (callDone).
    const req = rpcCall("thrift", d.seqId.toString(), r.clusterName(this.dest), 0);
    req.apiService = call.service;
    req.apiOperation = call.method;
    // THeader headers; framed and unframed transports carry none (the attributes stay "").
    setHeaderAttrs(req, cfg.telemetry.headerSlots, call.headerKeys, call.headerValues);
    const v = r.verdict;
    v.judge(rule, r.rng, "protomesh.thrift.rl.");
    checkCall(r.engine, this.conn!, req, v);
    if (v.delayMs > 0) {
      this.hold(nowMs() + <u64>v.delayMs);
      req.flags = DELAYED_FLAG;
    }
    const oneway = t == MessageType.Oneway;
    this.reading = req;
    if (v.refusal != Refusal.None) this.refuse(s, v.refusal, v.message, oneway, req);
    else if (!oneway) {
      const c = this.track(d.seqId, Answer.Pass, 0, "");
      if (c !== null) c.req = req;
    }
  }

  /** True when rule `ri` routes to the cluster the connection already uses. */
  sameDestination(ri: i32): bool {
    const idx = this.root_.ruleClusters[ri];
    for (let i = 0; i < idx.length; i++) if (idx[i] == this.dest) return true;
    return false;
  }

  mismatch(name: string, rule: Rule): void {
    count(this.root_.metrics.routeMismatch);
    if (this.mismatchLogged) return;
    this.mismatchLogged = true;
    this.note(LogLevel.Info, "call " + name + " matches rule " + rule.name + " of another destination (route_mismatch)");
  }

  decide(ri: i32, rule: Rule | null): void {
    const r = this.root_;
    this.phase = Phase.Decided;
    this.waiting = false;
    this.dueMs = 0;
    if (rule === null || rule.clusters.length == 0) return;
    const k = pickCluster(rule, r.rng);
    this.routeRule = ri;
    this.dest = r.ruleClusters[ri][k];
    const f = setEnvoyFilterState(TCP_PROXY_CLUSTER, rule.clusters[k], LifeSpan.DownstreamConnection);
    if (f != WasmResult.Ok) {
      warnFailed("thrift: set_envoy_filter_state " + TCP_PROXY_CLUSTER, f, "; tcp_proxy keeps its own cluster");
      this.dest = r.clusters.length - 1;
    }
  }

  track(seq: i32, answer: Answer, outcome: i32, message: string): PendingCall | null {
    const c = this.calls.add(seq, getCurrentTimeNanoseconds(), this.dest);
    if (c === null) return null;
    c.answer = answer;
    c.outcome = outcome;
    c.message = message;
    return c;
  }

  /** Overwrites the method name with '$' and arranges the answer's replacement. */
  refuse(s: Side, refusal: Refusal, message: string, oneway: bool, req: RequestAttributes): void {
    const d = s.dec;
    const start = s.host(d.methodOffset);
    const dollars = new ArrayBuffer(d.methodLength);
    memory.fill(changetype<usize>(dollars), DOLLAR, <usize>d.methodLength);
    this.edits.push(new Edit(start, start + d.methodLength, dollars));
    req.flags = REFUSAL_FLAGS[refusal];
    const c = this.track(d.seqId, oneway ? Answer.Drop : Answer.Replace, <i32>refusal, message);
    if (c === null) return;
    c.data = s.buf.slice(d.nameOffset, d.nameOffset + d.nameLength);
    // Reported when its answer is replaced; a refused oneway call at its end (callDone).
    if (!oneway) c.req = req;
  }

  /**
   * A call's message is read: its size is known. A oneway call (refused or not) and a call the
   * full table cannot follow are reported now; the others when their answer comes.
   */
  callDone(s: Side): void {
    const d = s.dec;
    if (d.messageType != MessageType.Call && d.messageType != MessageType.Oneway) return;
    const req = this.reading;
    this.reading = null;
    if (req === null) return;
    req.requestBytes = <u64>s.messageBytes;
    const engine = this.root_.engine;
    if (d.messageType == MessageType.Oneway) {
      reportCall(engine, this.conn!, req, req.flags.length > 0 && req.flags != DELAYED_FLAG ? EXCEPTION_CODE : ONEWAY_CODE, 0, 0);
    } else if (this.calls.find(d.seqId) === null) {
      reportCall(engine, this.conn!, req, req.flags.length > 0 && req.flags != DELAYED_FLAG ? EXCEPTION_CODE : REPLY_CODE, 0, 0);
    }
  }

  /**
   * Applies the edits of this callback by rewriting the host buffer whole. Returns how many bytes
   * the buffer grew (negative: shrank), so bytes still held keep their host offsets.
   */
  applyEdits(type: BufferType, size: u32): i32 {
    if (this.edits.length == 0) return 0;
    const edits = this.edits;
    this.edits = [];
    const cur = getBufferBytes(type, 0, size);
    if (!cur.ok || cur.value.byteLength != <i32>size) {
      warnFailed("thrift: get_buffer_bytes", cur.status, "; call not refused");
      return 0;
    }
    // Edits must lie in order inside what the host holds: a host offset outside it is a bookkeeping
    // error, logged, never a copy out of bounds.
    let total = <i32>size;
    let last = 0;
    for (let i = 0; i < edits.length; i++) {
      const e = edits[i];
      if (e.start < last || e.end < e.start || e.end > <i32>size) {
        log(LogLevel.Warn, "thrift: rewrite outside the buffer; not applied");
        return 0;
      }
      last = e.end;
      total += e.bytes.byteLength - (e.end - e.start);
    }
    const out = new ArrayBuffer(total);
    const src = changetype<usize>(cur.value);
    const dst = changetype<usize>(out);
    let from = 0;
    let at = 0;
    for (let i = 0; i < edits.length; i++) {
      const e = edits[i];
      memory.copy(dst + <usize>at, src + <usize>from, <usize>(e.start - from));
      at += e.start - from;
      memory.copy(dst + <usize>at, changetype<usize>(e.bytes), <usize>e.bytes.byteLength);
      at += e.bytes.byteLength;
      from = e.end;
    }
    memory.copy(dst + <usize>at, src + <usize>from, <usize>(<i32>size - from));
    const w = setBufferBytes(type, 0, size, out);
    if (w != WasmResult.Ok) {
      warnFailed("thrift: set_buffer_bytes", w);
      return 0;
    }
    return total - <i32>size;
  }

  onUpstreamData(data_size: u32, end_of_stream: bool): Action {
    const s = this.up;
    if (s === null || s.failed) return Action.Continue;
    const d = s.dec;
    do {
      if (!s.copyIn(BufferType.NetworkUpstreamData, data_size)) {
        s.failed = true;
        this.holding = null;
        break;
      }
      while (s.skip == 0) {
        const st = d.decode(changetype<usize>(s.buf), s.len);
        if (st == DecodeStatus.Error) {
          count(this.root_.metrics.decodeErrors);
          s.failed = true;
          // A reply held for a rewrite that does not decode passes as it is.
          this.answering = null;
          this.holding = null;
          this.note(LogLevel.Debug, "upstream: " + d.error + "; passing replies through");
          break;
        }
        if (d.messageBeginReady && !s.begun) {
          s.begin();
          this.replyBegin(s);
        }
        if (st != DecodeStatus.Done) {
          s.skipPayload();
          break;
        }
        this.replyDone(s);
        s.begun = false;
      }
      if (!s.failed) s.compact();
    } while (!s.failed && s.seen < s.hostBase + <i64>data_size);
    s.hostBase -= this.applyEdits(BufferType.NetworkUpstreamData, data_size);
    if ((s.partial || this.holding !== null) && !end_of_stream) return Action.Pause;
    s.hostBase = s.seen;
    return Action.Continue;
  }

  /**
   * A reply's begin decides what happens to it, once: the call it answers leaves the table here,
   * so a call read while the reply streams cannot turn a reply already passed into a rewrite.
   * A THeader reply's header is kept now: compaction drops the begin's bytes before the end.
   */
  replyBegin(s: Side): void {
    const d = s.dec;
    const t = d.messageType;
    const c = t == MessageType.Reply || t == MessageType.Exception ? this.calls.take(d.seqId) : null;
    this.answering = c;
    if (c === null || c.answer == Answer.Pass) return;
    this.holding = c;
    const from = d.messageStart + 4;
    this.holdHeader = d.transport == ThriftTransport.Header ? s.buf.slice(from, from + 10 + d.header.headerSize) : new ArrayBuffer(0);
  }

  replyDone(s: Side): void {
    const d = s.dec;
    const t = d.messageType;
    const c = this.answering;
    this.answering = null;
    this.holding = null;
    if (c === null) return;
    const engine = this.root_.engine;
    const req = c.req;
    const size = <i32>s.messageBytes;
    const start = <i32>(s.msgStart - s.hostBase);
    if (c.answer == Answer.Drop) {
      this.edits.push(new Edit(start, start + size, new ArrayBuffer(0)));
      return;
    }
    if (c.answer == Answer.Replace) {
      const h = this.holdHeader;
      const bytes = encodeAppException(d.transport, d.protocol, c.data, <i32>c.id, DENY_EXCEPTION_TYPE, c.message, changetype<usize>(h), h.byteLength);
      this.edits.push(new Edit(start, start + size, bytes));
      if (req !== null) reportCall(engine, this.conn!, req, EXCEPTION_CODE, <u64>bytes.byteLength, c.startNs);
      return;
    }
    if (req !== null) reportCall(engine, this.conn!, req, t == MessageType.Exception ? EXCEPTION_CODE : REPLY_CODE, <u64>size, c.startNs);
  }

  onDone(): bool {
    this.forget();
    return true;
  }

  onDelete(): void {
    this.forget();
  }

  /** The stream is gone: nothing to expire or resume. */
  forget(): void {
    this.waiting = false;
    this.heldUntil = 0;
    this.dueMs = 0;
  }
}

registerRootContext((context_id: u32): RootContext => new ThriftRoot(context_id), "thrift");
