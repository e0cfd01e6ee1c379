// Colours of the map: one per grade (a fixed palette, the dearest grade first), greys for seats
// someone else has, and distinct outlines for the fan's picks and the keyboard cursor. Every
// colour here keeps at least 3:1 against the map's white background (WCAG 1.4.11), and the
// text colours 4.5:1.
import { AVAILABLE, HELD, RESERVED, SOLD } from "./availability";
import type { SeatLayout } from "./geometry";

export const BACKGROUND = "#ffffff";
/** Behind a section's seats. */
export const BLOCK_FILL = "#f3f4f6";
/** Section and row labels, legend text. */
export const LABEL = "#111827";
export const MUTED_LABEL = "#4b5563";

/** Grade colours, dearest grade first. */
export const GRADE_PALETTE = [
  "#7c3aed", // violet
  "#be185d", // pink
  "#c2410c", // orange
  "#0f766e", // teal
  "#4d7c0f", // olive
  "#0369a1", // sky
  "#a16207", // ochre
  "#9f1239", // crimson
] as const;

/** Seats someone else has, by state code (AVAILABLE has its grade's colour). */
export const STATE_COLORS: Record<number, string> = {
  [HELD]: "#858b95",
  [RESERVED]: "#626873",
  [SOLD]: "#3f434a",
};

/** The fan's picks: a dark ring with a white ring inside it. */
export const SELECTED_OUTLINE = "#111827";
export const SELECTED_INNER = "#ffffff";
/** The keyboard cursor: a blue ring outside the seat. */
export const FOCUS_OUTLINE = "#1d4ed8";

/** A grade's colour: grades ordered by their highest price (dearest first), then first appearance. */
export function gradeColors(layout: SeatLayout): string[] {
  const grades = layout.grade.values;
  const top = new Array<number>(grades.length).fill(-Infinity);
  for (let i = 0; i < layout.grade.index.length; i++) {
    const g = layout.grade.index[i] ?? 0;
    const price = layout.price.values[layout.price.index[i] ?? 0] ?? 0;
    if (price > (top[g] ?? -Infinity)) top[g] = price;
  }
  const order = grades.map((_, g) => g).sort((a, b) => (top[b] ?? 0) - (top[a] ?? 0) || a - b);
  const colors = new Array<string>(grades.length);
  order.forEach((g, rank) => (colors[g] = GRADE_PALETTE[rank % GRADE_PALETTE.length]!));
  return colors;
}

/** The fill of a seat in state `state` of a grade coloured `gradeColor`. */
export function seatFill(state: number, gradeColor: string): string {
  return state === AVAILABLE ? gradeColor : (STATE_COLORS[state] ?? STATE_COLORS[SOLD]!);
}

function channel(v: number): number {
  const c = v / 255;
  return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
}

/** WCAG relative luminance of `#rrggbb`. */
export function luminance(hex: string): number {
  const n = Number.parseInt(hex.slice(1), 16);
  return 0.2126 * channel((n >> 16) & 255) + 0.7152 * channel((n >> 8) & 255) + 0.0722 * channel(n & 255);
}

/** WCAG contrast ratio of two `#rrggbb` colours (1 to 21). */
export function contrast(a: string, b: string): number {
  const la = luminance(a);
  const lb = luminance(b);
  return (Math.max(la, lb) + 0.05) / (Math.min(la, lb) + 0.05);
}
