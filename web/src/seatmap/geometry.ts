// Where every seat goes, in world units: sections as blocks (in order of first appearance,
// wrapped into a grid of blocks), rows as lines inside a block (in order of first appearance,
// each centred on the block's widest row), seats along the row in layout order. Plus a uniform
// grid for O(1) hit-testing, keyboard neighbours, and the view transform (scale + offset).
import type { Schemas } from "../lib/api/client";

export type SeatLayout = Schemas["SeatLayout"];

/** Distance between neighbouring seats (centre to centre), in world units. */
export const PITCH = 10;
/** A seat's side; the rest of the pitch is the gap between seats. */
export const SEAT_SIZE = 8;
const INSET = (PITCH - SEAT_SIZE) / 2;
/** Room for the row labels left of a block's rows. */
const ROW_GUTTER = 2.5 * PITCH;
/** Room for the section label above a block. */
const LABEL_HEIGHT = 3 * PITCH;
/** Right of and below a block's seats. */
const BLOCK_PAD = PITCH / 2;
/** Between blocks. */
const BLOCK_GAP = 3 * PITCH;
/** The grid of blocks aims at this width : height. */
const TARGET_ASPECT = 1.6;

export interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface SectionBox extends Rect {
  /** The section's name (the layout's `section.values` entry). */
  name: string;
  /** Its index in `section.values`. */
  valueIndex: number;
  /** Where its label goes (centre of the text). */
  labelX: number;
  labelY: number;
}

export interface RowLine {
  /** The row's name (the layout's `row.values` entry). */
  name: string;
  /** Its section box (index into `sections`). */
  section: number;
  /** Where its label goes (centre of the text). */
  labelX: number;
  labelY: number;
  /** Its seats, in order along the row (layout indices). */
  seats: Int32Array;
}

export interface SeatGeometry {
  count: number;
  /** Top-left corner of seat `i`; every seat is `seatSize` × `seatSize`. */
  x: Float32Array;
  y: Float32Array;
  seatSize: number;
  pitch: number;
  /** Index into `rows` of seat `i`. */
  rowOf: Int32Array;
  /** Position of seat `i` along its row. */
  posInRow: Int32Array;
  sections: SectionBox[];
  rows: RowLine[];
  /** Everything drawn: seats and labels. */
  bounds: Rect;
  grid: SeatGrid;
}

/** The rectangle of seat `i`. */
export function seatRect(g: SeatGeometry, i: number): Rect {
  return { x: g.x[i] ?? 0, y: g.y[i] ?? 0, w: g.seatSize, h: g.seatSize };
}

/** The centre of seat `i`. */
export function seatCenter(g: SeatGeometry, i: number): { x: number; y: number } {
  return { x: (g.x[i] ?? 0) + g.seatSize / 2, y: (g.y[i] ?? 0) + g.seatSize / 2 };
}

interface Block {
  valueIndex: number;
  rows: { valueIndex: number; seats: number[] }[];
  rowByValue: Map<number, number>;
  width: number;
  height: number;
}

/** Places every seat of the layout. O(seats). */
export function buildGeometry(layout: SeatLayout): SeatGeometry {
  const count = layout.ids.length;
  const blocks: Block[] = [];
  const blockByValue = new Map<number, Block>();
  const sectionIndex = layout.section.index;
  const rowIndex = layout.row.index;
  // Seats come in natural order, so runs of one section and row are the rule: look up only when
  // the section or row changes.
  let lastS = -1;
  let lastR = -1;
  let seats: number[] = [];
  let block: Block | undefined;
  for (let i = 0; i < count; i++) {
    const s = sectionIndex[i] ?? 0;
    const r = rowIndex[i] ?? 0;
    if (s !== lastS || r !== lastR || !block) {
      block = blockByValue.get(s);
      if (!block) {
        block = { valueIndex: s, rows: [], rowByValue: new Map(), width: 0, height: 0 };
        blockByValue.set(s, block);
        blocks.push(block);
      }
      let rowNo = block.rowByValue.get(r);
      if (rowNo === undefined) {
        rowNo = block.rows.length;
        block.rowByValue.set(r, rowNo);
        block.rows.push({ valueIndex: r, seats: [] });
      }
      seats = block.rows[rowNo]!.seats;
      lastS = s;
      lastR = r;
    }
    seats.push(i);
  }
  for (const block of blocks) {
    let widest = 0;
    for (const row of block.rows) widest = Math.max(widest, row.seats.length);
    block.width = ROW_GUTTER + widest * PITCH + BLOCK_PAD;
    block.height = LABEL_HEIGHT + block.rows.length * PITCH + BLOCK_PAD;
  }

  const { cols, colWidths, rowHeights } = arrangeBlocks(blocks);
  const colX: number[] = [];
  let acc = 0;
  for (const w of colWidths) {
    colX.push(acc);
    acc += w + BLOCK_GAP;
  }
  const rowY: number[] = [];
  acc = 0;
  for (const h of rowHeights) {
    rowY.push(acc);
    acc += h + BLOCK_GAP;
  }

  const x = new Float32Array(count);
  const y = new Float32Array(count);
  const rowOf = new Int32Array(count);
  const posInRow = new Int32Array(count);
  const sections: SectionBox[] = [];
  const rows: RowLine[] = [];
  blocks.forEach((block, b) => {
    const col = b % cols;
    const gridRow = Math.floor(b / cols);
    const cellW = colWidths[col] ?? block.width;
    const bx = (colX[col] ?? 0) + (cellW - block.width) / 2;
    const by = rowY[gridRow] ?? 0;
    const seatsX = bx + ROW_GUTTER;
    const seatsY = by + LABEL_HEIGHT;
    const seatsW = block.width - ROW_GUTTER - BLOCK_PAD;
    sections.push({
      name: layout.section.values[block.valueIndex] ?? "",
      valueIndex: block.valueIndex,
      x: bx,
      y: by,
      w: block.width,
      h: block.height,
      labelX: seatsX + seatsW / 2,
      labelY: by + LABEL_HEIGHT / 2,
    });
    block.rows.forEach((row, r) => {
      const rowNo = rows.length;
      const offset = (seatsW - row.seats.length * PITCH) / 2;
      const top = seatsY + r * PITCH;
      const left = seatsX + offset + INSET;
      for (let k = 0; k < row.seats.length; k++) {
        const seat = row.seats[k]!;
        x[seat] = left + k * PITCH;
        y[seat] = top + INSET;
        rowOf[seat] = rowNo;
        posInRow[seat] = k;
      }
      rows.push({
        name: layout.row.values[row.valueIndex] ?? "",
        section: b,
        labelX: seatsX + offset - PITCH * 0.9,
        labelY: top + PITCH / 2,
        seats: Int32Array.from(row.seats),
      });
    });
  });

  let minX = Infinity;
  let minY = Infinity;
  let maxX = -Infinity;
  let maxY = -Infinity;
  for (const s of sections) {
    minX = Math.min(minX, s.x);
    minY = Math.min(minY, s.y);
    maxX = Math.max(maxX, s.x + s.w);
    maxY = Math.max(maxY, s.y + s.h);
  }
  const bounds =
    sections.length === 0 ? { x: 0, y: 0, w: 0, h: 0 } : { x: minX, y: minY, w: maxX - minX, h: maxY - minY };
  const geometry: Omit<SeatGeometry, "grid"> = {
    count,
    x,
    y,
    seatSize: SEAT_SIZE,
    pitch: PITCH,
    rowOf,
    posInRow,
    sections,
    rows,
    bounds,
  };
  return { ...geometry, grid: buildGrid(geometry) };
}

/** Columns of the block grid whose overall shape is closest to `TARGET_ASPECT`. */
function arrangeBlocks(blocks: Block[]): { cols: number; colWidths: number[]; rowHeights: number[] } {
  let best = { cols: 1, colWidths: [] as number[], rowHeights: [] as number[] };
  let bestScore = Infinity;
  const n = Math.max(blocks.length, 1);
  for (let cols = 1; cols <= n; cols++) {
    const colWidths = new Array<number>(Math.min(cols, blocks.length)).fill(0);
    const rowHeights = new Array<number>(Math.ceil(blocks.length / cols)).fill(0);
    blocks.forEach((block, b) => {
      const c = b % cols;
      const r = Math.floor(b / cols);
      colWidths[c] = Math.max(colWidths[c] ?? 0, block.width);
      rowHeights[r] = Math.max(rowHeights[r] ?? 0, block.height);
    });
    const w = colWidths.reduce((a, v) => a + v, 0) + BLOCK_GAP * (colWidths.length - 1);
    const h = rowHeights.reduce((a, v) => a + v, 0) + BLOCK_GAP * (rowHeights.length - 1);
    const score = h > 0 && w > 0 ? Math.abs(Math.log(w / h / TARGET_ASPECT)) : 0;
    if (score < bestScore - 1e-9) {
      bestScore = score;
      best = { cols, colWidths, rowHeights };
    }
  }
  return best;
}

/** A uniform grid over the seats, one cell a pitch wide: cell → the seats that touch it. */
export interface SeatGrid {
  originX: number;
  originY: number;
  cell: number;
  cols: number;
  rows: number;
  /** Seats of cell `c` are `items[start[c] .. start[c + 1]]`. */
  start: Int32Array;
  items: Int32Array;
}

function buildGrid(g: Omit<SeatGeometry, "grid">): SeatGrid {
  const cell = g.pitch;
  const cols = Math.max(1, Math.ceil(g.bounds.w / cell) + 1);
  const rows = Math.max(1, Math.ceil(g.bounds.h / cell) + 1);
  const cells = cols * rows;
  const start = new Int32Array(cells + 1);
  // A seat belongs to every cell its pitch square (the seat and half the gap around it) touches
  // (at most four), so a point in the gap between seats still finds the seat nearest to it.
  const half = g.pitch / 2;
  const range = new Int32Array(g.count * 4); // c0, c1, r0, r1 per seat
  for (let i = 0; i < g.count; i++) {
    const cx = g.x[i]! + g.seatSize / 2 - g.bounds.x;
    const cy = g.y[i]! + g.seatSize / 2 - g.bounds.y;
    const c0 = Math.max(0, Math.floor((cx - half) / cell));
    const c1 = Math.min(cols - 1, Math.floor((cx + half - 1e-6) / cell));
    const r0 = Math.max(0, Math.floor((cy - half) / cell));
    const r1 = Math.min(rows - 1, Math.floor((cy + half - 1e-6) / cell));
    range[4 * i] = c0;
    range[4 * i + 1] = c1;
    range[4 * i + 2] = r0;
    range[4 * i + 3] = r1;
    for (let r = r0; r <= r1; r++) for (let c = c0; c <= c1; c++) start[r * cols + c + 1]! += 1;
  }
  for (let c = 0; c < cells; c++) start[c + 1]! += start[c]!;
  const items = new Int32Array(start[cells]!);
  const fill = start.slice(0, cells);
  for (let i = 0; i < g.count; i++) {
    const c0 = range[4 * i]!;
    const c1 = range[4 * i + 1]!;
    const r1 = range[4 * i + 3]!;
    for (let r = range[4 * i + 2]!; r <= r1; r++) {
      for (let c = c0; c <= c1; c++) items[fill[r * cols + c]!++] = i;
    }
  }
  return { originX: g.bounds.x, originY: g.bounds.y, cell, cols, rows, start, items };
}

/**
 * The seat at world point (`wx`, `wy`), or -1. A seat owns its pitch square (the seat and half
 * the gap around it), so a click between two seats picks the nearer one. O(1).
 */
export function hitTest(g: SeatGeometry, wx: number, wy: number): number {
  const grid = g.grid;
  const c = Math.floor((wx - grid.originX) / grid.cell);
  const r = Math.floor((wy - grid.originY) / grid.cell);
  if (c < 0 || r < 0 || c >= grid.cols || r >= grid.rows) return -1;
  const cell = r * grid.cols + c;
  const half = g.pitch / 2;
  let best = -1;
  let bestDist = Infinity;
  for (let k = grid.start[cell]!; k < grid.start[cell + 1]!; k++) {
    const i = grid.items[k]!;
    const dx = Math.abs(wx - (g.x[i]! + g.seatSize / 2));
    const dy = Math.abs(wy - (g.y[i]! + g.seatSize / 2));
    if (dx <= half && dy <= half && dx + dy < bestDist) {
      best = i;
      bestDist = dx + dy;
    }
  }
  return best;
}

export type Direction = "left" | "right" | "up" | "down";

/**
 * The seat to move a keyboard cursor to from seat `from`: along the row for left/right (the
 * nearest seat that way once the row ends), the nearest seat of the row above or below for
 * up/down (crossing into the block beyond). `from` itself when there is none. O(seats).
 */
export function neighbour(g: SeatGeometry, from: number, dir: Direction): number {
  if (from < 0 || from >= g.count) return g.count > 0 ? 0 : -1;
  if (dir === "left" || dir === "right") {
    const row = g.rows[g.rowOf[from]!]!;
    const k = g.posInRow[from]! + (dir === "right" ? 1 : -1);
    const next = row.seats[k];
    if (next !== undefined) return next;
  }
  const cx = g.x[from]!;
  const cy = g.y[from]!;
  const horizontal = dir === "left" || dir === "right";
  const sign = dir === "right" || dir === "down" ? 1 : -1;
  let best = from;
  let bestScore = Infinity;
  for (let i = 0; i < g.count; i++) {
    const dx = g.x[i]! - cx;
    const dy = g.y[i]! - cy;
    const along = (horizontal ? dx : dy) * sign;
    if (along < g.pitch / 2) continue;
    const across = Math.abs(horizontal ? dy : dx);
    const score = along + 3 * across;
    if (score < bestScore) {
      bestScore = score;
      best = i;
    }
  }
  return best;
}

/** World → screen (CSS pixels): `screen = world × scale + offset`. */
export interface View {
  scale: number;
  ox: number;
  oy: number;
}

/** The view that shows all of `bounds` centred in a `width` × `height` viewport. */
export function fit(bounds: Rect, width: number, height: number, padding = 16): View {
  const w = Math.max(1, width - 2 * padding);
  const h = Math.max(1, height - 2 * padding);
  const scale = bounds.w > 0 && bounds.h > 0 ? Math.min(w / bounds.w, h / bounds.h) : 1;
  return {
    scale,
    ox: width / 2 - (bounds.x + bounds.w / 2) * scale,
    oy: height / 2 - (bounds.y + bounds.h / 2) * scale,
  };
}

/** Zooms by `factor` keeping screen point (`sx`, `sy`) fixed; the scale stays within limits. */
export function zoomAt(view: View, factor: number, sx: number, sy: number, min: number, max: number): View {
  const scale = Math.min(max, Math.max(min, view.scale * factor));
  const k = scale / view.scale;
  return { scale, ox: sx - (sx - view.ox) * k, oy: sy - (sy - view.oy) * k };
}

export function toWorld(view: View, sx: number, sy: number): { x: number; y: number } {
  return { x: (sx - view.ox) / view.scale, y: (sy - view.oy) / view.scale };
}

export function toScreen(view: View, wx: number, wy: number): { x: number; y: number } {
  return { x: wx * view.scale + view.ox, y: wy * view.scale + view.oy };
}
