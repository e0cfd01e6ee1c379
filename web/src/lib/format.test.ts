import { describe, expect, it } from "vitest";
import { canCancel, formatCountdown, formatDateTime, formatMoney, formatWait, salePhase } from "./format";

describe("formatMoney", () => {
  it("writes won in Korean with separators", () => {
    expect(formatMoney(150000, "ko")).toBe("150,000원");
  });
  it("writes the won sign in English", () => {
    expect(formatMoney(150000, "en")).toBe("₩150,000");
  });
  it("shows cents only when there are some", () => {
    expect(formatMoney(1234.5, "ko")).toBe("1,234.50원");
    expect(formatMoney(0, "en")).toBe("₩0");
  });
});

describe("formatCountdown", () => {
  it("shows minutes and seconds under an hour", () => {
    expect(formatCountdown(65_000, "ko")).toBe("01:05");
  });
  it("shows hours under a day", () => {
    expect(formatCountdown(3 * 3600_000 + 5_000, "en")).toBe("03:00:05");
  });
  it("puts days in front beyond a day", () => {
    expect(formatCountdown(2 * 86400_000 + 3600_000, "ko")).toBe("2일 01:00:00");
    expect(formatCountdown(2 * 86400_000 + 3600_000, "en")).toBe("2d 01:00:00");
  });
  it("rounds a partial second up and never goes below zero", () => {
    expect(formatCountdown(1, "ko")).toBe("00:01");
    expect(formatCountdown(-5000, "ko")).toBe("00:00");
  });
});

describe("formatWait", () => {
  it("says under a minute, then minutes, then hours", () => {
    expect(formatWait(20, "ko")).toBe("1분 미만");
    expect(formatWait(180, "en")).toBe("about 3 min");
    expect(formatWait(3900, "ko")).toBe("약 1시간 5분");
  });
});

describe("formatDateTime", () => {
  it("shows Seoul time whatever the offset it was written with", () => {
    expect(formatDateTime("2026-12-24T10:30:00Z", "en")).toContain("19:30");
    expect(formatDateTime("2026-12-24T19:30:00+09:00", "ko")).toContain("19:30");
  });
  it("leaves a value it cannot read as it is", () => {
    expect(formatDateTime("soon", "ko")).toBe("soon");
  });
});

describe("salePhase", () => {
  const open = "2026-12-01T10:00:00+09:00";
  const close = "2026-12-10T10:00:00+09:00";
  it("is upcoming before the opening, open inside, closed after", () => {
    expect(salePhase(open, close, Date.parse(open) - 1)).toBe("upcoming");
    expect(salePhase(open, close, Date.parse(open))).toBe("open");
    expect(salePhase(open, close, Date.parse(close))).toBe("closed");
  });
});

describe("canCancel", () => {
  const show = "2026-12-24T19:00:00+09:00";
  it("allows a confirmed booking until two hours before the show", () => {
    expect(canCancel("CONFIRMED", show, Date.parse(show) - 2 * 3600_000 - 1)).toBe(true);
    expect(canCancel("CONFIRMED", show, Date.parse(show) - 2 * 3600_000)).toBe(false);
  });
  it("refuses anything not confirmed", () => {
    expect(canCancel("IN_PROGRESS", show, 0)).toBe(false);
  });
});
