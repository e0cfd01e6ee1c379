import { describe, expect, it } from "vitest";
import { translate } from "../../lib/i18n";
import { en, ko } from "./messages";

const placeholders = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

describe("the wallet's strings", () => {
  it("have the same keys and placeholders in Korean and English, and are registered", () => {
    expect(Object.keys(en).sort()).toEqual(Object.keys(ko).sort());
    for (const key of Object.keys(ko) as (keyof typeof ko)[]) expect(placeholders(en[key]), key).toEqual(placeholders(ko[key]));
    expect(translate("en", "tickets.status.USED")).toBe("Used");
  });
});
