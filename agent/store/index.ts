export { diskFullReason, failureReason, openDatabase, migrate, StoreError, type FreeSpace, type Db, type Migration, type OpenOptions } from "./database.js";
export { fsyncDirectory, tempPathBeside, writeFileDurably } from "./durable-file.js";
export { pagesBySeq } from "./paging.js";
export { checkTrustedFile, describeFsError, readTrustedFile, readTrustedText, TrustedFileError, TRUSTED_FILE_MAX_BYTES, type TrustedReadOptions } from "./trusted-file.js";
export { LockBusyError, releaseQuietly, tryLockSync, withFileLockSync, type LockOptions } from "./lock.js";
export { processOwnerChecks, tryOwnerLockSync, type LockOwner, type OwnerChecks } from "./owner-lock.js";
