// Issue 14, flow 1: a fan signs up in the app, waits in the demo concert's waiting room, is let
// in, picks a seat on the canvas with the keyboard, pays on the provider simulator and finds the
// confirmed booking — with no reload anywhere. Also takes the README's screenshots of the
// concert list, the waiting room, the seat map and the confirmation.
import { expect, expectNoSeriousA11yViolations, saveScreenshot, signUpFan, test } from "./fixtures";
import { bearer, demoConcert, seatMap, untilAdmitted } from "./helpers";

test.use({
  viewport: { width: 1280, height: 800 },
  // Before joining, the app asks for the fan's place and the API answers 404 QUEUE_NOT_JOINED
  // (the app reads it as "not in line"); Chromium logs every 4xx.
  allowedConsoleErrors: [/status of 404 .*\/api\/queue\/\d+\/status/],
});
// A long walk over many pages (each checked by axe) against a debug build: about 20 s on an idle
// machine, so the default 30 s is too close when the machine is busy.
test.slow();

test("a fan signs up, waits in line, is admitted, picks a seat, pays on the simulator and finds the booking", async ({
  page,
  api,
  baseURL,
}) => {
  const concert = await demoConcert(api, true);

  // Someone else is admitted first (e2e.sh admits one fan at a time per concert), so our fan
  // has to wait in line until that one leaves.
  const ahead = await signUpFan(baseURL!);
  const aheadAuth = bearer(ahead.session.token);
  const joined = await api.POST("/api/queue", { headers: aheadAuth, body: { concertId: concert.id } });
  expect(joined.response.ok).toBe(true);
  await untilAdmitted(api, aheadAuth, concert.id);

  // Sign up in the app.
  const unique = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  await page.goto("/signup");
  await expect(page.getByRole("heading", { level: 1, name: "회원가입" })).toBeVisible();
  await expectNoSeriousA11yViolations(page);
  await page.getByLabel("이름", { exact: true }).fill(`fan${unique}`);
  await page.getByLabel("이메일").fill(`fan${unique}@example.com`);
  await page.getByLabel("비밀번호").fill("password123");
  await page.getByRole("button", { name: "가입하기" }).click();
  await expect(page).toHaveURL(/\/concerts$/);
  await expect(page.getByText(`fan${unique}님`)).toBeVisible();

  // The concert list, narrowed to the demo concerts for the screenshot.
  await page.getByRole("searchbox", { name: "공연명" }).fill("ConcertMania");
  await page.getByRole("button", { name: "검색", exact: true }).click();
  await expect(page.getByText("총 2개")).toBeVisible();
  await expectNoSeriousA11yViolations(page);
  await saveScreenshot(page, "concerts");

  // Any full page load from here on would lose this mark.
  await page.evaluate(() => ((window as unknown as { e2eMark: number }).e2eMark = 1));
  const sameDocument = () => page.evaluate(() => (window as unknown as { e2eMark?: number }).e2eMark === 1);

  await page.getByRole("link", { name: concert.title }).click();
  await expect(page.getByRole("heading", { level: 1, name: concert.title })).toBeVisible();
  // The waiting-room stream's URL (which proxies log) carries a short-lived stream ticket, never
  // the access token.
  const streams: { url: string; status: number }[] = [];
  page.on("response", (response) => {
    if (/\/api\/queue\/\d+\/stream\?/.test(response.url())) streams.push({ url: response.url(), status: response.status() });
  });
  const room = page.getByRole("region", { name: "대기열" });
  await room.getByRole("button", { name: "대기열 참여하기" }).click();
  await expect(room.getByText("1번째")).toBeVisible();
  await expect(room.getByText("이 화면을 닫지 마세요", { exact: false })).toBeVisible();
  await expectNoSeriousA11yViolations(page);
  await saveScreenshot(page, "waiting-room");

  // The fan ahead leaves: ours is admitted on the next tick and the page moves on by itself.
  const left = await api.DELETE("/api/queue/{concertId}", {
    headers: aheadAuth,
    params: { path: { concertId: concert.id } },
  });
  expect(left.response.ok).toBe(true);
  await expect(page).toHaveURL(new RegExp(`/concerts/${concert.id}/seats$`));
  expect(await sameDocument()).toBe(true);
  expect(streams.length).toBeGreaterThan(0);
  for (const { url, status } of streams) {
    expect(status, "the stream opened with its ticket").toBe(200);
    expect(new URL(url).searchParams.get("ticket")).toBeTruthy();
    expect(new URL(url).searchParams.has("token")).toBe(false);
  }

  // Pick the first free seat with the keyboard.
  const map = seatMap(page);
  await map.ready(500);
  await map.canvas.focus();
  await expect(map.announcement).toHaveText(/^A구역 1열 \d+번, VIP, 154,000원, 선택 가능$/);
  const seat = (await map.announcement.textContent())!.split(",")[0]!;
  await page.keyboard.press("Enter");
  await expect(map.announcement).toHaveText(`${seat}, VIP, 154,000원, 내가 선택한 좌석`);
  const summary = page.getByRole("complementary", { name: "선택한 좌석" });
  await expect(summary.getByText(seat, { exact: true })).toBeVisible();
  await expect(summary.getByRole("timer")).toHaveText(/^\d\d:\d\d$/);
  await expect(page.getByText("선택 1 / 4석")).toBeVisible();
  await saveScreenshot(page, "seat-map");
  await expectNoSeriousA11yViolations(page);

  // Check out: the app sends the fan to the provider, who sends them back after approving.
  await summary.getByRole("button", { name: "154,000원 결제하기" }).click();
  await expect(page).toHaveURL(/\/simulator\/pg\/checkout\//);
  await expect(page.getByRole("heading", { name: "결제 시뮬레이터" })).toBeVisible();
  await expectNoSeriousA11yViolations(page);
  await page.getByRole("button", { name: "Approve" }).click();
  await expect(page).toHaveURL(/\/checkout\/[^/]+$/);
  await expect(page.getByText("예매가 확정되었습니다!")).toBeVisible();
  await expect(page.getByText("결제 완료")).toBeVisible();
  await expectNoSeriousA11yViolations(page);
  await saveScreenshot(page, "checkout");

  await page.getByRole("link", { name: "내 예매 보기" }).click();
  await expect(page).toHaveURL(/\/me\/reservations$/);
  const booking = page.getByRole("listitem").filter({ has: page.getByRole("heading", { name: concert.title }) });
  await expect(booking).toHaveCount(1);
  await expect(booking.getByText("예매 확정")).toBeVisible();
  await expect(booking.getByText(seat, { exact: false })).toBeVisible();
  await expectNoSeriousA11yViolations(page);
});
