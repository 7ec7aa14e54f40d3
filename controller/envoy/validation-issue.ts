/**
 * One problem found in an Envoy configuration, where it is, and how it is printed.
 */

/** A step of a field path: a field name (or map key) or a list index. */
export type PathSegment = string | number;

/** One problem found, with where it is. */
export interface ValidationIssue {
  /** Field path as Envoy YAML spells it, e.g. `static_resources.listeners[0].name`. */
  readonly path: string;
  readonly message: string;
  /** Set when validating YAML text or a file. */
  readonly file?: string;
  /** 1-based line of the offending key or value (YAML only). */
  readonly line?: number;
  /** 1-based column (YAML only). */
  readonly column?: number;
}

/** Thrown by the `assert*` helpers; `issues` holds every problem, not only the first. */
export class EnvoyConfigError extends Error {
  constructor(readonly issues: readonly ValidationIssue[]) {
    super(`invalid Envoy configuration:\n${issues.map(formatIssue).join("\n")}`);
    this.name = "EnvoyConfigError";
  }
}

/** `file:line:column: path: message` (the parts that are known). */
export function formatIssue(issue: ValidationIssue): string {
  const where = issue.file !== undefined && issue.line !== undefined
    ? `${issue.file}:${issue.line}:${issue.column ?? 1}: `
    : issue.file !== undefined ? `${issue.file}: `
    : issue.line !== undefined ? `line ${issue.line}:${issue.column ?? 1}: ` : "";
  return issue.path === "" ? `${where}${issue.message}` : `${where}${issue.path}: ${issue.message}`;
}

/** `["a", 0, "b"]` → `a[0].b`. */
export function formatPath(path: readonly PathSegment[]): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else out += out === "" ? seg : `.${seg}`;
  }
  return out;
}

/** The inverse of formatPath (map keys holding `.` or `[` do not round-trip; paths only locate YAML nodes). */
export function parsePath(path: string): PathSegment[] {
  const out: PathSegment[] = [];
  for (const m of path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) out.push(m[2] !== undefined ? Number(m[2]) : m[1]!);
  return out;
}
