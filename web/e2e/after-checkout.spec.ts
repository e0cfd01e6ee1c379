// Issue 14, flows 4 and 5: what happens after checkout when the provider declines, and when a
// fan cancels a confirmed booking. The seat and the checkout are arranged through the API; the
// fan's part happens in the pages.
import { expect, expectNoSeriousA11yViolations, test } from "./fixtures";
import {
  bearer,
  buySeat,
  createConcert,
  SEAT_STATE,
  seatIdAt,
  seatState,
  signInAs,
  waitForReservation,
} from "./helpers";

test("a declined payment: the checkout page says so and that the seats were released, and the seat is free again", async ({
  page,
  fan,
  api,
  adminToken,
}) => {
  const concert = await createConcert(api, adminToken);
  const seatId = await seatIdAt(api, concert.id, 0);
  const auth = bearer(fan.session.token);
  const hold = await api.POST("/api/seat/{id}/select", { headers: auth, params: { path: { id: seatId } } });
  expect(hold.response.status).toBe(200);
  const checkout = await api.POST("/api/payment", { headers: auth, body: { seatId, paymentMethod: "BANK_TRANSFER" } });
  const payment = checkout.data!;
  expect(await seatState(api, concert.id, seatId)).toBe(SEAT_STATE.RESERVED);

  // The fan is on the provider's page (where the app sent them) and declines there.
  await signInAs(page, fan);
  await page.goto(payment.checkoutUrl!);
  await page.getByRole("button", { name: "Decline" }).click();
  await expect(page).toHaveURL(new RegExp(`/checkout/${payment.transactionId}$`));
  const outcome = page.getByRole("alert");
  await expect(outcome).toContainText("결제가 거절되었습니다.");
  await expect(outcome).toContainText("선택한 좌석은 해제되어 다시 판매됩니다.");
  await expect(page.getByText("결제 실패")).toBeVisible();
  await expectNoSeriousA11yViolations(page);

  await expect.poll(() => seatState(api, concert.id, seatId)).toBe(SEAT_STATE.AVAILABLE);
  const again = await api.POST("/api/seat/{id}/select", { headers: auth, params: { path: { id: seatId } } });
  expect(again.response.status, "the seat can be held again").toBe(200);
});

test("a fan cancels a confirmed booking on my reservations and sees the refund", async ({
  page,
  fan,
  api,
  adminToken,
}) => {
  const concert = await createConcert(api, adminToken);
  const seatId = await seatIdAt(api, concert.id, 0);
  const payment = await buySeat(api, fan, seatId, "approve");
  await waitForReservation(api, fan, payment.transactionId, "CONFIRMED");

  await signInAs(page, fan);
  await page.goto("/me/reservations");
  await expect(page.getByRole("heading", { level: 1, name: "내 예매" })).toBeVisible();
  const booking = page.getByRole("listitem").filter({ has: page.getByRole("heading", { name: concert.title }) });
  await expect(booking.getByText("예매 확정")).toBeVisible();
  await expect(booking.getByText("A구역 1열 1번 · VIP · 100,000원")).toBeVisible();
  await expectNoSeriousA11yViolations(page);

  await booking.getByRole("button", { name: "예매 취소" }).click();
  await expect(booking.getByText("환불 금액 100,000원")).toBeVisible();
  await booking.getByLabel("취소 사유 (선택)").fill("일정이 바뀌었어요");
  await booking.getByRole("button", { name: "취소 확정" }).click();

  const done = booking.getByRole("status");
  await expect(done).toContainText("환불 금액 100,000원");
  await expect(booking.getByText("취소됨", { exact: true })).toBeVisible();
  await expect(booking.getByText("취소 사유: 일정이 바뀌었어요")).toBeVisible();
  await expect(booking.getByRole("button", { name: "예매 취소" })).toHaveCount(0);
  await expectNoSeriousA11yViolations(page);

  await expect.poll(() => seatState(api, concert.id, seatId)).toBe(SEAT_STATE.AVAILABLE);
});
