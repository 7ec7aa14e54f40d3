/** Log capture: what a filter logs through proxy_log / fd_write, and what the host logs about it. */
import { LOG_LEVEL_NAMES, type LogLevelName } from "./abi.js";

export interface LogEntry {
  readonly level: LogLevelName;
  readonly message: string;
  /** Plugin name ("" for host messages not tied to a plugin). */
  readonly plugin: string;
  /** Index of the VM: -1 canary, 0..n-1 workers. */
  readonly vm: number;
  /** Context id that logged (0 for host messages). */
  readonly contextId: number;
}

/** The host's log: an array the tests read, echoed to stderr when PROTOMESH_HOST_LOG is set. */
export class LogStore extends Array<LogEntry> {
  static override get [Symbol.species]() {
    return Array;
  }

  private readonly echo = Boolean(process.env.PROTOMESH_HOST_LOG);

  add(level: number, message: string, plugin: string, vm: number, contextId: number): void {
    const entry: LogEntry = { level: LOG_LEVEL_NAMES[level] ?? "critical", message, plugin, vm, contextId };
    this.push(entry);
    if (this.waiters.size > 0) this.notify(entry);
    if (this.echo) {
      process.stderr.write(`[${entry.level}] wasm log ${plugin} vm=${vm} ctx=${contextId}: ${message}\n`);
    }
  }

  /** Messages (text only), optionally only those containing `substring`. */
  messages(substring?: string): string[] {
    const out: string[] = [];
    for (const e of this) if (substring === undefined || e.message.includes(substring)) out.push(e.message);
    return out;
  }

  /** Resolves with the first entry (already logged or future) whose message contains `substring`. */
  waitFor(substring: string, timeoutMs = 5000): Promise<LogEntry> {
    return this.waitForEntry((e) => e.message.includes(substring), timeoutMs, `containing "${substring}"`);
  }

  /** Resolves with the first entry (already logged or future) matching `pred`. */
  waitForEntry(pred: (e: LogEntry) => boolean, timeoutMs = 5000, what = "matching"): Promise<LogEntry> {
    for (const e of this) if (pred(e)) return Promise.resolve(e);
    return new Promise((resolve, reject) => {
      const waiter = { pred, resolve, timer: undefined as NodeJS.Timeout | undefined };
      waiter.timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`no log line ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.add(waiter);
    });
  }

  private readonly waiters = new Set<{
    pred: (e: LogEntry) => boolean;
    resolve: (e: LogEntry) => void;
    timer: NodeJS.Timeout | undefined;
  }>();

  private notify(entry: LogEntry): void {
    for (const w of this.waiters) {
      if (w.pred(entry)) {
        clearTimeout(w.timer);
        this.waiters.delete(w);
        w.resolve(entry);
      }
    }
  }
}
