/**
 * proxy_http_call and proxy_grpc_call against real sockets.
 *
 * Envoy source/extensions/common/wasm/context.cc Context::httpCall / grpcCall and
 * proxy-wasm-cpp-host src/exports.cc: both calls are made on the *root* context of the
 * effective context (`contextOrEffectiveContext()->root_context()`), so the answers
 * (on_http_call_response, on_grpc_receive, on_grpc_close) go to the root context. Answers arrive
 * asynchronously from the event loop, never inside another wasm call.
 */
import http from "node:http";
import * as grpc from "@grpc/grpc-js";
import { decodeUtf8, WasmResult } from "./abi.js";
import type { Context } from "./context.js";
import { parseGrpcService } from "./foreign.js";
import type { ClusterConfig, HeaderList } from "./types.js";

const dec = new TextDecoder();
const enc = new TextEncoder();

/** gRPC status for a transport failure without a status (Grpc::Status::WellKnownGrpcStatus::Unavailable). */
const GRPC_UNAVAILABLE = 14;

export class CallManager {
  private readonly agent = new http.Agent({ keepAlive: false });
  private readonly grpcClients = new Map<string, grpc.Client>();
  private closed = false;

  constructor(private readonly clusters: Map<string, ClusterConfig>) {}

  /** Context::httpCall. `ctx` is the root context. */
  httpCall(
    ctx: Context,
    cluster: string,
    headers: Array<[string, string]>,
    body: Uint8Array,
    trailers: Array<[string, string]>,
    timeoutMs: number,
  ): { result: WasmResult; token: number } {
    // `int timeout_milliseconds` from a u32 Word: >= 2^31 is negative → BadArgument.
    if ((timeoutMs | 0) < 0) return { result: WasmResult.BadArgument, token: 0 };
    const config = this.clusters.get(cluster);
    if (!config || this.closed) return { result: WasmResult.BadArgument, token: 0 };
    let path: string | undefined;
    let method: string | undefined;
    let authority: string | undefined;
    const outHeaders: Record<string, string | string[]> = {};
    for (const [rawK, v] of headers) {
      const k = rawK.toLowerCase();
      if (k === ":path") path = v;
      else if (k === ":method") method = v;
      else if (k === ":authority" || k === "host") authority = v;
      else if (!k.startsWith(":")) {
        const prev = outHeaders[k];
        outHeaders[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
      }
    }
    // "Check that we were provided certain headers": :path, :method and host.
    if (path === undefined || method === undefined || authority === undefined) {
      return { result: WasmResult.BadArgument, token: 0 };
    }
    outHeaders.host = authority;
    if (body.length > 0) outHeaders["content-length"] = String(body.length);
    const token = ctx.vm.nextHttpCallToken();
    const endpoint = config.endpoints[0];
    let done = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = (deliver: () => void) => {
      if (done) return;
      done = true;
      if (timer) clearTimeout(timer);
      ctx.pendingCalls.delete(token);
      deliver();
    };
    const localReply = (status: number, text: string) => () =>
      deliverHttpResponse(ctx, token, {
        headers: [
          [":status", String(status)],
          ["content-length", String(enc.encode(text).length)],
          ["content-type", "text/plain"],
        ],
        body: enc.encode(text),
        trailers: [],
      });
    if (!endpoint) {
      // No host in the cluster: the async client's router answers 503 "no healthy upstream".
      setImmediate(() => finish(localReply(503, "no healthy upstream")));
      ctx.pendingCalls.set(token, () => finish(() => undefined));
      return { result: WasmResult.Ok, token };
    }
    const req = http.request({
      host: endpoint.host,
      port: endpoint.port,
      method,
      path,
      headers: outHeaders,
      agent: this.agent,
    });
    let headersReceived = false;
    req.on("response", (res) => {
      headersReceived = true;
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const respHeaders: HeaderList = [[":status", String(res.statusCode ?? 0)]];
        for (let i = 0; i < res.rawHeaders.length; i += 2) {
          respHeaders.push([res.rawHeaders[i].toLowerCase(), res.rawHeaders[i + 1]]);
        }
        const respTrailers: HeaderList = [];
        for (let i = 0; i < res.rawTrailers.length; i += 2) {
          respTrailers.push([res.rawTrailers[i].toLowerCase(), res.rawTrailers[i + 1]]);
        }
        const b = Buffer.concat(chunks);
        finish(() =>
          deliverHttpResponse(ctx, token, {
            headers: respHeaders,
            body: new Uint8Array(b.buffer, b.byteOffset, b.byteLength),
            trailers: respTrailers,
          }),
        );
      });
      res.on("error", () => finish(() => deliverHttpFailure(ctx, token)));
    });
    req.on("error", () => {
      if (headersReceived) {
        // A reset after the response started: AsyncClient onFailure(Reset).
        finish(() => deliverHttpFailure(ctx, token));
      } else {
        // Connect failure / reset before headers: the router's local reply reaches onSuccess.
        finish(localReply(503, "upstream connect error or disconnect/reset before headers. reset reason: remote connection failure"));
      }
    });
    if (timeoutMs > 0) {
      // Router timeout: local reply 504 "upstream request timeout", delivered as a response.
      timer = setTimeout(() => {
        finish(localReply(504, "upstream request timeout"));
        req.destroy();
      }, timeoutMs);
      timer.unref();
    }
    ctx.pendingCalls.set(token, () => {
      done = true;
      if (timer) clearTimeout(timer);
      req.destroy();
    });
    // Request trailers are not sent: Node only sends trailers with chunked bodies.
    void trailers;
    req.end(body.length > 0 ? Buffer.from(body) : undefined);
    return { result: WasmResult.Ok, token };
  }

  /** Context::grpcCall. `service` is a serialized GrpcService or a plain cluster name. */
  grpcCall(
    ctx: Context,
    service: Uint8Array,
    serviceName: string,
    methodName: string,
    metadata: Array<[string, string]>,
    request: Uint8Array,
    timeoutMs: number,
  ): { result: WasmResult; token: number } {
    let clusterName: string | undefined;
    const ref = parseGrpcService(service);
    if (ref.kind === "envoy_grpc") {
      clusterName = ref.clusterName;
    } else if (ref.kind === "google_grpc") {
      // A GrpcService without envoy_grpc (google_grpc): not emulated → client creation fails.
      return { result: WasmResult.BadArgument, token: 0 };
    } else {
      clusterName = decodeUtf8(service);
      // "keep return status as BadArgument ... ParseFailure" — Envoy answers ParseFailure.
      if (!this.clusters.has(clusterName)) return { result: WasmResult.ParseFailure, token: 0 };
    }
    const config = this.clusters.get(clusterName);
    if (!config && !this.closed) {
      // A GrpcService naming an unknown cluster: context.cc creates the client with
      // skip_cluster_check, and sendRaw's stream finds no thread-local cluster
      // (source/common/grpc/async_client_impl.cc, AsyncStreamImpl::initialize): it closes
      // with Unavailable "Cluster not available" at once — the VM gets on_grpc_close for a token
      // it was never given — and sendRaw returns null, so grpc_call answers InternalFailure.
      const token = ctx.vm.nextGrpcCallToken();
      deliverGrpcClose(ctx, token, GRPC_UNAVAILABLE, "Cluster not available");
      return { result: WasmResult.InternalFailure, token: 0 };
    }
    const endpoint = config?.endpoints[0];
    if (!config || !endpoint || this.closed) return { result: WasmResult.BadArgument, token: 0 };
    const token = ctx.vm.nextGrpcCallToken();
    const client = this.grpcClient(`${endpoint.host.includes(":") ? `[${endpoint.host}]` : endpoint.host}:${endpoint.port}`);
    const md = new grpc.Metadata();
    for (const [k, v] of metadata) if (!k.startsWith(":")) md.add(k.toLowerCase(), v);
    const identity = (b: Buffer) => b;
    let done = false;
    const call = client.makeUnaryRequest<Buffer, Buffer>(
      `/${serviceName}/${methodName}`,
      identity,
      identity,
      Buffer.from(request),
      md,
      timeoutMs > 0 ? { deadline: Date.now() + timeoutMs } : {},
      (err, value) => {
        if (done) return;
        done = true;
        ctx.pendingCalls.delete(token);
        if (err) {
          deliverGrpcClose(ctx, token, err.code ?? GRPC_UNAVAILABLE, err.details ?? err.message);
        } else {
          const b = value ?? Buffer.alloc(0);
          deliverGrpcReceive(ctx, token, new Uint8Array(b.buffer, b.byteOffset, b.byteLength));
        }
      },
    );
    ctx.pendingCalls.set(token, () => {
      done = true;
      call.cancel();
    });
    return { result: WasmResult.Ok, token };
  }

  /** proxy_grpc_cancel / proxy_grpc_close on a call token: cancel, no callback. */
  cancel(ctx: Context, token: number): WasmResult {
    const cancel = ctx.pendingCalls.get(token);
    if (!cancel) return WasmResult.NotFound;
    cancel();
    ctx.pendingCalls.delete(token);
    return WasmResult.Ok;
  }

  private grpcClient(target: string): grpc.Client {
    let c = this.grpcClients.get(target);
    if (!c) {
      c = new grpc.Client(target, grpc.credentials.createInsecure());
      this.grpcClients.set(target, c);
    }
    return c;
  }

  close(): void {
    this.closed = true;
    for (const c of this.grpcClients.values()) c.close();
    this.grpcClients.clear();
    this.agent.destroy();
  }
}

function alive(ctx: Context): boolean {
  return !ctx.vm.failed && ctx.vm.contexts.get(ctx.id) === ctx;
}

/** Context::onHttpCallSuccess: the response is readable only during the callback. */
function deliverHttpResponse(ctx: Context, token: number, response: { headers: HeaderList; body: Uint8Array; trailers: HeaderList }) {
  if (!alive(ctx)) return;
  ctx.httpCallResponse = response;
  try {
    ctx.vm.invoke(ctx, "proxy_on_http_call_response", token, response.headers.length, response.body.length, response.trailers.length);
  } finally {
    ctx.httpCallResponse = null;
  }
}

/** Context::onHttpCallFailure: status BrokenConnection / "reset", callback with 0, 0, 0. */
function deliverHttpFailure(ctx: Context, token: number) {
  if (!alive(ctx)) return;
  ctx.statusCode = WasmResult.BrokenConnection;
  ctx.statusMessage = "reset";
  try {
    ctx.vm.invoke(ctx, "proxy_on_http_call_response", token, 0, 0, 0);
  } finally {
    ctx.statusMessage = "";
  }
}

/** Context::onGrpcReceiveWrapper: a unary call's success is on_grpc_receive only. */
function deliverGrpcReceive(ctx: Context, token: number, body: Uint8Array) {
  if (!alive(ctx)) return;
  ctx.grpcReceiveBuffer = { bytes: body };
  try {
    ctx.vm.invoke(ctx, "proxy_on_grpc_receive", token, body.length);
  } finally {
    ctx.grpcReceiveBuffer = null;
  }
}

/** Context::onGrpcCloseWrapper: a unary call's failure is on_grpc_close(token, status) only. */
function deliverGrpcClose(ctx: Context, token: number, status: number, message: string) {
  if (!alive(ctx)) return;
  ctx.statusCode = status;
  ctx.statusMessage = message;
  try {
    ctx.vm.invoke(ctx, "proxy_on_grpc_close", token, status);
  } finally {
    ctx.statusMessage = "";
  }
}
