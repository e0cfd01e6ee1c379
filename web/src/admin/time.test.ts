import { describe, expect, it } from "vitest";
import { formatSeoul, fromSeoulInput, toSeoulInput } from "./time";

describe("Seoul time", () => {
  it("shows an instant in Seoul time whatever its offset", () => {
    expect(toSeoulInput("2026-12-25T19:00:00+09:00")).toBe("2026-12-25T19:00");
    expect(toSeoulInput("2026-12-25T10:00:00Z")).toBe("2026-12-25T19:00");
    expect(toSeoulInput("2026-12-31T20:30:00Z")).toBe("2027-01-01T05:30");
  });

  it("sends an entered time with the Seoul offset", () => {
    expect(fromSeoulInput("2026-12-25T19:00")).toBe("2026-12-25T19:00:00+09:00");
    expect(fromSeoulInput("2026-12-25T19:00:30")).toBe("2026-12-25T19:00:30+09:00");
    expect(fromSeoulInput("")).toBe("");
  });

  it("round-trips", () => {
    expect(toSeoulInput(fromSeoulInput("2030-01-02T03:04"))).toBe("2030-01-02T03:04");
  });

  it("formats for tables", () => {
    expect(formatSeoul("2026-12-25T10:00:00Z")).toBe("2026-12-25 19:00");
    expect(formatSeoul(null)).toBe("");
  });
});
