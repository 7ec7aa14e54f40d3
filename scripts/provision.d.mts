// Types of scripts/provision.mjs for the TypeScript tests that import it.
export type DebianPackage = "clang" | "lld" | "redis-server" | "postgresql" | "mariadb-server";

export const PACKAGES: ReadonlyArray<{ readonly name: DebianPackage; readonly purpose: string; present(): boolean }>;

export function postgresBinDir(): string | undefined;
export function mariadbBinaries(): { installDb: string; server: string } | undefined;
export function missingPackages(names?: ReadonlyArray<DebianPackage>, env?: NodeJS.ProcessEnv): DebianPackage[];
export function installCommand(names: ReadonlyArray<DebianPackage>, root?: boolean): string;
export function skipUnless(...names: DebianPackage[]): string | false;

export type InstallPlan = { install: true; prefix: string[] } | { install: false; reason: string };
export function installPlan(facts: { noInstall: boolean; aptGet: boolean; root: boolean; sudo: boolean }): InstallPlan;

export function provision(options?: { env?: NodeJS.ProcessEnv; log?: (line: string) => void }): {
  installed: DebianPackage[];
  missing: DebianPackage[];
};
