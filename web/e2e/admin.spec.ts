// Issue 14, flow 6: the organiser signs in, creates a concert on sale now and generates its
// seats in /admin; a fan in another browser finds it and sees its seat map. Also takes the
// README's screenshot of the sale overview.
import { DEV_ADMIN, expect, expectNoSeriousA11yViolations, saveScreenshot, test } from "./fixtures";
import { buySeat, seatIdAt, seatMap, signInAs, uniqueTitle, waitForReservation } from "./helpers";

test.use({ viewport: { width: 1280, height: 800 } });
// A long walk over many pages (each checked by axe) against a debug build: about 20 s on an idle
// machine, so the default 30 s is too close when the machine is busy.
test.slow();

/** The `datetime-local` value of a moment `ms` from now, in Seoul time. */
const seoulInput = (ms: number) => new Date(Date.now() + ms + 9 * 3_600_000).toISOString().slice(0, 16);
const DAY = 24 * 3_600_000;

test("an admin creates a concert and 2 × 2 × 5 seats; a fan finds it and sees its seat map", async ({
  page,
  newContext,
  fan,
  api,
}) => {
  const title = uniqueTitle("신년 음악회");

  await page.goto("/signin");
  await page.getByLabel("이메일").fill(DEV_ADMIN.email);
  await page.getByLabel("비밀번호").fill(DEV_ADMIN.password);
  await page.getByRole("button", { name: "로그인", exact: true }).click();
  await expect(page).toHaveURL(/\/concerts$/);
  await page.getByRole("navigation", { name: "주 메뉴" }).getByRole("link", { name: "관리" }).click();
  await expect(page).toHaveURL(/\/admin$/);
  await expect(page.getByRole("heading", { level: 1, name: "공연" })).toBeVisible();
  await expectNoSeriousA11yViolations(page);

  await page.getByRole("link", { name: "새 공연 등록" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "새 공연 등록" })).toBeVisible();
  await page.getByLabel("공연명").fill(title);
  await page.getByLabel("공연장").fill("세종문화회관");
  await page.getByLabel("예매 시작").fill(seoulInput(-5 * 60_000));
  await page.getByLabel("예매 종료").fill(seoulInput(20 * DAY));
  await page.getByLabel("공연 일시").fill(seoulInput(21 * DAY));
  await expectNoSeriousA11yViolations(page);
  await page.getByRole("button", { name: "등록" }).click();

  // Created: on to its seats.
  await expect(page).toHaveURL(/\/admin\/concerts\/\d+\/seats$/);
  const concertId = Number(/\/admin\/concerts\/(\d+)\/seats$/.exec(page.url())![1]);
  await expect(page.getByRole("heading", { level: 1 })).toContainText(title);
  await page.getByLabel("구역", { exact: true }).fill("A,B");
  const rows = page.getByRole("group", { name: "열", exact: true });
  await rows.getByLabel("시작").fill("1");
  await rows.getByLabel("끝").fill("2");
  const numbers = page.getByRole("group", { name: "좌석 번호" });
  await numbers.getByLabel("시작").fill("1");
  await numbers.getByLabel("끝").fill("5");
  await page.getByLabel("A 구역 등급").fill("VIP");
  await page.getByLabel("A 구역 가격(원)").fill("120000");
  await expect(page.getByText("좌석 20개 (2개 구역), 5,000개씩 요청 1번")).toBeVisible();
  page.once("dialog", (dialog) => void dialog.accept());
  await page.getByRole("button", { name: "좌석 생성" }).click();
  await expect(page.getByText("좌석 20개를 생성했습니다.")).toBeVisible();
  await expectNoSeriousA11yViolations(page);

  // A fan, in another browser, finds it in the list and opens its seat map.
  const fanPage = await (await newContext()).newPage();
  await signInAs(fanPage, fan);
  await fanPage.goto("/concerts");
  await fanPage.getByRole("searchbox", { name: "공연명" }).fill(title);
  await fanPage.getByRole("button", { name: "검색", exact: true }).click();
  await expect(fanPage.getByText("총 1개")).toBeVisible();
  await fanPage.getByRole("link", { name: title }).click();
  await expect(fanPage.getByRole("heading", { level: 1, name: title })).toBeVisible();
  await expect(fanPage.getByText("세종문화회관")).toBeVisible();
  await fanPage.getByRole("link", { name: "좌석 선택하기" }).click();
  const map = seatMap(fanPage);
  await map.ready(20);
  await expect(fanPage.getByRole("list", { name: "범례" })).toContainText("VIP 120,000원");
  await expect(fanPage.getByRole("list", { name: "범례" })).toContainText("R 100,000원");
  await map.canvas.focus();
  await expect(map.announcement).toHaveText("A구역 1열 1번, VIP, 120,000원, 선택 가능");
  await fanPage.keyboard.press("ArrowDown");
  await expect(map.announcement).toHaveText("A구역 2열 1번, VIP, 120,000원, 선택 가능");
  await expectNoSeriousA11yViolations(fanPage);

  // Something sold, for the organiser's overview: the fan buys a seat of section B.
  const payment = await buySeat(api, fan, await seatIdAt(api, concertId, 10));
  await waitForReservation(api, fan, payment.transactionId, "CONFIRMED");

  await page.getByRole("link", { name: "판매 현황" }).click();
  await expect(page).toHaveURL(new RegExp(`/admin/concerts/${concertId}/sale$`));
  await expect(page.getByRole("heading", { level: 1 })).toContainText(title);
  await expect(page.getByRole("region", { name: "좌석 상태" }).getByRole("row", { name: "판매 완료 1 5%" })).toBeVisible();
  await expect(page.getByRole("region", { name: "매출" })).toContainText("100,000");
  await expectNoSeriousA11yViolations(page);
  await saveScreenshot(page, "admin-sale");
});
