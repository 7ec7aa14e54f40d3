/** Real database clients (ioredis, pg, mysql2) doing one round trip each, bounded in time. */
import { Redis } from "ioredis";
import pg from "pg";
import * as mysql from "mysql2/promise";

/** SET then GET through ioredis; resolves with the value read back. */
export async function redisRoundTrip(port: number, key: string, value: string, timeoutMs = 5000): Promise<string | null> {
  const client = new Redis({
    host: "127.0.0.1",
    port,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    lazyConnect: true,
  });
  client.on("error", () => {});
  try {
    await client.connect();
    await client.set(key, value);
    return await client.get(key);
  } finally {
    client.disconnect();
  }
}

/** `SELECT $1::text` through pg. */
export async function postgresRoundTrip(port: number, user: string, text: string, timeoutMs = 5000): Promise<string> {
  const client = new pg.Client({ host: "127.0.0.1", port, user, database: "postgres", ssl: false, connectionTimeoutMillis: timeoutMs, query_timeout: timeoutMs });
  await client.connect();
  try {
    const r = await client.query<{ v: string }>("SELECT $1::text AS v", [text]);
    return r.rows[0]!.v;
  } finally {
    await client.end();
  }
}

/** `SELECT ?` through mysql2 (MariaDB runs with --skip-grant-tables: any user, no password). */
export async function mysqlRoundTrip(port: number, text: string, timeoutMs = 5000): Promise<string> {
  const conn = await mysql.createConnection({ host: "127.0.0.1", port, user: "root", connectTimeout: timeoutMs });
  try {
    const [rows] = await conn.query<mysql.RowDataPacket[]>({ sql: "SELECT ? AS v", values: [text], timeout: timeoutMs });
    return String(rows[0]!["v"]);
  } finally {
    await conn.end();
  }
}
