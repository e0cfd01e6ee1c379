// Draws the map on a canvas: blocks, seats batched by colour (one path per colour, so 50,000
// seats are a handful of fills), labels, then the fan's picks and the keyboard cursor on top.
// Frames are drawn in requestAnimationFrame and only when something changed; when only seat
// states changed and the view did not move, just those seats are painted again.
import { AVAILABLE } from "./availability";
import {
  BACKGROUND,
  BLOCK_FILL,
  FOCUS_OUTLINE,
  LABEL,
  MUTED_LABEL,
  SELECTED_INNER,
  SELECTED_OUTLINE,
  STATE_COLORS,
} from "./colors";
import type { SeatGeometry, View } from "./geometry";

/** Fill of seats whose states have not arrived. */
const UNKNOWN_FILL = "#c7cbd1";
/** Painting seats one by one beats a full frame up to about this many changes. */
const PATCH_LIMIT = 4_000;

export interface Scene {
  geometry: SeatGeometry;
  /** Grade index of seat `i` → colour. */
  gradeIndex: readonly number[];
  gradeColors: readonly string[];
  /** The live states (read at draw time), or undefined while they load. */
  states: () => Uint8Array | undefined;
  /** Layout indices of the fan's picks. */
  selected: readonly number[];
  /** Layout index of the keyboard cursor, or -1. */
  focus: number;
  /** Whether the cursor is shown (the canvas has keyboard focus). */
  showFocus: boolean;
}

export interface FrameStats {
  kind: "full" | "patch";
  ms: number;
  seats: number;
}

export class SeatRenderer {
  private scene?: Scene;
  private view: View = { scale: 1, ox: 0, oy: 0 };
  private width = 0;
  private height = 0;
  private dpr = 1;
  private frame = 0;
  private full = true;
  private patches: number[] = [];
  /** Seat fills as drawn last (index into `palette`), to patch only real changes. */
  private palette: string[] = [];
  onFrame?: (stats: FrameStats) => void;

  constructor(
    private readonly canvas: HTMLCanvasElement,
    private readonly raf: (cb: () => void) => number = (cb) => requestAnimationFrame(cb),
    private readonly caf: (id: number) => void = (id) => cancelAnimationFrame(id),
  ) {}

  destroy(): void {
    if (this.frame) this.caf(this.frame);
    this.frame = 0;
  }

  setScene(scene: Scene): void {
    this.scene = scene;
    this.palette = [...scene.gradeColors, STATE_COLORS[1]!, STATE_COLORS[2]!, STATE_COLORS[3]!, UNKNOWN_FILL];
    this.invalidate();
  }

  setView(view: View): void {
    this.view = view;
    this.invalidate();
  }

  getView(): View {
    return this.view;
  }

  resize(width: number, height: number, dpr: number): void {
    this.width = width;
    this.height = height;
    this.dpr = dpr;
    const w = Math.max(1, Math.round(width * dpr));
    const h = Math.max(1, Math.round(height * dpr));
    if (this.canvas.width !== w || this.canvas.height !== h) {
      this.canvas.width = w;
      this.canvas.height = h;
    }
    this.invalidate();
  }

  /** Draw everything on the next frame. */
  invalidate(): void {
    this.full = true;
    this.schedule();
  }

  /** Seats whose state changed (or "all"). */
  statesChanged(changes: number[] | "all"): void {
    if (changes === "all") return this.invalidate();
    if (changes.length === 0) return;
    if (!this.full) {
      for (const i of changes) this.patches.push(i);
      if (this.patches.length > PATCH_LIMIT) this.full = true;
    }
    this.schedule();
  }

  private schedule(): void {
    if (this.frame) return;
    this.frame = this.raf(() => {
      this.frame = 0;
      this.draw();
    });
  }

  /** Draws now what is pending (tests and measurements call it directly). */
  draw(): FrameStats | undefined {
    const ctx = this.canvas.getContext("2d");
    if (!ctx || !this.scene) return undefined;
    const started = performance.now();
    let stats: FrameStats;
    if (this.full) {
      stats = { kind: "full", ms: 0, seats: this.drawFull(ctx, this.scene) };
    } else {
      stats = { kind: "patch", ms: 0, seats: this.drawPatches(ctx, this.scene) };
    }
    this.full = false;
    this.patches = [];
    stats.ms = performance.now() - started;
    this.onFrame?.(stats);
    return stats;
  }

  private fillIndex(scene: Scene, states: Uint8Array | undefined, selected: Set<number>, i: number): number {
    const grade = scene.gradeIndex[i] ?? 0;
    if (selected.has(i)) return grade;
    if (!states || states.length !== scene.geometry.count) return scene.gradeColors.length + 3;
    const state = states[i]!;
    return state === AVAILABLE ? grade : scene.gradeColors.length + state - 1;
  }

  private drawFull(ctx: CanvasRenderingContext2D, scene: Scene): number {
    const g = scene.geometry;
    const { scale, ox, oy } = this.view;
    const dpr = this.dpr;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.fillStyle = BACKGROUND;
    ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);

    // Blocks, in device pixels.
    ctx.fillStyle = BLOCK_FILL;
    for (const s of g.sections) {
      const x = (s.x * scale + ox) * dpr;
      const y = (s.y * scale + oy) * dpr;
      ctx.fillRect(x, y, s.w * scale * dpr, s.h * scale * dpr);
    }

    // Seats: one path per colour, snapped to device pixels so a patch covers exactly one seat.
    const states = scene.states();
    const selected = new Set(scene.selected);
    const paths = this.palette.map(() => new Path2D());
    const k = scale * dpr;
    const size = Math.max(1, Math.round(g.seatSize * k));
    const minX = -size;
    const minY = -size;
    const maxX = this.canvas.width;
    const maxY = this.canvas.height;
    const ax = ox * dpr;
    const ay = oy * dpr;
    let drawn = 0;
    for (let i = 0; i < g.count; i++) {
      const x = Math.round(g.x[i]! * k + ax);
      const y = Math.round(g.y[i]! * k + ay);
      if (x < minX || y < minY || x > maxX || y > maxY) continue;
      paths[this.fillIndex(scene, states, selected, i)]!.rect(x, y, size, size);
      drawn++;
    }
    this.palette.forEach((color, c) => {
      ctx.fillStyle = color;
      ctx.fill(paths[c]!);
    });

    this.drawLabels(ctx, scene);
    this.drawOverlays(ctx, scene);
    return drawn;
  }

  private drawPatches(ctx: CanvasRenderingContext2D, scene: Scene): number {
    const g = scene.geometry;
    const k = this.view.scale * this.dpr;
    const size = Math.max(1, Math.round(g.seatSize * k));
    const ax = this.view.ox * this.dpr;
    const ay = this.view.oy * this.dpr;
    const states = scene.states();
    const selected = new Set(scene.selected);
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    for (const i of this.patches) {
      ctx.fillStyle = this.palette[this.fillIndex(scene, states, selected, i)]!;
      ctx.fillRect(Math.round(g.x[i]! * k + ax), Math.round(g.y[i]! * k + ay), size, size);
    }
    // A seat painted again may have covered part of a neighbour's ring.
    this.drawOverlays(ctx, scene);
    return this.patches.length;
  }

  private drawLabels(ctx: CanvasRenderingContext2D, scene: Scene): void {
    const g = scene.geometry;
    const { scale, ox, oy } = this.view;
    ctx.setTransform(this.dpr, 0, 0, this.dpr, 0, 0);
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    ctx.lineJoin = "round";
    // Section labels: always, sized to the room above the block (readable even zoomed out).
    const sectionPx = Math.max(11, Math.min(28, g.pitch * 1.6 * scale));
    ctx.font = `600 ${sectionPx}px system-ui, sans-serif`;
    ctx.lineWidth = 3;
    ctx.strokeStyle = BACKGROUND;
    ctx.fillStyle = LABEL;
    for (const s of g.sections) {
      const x = s.labelX * scale + ox;
      const y = s.labelY * scale + oy;
      if (x < -200 || y < -50 || x > this.width + 200 || y > this.height + 50) continue;
      ctx.strokeText(s.name, x, y);
      ctx.fillText(s.name, x, y);
    }
    // Row labels once a row is tall enough to carry one.
    const rowPx = g.pitch * scale * 0.75;
    if (rowPx >= 9) {
      ctx.font = `${Math.min(16, rowPx)}px system-ui, sans-serif`;
      ctx.fillStyle = MUTED_LABEL;
      for (const r of g.rows) {
        const x = r.labelX * scale + ox;
        const y = r.labelY * scale + oy;
        if (x < -50 || y < -20 || x > this.width + 50 || y > this.height + 20) continue;
        ctx.fillText(r.name, x, y);
      }
    }
  }

  private drawOverlays(ctx: CanvasRenderingContext2D, scene: Scene): void {
    const g = scene.geometry;
    const { scale, ox, oy } = this.view;
    ctx.setTransform(this.dpr, 0, 0, this.dpr, 0, 0);
    const size = Math.max(g.seatSize * scale, 1 / this.dpr);
    // Rings keep a minimum size so a pick stays visible when the map is zoomed out.
    const ring = Math.max(size, 6);
    const centre = (i: number) => ({
      x: (g.x[i]! + g.seatSize / 2) * scale + ox,
      y: (g.y[i]! + g.seatSize / 2) * scale + oy,
    });
    for (const i of scene.selected) {
      if (i < 0 || i >= g.count) continue;
      const c = centre(i);
      ctx.lineWidth = 3;
      ctx.strokeStyle = SELECTED_OUTLINE;
      ctx.strokeRect(c.x - ring / 2 - 1.5, c.y - ring / 2 - 1.5, ring + 3, ring + 3);
      ctx.lineWidth = 1;
      ctx.strokeStyle = SELECTED_INNER;
      ctx.strokeRect(c.x - ring / 2 + 0.5, c.y - ring / 2 + 0.5, ring - 1, ring - 1);
    }
    if (scene.showFocus && scene.focus >= 0 && scene.focus < g.count) {
      const c = centre(scene.focus);
      const r = ring + 10;
      ctx.lineWidth = 3;
      ctx.strokeStyle = BACKGROUND;
      ctx.strokeRect(c.x - r / 2, c.y - r / 2, r, r);
      ctx.lineWidth = 2;
      ctx.strokeStyle = FOCUS_OUTLINE;
      ctx.strokeRect(c.x - r / 2, c.y - r / 2, r, r);
    }
  }
}
