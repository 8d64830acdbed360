// The reference collector (`ledagent ops collect`): verification, storage, keys and the MQTT client.
export { BatchProcessor, Collector, COLLECTOR_SESSION_EXPIRY_S, defaultCollectorClientId, proofsSubscription, type AckMessage, type BatchReport, type CollectorDeps, type CollectorOptions } from "./collector.js";
export { SCREEN_ID, ScreenKeys, type KeyLookup, type ScreenKeySource } from "./keys.js";
export { CollectorStore, collectorMigrations, type Gap, type RecordedProblem, type ScreenReport, type ScreenSummary, type StoreOutcome } from "./store.js";
export { checkBatch, MAX_BATCH_BYTES, PROBLEM_KINDS, screenOfTopic, type CheckedBatch, type CheckedEntry, type Problem, type ProblemKind } from "./verify-batch.js";
export { inlineVerifier, VerifyPool, type SignatureVerifier, type SignedText } from "./verify-pool.js";
