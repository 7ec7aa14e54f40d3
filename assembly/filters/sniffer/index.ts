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
import { Mode, SnifferConfig, modeName, parseSnifferConfigBytes } from "./config";
import { IpAddr, destinationAllowed, parseHostPort } from "./cidr";
import {
  Reason, Verdict, classifyReason, clusterFor, debugLine, keepLimit, metricName, tickPeriodMs, ticksToExpire,
  verdictFor, verdictName,
} from "./decide";
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

// What decide() reads per Protocol, as one raw (non-GC) record each: field loads at an address
// put nothing on AssemblyScript's shadow stack, unlike elements of managed arrays. The buffers
// the addresses point into are held by SnifferRoot.protoValue and clusterArgs.
const E_PROTO_PTR: usize = 0;
const E_PROTO_LEN: usize = 4;
const E_ARGS_PTR: usize = 8;
const E_ARGS_LEN: usize = 12;
const E_METRIC: usize = 16;
const E_VERDICT: usize = 24;
const ENTRY_SHIFT: usize = 5;

const enum Phase {
  Idle = 0,
  Pending = 1,
  Decided = 2,
}

@inline function statusText(s: WasmResult): string {
  return (<i32>s).toString();
}

/** A failed host call's warning, out of line so the data path carries no string temporaries. */
function warnStatus(what: string, s: WasmResult, after: string): void {
  log(LogLevel.Warn, what + statusText(s) + after);
}

class SnifferRoot extends RootContext {
  cfg: SnifferConfig | null = null;
  /** connections_total id per Protocol (the verdict is fixed per protocol by the config). */
  connMetric: StaticArray<i64> = new StaticArray<i64>(PROTOCOL_COUNT);
  timeoutMetric: i64 = NO_METRIC;
  capMetric: i64 = NO_METRIC;
  deniedRouteMetric: i64 = NO_METRIC;
  deniedDestinationMetric: i64 = NO_METRIC;
  /** UTF-8 protocol names for set_property. */
  protoValue: StaticArray<ArrayBuffer> = new StaticArray<ArrayBuffer>(PROTOCOL_COUNT);
  /** Encoded set_envoy_filter_state arguments per Protocol (empty = write none). */
  clusterArgs: StaticArray<ArrayBuffer> = new StaticArray<ArrayBuffer>(PROTOCOL_COUNT);
  /** Per-Protocol records for decide() (E_* layout), filled by onConfigure; never freed (one per root). */
  entries: usize = 0;
  // The configuration values the data path reads, copied out of `cfg` so a callback reads a
  // field of the root instead of following (and spilling) another reference.
  /** cfg is set (onConfigure succeeded at least once). */
  configured: bool = false;
  /** bypass with allowed_destinations: each connection's destination is checked. */
  guardDestinations: bool = false;
  route: bool = false;
  maxDetect: i32 = 0;
  maxTls: i32 = 0;
  /** keepLimit(cfg, true) and keepLimit(cfg, false). */
  keepTls: i32 = 0;
  keepOther: i32 = 0;
  tickCount: u32 = 0;
  expireTicks: u32 = 0;
  /** Pending list ends: addresses of stream contexts (see enqueue), 0 = none. */
  head: usize = 0;
  tail: usize = 0;
  /** Deleted stream contexts kept for reuse, at most POOL_MAX. */
  free: SnifferStream[] = [];
  debug: bool = false;
  metricWarned: bool = false;

  onConfigure(configuration_size: u32): bool {
    const raw = getPluginConfiguration();
    const parsed = parseSnifferConfigBytes(raw.value);
    if (!parsed.ok) {
      log(LogLevel.Error, parsed.error);
      return false;
    }
    const cfg = parsed.config!;
    this.cfg = cfg;
    this.defineMetrics(cfg);
    this.configured = true;
    this.guardDestinations = cfg.mode == Mode.Bypass && cfg.allowedDestinations !== null;
    this.route = cfg.mode == Mode.Route;
    this.maxDetect = cfg.maxDetectBytes;
    this.maxTls = cfg.maxTlsBytes;
    this.keepTls = keepLimit(cfg, true);
    this.keepOther = keepLimit(cfg, false);
    if (this.entries == 0) this.entries = heap.alloc(<usize>PROTOCOL_COUNT << ENTRY_SHIFT);
    for (let i = 0; i < PROTOCOL_COUNT; i++) {
      const p = <Protocol>i;
      const value = String.UTF8.encode(protocolName(p));
      this.protoValue[i] = value;
      const cluster = clusterFor(cfg, p);
      const args = cluster.length == 0
        ? EMPTY_BUF
        : encodeSetEnvoyFilterStateArguments(TCP_PROXY_CLUSTER, cluster, LifeSpan.DownstreamConnection);
      this.clusterArgs[i] = args;
      const e = this.entries + (<usize>i << ENTRY_SHIFT);
      store<u32>(e, <u32>changetype<usize>(value), E_PROTO_PTR);
      store<u32>(e, <u32>value.byteLength, E_PROTO_LEN);
      store<u32>(e, <u32>changetype<usize>(args), E_ARGS_PTR);
      store<u32>(e, <u32>args.byteLength, E_ARGS_LEN);
      store<i64>(e, this.connMetric[i], E_METRIC);
      store<u32>(e, <u32>verdictFor(cfg, p), E_VERDICT);
    }
    const period = tickPeriodMs(cfg.detectTimeoutMs);
    this.expireTicks = ticksToExpire(cfg.detectTimeoutMs, period);
    const s = setTickPeriodMilliseconds(<u32>period);
    if (s != WasmResult.Ok) {
      log(LogLevel.Warn, "sniffer: set_tick_period_milliseconds failed status=" + statusText(s) +
        "; detect_timeout_ms will not fire");
      this.expireTicks = 0;
    }
    this.refreshLogLevel();
    return true;
  }

  defineMetrics(cfg: SnifferConfig): void {
    const prefix = cfg.statPrefix;
    const mode = modeName(cfg.mode);
    const connKeys = ["protocol", "mode", "action"];
    for (let i = 0; i < PROTOCOL_COUNT; i++) {
      const p = <Protocol>i;
      this.connMetric[i] = this.define(metricName(prefix, "connections_total", connKeys,
        [protocolName(p), mode, verdictName(verdictFor(cfg, p))]));
    }
    this.timeoutMetric = this.define(metricName(prefix, "timeouts_total", ["mode"], [mode]));
    this.capMetric = this.define(metricName(prefix, "cap_reached_total", ["mode"], [mode]));
    this.deniedRouteMetric = cfg.mode == Mode.Route
      ? this.define(metricName(prefix, "denied_total", ["mode", "reason"], [mode, "route"]))
      : NO_METRIC;
    this.deniedDestinationMetric = cfg.mode == Mode.Bypass
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
    if (this.metricWarned) return;
    this.metricWarned = true;
    log(LogLevel.Warn, "sniffer: increment_metric failed status=" + statusText(s) + " (logged once per VM)");
  }

  refreshLogLevel(): void {
    const l = getLogLevel();
    this.debug = l.ok && l.value <= <u32>LogLevel.Debug;
  }

  /** The host deleted `s` (its books are closed): keep it for the next connection. */
  recycle(s: SnifferStream): void {
    if (this.free.length >= POOL_MAX) return;
    const w = s.work;
    if (w.buf.byteLength > BUF_POOLED_MAX) w.buf = EMPTY_BUF;
    this.free.push(s);
  }

  // Pending connections in start order = expiry order (one timeout per VM): a doubly linked
  // list gives O(1) append, O(1) removal on decision and O(expired) work per tick. Links are
  // addresses, not references, so linking costs no GC write barrier: a listed context is always
  // alive (the runtime pins it until proxy_on_delete, and closeBooks unlinks it before that).
  enqueue(s: SnifferStream): void {
    const a = changetype<usize>(s);
    s.expireAt = this.tickCount + this.expireTicks;
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

  onTick(): void {
    this.tickCount++;
    this.refreshLogLevel();
    if (this.expireTicks == 0) return;
    while (true) {
      const a = this.head;
      if (a == 0) break;
      const s = changetype<SnifferStream>(a);
      if (<i32>(this.tickCount - s.expireAt) < 0) break;
      this.unlink(s);
      s.expire();
    }
  }

  createContext(context_id: u32): Context {
    const n = this.free.length;
    if (n == 0) return new SnifferStream(context_id, this);
    const s = this.free.pop();
    s.renew(context_id);
    return s;
  }
}

class SnifferStream extends Context {
  /** Detector state and the first bytes (up to keepLimit, in `work.buf`) while Pending. */
  work: Sniff = new Sniff();
  phase: Phase = Phase.Idle;
  /** The root's mode was route when the connection started (the callbacks must agree on Pause). */
  route: bool = false;
  accLen: i32 = 0;
  /** Downstream bytes seen in total (the debug line's bytes=). */
  total: i32 = 0;
  flags: u32 = 0;
  /** Pending list links (SnifferRoot.enqueue): addresses of stream contexts, 0 = none. */
  prev: usize = 0;
  next: usize = 0;
  queued: bool = false;
  expireAt: u32 = 0;

  /** A reused context for a new connection: as if just constructed (root and work stay). */
  renew(context_id: u32): void {
    this.context_id = context_id;
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

  onNewConnection(): Action {
    const r = this.sniffer;
    if (!r.configured) return Action.Continue;
    if (r.guardDestinations && !this.destinationOk(r.cfg!)) return this.denyDestination();
    const st = this.work.st;
    st.reset();
    st.tlsCap = r.maxTls;
    this.phase = Phase.Pending;
    const route = r.route;
    this.route = route;
    if (r.expireTicks != 0) r.enqueue(this);
    // route must hold tcp_proxy's onNewConnection (it picks the cluster there) until decided.
    return route ? Action.Pause : Action.Continue;
  }

  /** bypass: the destination is outside allowed_destinations. */
  denyDestination(): Action {
    const r = this.sniffer;
    this.phase = Phase.Decided;
    r.count(r.deniedDestinationMetric);
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
      if (!end_of_stream) return route ? Action.Pause : Action.Continue;
      finishPtr(st, p, acc);
      return this.decide(st.protocol, Reason.Eos, false);
    }
    return this.decide(st.protocol, classifyReason(st), false);
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
    const a = this.decide(Protocol.Tcp, Reason.Timeout, false);
    if (this.route && a == Action.Continue) {
      const c = continueStream(StreamType.Downstream);
      if (c != WasmResult.Ok) log(LogLevel.Warn, "sniffer: continue_stream(downstream) failed status=" + statusText(c));
    }
  }

  /**
   * Publishes the result once: filter state, metrics, debug line, then the verdict. `closing`:
   * the connection is already gone, so only metrics and the log line are written.
   */
  decide(proto: Protocol, reason: Reason, closing: bool): Action {
    const r = this.sniffer;
    r.unlink(this);
    this.phase = Phase.Decided;
    // proto < PROTOCOL_COUNT (an enum value): its record is inside the table.
    const e = r.entries + (<usize>proto << ENTRY_SHIFT);
    const verdict = <Verdict>load<u32>(e, E_VERDICT);
    if (!closing) {
      const s = setPropertyRaw(PATH_PROTOCOL_PTR, PATH_PROTOCOL_LEN, <usize>load<u32>(e, E_PROTO_PTR),
        <usize>load<u32>(e, E_PROTO_LEN));
      if (s != WasmResult.Ok) warnStatus("sniffer: set_property protomesh.protocol failed status=", s, "");
      if (proto == Protocol.Tls && this.accLen > 0) this.publishTls();
    }
    r.count(load<i64>(e, E_METRIC));
    if (reason != Reason.Match) this.countReason(reason);
    if (verdict == Verdict.Deny) r.count(r.deniedRouteMetric);
    if (r.debug) log(LogLevel.Debug, debugLine(proto, this.total, reason, verdict));
    if (closing) return Action.Continue;
    if (verdict == Verdict.Deny) return this.deny();
    const argsLen = <usize>load<u32>(e, E_ARGS_LEN);
    if (argsLen > 0) {
      const f = setEnvoyFilterStateRaw(<usize>load<u32>(e, E_ARGS_PTR), argsLen);
      if (f != WasmResult.Ok) {
        warnStatus("sniffer: set_envoy_filter_state " + TCP_PROXY_CLUSTER + " failed status=", f,
          "; tcp_proxy keeps its own cluster");
      }
    }
    return Action.Continue;
  }

  countReason(reason: Reason): void {
    const r = this.sniffer;
    if (reason == Reason.Timeout) r.count(r.timeoutMetric);
    else if (reason == Reason.Cap) r.count(r.capMetric);
  }

  deny(): Action {
    const c = closeStream(StreamType.Downstream);
    if (c == WasmResult.Ok) return Action.Pause;
    warnStatus("sniffer: close_stream(downstream) failed status=", c, "; letting the connection through");
    return Action.Continue;
  }

  /**
   * SNI and the comma-joined ALPN list, from the detector's offsets into the kept bytes. The list
   * is joined in place (the kept bytes are not read again once decided): each entry is
   * <len><name>, and the joined form is the list without its first length byte, the others ','.
   */
  publishTls(): void {
    const work = this.work;
    const p = changetype<usize>(work.buf);
    const acc = this.accLen;
    const t = work.st.tls;
    const sniOffset = t.sniOffset;
    const sniLength = t.sniLength;
    const alpnOffset = t.alpnOffset;
    const alpnLength = t.alpnLength;
    if (sniOffset >= 0 && sniOffset + sniLength <= acc) {
      const s = setPropertyRaw(PATH_SNI_PTR, PATH_SNI_LEN, p + <usize>sniOffset, <usize>sniLength);
      if (s != WasmResult.Ok) warnStatus("sniffer: set_property protomesh.sni failed status=", s, "");
    }
    const end = alpnOffset + alpnLength;
    if (alpnOffset >= 0 && end <= acc) {
      let i = alpnOffset + 1 + <i32>load<u8>(p + <usize>alpnOffset);
      while (i < end) {
        const n = <i32>load<u8>(p + <usize>i);
        store<u8>(p + <usize>i, 0x2c);
        i += 1 + n;
      }
      const s = setPropertyRaw(PATH_ALPN_PTR, PATH_ALPN_LEN, p + <usize>(alpnOffset + 1), <usize>(alpnLength - 1));
      if (s != WasmResult.Ok) warnStatus("sniffer: set_property protomesh.alpn failed status=", s, "");
    }
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

  finishQuietly(): void {
    const r = this.sniffer;
    r.unlink(this);
    this.phase = Phase.Decided;
  }

  // A connection that ends undecided is still counted (decision=eos), with what it sent.
  onDone(): bool {
    if (this.phase == Phase.Pending) this.closeBooks();
    return true;
  }

  onDelete(): void {
    if (this.phase == Phase.Pending) this.closeBooks();
    this.sniffer.recycle(this);
  }

  closeBooks(): void {
    if (this.phase != Phase.Pending) return;
    const w = this.work;
    const st = w.st;
    if (this.accLen > 0) finishPtr(st, changetype<usize>(w.buf), this.accLen);
    this.decide(this.accLen > 0 ? st.protocol : Protocol.Tcp, Reason.Eos, true);
  }
}

registerRootContext((context_id: u32): RootContext => new SnifferRoot(context_id), "sniffer");
