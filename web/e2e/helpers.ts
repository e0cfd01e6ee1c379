// Arranging state for the flows through the typed API (concerts of one test, holds, payments,
// the simulator) and reading the seat map the way a screen reader does.
import type { Page } from "@playwright/test";
import type { Client } from "openapi-fetch";

import type { components, paths } from "../src/lib/api/schema";
import { expect, type Fan } from "./fixtures";

type Api = Client<paths>;
export type Concert = components["schemas"]["ConcertResponse"];
export type SeatLayout = components["schemas"]["SeatLayout"];

/** The states of the availability encoding. */
export const SEAT_STATE = { AVAILABLE: 0, HELD: 1, RESERVED: 2, SOLD: 3 } as const;

export const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

/** A title no other test (or run) uses. */
export function uniqueTitle(prefix: string): string {
  return `${prefix} ${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
}

/** An RFC 3339 instant `ms` from now. */
export const fromNow = (ms: number) => new Date(Date.now() + ms).toISOString();

/** Waits until the fan with these headers is admitted from the concert's waiting room. */
export async function untilAdmitted(
  api: Api,
  headers: Record<string, string>,
  concertId: number,
): Promise<void> {
  await expect
    .poll(async () => {
      const { data } = await api.GET("/api/queue/{concertId}/status", {
        headers,
        params: { path: { concertId } },
      });
      return data?.canEnter;
    })
    .toBe(true);
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/**
 * A concert of the test's own, on sale now, with `sections` × `rows` × `numbers` seats (grade
 * VIP at 100,000 won in the first section, R at 80,000 in the others): tests that share no
 * concert share no seats.
 */
export async function createConcert(
  api: Api,
  adminToken: string,
  {
    title = uniqueTitle("E2E"),
    queueEnabled = false,
    challengeDifficulty = 0,
    sections = ["A"],
    rows = 2,
    numbers = 5,
  } = {},
): Promise<Concert> {
  const created = await api.POST("/api/concert", {
    headers: bearer(adminToken),
    body: {
      title,
      venue: "E2E 홀",
      openTime: fromNow(-HOUR),
      closeTime: fromNow(30 * DAY),
      concertDate: fromNow(31 * DAY),
      queueEnabled,
      challengeDifficulty,
    },
  });
  if (!created.data) throw new Error(`create concert: ${created.response.status} ${JSON.stringify(created.error)}`);
  const concertId = created.data.id;
  const seats = sections.flatMap((section, s) =>
    Array.from({ length: rows }, (_, r) =>
      Array.from({ length: numbers }, (_, n) => ({
        concertId,
        section,
        row: String(r + 1),
        number: String(n + 1),
        grade: s === 0 ? "VIP" : "R",
        price: s === 0 ? 100_000 : 80_000,
      })),
    ).flat(),
  );
  const batch = await api.POST("/api/seat/batch", { headers: bearer(adminToken), body: seats });
  if (!batch.data) throw new Error(`seats: ${batch.response.status} ${JSON.stringify(batch.error)}`);
  return created.data;
}

/** The demo concert of the given kind (the demo data has one with a waiting room, one without). */
export async function demoConcert(api: Api, queueEnabled: boolean): Promise<Concert> {
  const { data } = await api.GET("/api/concert", { params: { query: { title: "ConcertMania", size: 100 } } });
  const found = data?.content.find((c) => c.title.startsWith("ConcertMania") && c.queueEnabled === queueEnabled);
  if (!found) throw new Error(`no demo concert with queueEnabled=${queueEnabled}`);
  return found;
}

export async function seatLayout(api: Api, concertId: number): Promise<SeatLayout> {
  const { data, response } = await api.GET("/api/seat/concert/{concertId}/layout", {
    params: { path: { concertId } },
  });
  if (!data) throw new Error(`layout: ${response.status}`);
  return data;
}

/** Every seat's state by id, decoded from the availability answer (2 bits a seat). */
export async function seatStates(api: Api, concertId: number): Promise<Map<number, number>> {
  const layout = await seatLayout(api, concertId);
  const { data, response } = await api.GET("/api/seat/concert/{concertId}/availability", {
    params: { path: { concertId } },
  });
  if (!data) throw new Error(`availability: ${response.status}`);
  const bytes = Buffer.from(data.states, "base64");
  const states = new Map<number, number>();
  layout.ids.forEach((id, i) => states.set(id, ((bytes[i >> 2] ?? 0) >> (6 - 2 * (i & 3))) & 3));
  return states;
}

/** The state of one seat, as the availability API says. */
export async function seatState(api: Api, concertId: number, seatId: number): Promise<number | undefined> {
  return (await seatStates(api, concertId)).get(seatId);
}

/** The seat id at `index` in the concert's natural order (index 0 = section A, row 1, seat 1). */
export async function seatIdAt(api: Api, concertId: number, index: number): Promise<number> {
  const id = (await seatLayout(api, concertId)).ids[index];
  if (id === undefined) throw new Error(`no seat at ${index}`);
  return id;
}

/** Holds, checks out and pays (or declines) through the API and the simulator; returns the payment. */
export async function buySeat(
  api: Api,
  fan: Fan,
  seatId: number,
  outcome: "approve" | "decline" = "approve",
): Promise<components["schemas"]["PaymentResponse"]> {
  const auth = bearer(fan.session.token);
  const hold = await api.POST("/api/seat/{id}/select", { headers: auth, params: { path: { id: seatId } } });
  if (!hold.data) throw new Error(`hold: ${hold.response.status} ${JSON.stringify(hold.error)}`);
  const paid = await api.POST("/api/payment", {
    headers: auth,
    body: { seatId, paymentMethod: "CREDIT_CARD" },
  });
  if (!paid.data) throw new Error(`checkout: ${paid.response.status} ${JSON.stringify(paid.error)}`);
  const checkoutUrl = paid.data.checkoutUrl;
  if (!checkoutUrl) throw new Error("no checkoutUrl: is the payment simulator on?");
  const simulated = await fetch(`${checkoutUrl}/${outcome}`, { method: "POST" });
  expect(simulated.status).toBe(202);
  return paid.data;
}

/** Waits until the payment has the reservation status (the webhook is asynchronous). */
export async function waitForReservation(api: Api, fan: Fan, transactionId: string, status: string): Promise<void> {
  await expect
    .poll(async () => {
      const { data } = await api.GET("/api/payment/{transactionId}", {
        headers: bearer(fan.session.token),
        params: { path: { transactionId } },
      });
      return data?.reservationStatus;
    })
    .toBe(status);
}

/** Opens the app already signed in as `fan` (the session the app keeps in localStorage). */
export async function signInAs(page: Page, fan: Fan): Promise<void> {
  await page.addInitScript((session) => {
    if (!localStorage.getItem("ticketing.session")) localStorage.setItem("ticketing.session", session);
  }, JSON.stringify(fan.session));
}

/** The seat map's canvas and the live region that reads out the focused seat. */
export function seatMap(page: Page) {
  const canvas = page.getByRole("application", { name: /좌석 배치도|Seat map/ });
  return {
    canvas,
    /** What a screen reader hears about the focused seat (or a refusal). */
    announcement: page.locator('[aria-live="polite"][aria-atomic="true"]'),
    /** The reason the map gives when a pick is refused (shown on the map). */
    message: canvas.locator("xpath=..").getByRole("status"),
    /** Waits until the layout and the live states are in (the summary counts seats). */
    async ready(total: number) {
      await expect(canvas).toHaveAccessibleDescription(new RegExp(`전체 ${total.toLocaleString("ko-KR")}석|${total} seats`));
    },
  };
}
