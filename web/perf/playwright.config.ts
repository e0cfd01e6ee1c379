import { defineConfig, devices } from "@playwright/test";

// The browser performance benchmark of the seat map (scripts/bench-web.sh starts the release
// service and sets BASE_URL). Not part of the test suite: numbers go to docs/BENCHMARKS.md, and
// nothing here fails on a missed target. Playwright never downloads a browser: it drives Debian's
// chromium.
export default defineConfig({
  testDir: ".",
  testMatch: "*.perf.ts",
  outputDir: "../test-results/perf",
  workers: 1,
  retries: 0,
  timeout: 15 * 60_000,
  reporter: [["list"]],
  use: {
    ...devices["Desktop Chrome"],
    baseURL: process.env.BASE_URL ?? "http://localhost:8080",
    headless: true,
    locale: "ko-KR",
    timezoneId: "Asia/Seoul",
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      // Extra switches for experiments, e.g. PERF_CHROMIUM_ARGS=--disable-accelerated-2d-canvas.
      args: (process.env.PERF_CHROMIUM_ARGS ?? "").split(" ").filter(Boolean),
    },
  },
});
