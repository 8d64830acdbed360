import type { Migration } from "../store/index.js";

// The ledger keeps each entry's canonical JSON as written (body) and its hash; the other columns
// are indexes for filtered exports and reports, derived from the body at append time.
export const ledgerMigrations: Migration[] = [
  {
    version: 1,
    name: "ledger entries and checkpoints",
    sql: `
      CREATE TABLE ledger_entries (
        seq      INTEGER PRIMARY KEY,
        kind     TEXT NOT NULL CHECK (kind IN ('play', 'event')),
        at       TEXT NOT NULL,
        t        TEXT NOT NULL,           -- play.startedAt for plays, at for events
        type     TEXT,                    -- event type
        customer TEXT,
        campaign TEXT,
        body     TEXT NOT NULL,           -- canonical JSON of the whole entry, sig included
        hash     TEXT NOT NULL
      ) STRICT;
      -- Only the time index: every index page is written and fsynced with each append, and a
      -- customer's or campaign's export walks its range in seq order anyway.
      CREATE INDEX ledger_entries_t ON ledger_entries (t);
      CREATE TABLE ledger_checkpoints (
        seq  INTEGER PRIMARY KEY,
        at   TEXT NOT NULL,
        body TEXT NOT NULL
      ) STRICT;
    `,
  },
];
