import { describe, expect, it } from "vitest";
import { addSample, KEEP_MS, soldPerMinute, type Sample } from "./salesRate";

const series = (points: [number, number][]): Sample[] =>
  points.reduce<Sample[]>((acc, [at, sold]) => addSample(acc, { at, sold }), []);

describe("seats sold per minute", () => {
  it("is unknown until ten seconds have been watched", () => {
    expect(soldPerMinute([])).toBeNull();
    expect(soldPerMinute(series([[0, 0], [8_000, 4]]))).toBeNull();
  });

  it("scales what was sold in the watched span to a minute", () => {
    expect(soldPerMinute(series([[0, 0], [10_000, 5], [20_000, 10], [30_000, 15]]))).toBe(30);
  });

  it("looks only at the last minute", () => {
    const s = series([[0, 0], [30_000, 100], [60_000, 100], [90_000, 130]]);
    // From 30 s (100 sold) to 90 s (130 sold): 30 in one minute.
    expect(soldPerMinute(s)).toBe(30);
  });

  it("forgets samples older than ten minutes and keeps time moving forward", () => {
    const s = series([[0, 0], [KEEP_MS + 1, 5], [KEEP_MS + 1, 6]]);
    expect(s).toEqual([{ at: KEEP_MS + 1, sold: 6 }]);
  });
});
