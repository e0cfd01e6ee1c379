// Issue 18, item 5: the waitlist on a sold-out concert's page. A fan joins while the only seat
// is held by someone else, sees their place, and when the holder lets go the seat is offered to
// them (never shown AVAILABLE to the public): the offer reaches the open page over the fan's
// waitlist stream (no reload), the page shows it with its countdown, and the checkout starts from
// it and ends in a confirmed booking.
import { expect, expectNoSeriousA11yViolations, saveScreenshot, signUpFan, test } from "./fixtures";
import { bearer, createConcert, SEAT_STATE, seatIdAt, seatState, signInAs } from "./helpers";

test("a fan joins the waitlist, is offered the seat that comes back, and pays from the offer", async ({
  page,
  api,
  fan,
  adminToken,
  baseURL,
}) => {
  const concert = await createConcert(api, adminToken, { rows: 1, numbers: 1 });
  const seatId = await seatIdAt(api, concert.id, 0);
  const holder = await signUpFan(baseURL ?? "");
  const held = await api.POST("/api/seat/{id}/select", {
    headers: bearer(holder.session.token),
    params: { path: { id: seatId } },
  });
  expect(held.response.status, "another fan holds the only seat").toBe(200);

  // The page's event streams as Chromium's network layer sees them.
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("Network.enable");
  let streamOpen = false;
  const streamed: { eventName: string; data: string }[] = [];
  cdp.on("Network.responseReceived", (e) => {
    if (e.type === "EventSource" && e.response.url.includes("/api/waitlist/my/events") && e.response.status === 200) {
      streamOpen = true;
    }
  });
  cdp.on("Network.eventSourceMessageReceived", (m) => streamed.push({ eventName: m.eventName, data: m.data }));

  await signInAs(page, fan);
  await page.goto(`/concerts/${concert.id}`);
  const panel = page.getByRole("region", { name: "대기자 명단" });
  await panel.getByRole("button", { name: "대기자 명단에 들어가기" }).click();
  await expect(panel.getByText("대기 순서: 1번째")).toBeVisible();
  await expect.poll(() => streamOpen, { message: "the page follows the fan's waitlist stream" }).toBe(true);

  // The holder lets go: the seat goes to the fan who waited, not back to public sale.
  const released = await api.DELETE("/api/seat/{id}/select", {
    headers: bearer(holder.session.token),
    params: { path: { id: seatId } },
  });
  expect(released.response.status, "the holder releases the seat").toBeLessThan(300);
  expect(await seatState(api, concert.id, seatId), "never AVAILABLE to the public").toBe(SEAT_STATE.HELD);
  const again = await api.POST("/api/seat/{id}/select", {
    headers: bearer(holder.session.token),
    params: { path: { id: seatId } },
  });
  expect(again.response.status, "the public cannot take the offered seat").toBe(409);

  await expect(panel.getByText("기다리시던 좌석이 준비되었습니다", { exact: false })).toBeVisible({ timeout: 15_000 });
  const offers = streamed.filter((m) => m.eventName === "offer").map((m) => JSON.parse(m.data) as { seatIds: number[] });
  expect(offers.map((o) => o.seatIds), "the offer came over the stream, with the seat").toContainEqual([seatId]);
  await expect(panel.getByRole("timer")).toHaveText(/\d/);
  await expectNoSeriousA11yViolations(page);
  await saveScreenshot(page, "waitlist-offer");
  await panel.getByRole("button", { name: "결제하기" }).click();
  await expect(page).toHaveURL(/\/simulator\/pg\/checkout\//);
  await page.getByRole("button", { name: "Approve" }).click();
  await expect(page).toHaveURL(/\/checkout\/[^/]+$/);
  await expect(page.getByText("예매가 확정되었습니다!")).toBeVisible();

  await expect
    .poll(async () => {
      const { data } = await api.GET("/api/waitlist/my", { headers: bearer(fan.session.token) });
      return data?.find((e) => e.concertId === concert.id)?.status;
    })
    .toBe("PURCHASED");
  expect(await seatState(api, concert.id, seatId)).toBe(SEAT_STATE.SOLD);
});
