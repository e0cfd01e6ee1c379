// The proof of work of `POST /api/challenge`, solved in plain JavaScript: find the first
// decimal counter `n` such that SHA-256 of `<challenge>:<n>` starts with `difficulty` zero bits.
// The hash is written out here (no crypto.subtle) because the search is millions of tiny
// hashes: the fixed 64-byte blocks of `<challenge>:` are compressed once, and each attempt only
// compresses the last block — several times faster than awaiting crypto.subtle.digest per
// attempt (measured in docs/BENCHMARKS.md). No imports: it also runs inside a Web Worker.

const K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

const INITIAL = new Int32Array([
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
]);

/** One SHA-256 compression of the 16 words at `w[0..16]` (w has room for 64) into `h`. */
function compress(h: Int32Array, w: Int32Array): void {
  for (let i = 16; i < 64; i++) {
    const a = w[i - 15]!;
    const b = w[i - 2]!;
    const s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3);
    const s1 = ((b >>> 17) | (b << 15)) ^ ((b >>> 19) | (b << 13)) ^ (b >>> 10);
    w[i] = (w[i - 16]! + s0 + w[i - 7]! + s1) | 0;
  }
  let a = h[0]!, b = h[1]!, c = h[2]!, d = h[3]!, e = h[4]!, f = h[5]!, g = h[6]!, k = h[7]!;
  for (let i = 0; i < 64; i++) {
    const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const t1 = (k + S1 + ((e & f) ^ (~e & g)) + K[i]! + w[i]!) | 0;
    const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const t2 = (S0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
    k = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  h[0] = (h[0]! + a) | 0;
  h[1] = (h[1]! + b) | 0;
  h[2] = (h[2]! + c) | 0;
  h[3] = (h[3]! + d) | 0;
  h[4] = (h[4]! + e) | 0;
  h[5] = (h[5]! + f) | 0;
  h[6] = (h[6]! + g) | 0;
  h[7] = (h[7]! + k) | 0;
}

/** Loads 64 bytes from `bytes[at..]` into `w[0..16]`, big-endian. */
function load(w: Int32Array, bytes: Uint8Array, at: number): void {
  for (let i = 0; i < 16; i++) {
    const j = at + 4 * i;
    w[i] = (bytes[j]! << 24) | (bytes[j + 1]! << 16) | (bytes[j + 2]! << 8) | bytes[j + 3]!;
  }
}

/** SHA-256 of `bytes` (for tests and checks; the search uses the midstate below). */
export function sha256(bytes: Uint8Array): Uint8Array {
  const padded = new Uint8Array(Math.ceil((bytes.length + 9) / 64) * 64);
  padded.set(bytes);
  padded[bytes.length] = 0x80;
  const view = new DataView(padded.buffer);
  view.setUint32(padded.length - 8, Math.floor((bytes.length * 8) / 2 ** 32));
  view.setUint32(padded.length - 4, (bytes.length * 8) >>> 0);
  const h = INITIAL.slice();
  const w = new Int32Array(64);
  for (let at = 0; at < padded.length; at += 64) {
    load(w, padded, at);
    compress(h, w);
  }
  const out = new Uint8Array(32);
  const outView = new DataView(out.buffer);
  h.forEach((word, i) => outView.setUint32(4 * i, word));
  return out;
}

/** Leading zero bits of a hash. */
export function leadingZeroBits(hash: Uint8Array): number {
  let bits = 0;
  for (const byte of hash) {
    if (byte !== 0) return bits + Math.clz32(byte) - 24;
    bits += 8;
  }
  return bits;
}

/** Whether `solution` solves `challenge` at `difficulty` (what the server checks). */
export function solves(challenge: string, solution: string, difficulty: number): boolean {
  return leadingZeroBits(sha256(new TextEncoder().encode(`${challenge}:${solution}`))) >= difficulty;
}

/** Whether the first words of `h` start with `bits` zero bits. */
function zeroBits(h: Int32Array, bits: number): boolean {
  let i = 0;
  for (; bits >= 32; bits -= 32, i++) if (h[i] !== 0) return false;
  return bits === 0 || h[i]! >>> (32 - bits) === 0;
}

/**
 * Searches counters `from`, `from + 1`, … for `count` attempts; returns the first solution, or
 * null when none of them solves it. `count` lets a caller search in slices (to measure a rate or
 * stay responsive).
 */
export function search(challenge: string, difficulty: number, from = 0, count = Number.MAX_SAFE_INTEGER): string | null {
  const prefix = new TextEncoder().encode(`${challenge}:`);
  // The 64-byte blocks that hold only the prefix are the same for every attempt.
  const fixed = Math.floor(prefix.length / 64) * 64;
  const mid = INITIAL.slice();
  const w = new Int32Array(64);
  for (let at = 0; at < fixed; at += 64) {
    load(w, prefix, at);
    compress(mid, w);
  }
  const rest = prefix.subarray(fixed);
  const tail = new Uint8Array(128);
  tail.set(rest);
  const h = new Int32Array(8);
  const end = from + count;
  for (let n = from; n < end; n++) {
    const digits = String(n);
    let len = rest.length;
    for (let i = 0; i < digits.length; i++) tail[len++] = digits.charCodeAt(i);
    const total = fixed + len;
    tail[len] = 0x80;
    const blocks = len + 9 <= 64 ? 1 : 2;
    tail.fill(0, len + 1, blocks * 64);
    const bits = total * 8;
    const last = blocks * 64;
    tail[last - 4] = bits >>> 24;
    tail[last - 3] = bits >>> 16;
    tail[last - 2] = bits >>> 8;
    tail[last - 1] = bits;
    h.set(mid);
    for (let b = 0; b < blocks; b++) {
      load(w, tail, 64 * b);
      compress(h, w);
    }
    if (zeroBits(h, difficulty)) return digits;
  }
  return null;
}

/** The first solution (what the browser sends; the server's own solver finds the same one). */
export function solve(challenge: string, difficulty: number): string {
  const found = search(challenge, difficulty);
  if (found === null) throw new Error("no solution");
  return found;
}

/** The most a concert or signup may ask for (the server's bound). */
export const MAX_DIFFICULTY = 28;

/**
 * The difficulty at which headless Chromium on the development machines needs about one second
 * on average (2^d hashes at the measured rate; README, "Bot checks").
 */
export const RECOMMENDED_DIFFICULTY = 20;
