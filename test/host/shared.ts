/**
 * Shared data and shared queues, process-wide like proxy-wasm-cpp-host's globals
 * (src/shared_data.cc, src/shared_queue.cc), keyed by vm_id.
 */
import { WasmResult } from "./abi.js";

export class SharedData {
  private readonly data = new Map<string, Map<string, { value: Uint8Array; cas: number }>>();
  /** shared_data.h: cas_ starts at 1 and skips 0 on wrap-around. */
  private cas = 1;

  private nextCas(): number {
    const r = this.cas;
    this.cas = (this.cas + 1) >>> 0;
    if (this.cas === 0) this.cas = 1;
    return r;
  }

  get(vmId: string, key: string): { value: Uint8Array; cas: number } | undefined {
    return this.data.get(vmId)?.get(key);
  }

  /** cas 0 = unconditional; a mismatching cas on an existing key → CasMismatch. */
  set(vmId: string, key: string, value: Uint8Array, cas: number): WasmResult {
    let map = this.data.get(vmId);
    if (!map) {
      map = new Map();
      this.data.set(vmId, map);
    }
    const existing = map.get(key);
    if (existing && cas !== 0 && cas !== existing.cas) return WasmResult.CasMismatch;
    map.set(key, { value: value.slice(), cas: this.nextCas() });
    return WasmResult.Ok;
  }

  keys(vmId: string): string[] {
    return [...(this.data.get(vmId)?.keys() ?? [])];
  }

  remove(vmId: string, key: string, cas: number): { result: WasmResult; old?: { value: Uint8Array; cas: number } } {
    const map = this.data.get(vmId);
    const existing = map?.get(key);
    if (!map || !existing) return { result: WasmResult.NotFound };
    if (cas !== 0 && cas !== existing.cas) return { result: WasmResult.CasMismatch };
    map.delete(key);
    return { result: WasmResult.Ok, old: existing };
  }
}

/** Where on_queue_ready goes: the root context that registered last (registerQueue overwrites). */
export interface QueueOwner {
  /** Posts on_queue_ready(token) to the owner's "thread" (asynchronously, like dispatcher.post). */
  post(contextId: number, token: number): void;
}

interface Queue {
  readonly items: Uint8Array[];
  owner: QueueOwner;
  contextId: number;
}

export class SharedQueues {
  private readonly tokens = new Map<string, number>();
  private readonly queues = new Map<number, Queue>();
  private nextToken = 1;

  register(vmId: string, name: string, owner: QueueOwner, contextId: number): number {
    const key = `${vmId}\0${name}`;
    let token = this.tokens.get(key);
    if (token === undefined) {
      do {
        token = this.nextToken;
        this.nextToken = (this.nextToken + 1) >>> 0;
      } while (token === 0 || this.queues.has(token));
      this.tokens.set(key, token);
    }
    const q = this.queues.get(token);
    if (q) {
      // Preserve existing data; the newest registration receives on_queue_ready.
      q.owner = owner;
      q.contextId = contextId;
    } else {
      this.queues.set(token, { items: [], owner, contextId });
    }
    return token;
  }

  /** 0 when not found (the caller answers NotFound). */
  resolve(vmId: string, name: string): number {
    return this.tokens.get(`${vmId}\0${name}`) ?? 0;
  }

  dequeue(token: number): { result: WasmResult; value?: Uint8Array } {
    const q = this.queues.get(token);
    if (!q) return { result: WasmResult.NotFound };
    const v = q.items.shift();
    if (v === undefined) return { result: WasmResult.Empty };
    return { result: WasmResult.Ok, value: v };
  }

  enqueue(token: number, value: Uint8Array): WasmResult {
    const q = this.queues.get(token);
    if (!q) return WasmResult.NotFound;
    q.items.push(value.slice());
    q.owner.post(q.contextId, token);
    return WasmResult.Ok;
  }
}
