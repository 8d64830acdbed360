// Rows from a SQLite file another process writes (a device's ledger, a collector's store), read
// through a connection of the test's own that is closed again at once.
import { openDatabase } from "../../agent/store/index.js";

export function readRows<T>(file: string, sql: string, ...params: string[]): T[] {
  const db = openDatabase(file, { mustExist: true });
  try {
    return db.prepare(sql).all(...params) as T[];
  } finally {
    db.close();
  }
}
