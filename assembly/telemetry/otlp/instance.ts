// `service.instance.id` of a VM's OTLP resource. Host reads: the node's NAME once per VM.
import { getCurrentTimeNanoseconds, getPropertyBytes } from "../../runtime/hostcalls";
import { joinPath } from "../../runtime/path";
import { hex } from "../../runtime/hex";
import { Workload } from "../attributes";

const P_NODE_NAME = joinPath(["xds", "node", "metadata", "NAME"]);

/**
 * The pod (node metadata NAME, which Istio sets to the pod name; else the workload, else
 * "envoy"), then the VM's start time in ns, which tells worker VMs apart: each VM keeps its own
 * cumulative sums, and OTLP wants one writer per stream (docs/adr/0007-otlp-export.md).
 */
export function vmInstanceId(local: Workload): string {
  const name = getPropertyBytes(P_NODE_NAME);
  const base = name.ok && name.value.byteLength > 0 ? name.text()
    : local.workload.length > 0 ? local.workload : "envoy";
  const t = getCurrentTimeNanoseconds();
  return base + "/" + hex(<u32>(t >> 32)) + hex(<u32>t, 8);
}
