import { describe, expect, it } from "vitest";
import { AVAILABLE, HELD, RESERVED, SOLD } from "./availability";
import {
  BACKGROUND,
  BLOCK_FILL,
  contrast,
  FOCUS_OUTLINE,
  GRADE_PALETTE,
  gradeColors,
  LABEL,
  MUTED_LABEL,
  seatFill,
  SELECTED_OUTLINE,
  STATE_COLORS,
} from "./colors";
import { makeLayout } from "./fixtures";

function distance(a: string, b: string): number {
  const pa = Number.parseInt(a.slice(1), 16);
  const pb = Number.parseInt(b.slice(1), 16);
  let sum = 0;
  for (const shift of [16, 8, 0]) sum += (((pa >> shift) & 255) - ((pb >> shift) & 255)) ** 2;
  return Math.sqrt(sum);
}

describe("colours", () => {
  it("computes WCAG contrast", () => {
    expect(contrast("#000000", "#ffffff")).toBeCloseTo(21);
    expect(contrast("#777777", "#ffffff")).toBeCloseTo(4.48, 1);
  });

  it("keeps every seat colour at 3:1 against the background and the blocks", () => {
    for (const c of [...GRADE_PALETTE, ...Object.values(STATE_COLORS), SELECTED_OUTLINE, FOCUS_OUTLINE]) {
      expect(contrast(c, BACKGROUND), c).toBeGreaterThanOrEqual(3);
      expect(contrast(c, BLOCK_FILL), c).toBeGreaterThanOrEqual(3);
    }
    expect(contrast(LABEL, BLOCK_FILL)).toBeGreaterThanOrEqual(4.5);
    expect(contrast(MUTED_LABEL, BACKGROUND)).toBeGreaterThanOrEqual(4.5);
  });

  it("keeps grade colours apart from each other and from the greys", () => {
    const all = [...GRADE_PALETTE, ...Object.values(STATE_COLORS)];
    for (const [i, a] of all.entries()) {
      for (const b of all.slice(i + 1)) expect(distance(a, b), `${a} ${b}`).toBeGreaterThan(30);
    }
    expect(new Set(Object.values(STATE_COLORS)).size).toBe(3);
  });

  it("gives the dearest grade the first colour, whatever the order of the seats", () => {
    const layout = makeLayout([
      { name: "A", rows: [2], grade: "S", price: 90_000 },
      { name: "B", rows: [2], grade: "VIP", price: 150_000 },
      { name: "C", rows: [2], grade: "R", price: 120_000 },
    ]);
    expect(layout.grade.values).toEqual(["S", "VIP", "R"]);
    expect(gradeColors(layout)).toEqual([GRADE_PALETTE[2], GRADE_PALETTE[0], GRADE_PALETTE[1]]);
  });

  it("greys out seats someone else has", () => {
    expect(seatFill(AVAILABLE, "#7c3aed")).toBe("#7c3aed");
    expect(seatFill(HELD, "#7c3aed")).toBe(STATE_COLORS[HELD]);
    expect(seatFill(RESERVED, "#7c3aed")).toBe(STATE_COLORS[RESERVED]);
    expect(seatFill(SOLD, "#7c3aed")).toBe(STATE_COLORS[SOLD]);
  });
});
