// Workload labels from Istio's node metadata and pod labels. Pure code.
//
// Node metadata keys (istio/proxy source/extensions/common/metadata_object.h):
// WORKLOAD_NAME, NAMESPACE, CLUSTER_ID, LABELS (a Struct of the pod's labels). From the labels
// (same file, and metadata_object.cc convertStructToWorkloadMetadata):
// canonical service = `service.istio.io/canonical-name`, canonical revision =
// `service.istio.io/canonical-revision`, app = `app.kubernetes.io/name` else `app`,
// version = `app.kubernetes.io/version` else `version`.
import { Headers } from "../runtime/pairs";
import { Workload } from "./attributes";

export const META_WORKLOAD_NAME = "WORKLOAD_NAME";
export const META_NAMESPACE = "NAMESPACE";
export const META_CLUSTER_ID = "CLUSTER_ID";
export const META_LABELS = "LABELS";

export const CANONICAL_NAME_LABEL = "service.istio.io/canonical-name";
export const CANONICAL_REVISION_LABEL = "service.istio.io/canonical-revision";
export const APP_NAME_QUALIFIED_LABEL = "app.kubernetes.io/name";
export const APP_NAME_LABEL = "app";
export const APP_VERSION_QUALIFIED_LABEL = "app.kubernetes.io/version";
export const APP_VERSION_LABEL = "version";

/** Fills the label-derived fields of `w` from the pod labels (pairs, any order). */
export function applyLabels(w: Workload, labels: Headers): void {
  let app = "";
  let appShort = "";
  let version = "";
  let versionShort = "";
  for (let i = 0; i < labels.length; i++) {
    const k = labels[i].key;
    const v = labels[i].value;
    if (k == CANONICAL_NAME_LABEL) w.canonicalService = v;
    else if (k == CANONICAL_REVISION_LABEL) w.canonicalRevision = v;
    else if (k == APP_NAME_QUALIFIED_LABEL) app = v;
    else if (k == APP_NAME_LABEL) appShort = v;
    else if (k == APP_VERSION_QUALIFIED_LABEL) version = v;
    else if (k == APP_VERSION_LABEL) versionShort = v;
  }
  w.app = app.length > 0 ? app : appShort;
  w.version = version.length > 0 ? version : versionShort;
}

/**
 * The local workload's labels as istio.stats reads them for its own side (istio/proxy
 * source/extensions/filters/http/istio_stats/istio_stats.cc, Context): app and version from the
 * `app` / `version` labels only, canonical service and revision as applyLabels.
 */
export function applyIstioStatsLabels(w: Workload, labels: Headers): void {
  for (let i = 0; i < labels.length; i++) {
    const k = labels[i].key;
    const v = labels[i].value;
    if (k == CANONICAL_NAME_LABEL) w.canonicalService = v;
    else if (k == CANONICAL_REVISION_LABEL) w.canonicalRevision = v;
    else if (k == APP_NAME_LABEL) w.app = v;
    else if (k == APP_VERSION_LABEL) w.version = v;
  }
}

/**
 * Peer fields as filter-state object field names of istio/proxy's WorkloadMetadataObject
 * (metadata_object.h: `workload`, `namespace`, `cluster`, `service`, `revision`, `app`,
 * `version`), read as `filter_state.<downstream_peer_obj|upstream_peer_obj>.<field>`.
 */
export const PEER_FIELDS: string[] = ["workload", "namespace", "cluster", "service", "revision", "app", "version"];

/** Stores one peer field (by PEER_FIELDS index) into `w`. */
export function setPeerField(w: Workload, index: i32, value: string): void {
  switch (index) {
    case 0: w.workload = value; break;
    case 1: w.namespace = value; break;
    case 2: w.cluster = value; break;
    case 3: w.canonicalService = value; break;
    case 4: w.canonicalRevision = value; break;
    case 5: w.app = value; break;
    case 6: w.version = value; break;
  }
}
