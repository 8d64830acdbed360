export * from "./document.js";
export * from "./limits.js";
export { validateDocument, type Validation } from "./validate.js";
export { checkEnvelope, loadOpsPublicKey, type EnvelopeCheck, type EnvelopeDecision, type EnvelopeOrigin, type LastApplied } from "./envelope.js";
export * from "./store.js";
export * from "./apply.js";
