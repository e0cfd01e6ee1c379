import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { base64UrlDecode, decodeUnverified, hexDecode, importPublicKey, verifySecret } from "./secret";

// The vector the server's own tests check (docs/ticket-secret-vector.json).
const vector = JSON.parse(
  readFileSync(new URL("../../../../docs/ticket-secret-vector.json", import.meta.url), "utf8"),
) as { publicKeyHex: string; secret: string; ticketId: number; concertId: number; seatId: number };

const publicKey = () => importPublicKey(hexDecode(vector.publicKeyHex)!);

/** The secret with the character at `index` replaced by another base64url character. */
function tamper(secret: string, index: number): string {
  const replacement = secret[index] === "A" ? "B" : "A";
  return secret.slice(0, index) + replacement + secret.slice(index + 1);
}

describe("a ticket secret", () => {
  it("of the test vector verifies with the vector's public key alone and names its ticket, concert and seat", async () => {
    const claims = await verifySecret(vector.secret, [await publicKey()]);
    expect(claims).toEqual({ ticketId: vector.ticketId, concertId: vector.concertId, seatId: vector.seatId });
  });

  it("verifies when the right key is one of several", async () => {
    const other = await importPublicKey(new Uint8Array(new ArrayBuffer(32)).fill(7));
    expect(await verifySecret(vector.secret, [other, await publicKey()])).not.toBeNull();
  });

  it("fails when a single character of its signed part or of its signature is changed", async () => {
    const keys = [await publicKey()];
    // 0..55 encode the 41 signed bytes (ids, seed); the rest the signature.
    for (const index of [3, 12, 30, 50, 60, 100, 139]) {
      const altered = tamper(vector.secret, index);
      expect(altered).not.toBe(vector.secret);
      expect(await verifySecret(altered, keys), `character ${index}`).toBeNull();
    }
  });

  it("fails against another concert's key", async () => {
    const other = await importPublicKey(new Uint8Array(new ArrayBuffer(32)).fill(9));
    expect(await verifySecret(vector.secret, [other])).toBeNull();
    expect(await verifySecret(vector.secret, [])).toBeNull();
  });

  it("that is malformed (wrong length, not base64url, unknown version) is refused without a key being tried", async () => {
    const keys = [await publicKey()];
    expect(await verifySecret(vector.secret.slice(0, 139), keys)).toBeNull();
    expect(await verifySecret(`${vector.secret}AAAA`, keys)).toBeNull();
    expect(await verifySecret(vector.secret.replace(/.$/, "!"), keys)).toBeNull();
    expect(await verifySecret("", keys)).toBeNull();
    // Version 2 in the first byte: "AQ" → "Ag".
    expect(decodeUnverified(`Ag${vector.secret.slice(2)}`)).toBeNull();
  });

  it("is read before verification (surrounding spaces of a pasted code do not matter)", () => {
    expect(decodeUnverified(` ${vector.secret}\n`)).toEqual({ ticketId: 1001, concertId: 42, seatId: 777 });
  });
});

describe("base64url", () => {
  it("decodes with and without padding and refuses other alphabets", () => {
    expect(Array.from(base64UrlDecode("-_8")!)).toEqual([0xfb, 0xff]);
    expect(Array.from(base64UrlDecode("-_8=")!)).toEqual([0xfb, 0xff]);
    expect(base64UrlDecode("+/8")).toBeNull();
    expect(base64UrlDecode("A")).toBeNull();
  });
});
