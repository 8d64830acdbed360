export { openDatabase, migrate, StoreError, type Db, type Migration, type OpenOptions } from "./database.js";
