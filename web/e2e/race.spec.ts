// Issue 14, flow 2: two fans in two browsers on one concert's seat map. What one picks, the
// other's map shows as taken without a reload, and refuses with a reason; never do both hold it.
import type { Page } from "@playwright/test";

import { expect, expectNoSeriousA11yViolations, signUpFan, test } from "./fixtures";
import { bearer, createConcert, SEAT_STATE, seatIdAt, seatMap, seatState, signInAs } from "./helpers";

const FIRST_SEAT = "A구역 1열 1번, VIP, 100,000원";

async function openSeatMap(page: Page, concertId: number) {
  await page.goto(`/concerts/${concertId}/seats`);
  const map = seatMap(page);
  await map.ready(10);
  return map;
}

test("what fan A picks, fan B's map shows as taken at once and refuses with a reason", async ({
  page,
  newContext,
  api,
  adminToken,
  baseURL,
}) => {
  const concert = await createConcert(api, adminToken);
  const seatId = await seatIdAt(api, concert.id, 0);
  const [fanA, fanB] = await Promise.all([signUpFan(baseURL!), signUpFan(baseURL!)]);
  await signInAs(page, fanA);
  const pageB = await (await newContext()).newPage();
  await signInAs(pageB, fanB);
  const [mapA, mapB] = await Promise.all([openSeatMap(page, concert.id), openSeatMap(pageB, concert.id)]);

  // B's cursor rests on the first seat, free for now.
  await mapB.canvas.focus();
  await expect(mapB.announcement).toHaveText(`${FIRST_SEAT}, 선택 가능`);

  // A takes it.
  await mapA.canvas.focus();
  await expect(mapA.announcement).toHaveText(`${FIRST_SEAT}, 선택 가능`);
  await page.keyboard.press("Enter");
  await expect(mapA.announcement).toHaveText(`${FIRST_SEAT}, 내가 선택한 좌석`);
  await expect(page.getByRole("complementary").getByText("A구역 1열 1번", { exact: true })).toBeVisible();

  // B's map follows live: the seat under the cursor is now someone else's.
  await expect(mapB.announcement).toHaveText(`${FIRST_SEAT}, 다른 사람이 선택 중`);
  await expect(mapB.canvas).toHaveAccessibleDescription(/선택 가능 9석, 선택 중 1석/);
  await pageB.keyboard.press("Enter");
  await expect(mapB.message).toHaveText("이미 선택된 좌석입니다");
  await expect(mapB.announcement).toHaveText("이미 선택된 좌석입니다");
  await expect(pageB.getByRole("complementary").getByText("좌석 배치도에서 좌석을 선택하세요.")).toBeVisible();

  // The server agrees: held, and not by B.
  expect(await seatState(api, concert.id, seatId)).toBe(SEAT_STATE.HELD);
  const byB = await api.POST("/api/seat/{id}/select", {
    headers: bearer(fanB.session.token),
    params: { path: { id: seatId } },
  });
  expect(byB.response.status).toBe(409);

  await expectNoSeriousA11yViolations(page);
  await expectNoSeriousA11yViolations(pageB);
});

test.describe("at the same instant", () => {
  // The loser's hold may reach the server before its map heard of the winner's: the server
  // refuses it (409), which Chromium logs.
  test.use({ allowedConsoleErrors: [/status of 409 .*\/api\/seat\/\d+\/select/] });

  test("two fans pressing Enter on the same seat together: exactly one holds it, the other is told why", async ({
    page,
    newContext,
    api,
    adminToken,
    baseURL,
  }) => {
    const concert = await createConcert(api, adminToken);
    const seatId = await seatIdAt(api, concert.id, 0);
    const [fanA, fanB] = await Promise.all([signUpFan(baseURL!), signUpFan(baseURL!)]);
    await signInAs(page, fanA);
    const pageB = await (await newContext()).newPage();
    await signInAs(pageB, fanB);
    const maps = await Promise.all([openSeatMap(page, concert.id), openSeatMap(pageB, concert.id)]);
    const pages = [page, pageB];
    for (const map of maps) {
      await map.canvas.focus();
      await expect(map.announcement).toHaveText(`${FIRST_SEAT}, 선택 가능`);
    }

    await Promise.all(pages.map((p) => p.keyboard.press("Enter")));

    const picked = (p: Page) => p.getByRole("complementary").getByText("A구역 1열 1번", { exact: true });
    // Wait until both pages have settled: one shows the seat as picked, the other a refusal.
    await expect
      .poll(async () => (await picked(page).count()) + (await picked(pageB).count()))
      .toBe(1);
    const winner = (await picked(page).count()) === 1 ? 0 : 1;
    const loser = pages[1 - winner]!;
    // Refused by its own map ("already taken") or by the server (its message, in an alert).
    await expect(
      maps[1 - winner]!.message.filter({ hasText: "이미 선택된 좌석입니다" }).or(loser.getByRole("complementary").getByRole("alert")),
    ).toBeVisible();
    await expect(maps[1 - winner]!.announcement).toHaveText(
      /^(이미 선택된 좌석입니다|A구역 1열 1번, VIP, 100,000원, 다른 사람이 선택 중)$/,
    );
    await expect(maps[winner]!.announcement).toHaveText(`${FIRST_SEAT}, 내가 선택한 좌석`);
    await expect(picked(loser)).toHaveCount(0);
    expect(await seatState(api, concert.id, seatId)).toBe(SEAT_STATE.HELD);
  });
});
