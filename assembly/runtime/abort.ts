// The AssemblyScript `abort` handler (asconfig: `use abort=assembly/runtime/abort/protomeshAbort`).
// It is the only place that ends the VM: log at critical, then wasi proc_exit(255). Envoy turns
// the exit into a trap and marks the VM failed; the plugin's fail-open setting decides what
// happens to later traffic.
import { proxy_log, wasi_proc_exit } from "./imports";

let aborting = false;

export function protomeshAbort(
  message: string | null = null, fileName: string | null = null, lineNumber: u32 = 0, columnNumber: u32 = 0,
): void {
  // A second abort while building the message (e.g. out of memory) exits without logging.
  if (!aborting) {
    aborting = true;
    const msg = message === null ? "(no message)" : message;
    const file = fileName === null ? "(unknown)" : fileName;
    const text = "abort: " + msg + " at " + file + ":" + lineNumber.toString() + ":" + columnNumber.toString();
    const b = String.UTF8.encode(text);
    proxy_log(5, changetype<usize>(b), <usize>b.byteLength);
  }
  wasi_proc_exit(255);
  unreachable();
}
