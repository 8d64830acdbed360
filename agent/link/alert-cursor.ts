// Where the alerts stand: the ledger seq through which every alert was read and sent (or none was
// waiting), kept beside the outbox in the agent's database. The link starts from it, so an alert
// recorded while the link was not running (at boot, or waiting in memory when the agent stopped)
// is raised all the same. Alerts are at least once: a crash may send a few again.
import { migrate, type Db, type Migration } from "../store/index.js";

const alertCursorMigrations: Migration[] = [
  {
    version: 1,
    name: "the alerts' cursor",
    sql: "CREATE TABLE link_alert_cursor (id INTEGER PRIMARY KEY CHECK (id = 1), through INTEGER NOT NULL) STRICT;",
  },
];

export class AlertCursor {
  private readonly read;
  private readonly write;

  constructor(db: Db) {
    migrate(db, "link-alerts", alertCursorMigrations);
    this.read = db.prepare("SELECT through FROM link_alert_cursor WHERE id = 1");
    this.write = db.prepare("INSERT INTO link_alert_cursor (id, through) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET through = excluded.through");
  }

  /** null before the link ever ran on this database. */
  through(): number | null {
    return (this.read.get() as { through: number } | undefined)?.through ?? null;
  }

  set(through: number): void {
    this.write.run(through);
  }
}
