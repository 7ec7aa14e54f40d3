/**
 * Reading a rule set file: YAML → schema → the checks a schema cannot say (unique rule names, a
 * route on every rule that does not deny). Every problem is an InputFileError naming the file, the
 * line of the offending field and the fix. The loaded set keeps its file and a way back to lines,
 * so a renderer's refusal names the line too.
 */
import { InputFileError, parseLocatedYaml, readInputFile, type LocatedYaml } from "../yaml.js";
import { ruleSetSchema, type RuleSet } from "./schema.js";

export type RulePath = readonly (string | number)[];

export interface LoadedRuleSet {
  readonly ruleSet: RuleSet;
  /** The file it came from ("(input)" for text). */
  readonly file: string;
  /** An InputFileError at the line of `path` (e.g. ["spec", "rules", 0, "match", "service"]). */
  errorAt(path: RulePath, problem: string): InputFileError;
  /** "file:line" of `path`, for warnings. */
  where(path: RulePath): string;
}

function at(located: LocatedYaml | undefined, file: string): Pick<LoadedRuleSet, "errorAt" | "where"> {
  return {
    errorAt(path, problem) {
      const pos = located?.locate(path);
      return new InputFileError(file, problem, pos?.line, pos?.column);
    },
    where(path) {
      const pos = located?.locate(path);
      return pos === undefined ? file : `${file}:${pos.line}`;
    },
  };
}

function describePath(path: RulePath): string {
  return path.map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? p : `.${p}`)).join("");
}

/** Checks a parsed value as a rule set; `located` maps problems to lines. */
export function checkRuleSet(value: unknown, file: string, located?: LocatedYaml): LoadedRuleSet {
  const loc = at(located, file);
  const parsed = ruleSetSchema.safeParse(value);
  if (!parsed.success) {
    // The deepest issue names the field closest to the mistake.
    const issue = [...parsed.error.issues].sort((a, b) => b.path.length - a.path.length)[0]!;
    const path = issue.path.filter((p): p is string | number => typeof p !== "symbol");
    const field = path.length === 0 ? "the document" : describePath(path);
    const hint = issue.code === "unrecognized_keys" ? "; remove it or check its spelling against controller/rules/README.md" : "";
    throw loc.errorAt(path, `${field}: ${issue.message}${hint}`);
  }
  const ruleSet = parsed.data as RuleSet;
  const seen = new Map<string, number>();
  ruleSet.spec.rules.forEach((r, i) => {
    const first = seen.get(r.name);
    if (first !== undefined) {
      throw loc.errorAt(["spec", "rules", i, "name"], `rule name ${JSON.stringify(r.name)} is already used by spec.rules[${first}]; rule names must be unique`);
    }
    seen.set(r.name, i);
    if (r.route === undefined && r.policy?.deny !== true) {
      throw loc.errorAt(["spec", "rules", i], `rule ${r.name} has no route; add route: { cluster: <name> } (only a rule with policy.deny: true may omit it)`);
    }
    if (r.route !== undefined && r.policy?.deny === true) {
      throw loc.errorAt(["spec", "rules", i, "route"], `rule ${r.name} denies every call it matches, so its route is never used; remove route or policy.deny`);
    }
    if (r.policy?.message !== undefined && r.policy.deny !== true && r.policy.rateLimit === undefined) {
      throw loc.errorAt(["spec", "rules", i, "policy", "message"], `rule ${r.name}: policy.message is the text of a deny or rate-limit answer; set policy.deny or policy.rateLimit, or remove it`);
    }
    const weighted = r.route !== undefined && "weightedClusters" in r.route ? r.route.weightedClusters : [];
    const names = weighted.map((w) => w.name);
    const dup = names.find((n, j) => names.indexOf(n) !== j);
    if (dup !== undefined) {
      throw loc.errorAt(["spec", "rules", i, "route", "weightedClusters"], `rule ${r.name}: cluster ${dup} appears twice in weightedClusters; add the weights together`);
    }
  });
  return { ruleSet, file, ...loc };
}

/** Parses rule set YAML text. */
export function parseRuleSet(text: string, file = "(input)"): LoadedRuleSet {
  const located = parseLocatedYaml(text, file);
  return checkRuleSet(located.value, file, located);
}

/** Reads and checks a rule set file. */
export function loadRuleSet(file: string): LoadedRuleSet {
  return parseRuleSet(readInputFile(file), file);
}
