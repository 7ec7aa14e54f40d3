// sniffer: classifies the first bytes of each connection and routes (route), guards (bypass) or
// counts (observe) it. Host glue only; parsing, matching and decisions are in config.ts,
// cidr.ts and decide.ts. See README.md and docs/design/sniffer-contract.md.
//
// Never throws or aborts; a failed host call is logged at warn and the connection continues
// untouched (tcp_proxy's own cluster), so only an explicit deny closes traffic.
import {
  Action, BufferType, Context, LifeSpan, LogLevel, MetricType, RootContext, StreamType, WasmResult,
  closeStream, continueStream, defineMetric, encodeSetEnvoyFilterStateArguments,
  getBufferBytesInto, getLogLevel, getPluginConfiguration, getPropertyBytes, incrementMetric, joinPath, log,
  registerRootContext, setEffectiveContext, setEnvoyFilterStateRaw, setPropertyRaw, setTickPeriodMilliseconds,
} from "../../runtime";
import { ClassifyFlags, Decision, Protocol, SniffState, classifyPtr, finishPtr } from "../../codecs/detect/index";
import { PROTOCOL_COUNT, protocolName } from "../../codecs/detect/result";
import { alpnTextLength, lowerAscii, writeAlpnText } from "../../codecs/tls/index";
import { Mode, SnifferConfig, modeName, parseSnifferConfigBytes } from "./config";
import { IpAddr, destinationAllowed, parseHostPort } from "./cidr";
import {
  Reason, Verdict, classifyReason, clusterFor, debugLine, keepLimit, metricName, tickPeriodMs, ticksToExpire,
  verdictFor, verdictName,
} from "./decide";
import {
  ProtocolRecords, recordArgsLen, recordArgsPtr, recordAt, recordMetric, recordProtocolLen, recordProtocolPtr,
  recordVerdict,
} from "./records";
export * from "../../runtime/exports";

// Envoy stores set_property values as filter state "wasm." + path, path taken verbatim
// (source/extensions/common/wasm/context.cc, Context::setProperty), so these are one segment.
const PATH_PROTOCOL: ArrayBuffer = String.UTF8.encode("protomesh.protocol");
const PATH_SNI: ArrayBuffer = String.UTF8.encode("protomesh.sni");
const PATH_ALPN: ArrayBuffer = String.UTF8.encode("protomesh.alpn");
// Their addresses, for host calls without managed arguments (the constants keep them alive).
const PATH_PROTOCOL_PTR: usize = changetype<usize>(PATH_PROTOCOL);
const PATH_PROTOCOL_LEN: usize = <usize>PATH_PROTOCOL.byteLength;
const PATH_SNI_PTR: usize = changetype<usize>(PATH_SNI);
const PATH_SNI_LEN: usize = <usize>PATH_SNI.byteLength;
const PATH_ALPN_PTR: usize = changetype<usize>(PATH_ALPN);
const PATH_ALPN_LEN: usize = <usize>PATH_ALPN.byteLength;
const PATH_DESTINATION: ArrayBuffer = joinPath(["destination", "address"]);
const TCP_PROXY_CLUSTER = "envoy.tcp_proxy.cluster";
const EMPTY_BUF: ArrayBuffer = new ArrayBuffer(0);
const NO_METRIC: i64 = -1;
const POOL_MAX: i32 = 256;
/** Smallest accumulation buffer; a reused context keeps its buffer up to BUF_POOLED_MAX bytes. */
const BUF_MIN: i32 = 64;
const BUF_POOLED_MAX: i32 = 1024;

/**
 * A connection's sniffing state: the detectors' state and the buffer the first bytes accumulate
 * in (the host copies straight into it). It belongs to a stream context, and stream contexts are
 * reused (SnifferRoot.createContext), so a connection allocates neither.
 */
class Sniff {
  st: SniffState = new SniffState();
  /** Sized by the first flights seen (reserve), so an idle pooled context holds little. */
  buf: ArrayBuffer = EMPTY_BUF;

  /** Makes room for `need` bytes, keeping the first `keep`. */
  reserve(need: i32, keep: i32): void {
    let cap = this.buf.byteLength;
    if (need <= cap) return;
    if (cap < BUF_MIN) cap = BUF_MIN;
    while (cap < need) cap <<= 1;
    const next = new ArrayBuffer(cap);
    memory.copy(changetype<usize>(next), changetype<usize>(this.buf), <usize>keep);
    this.buf = next;
  }
}

/**
 * A connection's phase. Idle: not sniffing (before on_new_connection, unconfigured, or a reused
 * context between connections). Pending: bytes are being classified and the connection is on
 * the root's pending list. Decided: the result was published (or sniffing was abandoned); every
 * later callback passes the data through.
 *
 *   Idle -> Pending   on_new_connection (configured, destination allowed)
 *   Idle -> Decided   on_new_connection, bypass: destination outside allowed_destinations
 *   Pending -> Decided  a decision (match, cap, eos, timeout), a failed host call, or the close
 *   Decided -> Idle   the host deleted the context and the pool hands it to a new connection
 */
const enum Phase {
  Idle = 0,
  Pending = 1,
  Decided = 2,
}

function phaseName(p: Phase): string {
  switch (p) {
    case Phase.Pending: return "Pending";
    case Phase.Decided: return "Decided";
    default: return "Idle";
  }
}

@inline function statusText(s: WasmResult): string {
  return (<i32>s).toString();
}

/** A failed host call's warning, out of line so the data path carries no string temporaries. */
function warnStatus(what: string, s: WasmResult, after: string): void {
  log(LogLevel.Warn, what + statusText(s) + after);
}

/** The sniffer's metric ids (defined once per configuration) and counting without failing. */
class SnifferMetrics {
  /** connections_total id per Protocol (the verdict is fixed per protocol by the config). */
  connections: StaticArray<i64> = new StaticArray<i64>(PROTOCOL_COUNT);
  timeouts: i64 = NO_METRIC;
  capReached: i64 = NO_METRIC;
  deniedRoute: i64 = NO_METRIC;
  deniedDestination: i64 = NO_METRIC;
  warned: bool = false;

  defineAll(cfg: SnifferConfig): void {
    const prefix = cfg.statPrefix;
    const mode = modeName(cfg.mode);
    const connKeys = ["protocol", "mode", "action"];
    for (let i = 0; i < PROTOCOL_COUNT; i++) {
      const p = <Protocol>i;
      this.connections[i] = this.define(metricName(prefix, "connections_total", connKeys,
        [protocolName(p), mode, verdictName(verdictFor(cfg, p))]));
    }
    this.timeouts = this.define(metricName(prefix, "timeouts_total", ["mode"], [mode]));
    this.capReached = this.define(metricName(prefix, "cap_reached_total", ["mode"], [mode]));
    this.deniedRoute = cfg.mode == Mode.Route
      ? this.define(metricName(prefix, "denied_total", ["mode", "reason"], [mode, "route"]))
      : NO_METRIC;
    this.deniedDestination = cfg.mode == Mode.Bypass
      ? this.define(metricName(prefix, "denied_total", ["mode", "reason"], [mode, "destination"]))
      : NO_METRIC;
  }

  define(name: string): i64 {
    const r = defineMetric(MetricType.Counter, name);
    if (r.status != WasmResult.Ok) {
      log(LogLevel.Warn, "sniffer: define_metric " + name + " failed status=" + statusText(r.status));
      return NO_METRIC;
    }
    return <i64>r.value;
  }

  count(id: i64): void {
    if (id < 0) return;
    const s = incrementMetric(<u32>id, 1);
    if (s != WasmResult.Ok) this.countFailed(s);
  }

  countFailed(s: WasmResult): void {
    if (this.warned) return;
    this.warned = true;
    log(LogLevel.Warn, "sniffer: increment_metric failed status=" + statusText(s) + " (logged once per VM)");
  }
}

/**
 * Pending connections in start order = expiry order (one timeout per VM): a doubly linked list
 * gives O(1) append, O(1) removal on decision and O(expired) work per tick. Links are addresses,
 * not references, so linking costs no GC write barrier: a listed context is always alive (the
 * runtime pins it until proxy_on_delete, and closeBooks unlinks it before that).
 */
class PendingList {
  /** List ends: addresses of stream contexts, 0 = none. */
  head: usize = 0;
  tail: usize = 0;

  append(s: SnifferStream, expireAt: u32): void {
    const a = changetype<usize>(s);
    s.expireAt = expireAt;
    s.prev = this.tail;
    s.next = 0;
    const t = this.tail;
    if (t != 0) changetype<SnifferStream>(t).next = a;
    else this.head = a;
    this.tail = a;
    s.queued = true;
  }

  unlink(s: SnifferStream): void {
    if (!s.queued) return;
    const p = s.prev;
    const n = s.next;
    if (p != 0) changetype<SnifferStream>(p).next = n;
    else this.head = n;
    if (n != 0) changetype<SnifferStream>(n).prev = p;
    else this.tail = p;
    s.prev = 0;
    s.next = 0;
    s.queued = false;
  }

  /** Unlinks and expires every connection whose time came at tick `now`, oldest first. */
  expireDue(now: u32): void {
    while (true) {
      const a = this.head;
      if (a == 0) break;
      const s = changetype<SnifferStream>(a);
      if (<i32>(now - s.expireAt) < 0) break;
      this.unlink(s);
      s.expire();
    }
  }
}

/**
 * Deleted stream contexts kept for the next connections, at most POOL_MAX: a stack linked by
 * address through SnifferStream.poolNext, so a connection costs no array push or pop. A pooled
 * context is retained (BaseContext.retain: it stays pinned after proxy_on_delete), which is what
 * keeps it alive while only this list knows it; the runtime does not pin it again when
 * createContext hands it out.
 */
class ContextPool {
  /** Top of the stack: a stream context's address, 0 = empty. */
  head: usize = 0;
  size: i32 = 0;

  /** The host deleted `s` (its books are closed): keep it for the next connection. */
  recycle(s: SnifferStream): void {
    if (this.size >= POOL_MAX) return;
    const w = s.work;
    if (w.buf.byteLength > BUF_POOLED_MAX) w.buf = EMPTY_BUF;
    s.retain();
    s.poolNext = this.head;
    this.head = changetype<usize>(s);
    this.size++;
  }

  /** A pooled context renewed for `context_id`, or null when the pool is empty. */
  take(context_id: u32): SnifferStream | null {
    const a = this.head;
    if (a == 0) return null;
    const s = changetype<SnifferStream>(a);
    this.head = s.poolNext;
    s.poolNext = 0;
    this.size--;
    s.renew(context_id);
    return s;
  }

  /** Lets every pooled context go (the root context is being deleted). */
  releaseAll(): void {
    while (this.head != 0) {
      const s = changetype<SnifferStream>(this.head);
      this.head = s.poolNext;
      s.poolNext = 0;
      s.release();
    }
    this.size = 0;
  }
}

class SnifferRoot extends RootContext {
  cfg: SnifferConfig | null = null;
  metrics: SnifferMetrics = new SnifferMetrics();
  /** What a decision publishes, per Protocol (records.ts). */
  records: ProtocolRecords = new ProtocolRecords();
  pending: PendingList = new PendingList();
  pool: ContextPool = new ContextPool();
  // Data-path copies of the configuration, written only by copyConfig (zero, i.e. false, until
  // the first successful onConfigure): a callback reads a field of the root instead of
  // following (and spilling) the reference to `cfg`.
  /** cfg is set (onConfigure succeeded at least once). */
  configured: bool;
  /** bypass with allowed_destinations: each connection's destination is checked. */
  guardDestinations: bool;
  route: bool;
  maxDetect: i32;
  maxTls: i32;
  /** keepLimit(cfg, true) and keepLimit(cfg, false). */
  keepTls: i32;
  keepOther: i32;
  /** Ticks seen (onTick) and how many of them a pending connection may wait (startTicks). */
  tickCount: u32 = 0;
  expireTicks: u32 = 0;
  /** The host logs at debug (refreshLogLevel, at configure and every tick). */
  debug: bool = false;

  onConfigure(configuration_size: u32): bool {
    const raw = getPluginConfiguration();
    const parsed = parseSnifferConfigBytes(raw.value);
    if (!parsed.ok) {
      log(LogLevel.Error, parsed.error);
      return false;
    }
    const cfg = parsed.config!;
    this.cfg = cfg;
    this.metrics.defineAll(cfg);
    this.copyConfig(cfg);
    this.writeRecords(cfg);
    this.startTicks(cfg);
    this.refreshLogLevel();
    return true;
  }

  copyConfig(cfg: SnifferConfig): void {
    this.configured = true;
    this.guardDestinations = cfg.mode == Mode.Bypass && cfg.allowedDestinations !== null;
    this.route = cfg.mode == Mode.Route;
    this.maxDetect = cfg.maxDetectBytes;
    this.maxTls = cfg.maxTlsBytes;
    this.keepTls = keepLimit(cfg, true);
    this.keepOther = keepLimit(cfg, false);
  }

  /** After metrics are defined: the records carry the connections_total ids. */
  writeRecords(cfg: SnifferConfig): void {
    for (let i = 0; i < PROTOCOL_COUNT; i++) {
      const p = <Protocol>i;
      const cluster = clusterFor(cfg, p);
      const args = cluster.length == 0
        ? EMPTY_BUF
        : encodeSetEnvoyFilterStateArguments(TCP_PROXY_CLUSTER, cluster, LifeSpan.DownstreamConnection);
      this.records.write(p, String.UTF8.encode(protocolName(p)), args, this.metrics.connections[i], verdictFor(cfg, p));
    }
  }

  startTicks(cfg: SnifferConfig): void {
    const period = tickPeriodMs(cfg.detectTimeoutMs);
    this.expireTicks = ticksToExpire(cfg.detectTimeoutMs, period);
    const s = setTickPeriodMilliseconds(<u32>period);
    if (s != WasmResult.Ok) {
      log(LogLevel.Warn, "sniffer: set_tick_period_milliseconds failed status=" + statusText(s) +
        "; detect_timeout_ms will not fire");
      this.expireTicks = 0;
    }
  }

  refreshLogLevel(): void {
    const l = getLogLevel();
    this.debug = l.ok && l.value <= <u32>LogLevel.Debug;
  }

  onTick(): void {
    this.tickCount++;
    this.refreshLogLevel();
    if (this.expireTicks != 0) this.pending.expireDue(this.tickCount);
  }

  /** The plugin is going away: its pooled stream contexts go with it. */
  onDelete(): void {
    this.pool.releaseAll();
  }

  createContext(context_id: u32): Context {
    const s = this.pool.take(context_id);
    if (s !== null) return s;
    return new SnifferStream(context_id, this);
  }
}

class SnifferStream extends Context {
  /** Detector state and the first bytes (up to keepLimit, in `work.buf`); kept across reuse. */
  work: Sniff = new Sniff();
  // Per-connection fields: set only by begin(), for a new context and a reused one alike.
  phase: Phase;
  /** The root's mode was route when the connection started (the callbacks must agree on Pause). */
  route: bool;
  accLen: i32;
  /** Downstream bytes seen in total (the debug line's bytes=). */
  total: i32;
  flags: u32;
  /** Pending list links (PendingList): addresses of stream contexts, 0 = none. */
  prev: usize;
  next: usize;
  queued: bool;
  expireAt: u32;
  /** ContextPool's link while pooled (address, 0 = none); kept out of begin(): the pool owns it. */
  poolNext: usize = 0;

  constructor(context_id: u32, root: SnifferRoot) {
    super(context_id, root);
    this.begin();
  }

  /** A pooled context for a new connection: as if just constructed (root and work stay). */
  renew(context_id: u32): void {
    this.context_id = context_id;
    // Decided -> Idle: a new connection.
    this.enter(Phase.Idle);
    this.begin();
  }

  /** Every per-connection field at its start value. */
  begin(): void {
    this.phase = Phase.Idle;
    this.route = false;
    this.accLen = 0;
    this.total = 0;
    this.flags = 0;
    this.prev = 0;
    this.next = 0;
    this.queued = false;
    this.expireAt = 0;
  }

  @inline get sniffer(): SnifferRoot {
    return changetype<SnifferRoot>(this.root);
  }

  /** The one place the phase changes; logged by name when debug logging is on. */
  enter(to: Phase): void {
    const from = this.phase;
    this.phase = to;
    if (this.sniffer.debug) this.logTransition(from, to);
  }

  logTransition(from: Phase, to: Phase): void {
    log(LogLevel.Debug, "sniffer: context " + this.context_id.toString() + " " + phaseName(from) + " -> " +
      phaseName(to));
  }

  onNewConnection(): Action {
    const r = this.sniffer;
    if (!r.configured) return Action.Continue;
    if (r.guardDestinations && !this.destinationOk(r.cfg!)) return this.denyDestination();
    const st = this.work.st;
    st.reset();
    st.tlsCap = r.maxTls;
    // Idle -> Pending: classify the first bytes; the timeout starts now.
    this.enter(Phase.Pending);
    const route = r.route;
    this.route = route;
    if (r.expireTicks != 0) r.pending.append(this, r.tickCount + r.expireTicks);
    // route must hold tcp_proxy's onNewConnection (it picks the cluster there) until decided.
    return route ? Action.Pause : Action.Continue;
  }

  /** bypass: the destination is outside allowed_destinations. */
  denyDestination(): Action {
    const r = this.sniffer;
    // Idle -> Decided: nothing to sniff on a connection that is being closed.
    this.enter(Phase.Decided);
    r.metrics.count(r.metrics.deniedDestination);
    const s = closeStream(StreamType.Downstream);
    if (s != WasmResult.Ok) {
      log(LogLevel.Warn, "sniffer: close_stream(downstream) failed status=" + statusText(s) + "; letting the connection through");
      return Action.Continue;
    }
    return Action.Pause;
  }

  destinationOk(cfg: SnifferConfig): bool {
    const v = getPropertyBytes(PATH_DESTINATION);
    if (!v.ok) {
      log(LogLevel.Warn, "sniffer: destination.address unavailable status=" + statusText(v.status) + "; allowing");
      return true;
    }
    const a = new IpAddr();
    const port = parseHostPort(v.value, a);
    if (port < 0) {
      log(LogLevel.Warn, "sniffer: destination.address \"" + v.text() + "\" not understood; allowing");
      return true;
    }
    if (destinationAllowed(cfg.allowedDestinations!, a, port)) return true;
    if (this.sniffer.debug) {
      log(LogLevel.Debug, "sniffer: destination=" + v.text() + " outside allowed_destinations action=deny");
    }
    return false;
  }

  onUpstreamData(data_size: u32, end_of_stream: bool): Action {
    // Server-first (observe/bypass with IMMEDIATE): the greeting came before any client byte.
    if (this.phase == Phase.Pending && this.total == 0 && data_size > 0) {
      this.flags |= ClassifyFlags.AfterServerGreeting;
    }
    return Action.Continue;
  }

  onDownstreamData(data_size: u32, end_of_stream: bool): Action {
    if (this.phase != Phase.Pending) return Action.Continue;
    // Fields go through locals: AssemblyScript spills a managed reference to its shadow stack
    // at every call it is live across, and this runs once or twice per connection.
    const r = this.sniffer;
    const w = this.work;
    const st = w.st;
    const route = this.route;
    const size = <i32>data_size;
    let acc = this.accLen;
    // route holds the bytes (we answer Pause), so the host buffer starts with what we kept;
    // observe/bypass answer Continue and tcp_proxy drains it, so each callback has new bytes.
    let start = 0;
    let fresh = size;
    if (route) {
      if (size < acc) return this.abandon("downstream buffer shrank while held");
      start = acc;
      fresh = size - acc;
      this.total = size;
    } else {
      this.total += size;
    }
    const limit = (st.alive & (<u32>1 << <u32>Protocol.Tls)) != 0 || !st.started ? r.keepTls : r.keepOther;
    let want = limit - acc;
    if (want > fresh) want = fresh;
    if (want > 0) {
      w.reserve(acc + want, acc);
      const n = getBufferBytesInto(BufferType.NetworkDownstreamData, <u32>start, <u32>want, w.buf, acc);
      if (n < 0) return this.abandonStatus("get_buffer_bytes failed status=", <WasmResult>(-n));
      acc += n;
      this.accLen = acc;
    }
    const p = changetype<usize>(w.buf);
    let d = st.decision;
    if (acc > 0) d = classifyPtr(st, p, acc, r.maxDetect, this.flags);
    if (d == Decision.NeedMoreData) {
      // Pending, still: hold (route) or pass (observe/bypass) and wait for more bytes.
      if (!end_of_stream) return route ? Action.Pause : Action.Continue;
      finishPtr(st, p, acc);
      return this.publish(st.protocol, Reason.Eos);
    }
    return this.publish(st.protocol, classifyReason(st));
  }

  /** detect_timeout_ms passed (called from the root's on_tick): tcp, then let the data go. */
  expire(): void {
    const s = setEffectiveContext(this.context_id);
    if (s != WasmResult.Ok) {
      log(LogLevel.Warn, "sniffer: set_effective_context(" + this.context_id.toString() + ") failed status=" +
        statusText(s));
      this.finishQuietly();
      return;
    }
    const a = this.publish(Protocol.Tcp, Reason.Timeout);
    if (this.route && a == Action.Continue) {
      const c = continueStream(StreamType.Downstream);
      if (c != WasmResult.Ok) log(LogLevel.Warn, "sniffer: continue_stream(downstream) failed status=" + statusText(c));
    }
  }

  /**
   * Pending -> Decided on a live connection: filter state, metrics, debug line, then the
   * verdict (close, or route's cluster for tcp_proxy). Returns the action for the callback.
   */
  publish(proto: Protocol, reason: Reason): Action {
    const r = this.sniffer;
    r.pending.unlink(this);
    this.enter(Phase.Decided);
    const e = recordAt(r.records.base, proto);
    const verdict = recordVerdict(e);
    const s = setPropertyRaw(PATH_PROTOCOL_PTR, PATH_PROTOCOL_LEN, recordProtocolPtr(e), recordProtocolLen(e));
    if (s != WasmResult.Ok) warnStatus("sniffer: set_property protomesh.protocol failed status=", s, "");
    if (proto == Protocol.Tls && this.accLen > 0) this.publishTls();
    this.book(e, proto, reason, verdict);
    if (verdict == Verdict.Deny) return this.deny();
    const argsLen = recordArgsLen(e);
    if (argsLen > 0) {
      const f = setEnvoyFilterStateRaw(recordArgsPtr(e), argsLen);
      if (f != WasmResult.Ok) {
        warnStatus("sniffer: set_envoy_filter_state " + TCP_PROXY_CLUSTER + " failed status=", f,
          "; tcp_proxy keeps its own cluster");
      }
    }
    return Action.Continue;
  }

  /**
   * Pending -> Decided on a connection that is already gone (closeBooks): only the metrics and
   * the debug line, nothing the connection could still act on.
   */
  record(proto: Protocol, reason: Reason): void {
    const r = this.sniffer;
    r.pending.unlink(this);
    this.enter(Phase.Decided);
    const e = recordAt(r.records.base, proto);
    this.book(e, proto, reason, recordVerdict(e));
  }

  /** The decision's metrics and debug line (both paths). */
  book(e: usize, proto: Protocol, reason: Reason, verdict: Verdict): void {
    const m = this.sniffer.metrics;
    m.count(recordMetric(e));
    if (reason == Reason.Timeout) m.count(m.timeouts);
    else if (reason == Reason.Cap) m.count(m.capReached);
    if (verdict == Verdict.Deny) m.count(m.deniedRoute);
    if (this.sniffer.debug) log(LogLevel.Debug, debugLine(proto, this.total, reason, verdict));
  }

  deny(): Action {
    const c = closeStream(StreamType.Downstream);
    if (c == WasmResult.Ok) return Action.Pause;
    warnStatus("sniffer: close_stream(downstream) failed status=", c, "; letting the connection through");
    return Action.Continue;
  }

  /**
   * SNI (when it is a host name, lower-cased as Envoy keeps it) and the ALPN text (README: "SNI
   * and ALPN"), from the detector's offsets into the kept bytes or its reassembled ClientHello.
   * The detector noted while parsing whether the name has an upper-case letter and whether a
   * protocol name has a byte to escape, so the common case reads no byte twice: the name goes
   * out as is, and the ALPN list is joined in place (the bytes are not read again once
   * decided): each entry is <len><name>, and the joined form is the list without its first
   * length byte, the others ','. A list with a byte to escape is written to a fresh buffer.
   */
  publishTls(): void {
    const t = this.work.st.tls;
    if (!t.complete) return;
    const d = t.dataPtr(changetype<usize>(this.work.buf));
    const sniOffset = t.sniOffset;
    const sniLength = t.sniLength;
    if (sniOffset >= 0 && t.sniHostName) {
      if (t.sniUpper) lowerAscii(d, sniOffset, sniLength);
      const s = setPropertyRaw(PATH_SNI_PTR, PATH_SNI_LEN, d + <usize>sniOffset, <usize>sniLength);
      if (s != WasmResult.Ok) warnStatus("sniffer: set_property protomesh.sni failed status=", s, "");
    }
    const alpnOffset = t.alpnOffset;
    const alpnLength = t.alpnLength;
    if (alpnOffset < 0) return;
    let s: WasmResult;
    if (t.alpnPlain) {
      const end = alpnOffset + alpnLength;
      let i = alpnOffset + 1 + <i32>load<u8>(d + <usize>alpnOffset);
      while (i < end) {
        const n = <i32>load<u8>(d + <usize>i);
        store<u8>(d + <usize>i, 0x2c);
        i += 1 + n;
      }
      s = setPropertyRaw(PATH_ALPN_PTR, PATH_ALPN_LEN, d + <usize>(alpnOffset + 1), <usize>(alpnLength - 1));
    } else {
      const text = new ArrayBuffer(alpnTextLength(d, alpnOffset, alpnLength));
      writeAlpnText(d, alpnOffset, alpnLength, changetype<usize>(text));
      s = setPropertyRaw(PATH_ALPN_PTR, PATH_ALPN_LEN, changetype<usize>(text), <usize>text.byteLength);
    }
    if (s != WasmResult.Ok) warnStatus("sniffer: set_property protomesh.alpn failed status=", s, "");
  }

  abandonStatus(why: string, s: WasmResult): Action {
    return this.abandon(why + statusText(s));
  }

  /** A host call failed mid-sniff: stop sniffing and let the connection through unrouted. */
  abandon(why: string): Action {
    log(LogLevel.Warn, "sniffer: " + why + "; continuing without a decision");
    this.finishQuietly();
    return Action.Continue;
  }

  /** Pending -> Decided without a decision: nothing is published or counted. */
  finishQuietly(): void {
    this.sniffer.pending.unlink(this);
    this.enter(Phase.Decided);
  }

  // A connection that ends undecided is still counted (decision=eos), with what it sent.
  onDone(): bool {
    if (this.phase == Phase.Pending) this.closeBooks();
    return true;
  }

  onDelete(): void {
    if (this.phase == Phase.Pending) this.closeBooks();
    // Decided (or Idle) -> Idle once the pool hands this context to the next connection (renew).
    this.sniffer.pool.recycle(this);
  }

  closeBooks(): void {
    if (this.phase != Phase.Pending) return;
    const w = this.work;
    const st = w.st;
    if (this.accLen > 0) finishPtr(st, changetype<usize>(w.buf), this.accLen);
    this.record(this.accLen > 0 ? st.protocol : Protocol.Tcp, Reason.Eos);
  }
}

registerRootContext((context_id: u32): RootContext => new SnifferRoot(context_id), "sniffer");
