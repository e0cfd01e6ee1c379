// Seat generation: sections × rows × numbers, each section with its own grade and price,
// sent in batches the service accepts (at most 5,000 seats a request).
import type { Schemas } from "../lib/api/client";

export type SeatCreate = Schemas["SeatCreateRequest"];

/** The most seats `POST /api/seat/batch` takes at once. */
export const BATCH_LIMIT = 5_000;

export interface SectionPrice {
  section: string;
  grade: string;
  price: number;
}

export interface SeatPlan {
  sections: SectionPrice[];
  rowFrom: number;
  rowTo: number;
  numberFrom: number;
  numberTo: number;
}

/** Section names from "A, B,,C": trimmed, empty ones dropped, repeats once. */
export function parseSections(text: string): string[] {
  const names = text
    .split(",")
    .map((name) => name.trim())
    .filter((name) => name.length > 0);
  return [...new Set(names)];
}

function span(from: number, to: number): number {
  return Number.isInteger(from) && Number.isInteger(to) && to >= from ? to - from + 1 : 0;
}

/** How many seats the plan makes (0 when a range is empty or not whole numbers). */
export function planCount(plan: SeatPlan): number {
  return plan.sections.length * span(plan.rowFrom, plan.rowTo) * span(plan.numberFrom, plan.numberTo);
}

/** Every seat of the plan, in natural order (section, row, number). */
export function planSeats(plan: SeatPlan, concertId: number): SeatCreate[] {
  const seats: SeatCreate[] = [];
  if (planCount(plan) === 0) return seats;
  for (const { section, grade, price } of plan.sections) {
    for (let row = plan.rowFrom; row <= plan.rowTo; row++) {
      for (let number = plan.numberFrom; number <= plan.numberTo; number++) {
        seats.push({ concertId, section, row: String(row), number: String(number), grade, price });
      }
    }
  }
  return seats;
}

/** Splits items into consecutive batches of at most `size`. */
export function batches<T>(items: readonly T[], size: number = BATCH_LIMIT): T[][] {
  if (size < 1) throw new Error("batch size must be at least 1");
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
