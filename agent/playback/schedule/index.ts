export * from "./document.js";
export { validateDocument, type Validation } from "./validate.js";
export { checkEnvelope, type EnvelopeCheck, type EnvelopeDecision } from "./envelope.js";
export * from "./store.js";
