import { describe, expect, it } from "vitest";
import { en, ko } from "./messages";
import { interpolate, registerMessages, translate } from "./i18n";

const placeholders = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

describe("the message tables", () => {
  it("have the same keys in Korean and English", () => {
    expect(Object.keys(en).sort()).toEqual(Object.keys(ko).sort());
  });

  it("use the same placeholders in both languages", () => {
    for (const key of Object.keys(ko) as (keyof typeof ko)[]) {
      expect(placeholders(en[key]), key).toEqual(placeholders(ko[key]));
    }
  });

  it("have no empty text", () => {
    for (const table of [ko, en]) {
      for (const [key, text] of Object.entries(table)) expect(text.trim(), key).not.toBe("");
    }
  });
});

describe("translate", () => {
  it("fills placeholders and leaves unknown ones", () => {
    expect(interpolate("{a} and {b}", { a: 1 })).toBe("1 and {b}");
  });

  it("answers in the chosen language", () => {
    expect(translate("ko", "nav.concerts")).toBe("콘서트");
    expect(translate("en", "nav.concerts")).toBe("Concerts");
  });

  it("knows keys registered by another module", () => {
    registerMessages({ ko: { "test.extra": "추가 {n}" }, en: { "test.extra": "extra {n}" } });
    expect(translate("en", "test.extra", { n: 2 })).toBe("extra 2");
    expect(translate("ko", "test.extra", { n: 2 })).toBe("추가 2");
  });

  it("shows the key itself when nobody defined it", () => {
    expect(translate("en", "no.such.key")).toBe("no.such.key");
  });
});
