// The browser's hash rate for the bot check's proof of work (issue 15), in headless Chromium: the
// app's own solver (web/src/lib/challenge/solver.ts, bundled as is) in a Web Worker, as the app
// runs it, next to awaiting crypto.subtle.digest once per attempt. Prints hashes a second and
// the difficulty at which an average solve takes about one second; the numbers belong in
// README ("Bot checks"). No service needed: the page and worker are served by Playwright.
// Run: cd web && npx playwright test -c perf/playwright.config.ts challenge
import { buildSync } from "esbuild";

import { test } from "@playwright/test";

const ORIGIN = "http://localhost:9";
const ATTEMPTS = Number(process.env.PERF_ATTEMPTS ?? 2_000_000);
const SUBTLE_ATTEMPTS = Number(process.env.PERF_SUBTLE_ATTEMPTS ?? 100_000);
/** A challenge of the length the server issues. */
const CHALLENGE = "v1.QUEUE.123.20.1796000000.q2L0cM1z4q8Kx6Ey.6cVvGvtK2b6nQ2dY1w1h0A";

test("proof-of-work hash rate in a browser worker", async ({ page }) => {
  const solver = buildSync({
    entryPoints: [new URL("../src/lib/challenge/solver.ts", import.meta.url).pathname],
    bundle: true,
    format: "iife",
    globalName: "solver",
    write: false,
  }).outputFiles[0]!.text;
  const worker = `${solver}
    self.onmessage = async (e) => {
      const { kind, challenge, attempts } = e.data;
      const start = performance.now();
      if (kind === "js") {
        // Impossible difficulty: every attempt is made.
        solver.search(challenge, 256, 0, attempts);
      } else {
        const encoder = new TextEncoder();
        for (let n = 0; n < attempts; n++) {
          await crypto.subtle.digest("SHA-256", encoder.encode(challenge + ":" + n));
        }
      }
      self.postMessage({ seconds: (performance.now() - start) / 1000 });
    };`;
  // A page of its own origin (crypto.subtle needs a secure or local context: localhost).
  await page.route(`${ORIGIN}/**`, (route) =>
    route.fulfill({ contentType: "text/html", body: "<!doctype html><title>bench</title>" }),
  );
  await page.goto(`${ORIGIN}/`);
  const run = (kind: "js" | "subtle", attempts: number) =>
    page.evaluate(
      ({ kind, attempts, challenge, worker }) =>
        new Promise<number>((resolve, reject) => {
          const w = new Worker(URL.createObjectURL(new Blob([worker], { type: "text/javascript" })));
          w.onmessage = (e: MessageEvent<{ seconds: number }>) => {
            w.terminate();
            resolve(attempts / e.data.seconds);
          };
          w.onerror = (e) => reject(new Error(e.message));
          w.postMessage({ kind, challenge, attempts });
        }),
      { kind, attempts, challenge: CHALLENGE, worker },
    );
  await run("js", ATTEMPTS / 10); // warm-up
  const js = [await run("js", ATTEMPTS), await run("js", ATTEMPTS), await run("js", ATTEMPTS)];
  const subtle = await run("subtle", SUBTLE_ATTEMPTS);
  const best = Math.max(...js);
  const median = js.sort((a, b) => a - b)[1]!;
  const oneSecond = Math.round(Math.log2(median));
  console.log(
    [
      `pure JS in a worker: median ${(median / 1e6).toFixed(2)} M hashes/s (best ${(best / 1e6).toFixed(2)}, runs of ${ATTEMPTS})`,
      `crypto.subtle awaited per attempt: ${(subtle / 1e3).toFixed(0)} k hashes/s`,
      `difficulty for ~1 s on average: ${oneSecond} (2^${oneSecond} = ${(2 ** oneSecond / 1e6).toFixed(2)} M hashes, ${(2 ** oneSecond / median).toFixed(2)} s)`,
    ].join("\n"),
  );
});
