/**
 * The three Debian-packaged servers the peer tests start (each test file gets its own set).
 * Start them together in `before`; each test that needs one declares `{ skip: daemons.x.skip }`.
 */
import { DaemonPeer } from "./process.js";
import { startMariaDb, type MariaDbServer } from "./mariadb.js";
import { startPostgres, type PostgresServer } from "./postgres.js";
import { startRedis, type RedisServer } from "./redis.js";

export interface Daemons {
  readonly redis: DaemonPeer<RedisServer>;
  readonly postgres: DaemonPeer<PostgresServer>;
  readonly mariadb: DaemonPeer<MariaDbServer>;
  /** Starts every installed one in parallel (initdb and install-db dominate a file's time). */
  start(): void;
  stop(): Promise<void>;
}

export function daemons(): Daemons {
  const all = {
    redis: new DaemonPeer("redis-server", startRedis),
    postgres: new DaemonPeer("postgresql", startPostgres),
    mariadb: new DaemonPeer("mariadb-server", startMariaDb),
  };
  return {
    ...all,
    start: () => Object.values(all).forEach((d) => d.start()),
    stop: async () => {
      await Promise.all(Object.values(all).map((d) => d.stop()));
    },
  };
}
