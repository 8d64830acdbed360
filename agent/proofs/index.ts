export { fixedClock, systemClock, type ClockSource } from "./clock.js";
export { entryHash, entrySignatureValid, isStub, signEntry, type SignedEntry } from "./entry.js";
export { appendProblem, entrySchema, entryShapeProblem, playSchema } from "./schema.js";
export { exportCsv, exportJsonl, isFiltered, type ExportFilter, type ExportResult } from "./export.js";
export { Ledger, LedgerError, LedgerReader, type Head, type LedgerDeps, type LedgerErrorCode, type TimeRange } from "./ledger.js";
export { archiveLedger, checkLedgerIntegrity, ledgerInUse, openLedger, openLedgerReader, retireSigningRecord, type ArchivedLedger, type OpenedLedger } from "./open.js";
export { streamLines, verifyFile, verifyLines, type VerifyFailure, type VerifyOptions, type VerifyResult, type VerifySuccess } from "./verify.js";
export * from "./types.js";
export { DEFAULT_OUTBOX_LIMITS, OutboxError, ProofOutbox, type AckOutcome, type AckRefusal, type InFlightBatch, type OutboxBatch, type OutboxLimits } from "./outbox.js";
