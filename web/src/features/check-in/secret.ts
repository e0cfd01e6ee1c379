// A ticket's secret (v1), read and verified in the browser exactly as the server does
// (src/domain/ticket_secret.rs): base64url without padding of
//   0x01 | ticket id u64 BE | concert id u64 BE | seat id u64 BE | 16-byte seed | Ed25519 signature
// over the 41 bytes before it. The secret names no key: it is checked against each of the
// concert's keys (WebCrypto Ed25519), so a scanner with the public keys alone can tell a real
// ticket from a forged or altered one, offline.

/** The version byte this reader knows. */
export const SECRET_VERSION = 1;
/** Signed bytes: version, three ids, seed. */
export const SIGNED_LEN = 1 + 8 + 8 + 8 + 16;
/** Signed bytes and the signature. */
export const SECRET_LEN = SIGNED_LEN + 64;

/** What a secret says about its ticket (trust it only after `verifySecret`). */
export interface SecretClaims {
  ticketId: number;
  concertId: number;
  seatId: number;
}

interface Decoded extends SecretClaims {
  signed: Uint8Array<ArrayBuffer>;
  signature: Uint8Array<ArrayBuffer>;
}

const BASE64URL = /^[A-Za-z0-9_-]*$/;

/** Bytes of base64url text (padding tolerated), or null when it is not base64url. */
export function base64UrlDecode(text: string): Uint8Array<ArrayBuffer> | null {
  const bare = text.replace(/=+$/, "");
  if (!BASE64URL.test(bare) || bare.length % 4 === 1) return null;
  const standard = bare.replace(/-/g, "+").replace(/_/g, "/");
  let binary: string;
  try {
    binary = atob(standard + "=".repeat((4 - (standard.length % 4)) % 4));
  } catch {
    return null;
  }
  const out = new Uint8Array(new ArrayBuffer(binary.length));
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

/** Bytes of hex text (for the test vector), or null. */
export function hexDecode(hex: string): Uint8Array<ArrayBuffer> | null {
  if (!/^([0-9a-fA-F]{2})*$/.test(hex)) return null;
  const out = new Uint8Array(new ArrayBuffer(hex.length / 2));
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function id(view: DataView, offset: number): number | null {
  const value = view.getBigUint64(offset);
  return value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : null;
}

function decode(secret: string): Decoded | null {
  const bytes = base64UrlDecode(secret.trim());
  if (!bytes || bytes.length !== SECRET_LEN || bytes[0] !== SECRET_VERSION) return null;
  const view = new DataView(bytes.buffer);
  const ticketId = id(view, 1);
  const concertId = id(view, 9);
  const seatId = id(view, 17);
  if (ticketId === null || concertId === null || seatId === null) return null;
  return {
    ticketId,
    concertId,
    seatId,
    signed: bytes.slice(0, SIGNED_LEN),
    signature: bytes.slice(SIGNED_LEN),
  };
}

/** The claims of a well-formed v1 secret, WITHOUT checking its signature (null otherwise). */
export function decodeUnverified(secret: string): SecretClaims | null {
  const decoded = decode(secret);
  return decoded && { ticketId: decoded.ticketId, concertId: decoded.concertId, seatId: decoded.seatId };
}

/** A concert's public key (raw 32 bytes, base64url) as a WebCrypto verification key. */
export async function importPublicKey(publicKey: string | Uint8Array<ArrayBuffer>): Promise<CryptoKey> {
  const raw = typeof publicKey === "string" ? base64UrlDecode(publicKey) : publicKey;
  if (!raw || raw.length !== 32) throw new Error("an Ed25519 public key is 32 bytes");
  return crypto.subtle.importKey("raw", raw, { name: "Ed25519" }, false, ["verify"]);
}

/** Whether this browser verifies Ed25519 signatures (Chromium and Firefox do; older Safari not). */
export async function ed25519Supported(): Promise<boolean> {
  try {
    await importPublicKey(new Uint8Array(new ArrayBuffer(32)).fill(1));
    return true;
  } catch {
    return false;
  }
}

/**
 * The claims of a secret signed by one of `keys`, or null for anything else (malformed, an
 * unknown version, or a signature none of the keys made).
 */
export async function verifySecret(secret: string, keys: readonly CryptoKey[]): Promise<SecretClaims | null> {
  const decoded = decode(secret);
  if (!decoded) return null;
  for (const key of keys) {
    if (await crypto.subtle.verify({ name: "Ed25519" }, key, decoded.signature, decoded.signed)) {
      return { ticketId: decoded.ticketId, concertId: decoded.concertId, seatId: decoded.seatId };
    }
  }
  return null;
}
