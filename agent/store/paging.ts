/**
 * Keyset paging over a seq-ordered query: `fetchAfter(seq)` returns up to `pageSize` rows with a
 * larger seq, in order. Pages are yielded as they are read, so a caller never holds more than one
 * and the connection is free between pages (no open iterator blocks other statements).
 */
export function* pagesBySeq<T extends { seq: number }>(fetchAfter: (afterSeq: number) => T[], pageSize: number, startAfter = 0): Generator<T[]> {
  let after = startAfter;
  for (;;) {
    const rows = fetchAfter(after);
    if (rows.length > 0) yield rows;
    if (rows.length < pageSize) return;
    after = rows[rows.length - 1].seq;
  }
}
