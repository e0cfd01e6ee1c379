import { describe, expect, it } from "vitest";
import { leadingZeroBits, search, sha256, solve, solves } from "./solver";

const hex = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
const utf8 = (text: string) => new TextEncoder().encode(text);

describe("the challenge solver", () => {
  it("hashes like SHA-256 (the standard vectors, across block boundaries)", () => {
    expect(hex(sha256(utf8("")))).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    expect(hex(sha256(utf8("abc")))).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect(hex(sha256(utf8("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")))).toBe(
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
    );
  });

  it("finds the solution the server's test vector names, and checks it", () => {
    // The same vector as `domain::challenge` tests in Rust.
    const challenge = "v1.QUEUE.1.8.1800000000.AAAAAAAAAAAAAAAA.test";
    expect(hex(sha256(utf8(`${challenge}:480`)))).toBe("00dd0aedaabf22c43fcccdf0166de07f07a0948d084d45edec89381df23c2cc8");
    expect(solve(challenge, 8)).toBe("480");
    expect(solves(challenge, "480", 8)).toBe(true);
    expect(solves(challenge, "480", 9)).toBe(false);
    expect(search(challenge, 8, 0, 480)).toBeNull();
  });

  it("agrees with the plain hash for prefixes of every length around a block", () => {
    for (let length = 50; length <= 140; length += 1) {
      const challenge = "c".repeat(length);
      const found = solve(challenge, 6);
      expect(leadingZeroBits(sha256(utf8(`${challenge}:${found}`)))).toBeGreaterThanOrEqual(6);
      // And it is the first counter that does.
      for (let n = 0; n < Number(found); n++) expect(solves(challenge, String(n), 6)).toBe(false);
    }
  });

  it("counts leading zero bits across bytes", () => {
    expect(leadingZeroBits(new Uint8Array([0x80]))).toBe(0);
    expect(leadingZeroBits(new Uint8Array([0x01]))).toBe(7);
    expect(leadingZeroBits(new Uint8Array([0, 0, 0x10, 0xff]))).toBe(19);
  });
});
