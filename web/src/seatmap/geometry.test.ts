import { describe, expect, it } from "vitest";
import { arenaLayout, makeLayout } from "./fixtures";
import { buildGeometry, fit, hitTest, neighbour, seatCenter, toScreen, toWorld, zoomAt, type SeatGeometry } from "./geometry";

function expectNoOverlap(g: SeatGeometry) {
  // Every seat against the seats the grid lists near it (the grid covers each seat's pitch square).
  const { grid } = g;
  for (let cell = 0; cell < grid.cols * grid.rows; cell++) {
    for (let a = grid.start[cell]!; a < grid.start[cell + 1]!; a++) {
      for (let b = a + 1; b < grid.start[cell + 1]!; b++) {
        const i = grid.items[a]!;
        const j = grid.items[b]!;
        const overlapX = Math.abs(g.x[i]! - g.x[j]!) < g.seatSize;
        const overlapY = Math.abs(g.y[i]! - g.y[j]!) < g.seatSize;
        if (overlapX && overlapY) throw new Error(`seats ${i} and ${j} overlap`);
      }
    }
  }
}

function expectInside(g: SeatGeometry) {
  const b = g.bounds;
  for (let i = 0; i < g.count; i++) {
    const inside =
      g.x[i]! >= b.x && g.y[i]! >= b.y && g.x[i]! + g.seatSize <= b.x + b.w && g.y[i]! + g.seatSize <= b.y + b.h;
    if (!inside) throw new Error(`seat ${i} is outside the bounds`);
  }
}

describe("buildGeometry", () => {
  const layout = makeLayout([
    { name: "A", rows: [4, 6, 5], grade: "VIP", price: 150_000 },
    { name: "B", rows: [3, 3], grade: "R", price: 120_000 },
    { name: "C", rows: [10], grade: "S", price: 90_000 },
  ]);
  const g = buildGeometry(layout);

  it("places sections as blocks in order of first appearance, with labels above them", () => {
    expect(g.sections.map((s) => s.name)).toEqual(["A", "B", "C"]);
    for (const s of g.sections) {
      expect(s.labelY).toBeGreaterThan(s.y);
      expect(s.labelY).toBeLessThan(Math.min(...g.rows.filter((r) => g.sections[r.section] === s).map((r) => r.labelY)));
      expect(s.labelX).toBeGreaterThan(s.x);
      expect(s.labelX).toBeLessThan(s.x + s.w);
    }
    // Blocks do not overlap.
    for (const [i, a] of g.sections.entries()) {
      for (const b of g.sections.slice(i + 1)) {
        const apart = a.x + a.w <= b.x || b.x + b.w <= a.x || a.y + a.h <= b.y || b.y + b.h <= a.y;
        expect(apart).toBe(true);
      }
    }
  });

  it("lays rows as lines, front row first, seats along the row in order", () => {
    expect(g.rows.map((r) => `${g.sections[r.section]!.name}${r.name}:${r.seats.length}`)).toEqual([
      "A1:4", "A2:6", "A3:5", "B1:3", "B2:3", "C1:10",
    ]);
    for (const row of g.rows) {
      const y = g.y[row.seats[0]!]!;
      for (let k = 1; k < row.seats.length; k++) {
        expect(g.y[row.seats[k]!]).toBe(y);
        expect(g.x[row.seats[k]!]!).toBeGreaterThan(g.x[row.seats[k - 1]!]!);
      }
    }
    for (let r = 1; r < 3; r++) expect(g.y[g.rows[r]!.seats[0]!]!).toBeGreaterThan(g.y[g.rows[r - 1]!.seats[0]!]!);
    // Shorter rows are centred on the widest one.
    const centre = (r: number) => {
      const seats = g.rows[r]!.seats;
      return (g.x[seats[0]!]! + g.x[seats[seats.length - 1]!]!) / 2;
    };
    expect(centre(0)).toBeCloseTo(centre(1));
    expect(centre(2)).toBeCloseTo(centre(1));
  });

  it("finds each seat at its centre and nothing far from the seats", () => {
    for (let i = 0; i < g.count; i++) {
      const c = seatCenter(g, i);
      expect(hitTest(g, c.x, c.y)).toBe(i);
      // The gap right of a seat still belongs to it.
      expect(hitTest(g, c.x + g.pitch / 2 - 0.01, c.y)).toBe(i);
    }
    expect(hitTest(g, g.bounds.x - 50, g.bounds.y)).toBe(-1);
    expect(hitTest(g, g.sections[0]!.labelX, g.sections[0]!.labelY)).toBe(-1);
  });

  it("moves a keyboard cursor along rows and between rows", () => {
    const a1 = g.rows[0]!.seats;
    const a2 = g.rows[1]!.seats;
    expect(neighbour(g, a1[0]!, "right")).toBe(a1[1]);
    expect(neighbour(g, a1[1]!, "left")).toBe(a1[0]);
    // Down from row 1 lands on the seat of row 2 right below.
    const below = neighbour(g, a1[0]!, "down");
    expect(g.rowOf[below]).toBe(1);
    expect(Math.abs(g.x[below]! - g.x[a1[0]!]!)).toBeLessThanOrEqual(g.pitch);
    expect(neighbour(g, below, "up")).toBe(a1[0]);
    // Past the end of a row the cursor goes to the nearest seat that way, or stays on the edge.
    const last = a2[a2.length - 1]!;
    const next = neighbour(g, last, "right");
    expect(g.x[next]!).toBeGreaterThan(g.x[last]!);
    let leftmost = 0;
    for (let i = 0; i < g.count; i++) if (g.x[i]! < g.x[leftmost]!) leftmost = i;
    expect(neighbour(g, leftmost, "left")).toBe(leftmost);
  });

  it("fits the bounds into a viewport and zooms around a point", () => {
    const view = fit(g.bounds, 800, 600, 20);
    const tl = toScreen(view, g.bounds.x, g.bounds.y);
    const br = toScreen(view, g.bounds.x + g.bounds.w, g.bounds.y + g.bounds.h);
    expect(tl.x).toBeGreaterThanOrEqual(19.99);
    expect(tl.y).toBeGreaterThanOrEqual(19.99);
    expect(br.x).toBeLessThanOrEqual(780.01);
    expect(br.y).toBeLessThanOrEqual(580.01);
    expect(Math.min(tl.x, tl.y, 800 - br.x, 600 - br.y)).toBeCloseTo(20); // touches one padding
    const zoomed = zoomAt(view, 2, 300, 200, 0.01, 100);
    const before = toWorld(view, 300, 200);
    const after = toWorld(zoomed, 300, 200);
    expect(after.x).toBeCloseTo(before.x);
    expect(after.y).toBeCloseTo(before.y);
    expect(zoomed.scale).toBeCloseTo(view.scale * 2);
    expect(zoomAt(view, 1e9, 0, 0, 0.01, 100).scale).toBe(100);
  });

  it("handles an empty layout", () => {
    const empty = buildGeometry(makeLayout([]));
    expect(empty.count).toBe(0);
    expect(hitTest(empty, 0, 0)).toBe(-1);
    expect(fit(empty.bounds, 100, 100).scale).toBe(1);
  });
});

describe("50,000 seats", () => {
  const layout = arenaLayout(50_000);
  const started = performance.now();
  const g = buildGeometry(layout);
  const took = performance.now() - started;

  it("places every seat once, inside the bounds, without overlaps", () => {
    expect(g.count).toBe(50_000);
    expect(g.sections).toHaveLength(25);
    expectInside(g);
    expectNoOverlap(g);
    const aspect = g.bounds.w / g.bounds.h;
    expect(aspect).toBeGreaterThan(0.8);
    expect(aspect).toBeLessThan(3.2);
    console.info(`geometry for 50,000 seats: ${took.toFixed(1)} ms`);
  });

  it("hit-tests every seat's centre back to that seat", () => {
    for (let i = 0; i < g.count; i++) {
      const c = seatCenter(g, i);
      if (hitTest(g, c.x, c.y) !== i) throw new Error(`seat ${i} not found at its centre`);
    }
  });

  it("keeps rows in order inside each block", () => {
    for (let r = 1; r < g.rows.length; r++) {
      const prev = g.rows[r - 1]!;
      const row = g.rows[r]!;
      if (prev.section === row.section) expect(g.y[row.seats[0]!]!).toBeGreaterThan(g.y[prev.seats[0]!]!);
    }
  });
});
