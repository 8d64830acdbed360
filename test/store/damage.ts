// Damage SQLite finds only when it looks: a b-tree page whose header miscounts its fragmented
// bytes. Reads of the page still work, so only `quick_check` tells the file is damaged.
import { closeSync, existsSync, openSync, readSync, writeSync } from "node:fs";
import { openDatabase } from "../../agent/store/index.js";

/** Edits the header of `table`'s root page in the closed database at `path`; returns the page number. */
export function miscountFragments(path: string, table: string): number {
  const db = openDatabase(path, { mustExist: true });
  let root: number;
  let pageSize: number;
  try {
    const row = db.prepare("SELECT rootpage FROM sqlite_master WHERE type = 'table' AND name = ?").get(table) as { rootpage: number } | undefined;
    if (!row) throw new Error(`no table ${table} in ${path}`);
    root = row.rootpage;
    pageSize = db.pragma("page_size", { simple: true }) as number;
  } finally {
    db.close();
  }
  // The last connection's close checkpoints the WAL into the file: an edit made with a WAL left
  // beside it would be hidden by the newer copy of the page in the WAL.
  if (existsSync(`${path}-wal`)) throw new Error(`${path}-wal is still there: close every connection first`);
  const at = (root - 1) * pageSize + 7; // byte 7 of a b-tree page header: its fragmented free bytes
  const fd = openSync(path, "r+");
  try {
    const byte = Buffer.alloc(1);
    readSync(fd, byte, 0, 1, at);
    writeSync(fd, Buffer.of(byte[0] ^ 0x40), 0, 1, at);
  } finally {
    closeSync(fd);
  }
  return root;
}
