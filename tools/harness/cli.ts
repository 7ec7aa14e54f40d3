/** The command-line ends `npm run fuzz` and `npm run fuzz:thrift` share. */
import { pathToFileURL } from "node:url";

/** Prints a run's report: to stderr with exit code 1 when it failed, else to stdout. */
export function report(text: string, failed: boolean): void {
  if (failed) {
    console.error(text);
    process.exitCode = 1;
  } else {
    console.log(text);
  }
}

/** Runs `main` when `moduleUrl` is the script node was started with; an error exits 1 as `<name>: <message>`. */
export function runIfMain(moduleUrl: string, name: string, main: () => Promise<void>): void {
  if (process.argv[1] && moduleUrl === pathToFileURL(process.argv[1]).href) {
    main().catch((err: unknown) => {
      console.error(`${name}: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(1);
    });
  }
}
