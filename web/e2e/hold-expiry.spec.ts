// Issue 14, flow 3: a hold that runs out while the fan looks at the page. scripts/e2e.sh holds
// seats for 10 s (HOLD_TTL_SECS); with a longer hold the test waits longer.
import { expect, expectNoSeriousA11yViolations, test } from "./fixtures";
import { createConcert, SEAT_STATE, seatIdAt, seatMap, seatState, signInAs } from "./helpers";

test("the hold countdown runs down to zero, the page says the seats were released and the map frees them", async ({
  page,
  fan,
  api,
  adminToken,
}) => {
  const concert = await createConcert(api, adminToken);
  const seatId = await seatIdAt(api, concert.id, 0);
  await signInAs(page, fan);
  await page.goto(`/concerts/${concert.id}/seats`);
  const map = seatMap(page);
  await map.ready(10);
  await map.canvas.focus();
  await page.keyboard.press("Enter");
  await expect(map.announcement).toHaveText("A구역 1열 1번, VIP, 100,000원, 내가 선택한 좌석");

  const summary = page.getByRole("complementary", { name: "선택한 좌석" });
  const timer = summary.getByRole("timer");
  await expect(timer).toHaveText(/^\d\d:\d\d$/);
  const [minutes, seconds] = (await timer.textContent())!.split(":").map(Number);
  const holdMs = (minutes! * 60 + seconds!) * 1000;
  test.setTimeout(holdMs + 30_000);
  await expectNoSeriousA11yViolations(page);

  // The last seconds before zero (the page's clock ticks once a second, so a slow tick may skip
  // one of them), then the page lets go of the seat and says why.
  await expect(timer).toHaveText(/^00:0[0-2]$/, { timeout: holdMs + 5_000 });
  await expect(summary.getByRole("alert")).toHaveText("좌석 유지 시간이 끝나 선택이 해제되었습니다.");
  await expect(timer).toHaveCount(0);
  await expect(summary.getByText("좌석 배치도에서 좌석을 선택하세요.")).toBeVisible();
  await expect(page.getByRole("button", { name: /결제하기/ })).toHaveCount(0);

  // The server let go too, and the live map says so for the seat under the cursor.
  await expect(map.announcement).toHaveText("A구역 1열 1번, VIP, 100,000원, 선택 가능");
  await expect(map.canvas).toHaveAccessibleDescription(/선택 가능 10석/);
  expect(await seatState(api, concert.id, seatId)).toBe(SEAT_STATE.AVAILABLE);
  await expectNoSeriousA11yViolations(page);
});
