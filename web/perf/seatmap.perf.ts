// The browser seat map with 50,000 seats, measured (issue 14): initial JavaScript (gzip), first
// paint of the map, frame times while panning, and frame times while the service publishes about
// 1,000 availability changes a second. Run by scripts/bench-web.sh against the release service;
// prints a summary and writes JSON to $PERF_OUT. Nothing here fails on a missed target.
import { writeFileSync } from "node:fs";
import { gzipSync } from "node:zlib";

import { devices, test, type Browser, type BrowserContext, type Page } from "@playwright/test";

import type { components } from "../src/lib/api/schema";
import { decodeStates } from "../src/seatmap/availability";
import { gradeColors, seatFill } from "../src/seatmap/colors";
import { buildGeometry, fit, type SeatLayout } from "../src/seatmap/geometry";

type Session = components["schemas"]["AuthResponse"];
type Availability = components["schemas"]["SeatAvailability"];

const SEATS = Number(process.env.PERF_SEATS ?? 50_000);
const BATCH = 5_000;
const PAINT_RUNS = Number(process.env.PERF_PAINT_RUNS ?? 5);
const PAN_MS = 3_000;
const CHANGES_PER_S = Number(process.env.PERF_CHANGES_PER_S ?? 1_000);
const CHANGES_MS = 5_000;
const FANS = Number(process.env.PERF_FANS ?? 96);
/** The key the app keeps its session under (web/src/lib/api/client.ts). */
const STORAGE_KEY = "ticketing.session";
/** The fill of seats whose states have not arrived (web/src/seatmap/render.ts). */
const UNKNOWN_FILL = "#c7cbd1";
const SLOW_FRAME_MS = 33;

const results: Record<string, unknown> = {
  date: new Date().toISOString(),
  seats: SEATS,
};

// ---------------------------------------------------------------------------------------------
// The API, from Node.

async function call<T>(base: string, method: string, path: string, token?: string, body?: unknown): Promise<T> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      ...(body === undefined ? {} : { "content-type": "application/json" }),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

async function createConcert(base: string): Promise<{ concertId: number; seatIds: number[] }> {
  const admin = await call<Session>(base, "POST", "/api/user/login", undefined, {
    email: "admin@admin",
    password: "admin1234",
  });
  const concert = await call<{ id: number }>(base, "POST", "/api/concert", admin.token, {
    title: `Perf ${SEATS} seats ${Date.now()}`,
    venue: "Bench Arena",
    openTime: "2020-01-01T10:00:00",
    closeTime: "2099-01-10T10:00:00",
    concertDate: "2099-01-11T19:00:00",
  });
  const seatIds: number[] = [];
  const started = performance.now();
  for (let from = 0; from < SEATS; from += BATCH) {
    const items = [];
    for (let i = from; i < Math.min(SEATS, from + BATCH); i++) {
      items.push({
        concertId: concert.id,
        section: String.fromCharCode(65 + Math.floor(i / 5_000)),
        row: String(Math.floor((i % 5_000) / 100) + 1),
        number: String((i % 100) + 1),
        grade: i % 10 === 0 ? "VIP" : i % 3 === 0 ? "S" : "R",
        price: i % 10 === 0 ? 150_000 : i % 3 === 0 ? 120_000 : 99_000,
      });
    }
    const created = await call<{ id: number }[]>(base, "POST", "/api/seat/batch", admin.token, items);
    for (const s of created) seatIds.push(s.id);
  }
  results.createSeatsMs = Math.round(performance.now() - started);
  return { concertId: concert.id, seatIds };
}

let fanCounter = 0;
async function signUp(base: string): Promise<Session> {
  const name = `pf${Date.now().toString(36)}${(fanCounter++).toString(36)}${Math.random().toString(36).slice(2, 5)}`;
  return call<Session>(base, "POST", "/api/user/signup", undefined, {
    username: name.slice(0, 20),
    email: `${name}@perf.local`,
    password: "password123",
  });
}

// ---------------------------------------------------------------------------------------------
// In the page: what the seat map drew and when, the stream, and frame timing.

declare global {
  interface Window {
    __perf: {
      /** performance.now() when a full draw first filled seats with their states. */
      seatsDrawnAt: number | null;
      /** The next animation frame after that draw (the drawn frame is on screen by then). */
      seatsFrameAt: number | null;
      /** When seats were first drawn grey (layout there, states not yet). */
      unknownDrawnAt: number | null;
      snapshotAt: number | null;
      deltas: number;
      deltaChanges: number;
      /** Time spent in the app's animation-frame callbacks, one entry a callback, while timing. */
      callbackMs: number[];
      timing: boolean;
      frames: number[];
      recording: boolean;
      rawRaf: (cb: FrameRequestCallback) => number;
    };
  }
}

/** Installed before the app's scripts. Only wraps browser APIs; the app is the production build. */
function instrument(options: { session: Session | null; storageKey: string; unknownFill: string; watchFirstPaint: boolean }): void {
  if (options.session) localStorage.setItem(options.storageKey, JSON.stringify(options.session));
  const rawRaf = window.requestAnimationFrame.bind(window);
  const perf: Window["__perf"] = {
    seatsDrawnAt: null,
    seatsFrameAt: null,
    unknownDrawnAt: null,
    snapshotAt: null,
    deltas: 0,
    deltaChanges: 0,
    callbackMs: [],
    timing: false,
    frames: [],
    recording: false,
    rawRaf,
  };
  window.__perf = perf;
  window.requestAnimationFrame = (cb: FrameRequestCallback) =>
    rawRaf((t) => {
      if (!perf.timing) return cb(t);
      const s = performance.now();
      try {
        cb(t);
      } finally {
        perf.callbackMs.push(performance.now() - s);
      }
    });

  const Raw = window.EventSource;
  class Watched extends Raw {
    constructor(url: string | URL, init?: EventSourceInit) {
      super(url, init);
      this.addEventListener("snapshot", () => {
        perf.snapshotAt ??= performance.now();
      });
      this.addEventListener("delta", (event) => {
        perf.deltas++;
        try {
          perf.deltaChanges += (JSON.parse((event as MessageEvent<string>).data) as { changes: unknown[] }).changes.length;
        } catch {
          /* counted as a delta all the same */
        }
      });
    }
  }
  window.EventSource = Watched;

  if (!options.watchFirstPaint) return;
  // A seat path that got at least one seat; the hooks come off after the first painted map.
  const used = new WeakSet<Path2D>();
  const rawRect = Path2D.prototype.rect;
  const rawFill = CanvasRenderingContext2D.prototype.fill;
  Path2D.prototype.rect = function (this: Path2D, x: number, y: number, w: number, h: number) {
    used.add(this);
    return rawRect.call(this, x, y, w, h);
  };
  CanvasRenderingContext2D.prototype.fill = function (this: CanvasRenderingContext2D, ...args: unknown[]) {
    (rawFill as (...a: unknown[]) => void).apply(this, args);
    const path = args[0];
    if (!(path instanceof Path2D) || !used.has(path)) return;
    const style = String(this.fillStyle).toLowerCase();
    if (style === options.unknownFill) {
      perf.unknownDrawnAt ??= performance.now();
      return;
    }
    if (perf.seatsDrawnAt !== null) return;
    perf.seatsDrawnAt = performance.now();
    Path2D.prototype.rect = rawRect;
    CanvasRenderingContext2D.prototype.fill = rawFill;
    rawRaf(() => {
      perf.seatsFrameAt = performance.now();
    });
  } as typeof rawFill;
}

async function newPage(
  browser: Browser,
  session: Session | null,
  watchFirstPaint = true,
): Promise<{ context: BrowserContext; page: Page }> {
  const desktop = devices["Desktop Chrome"];
  const context = await browser.newContext({
    baseURL: test.info().project.use.baseURL,
    viewport: desktop.viewport,
    deviceScaleFactor: desktop.deviceScaleFactor,
    userAgent: desktop.userAgent,
    locale: "ko-KR",
    timezoneId: "Asia/Seoul",
  });
  await context.addInitScript(instrument, { session, storageKey: STORAGE_KEY, unknownFill: UNKNOWN_FILL, watchFirstPaint });
  const page = await context.newPage();
  page.on("pageerror", (e) => console.error(`page error: ${e.message}`));
  return { context, page };
}

/** Opens the seat page and waits until the map has drawn the seats with their states. */
async function openSeats(page: Page, concertId: number): Promise<void> {
  await page.goto(`/concerts/${concertId}/seats`);
  await page.waitForFunction(() => window.__perf.seatsFrameAt !== null, null, { timeout: 60_000 });
  await sleep(500);
}

async function startFrames(page: Page): Promise<void> {
  await page.evaluate(() => {
    const perf = window.__perf;
    perf.frames = [];
    perf.callbackMs = [];
    perf.recording = true;
    perf.timing = true;
    let last: number | null = null;
    const loop = (t: number) => {
      if (!perf.recording) return;
      if (last !== null) perf.frames.push(t - last);
      last = t;
      perf.rawRaf(loop);
    };
    perf.rawRaf(loop);
  });
}

async function stopFrames(page: Page): Promise<{ frames: number[]; callbackMs: number[] }> {
  return page.evaluate(() => {
    const perf = window.__perf;
    perf.recording = false;
    perf.timing = false;
    return { frames: perf.frames, callbackMs: perf.callbackMs };
  });
}

// ---------------------------------------------------------------------------------------------
// Numbers.

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}
const r1 = (n: number) => Math.round(n * 10) / 10;

function frameStats(frames: number[], callbackMs: number[]) {
  const f = [...frames].sort((a, b) => a - b);
  const c = [...callbackMs].sort((a, b) => a - b);
  return {
    frames: f.length,
    spanMs: Math.round(frames.reduce((a, b) => a + b, 0)),
    p50: r1(percentile(f, 50)),
    p95: r1(percentile(f, 95)),
    p99: r1(percentile(f, 99)),
    max: r1(f[f.length - 1] ?? NaN),
    over33: f.filter((x) => x > SLOW_FRAME_MS).length,
    appCallbacks: c.length,
    appCallbackP50: r1(percentile(c, 50)),
    appCallbackP95: r1(percentile(c, 95)),
    appCallbackMax: r1(c[c.length - 1] ?? NaN),
  };
}

function fmtFrames(s: ReturnType<typeof frameStats>): string {
  return (
    `${s.frames} frames in ${s.spanMs} ms: p50 ${s.p50} ms, p95 ${s.p95} ms, p99 ${s.p99} ms, max ${s.max} ms, ` +
    `${s.over33} over ${SLOW_FRAME_MS} ms; app frame callbacks p50 ${s.appCallbackP50} ms, p95 ${s.appCallbackP95} ms, ` +
    `max ${s.appCallbackMax} ms (${s.appCallbacks})`
  );
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------

test("seat map, 50,000 seats", async ({ browser, baseURL }) => {
  const base = baseURL!;
  const { concertId, seatIds } = await createConcert(base);
  console.log(`concert ${concertId}: ${seatIds.length} seats created in ${results.createSeatsMs} ms`);
  results.concertId = concertId;
  const fan = await signUp(base);

  await test.step("initial JavaScript of /concerts", async () => {
    const { context, page } = await newPage(browser, null);
    const scripts = new Map<string, Promise<Buffer | null>>();
    page.on("response", (res) => {
      const type = res.request().resourceType();
      if (type === "script" || /\.m?js(\?|$)/.test(res.url())) scripts.set(res.url(), res.body().catch(() => null));
    });
    await page.goto("/concerts", { waitUntil: "networkidle" });
    // Which graphics stack this Chromium draws with (headless, no GPU: a software one).
    results.gpu = await page.evaluate(() => {
      const gl = document.createElement("canvas").getContext("webgl");
      const info = gl?.getExtension("WEBGL_debug_renderer_info");
      return gl && info ? String(gl.getParameter(info.UNMASKED_RENDERER_WEBGL)) : "no WebGL";
    });
    console.log(`graphics: ${results.gpu as string}`);
    let raw = 0;
    let gzip = 0;
    const files: { url: string; raw: number; gzip: number }[] = [];
    for (const [url, body] of scripts) {
      const b = await body;
      if (!b) continue;
      const g = gzipSync(b).length;
      raw += b.length;
      gzip += g;
      files.push({ url: new URL(url).pathname, raw: b.length, gzip: g });
    }
    results.initialJs = { files, raw, gzip };
    console.log(`initial JS (/concerts): ${files.length} files, ${raw} B raw, ${gzip} B gzip (${r1(gzip / 1024)} KiB)`);
    for (const f of files) console.log(`  ${f.url}: ${f.raw} B, ${f.gzip} B gzip`);
    await context.close();
  });

  await test.step("first paint of the map", async () => {
    const runs = [];
    for (let run = 0; run < PAINT_RUNS; run++) {
      const { context, page } = await newPage(browser, fan);
      const scripts: string[] = [];
      page.on("response", (res) => {
        if (res.request().resourceType() === "script") scripts.push(new URL(res.url()).pathname);
      });
      await page.goto(`/concerts/${concertId}/seats`);
      await page.waitForFunction(() => window.__perf.seatsFrameAt !== null, null, { timeout: 60_000 });
      const m = await page.evaluate(() => {
        const nav = performance.getEntriesByType("navigation")[0] as PerformanceNavigationTiming | undefined;
        const res = performance.getEntriesByType("resource") as PerformanceResourceTiming[];
        const layout = res.find((r) => r.name.includes("/layout"));
        const js = res.filter((r) => r.initiatorType === "script" || r.name.endsWith(".js"));
        return {
          drawn: window.__perf.seatsDrawnAt!,
          frame: window.__perf.seatsFrameAt!,
          grey: window.__perf.unknownDrawnAt,
          snapshot: window.__perf.snapshotAt,
          domContentLoaded: nav?.domContentLoadedEventEnd ?? null,
          lastJs: js.length ? Math.max(...js.map((r) => r.responseEnd)) : null,
          layoutStart: layout?.startTime ?? null,
          layoutEnd: layout?.responseEnd ?? null,
          layoutBytes: layout?.encodedBodySize ?? null,
        };
      });
      // The pixels agree: something other than the background in the middle of the canvas.
      const painted = await page.evaluate(() => {
        const c = document.querySelector("canvas")!;
        const d = c.getContext("2d")!.getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let i = 0; i < d.length; i += 4) if (d[i] !== 255 || d[i + 1] !== 255 || d[i + 2] !== 255) n++;
        return n;
      });
      const round = (v: number | null) => (v === null ? null : Math.round(v));
      const row = {
        run: run + 1,
        seatsOnScreenMs: Math.round(m.frame),
        seatsDrawnMs: Math.round(m.drawn),
        greyMs: round(m.grey),
        snapshotMs: round(m.snapshot),
        domContentLoadedMs: round(m.domContentLoaded),
        lastJsMs: round(m.lastJs),
        layoutStartMs: round(m.layoutStart),
        layoutEndMs: round(m.layoutEnd),
        layoutBytes: m.layoutBytes,
        nonWhitePixels: painted,
        scripts: scripts.length,
      };
      runs.push(row);
      console.log(`first paint run ${run + 1}: ${JSON.stringify(row)}`);
      await context.close();
    }
    const t = runs.map((r) => r.seatsOnScreenMs).sort((a, b) => a - b);
    results.firstPaint = { runs, medianMs: percentile(t, 50), maxMs: t[t.length - 1], minMs: t[0] };
    console.log(`first paint: median ${percentile(t, 50)} ms, min ${t[0]} ms, max ${t[t.length - 1]} ms (${runs.length} runs)`);
  });

  for (const zoomKeys of [0, 3]) {
    const label = zoomKeys ? `panning zoomed in (×${1.5 ** zoomKeys})` : "panning, whole map in view";
    await test.step(label, async () => {
      const { context, page } = await newPage(browser, fan);
      await openSeats(page, concertId);
      const canvas = page.locator("canvas");
      if (zoomKeys) {
        await canvas.focus();
        for (let z = 0; z < zoomKeys; z++) await page.keyboard.press("+");
        await page.locator("h1").click();
        await sleep(300);
      }
      const box = (await canvas.boundingBox())!;
      const cx = box.x + box.width / 2;
      const cy = box.y + box.height / 2;
      await startFrames(page);
      const started = Date.now();
      let moves = 0;
      // Drags like a hand's: down, a move every 8 ms (a 125 Hz mouse; not waiting for the page to
      // take each one) along a loop for about 0.5 s, up; again until 3 s.
      while (Date.now() - started < PAN_MS) {
        await page.mouse.move(cx, cy);
        await page.mouse.down();
        const sent: Promise<void>[] = [];
        for (let step = 1; step <= 60; step++) {
          const a = (step / 60) * 2 * Math.PI;
          sent.push(page.mouse.move(cx + 220 * Math.sin(a), cy + 120 * Math.sin(2 * a)));
          moves++;
          await sleep(8);
        }
        await Promise.all(sent);
        await page.mouse.up();
      }
      const { frames, callbackMs } = await stopFrames(page);
      const stats = frameStats(frames, callbackMs);
      const key = zoomKeys ? "panningZoomed" : "panning";
      results[key] = { ...stats, moves, seconds: r1((Date.now() - started) / 1000) };
      console.log(`${label} (${moves} pointer moves in ${r1((Date.now() - started) / 1000)} s): ${fmtFrames(stats)}`);
      await context.close();
    });
  }

  await test.step("availability changes from the service", async () => {
    const fans = await Promise.all(Array.from({ length: FANS }, () => signUp(base)));
    const { context, page } = await newPage(browser, fan);
    await openSeats(page, concertId);
    const before = await call<Availability>(base, "GET", `/api/seat/concert/${concertId}/availability`);

    await startFrames(page);
    let stopped = false;
    let next = 0;
    let ok = 0;
    let conflicts = 0;
    let errors = 0;
    const errorStatuses: Record<number, number> = {};
    const latencies: number[] = [];
    const t0 = performance.now();
    const slot = async () => {
      const due = t0 + (next++ * 1000) / CHANGES_PER_S;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
    };
    const request = async (method: string, id: number, token: string): Promise<boolean> => {
      const s = performance.now();
      const res = await fetch(`${base}/api/seat/${id}/select`, { method, headers: { authorization: `Bearer ${token}` } });
      await res.arrayBuffer();
      latencies.push(performance.now() - s);
      if (res.ok) ok++;
      else if (res.status === 409) conflicts++;
      else {
        errors++;
        errorStatuses[res.status] = (errorStatuses[res.status] ?? 0) + 1;
      }
      return res.ok;
    };
    const worker = async (session: Session) => {
      while (!stopped) {
        const held: number[] = [];
        for (let k = 0; k < 4 && !stopped; k++) {
          await slot();
          if (stopped) break;
          const id = seatIds[Math.floor(Math.random() * seatIds.length)]!;
          if (await request("POST", id, session.token)) held.push(id);
        }
        for (const id of held) {
          if (stopped) break;
          await slot();
          if (stopped) break;
          await request("DELETE", id, session.token);
        }
      }
    };
    const workers = fans.map((s) => worker(s));
    await sleep(CHANGES_MS);
    stopped = true;
    const elapsed = (performance.now() - t0) / 1000;
    await Promise.all(workers);
    // The last delta leaves the service within 250 ms; give it time to arrive and be drawn.
    await sleep(1_500);
    const { frames, callbackMs } = await stopFrames(page);
    const after = await call<Availability>(base, "GET", `/api/seat/concert/${concertId}/availability`);
    const stream = await page.evaluate(() => ({ deltas: window.__perf.deltas, changes: window.__perf.deltaChanges }));

    // The map ends as the availability says: every seat's pixel has its state's colour.
    const layout = await call<SeatLayout>(base, "GET", `/api/seat/concert/${concertId}/layout`);
    const states = decodeStates(after.states, after.count);
    const geometry = buildGeometry(layout);
    const colors = gradeColors(layout);
    const expected = async (p: Page) => {
      const size = await p.evaluate(() => {
        const c = document.querySelector("canvas")!;
        const r = c.parentElement!.getBoundingClientRect();
        return { width: r.width, height: r.height, dpr: window.devicePixelRatio || 1 };
      });
      const view = fit(geometry.bounds, size.width, size.height);
      const k = view.scale * size.dpr;
      const seatPx = Math.max(1, Math.round(geometry.seatSize * k));
      const probes: number[] = [];
      for (let i = 0; i < geometry.count; i++) {
        const x = Math.round(geometry.x[i]! * k + view.ox * size.dpr) + (seatPx >> 1);
        const y = Math.round(geometry.y[i]! * k + view.oy * size.dpr) + (seatPx >> 1);
        const hex = seatFill(states[i]!, colors[layout.grade.index[i] ?? 0]!);
        probes.push(x, y, parseInt(hex.slice(1), 16));
      }
      return probes;
    };
    /** The colour at every seat's centre, and the seats whose colour is not their state's. */
    const sample = (p: Page, probes: number[]) =>
      p.evaluate((probes) => {
        const c = document.querySelector("canvas")!;
        const d = c.getContext("2d")!.getImageData(0, 0, c.width, c.height).data;
        const got: number[] = [];
        const wrong: number[] = [];
        for (let j = 0; j < probes.length; j += 3) {
          const [x, y, rgb] = [probes[j]!, probes[j + 1]!, probes[j + 2]!];
          const o = (y * c.width + x) * 4;
          const px = x < 0 || y < 0 || x >= c.width || y >= c.height ? -1 : (d[o]! << 16) | (d[o + 1]! << 8) | d[o + 2]!;
          got.push(px);
          if (px !== rgb) wrong.push(j / 3);
        }
        return { got, wrong };
      }, probes);
    const held = states.reduce((n, s) => n + (s !== 0 ? 1 : 0), 0);
    const live = await sample(page, await expected(page));
    // The same concert loaded afresh, for comparison.
    const fresh = await newPage(browser, fan);
    await openSeats(fresh.page, concertId);
    const again = await sample(fresh.page, await expected(fresh.page));
    await fresh.context.close();
    let differ = 0;
    for (let i = 0; i < live.got.length; i++) if (live.got[i] !== again.got[i]) differ++;
    const wrongNotAvailable = live.wrong.filter((i) => states[i] !== 0).length;
    const check = {
      wrongLive: live.wrong.length,
      wrongFresh: again.wrong.length,
      wrongAmongNotAvailable: wrongNotAvailable,
      liveDiffersFromFresh: differ,
      examples: live.wrong.slice(0, 5),
    };

    const stats = frameStats(frames, callbackMs);
    const l = [...latencies].sort((a, b) => a - b);
    const out = {
      targetPerS: CHANGES_PER_S,
      fans: FANS,
      seconds: r1(elapsed),
      succeeded: ok,
      changesPerS: Math.round(ok / elapsed),
      conflicts,
      errors,
      errorStatuses,
      requestP50: r1(percentile(l, 50)),
      requestP99: r1(percentile(l, 99)),
      versionSteps: after.version - before.version,
      streamDeltas: stream.deltas,
      streamChanges: stream.changes,
      seatsNotAvailableAtEnd: held,
      pixelCheck: { seats: geometry.count, ...check },
      ...stats,
    };
    results.changes = out;
    console.log(
      `changes: ${ok} in ${r1(elapsed)} s = ${out.changesPerS}/s (target ${CHANGES_PER_S}/s; ${conflicts} conflicts, ${errors} errors ${JSON.stringify(errorStatuses)}; ` +
        `request p50 ${out.requestP50} ms, p99 ${out.requestP99} ms); version +${out.versionSteps}; stream: ${stream.deltas} deltas, ${stream.changes} changes`,
    );
    console.log(`changes, frames: ${fmtFrames(stats)}`);
    console.log(
      `end state: ${held} seats not available (availability endpoint); seat-centre pixels of ${geometry.count} seats: ` +
        `${check.liveDiffersFromFresh} differ from a freshly loaded map; not their state's colour: ${check.wrongLive} on the live map ` +
        `(${check.wrongAmongNotAvailable} of them among the not-available seats), ${check.wrongFresh} on the fresh one ` +
        `(seats under section labels) e.g. ${check.examples.join(", ")}`,
    );
    await context.close();
  });

  const out = process.env.PERF_OUT;
  if (out) writeFileSync(out, JSON.stringify(results, null, 2));
});
