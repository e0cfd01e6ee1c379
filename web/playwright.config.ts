import { defineConfig, devices } from "@playwright/test";

// The e2e suite runs against the real app (scripts/e2e.sh starts it and sets BASE_URL; without
// it, a service from scripts/run.sh on :8080). Playwright never downloads a browser: it drives
// Debian's chromium, which the scripts install.
export default defineConfig({
  testDir: "e2e",
  outputDir: "test-results",
  fullyParallel: true,
  forbidOnly: !!process.env.CI,
  workers: 2,
  retries: 0,
  reporter: [["list"]],
  use: {
    baseURL: process.env.BASE_URL ?? "http://localhost:8080",
    headless: true,
    trace: "retain-on-failure",
    locale: "ko-KR",
    timezoneId: "Asia/Seoul",
    launchOptions: { executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium" },
  },
  projects: [{ name: "chromium", use: { ...devices["Desktop Chrome"] } }],
});
