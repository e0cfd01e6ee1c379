// What every e2e test shares: a `test` that fails on any browser console error or uncaught page
// error, an accessibility check (axe: no serious or critical violation), and small API helpers
// for arranging state (a fresh fan, the dev admin) through the typed client.
import path from "node:path";

import AxeBuilder from "@axe-core/playwright";
import { test as base, expect, type BrowserContext, type Page } from "@playwright/test";
import createClient, { type Client } from "openapi-fetch";

import type { components, paths } from "../src/lib/api/schema";

export { expect };

export type Session = components["schemas"]["AuthResponse"];

/** A fan signed up through the API for one test. */
export type Fan = { username: string; email: string; password: string; session: Session };

/** The development admin every dev-profile service creates. */
export const DEV_ADMIN = { email: "admin@admin", password: "admin1234" } as const;

/** The typed API client, talking to the app under test from Node. */
export function apiClient(baseURL: string): Client<paths> {
  return createClient<paths>({ baseUrl: baseURL });
}

/** Signs up a fan with a unique name and email. */
export async function signUpFan(baseURL: string): Promise<Fan> {
  const unique = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
  const username = `fan${unique}`;
  const email = `${username}@example.com`;
  const password = "password123";
  const { data, error, response } = await apiClient(baseURL).POST("/api/user/signup", {
    body: { username, email, password },
  });
  if (!data) throw new Error(`signup: ${response.status} ${JSON.stringify(error)}`);
  return { username, email, password, session: data };
}

/** An access token of the development admin. */
export async function adminToken(baseURL: string): Promise<string> {
  const { data, error, response } = await apiClient(baseURL).POST("/api/user/login", {
    body: DEV_ADMIN,
  });
  if (!data) throw new Error(`admin login: ${response.status} ${JSON.stringify(error)}`);
  return data.token;
}

type Fixtures = {
  /** Console errors matching one of these do not fail the test, e.g. `[/status of 409/]` for
   * a conflict the test provokes on purpose (Chromium logs every failed request). Each is
   * matched against the message followed by ` (<the address it came from>)`. */
  allowedConsoleErrors: RegExp[];
  /** The typed API client at the app under test. */
  api: Client<paths>;
  /** A fresh fan, signed up through the API. */
  fan: Fan;
  /** An access token of the development admin. */
  adminToken: string;
  /** Opens another browser context (another person's browser, with the test's options),
   * watched for errors like the first and closed at the end. */
  newContext: () => Promise<BrowserContext>;
};

export const test = base.extend<Fixtures>({
  allowedConsoleErrors: [[], { option: true }],

  // Every page of the test's context is watched, including pop-ups and new tabs.
  context: async ({ context, allowedConsoleErrors }, use) => {
    const problems = watch(context, allowedConsoleErrors);
    await use(context);
    expect(problems, "the browser reported errors").toEqual([]);
  },

  newContext: async ({ browser, allowedConsoleErrors }, use) => {
    const opened: { context: BrowserContext; problems: string[] }[] = [];
    await use(async () => {
      const context = await browser.newContext();
      opened.push({ context, problems: watch(context, allowedConsoleErrors) });
      return context;
    });
    await Promise.all(opened.map(({ context }) => context.close()));
    expect(opened.flatMap((o) => o.problems), "another browser reported errors").toEqual([]);
  },

  api: async ({ baseURL }, use) => {
    await use(apiClient(required(baseURL)));
  },

  fan: async ({ baseURL }, use) => {
    await use(await signUpFan(required(baseURL)));
  },

  adminToken: async ({ baseURL }, use) => {
    await use(await adminToken(required(baseURL)));
  },
});

/** Collects the console errors (but the allowed ones) and page errors of a context. */
function watch(context: BrowserContext, allowedConsoleErrors: RegExp[]): string[] {
  const problems: string[] = [];
  context.on("console", (message) => {
    if (message.type() !== "error") return;
    const where = message.location().url;
    // Matched with the address, since Chromium's "status of 404" line does not name it.
    const text = `${message.text()}${where ? ` (${where})` : ""}`;
    if (allowedConsoleErrors.some((allowed) => allowed.test(text))) return;
    problems.push(`console error: ${text}`);
  });
  context.on("weberror", (webError) => {
    problems.push(`page error: ${webError.error().stack ?? webError.error().message}`);
  });
  return problems;
}

function required(baseURL: string | undefined): string {
  if (!baseURL) throw new Error("no baseURL: set BASE_URL (scripts/e2e.sh does)");
  return baseURL;
}

/** Fails when axe finds a serious or critical accessibility violation on the page as it is. */
export async function expectNoSeriousA11yViolations(page: Page): Promise<void> {
  const { violations } = await new AxeBuilder({ page }).analyze();
  const serious = violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
  expect(serious, "serious or critical accessibility violations").toEqual([]);
}

/** Saves a full-page screenshot as docs/screenshots/<name>.png (committed with the docs). */
export async function saveScreenshot(page: Page, name: string): Promise<void> {
  const dir = path.join(test.info().project.testDir, "..", "..", "docs", "screenshots");
  // From the top: a sticky header of a scrolled page would otherwise sit in the middle.
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: path.join(dir, `${name}.png`), fullPage: true });
}
