import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { format } from "./i18n";
import { adminMessages } from "./messages";

const placeholders = (text: string) => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

describe("admin messages", () => {
  it("have the same keys in Korean and English", () => {
    expect(Object.keys(adminMessages.en).sort()).toEqual(Object.keys(adminMessages.ko).sort());
  });

  it("use the same placeholders in both languages, and no empty text", () => {
    for (const [key, ko] of Object.entries(adminMessages.ko)) {
      const en = adminMessages.en[key as keyof typeof adminMessages.en];
      expect(placeholders(en), key).toEqual(placeholders(ko));
      expect(ko.trim(), key).not.toBe("");
      expect(en.trim(), key).not.toBe("");
    }
  });

  it("cover every literal key the pages use", () => {
    const used = new Set<string>();
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) walk(path);
        else if (/\.tsx?$/.test(entry.name) && !entry.name.includes(".test.")) {
          for (const m of readFileSync(path, "utf8").matchAll(/\bt\("([\w.]+)"/g)) used.add(m[1]!);
        }
      }
    };
    walk(__dirname);
    const missing = [...used].filter((key) => !(key in adminMessages.ko));
    expect(missing).toEqual([]);
  });

  it("fill placeholders and leave unknown ones", () => {
    expect(format("{a} of {b} {c}", { a: 1, b: "two" })).toBe("1 of two {c}");
  });
});
