// Synthetic layouts in the server's column format, for tests and for looking at the map
// without a server.
import type { SeatLayout } from "./geometry";

export interface SectionSpec {
  name: string;
  /** Seats per row, front to back. */
  rows: number[];
  grade: string;
  price: number;
}

function column<T>(values: T[]): { values: T[]; index: number[]; add: (v: T) => void } {
  const at = new Map<T, number>();
  const col = {
    values,
    index: [] as number[],
    add(v: T) {
      let i = at.get(v);
      if (i === undefined) {
        i = values.length;
        at.set(v, i);
        values.push(v);
      }
      col.index.push(i);
    },
  };
  return col;
}

/** A layout with seat ids from `firstId` up, in natural order (section, row, number). */
export function makeLayout(sections: SectionSpec[], concertId = 1, firstId = 1): SeatLayout {
  const ids: number[] = [];
  const number: string[] = [];
  const section = column<string>([]);
  const row = column<string>([]);
  const grade = column<string>([]);
  const price = column<number>([]);
  let id = firstId;
  for (const s of sections) {
    s.rows.forEach((seats, r) => {
      for (let n = 1; n <= seats; n++) {
        ids.push(id++);
        number.push(String(n));
        section.add(s.name);
        row.add(String(r + 1));
        grade.add(s.grade);
        price.add(s.price);
      }
    });
  }
  const strip = <T,>(c: { values: T[]; index: number[] }) => ({ values: c.values, index: c.index });
  return {
    concertId,
    version: `fixture-${ids.length}`,
    count: ids.length,
    ids,
    number,
    section: strip(section),
    row: strip(row),
    grade: strip(grade),
    price: strip(price),
  };
}

/** About `total` seats in an arena: 25 sections of uneven rows, four grades. */
export function arenaLayout(total = 50_000): SeatLayout {
  const grades = [
    { grade: "VIP", price: 154_000 },
    { grade: "R", price: 132_000 },
    { grade: "S", price: 99_000 },
    { grade: "A", price: 77_000 },
  ];
  const perSection = Math.max(1, Math.round(total / 25));
  const sections: SectionSpec[] = [];
  for (let s = 0; s < 25; s++) {
    const rows: number[] = [];
    let left = perSection;
    for (let r = 0; left > 0; r++) {
      const seats = Math.min(left, 30 + ((r * 3 + s) % 17));
      rows.push(seats);
      left -= seats;
    }
    const g = grades[Math.min(3, Math.floor(s / 7))]!;
    sections.push({ name: String.fromCharCode(65 + s), rows, ...g });
  }
  return makeLayout(sections);
}
