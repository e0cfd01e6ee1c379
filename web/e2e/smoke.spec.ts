import { expect, expectNoSeriousA11yViolations, test } from "./fixtures";

test("the home page loads the app with no browser errors and no serious accessibility violations", async ({
  page,
}) => {
  const response = await page.goto("/");
  expect(response?.status()).toBe(200);
  await expect(page.locator("#root")).not.toBeEmpty();
  await expect(page).toHaveTitle(/\S/);
  await expectNoSeriousA11yViolations(page);
});

test("a client route such as /concerts is answered with the app", async ({ page }) => {
  const response = await page.goto("/concerts");
  expect(response?.status()).toBe(200);
  expect(response?.headers()["cache-control"]).toBe("no-cache");
  await expect(page.locator("#root")).not.toBeEmpty();
});

test("the API helpers sign up a fresh fan and sign in the dev admin", async ({ fan, adminToken, api }) => {
  expect(fan.session.role).toBe("USER");
  expect(adminToken).not.toBe("");
  const me = await api.GET("/api/user/me", {
    headers: { Authorization: `Bearer ${fan.session.token}` },
  });
  expect(me.data?.email).toBe(fan.email);
});
