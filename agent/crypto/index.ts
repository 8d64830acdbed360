export { canonicalBytes, canonicalSha256, canonicalString, CanonicalError } from "./canonical.js";
export {
  createKeyFiles,
  KeyError,
  loadPrivateKey,
  loadPublicKey,
  parsePublicKey,
  publicKeyPem,
  signCanonical,
  verifyCanonical,
  verifyText,
  type KeyPair,
} from "./ed25519.js";
export {
  keyFingerprint,
  readSigningRecord,
  retiredKeyPath,
  retiredKeyRecord,
  signingRecordPath,
  writeRetiredKey,
  writeSigningRecord,
  type HighWaterMark,
  type RetiredKey,
  type SigningRecord,
} from "./signing-record.js";
