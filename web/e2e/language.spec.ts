// Issue 14, flow 7: the language toggle. The page's own words and the server's messages
// (`Accept-Language`) follow the choice, and the choice survives a reload.
import { DEV_ADMIN, expect, expectNoSeriousA11yViolations, test } from "./fixtures";

// The wrong password is refused with 401 on purpose; Chromium logs it.
test.use({ allowedConsoleErrors: [/status of 401 .*\/api\/user\/login/] });

test("switching to English and back changes the headings and the server's error messages", async ({ page, api }) => {
  const wrong = { email: DEV_ADMIN.email, password: "not-the-password" };
  const messageIn = async (lang: string) => {
    const { error } = await api.POST("/api/user/login", { body: wrong, headers: { "Accept-Language": lang } });
    return error!.message;
  };
  const [korean, english] = await Promise.all([messageIn("ko"), messageIn("en")]);
  expect(korean).not.toBe(english);

  const languages = page.getByRole("group", { name: /언어|Language/ });
  const signIn = async () => {
    await page.getByRole("textbox", { name: /이메일|Email/ }).fill(wrong.email);
    await page.getByLabel(/비밀번호|Password/).fill(wrong.password);
    await page.getByRole("button", { name: /^(로그인|Sign in)$/ }).and(page.locator("[type=submit]")).click();
  };

  await page.goto("/concerts");
  await expect(page.locator("html")).toHaveAttribute("lang", "ko");
  await expect(page.getByRole("heading", { level: 1, name: "콘서트" })).toBeVisible();
  await expect(languages.getByRole("button", { name: "한국어" })).toHaveAttribute("aria-pressed", "true");

  await languages.getByRole("button", { name: "English" }).click();
  await expect(page.locator("html")).toHaveAttribute("lang", "en");
  await expect(languages.getByRole("button", { name: "English" })).toHaveAttribute("aria-pressed", "true");
  await expect(page.getByRole("heading", { level: 1, name: "Concerts" })).toBeVisible();
  await expect(page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Concerts" })).toBeVisible();
  await expectNoSeriousA11yViolations(page);

  await page.getByRole("link", { name: "Sign in" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Sign in" })).toBeVisible();
  await signIn();
  await expect(page.getByRole("alert")).toHaveText(english);
  await expectNoSeriousA11yViolations(page);

  // The choice is kept across a reload.
  await page.reload();
  await expect(page.getByRole("heading", { level: 1, name: "Sign in" })).toBeVisible();

  await languages.getByRole("button", { name: "한국어" }).click();
  await expect(page.locator("html")).toHaveAttribute("lang", "ko");
  await expect(page.getByRole("heading", { level: 1, name: "로그인" })).toBeVisible();
  await signIn();
  await expect(page.getByRole("alert")).toHaveText(korean);
  await expectNoSeriousA11yViolations(page);

  await page.getByRole("link", { name: "콘서트", exact: true }).first().click();
  await expect(page.getByRole("heading", { level: 1, name: "콘서트" })).toBeVisible();
});
