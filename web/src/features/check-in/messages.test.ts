import { describe, expect, it } from "vitest";
import { translate } from "../../lib/i18n";
import { en, ko } from "./messages";

const placeholders = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

describe("the scanner's strings", () => {
  it("have the same keys and placeholders in Korean and English, and are registered", () => {
    expect(Object.keys(en).sort()).toEqual(Object.keys(ko).sort());
    for (const key of Object.keys(ko) as (keyof typeof ko)[]) expect(placeholders(en[key]), key).toEqual(placeholders(ko[key]));
    expect(translate("en", "scan.reason.already_redeemed")).toBe("Already redeemed.");
  });

  it("explain every refusal reason the server names", () => {
    for (const reason of ["invalid", "revoked", "canceled", "already_redeemed", "wrong_concert", "wrong_list", "invalid_time", "not_inside"]) {
      expect(Object.keys(ko)).toContain(`scan.reason.${reason}`);
    }
  });
});
