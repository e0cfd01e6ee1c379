// Issue 17, item 6: the fan's ticket wallet and the door staff's scanner, in two browsers. The
// purchase, the staff role and the check-in list are arranged through the API; the fan's and
// the staff's parts happen in the pages. Offline, the scanner verifies with the downloaded key
// alone, queues, and uploads when the connection is back, showing the conflict the server found.
import type { Page } from "@playwright/test";
import type { Client } from "openapi-fetch";

import type { paths } from "../src/lib/api/schema";
import { apiClient, expect, expectNoSeriousA11yViolations, saveScreenshot, signUpFan, test, type Fan } from "./fixtures";
import { bearer, buySeat, createConcert, seatIdAt, signInAs, waitForReservation } from "./helpers";

type Api = Client<paths>;

const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 800 };

/** A user made door staff by the admin (the role arrives with the next sign-in). */
async function staffMember(baseURL: string, adminToken: string): Promise<Fan> {
  const person = await signUpFan(baseURL);
  const api = apiClient(baseURL);
  const me = await api.GET("/api/user/me", { headers: bearer(person.session.token) });
  if (!me.data) throw new Error(`me: ${me.response.status}`);
  const granted = await api.PUT("/api/admin/users/{userId}/role", {
    headers: bearer(adminToken),
    params: { path: { userId: me.data.id } },
    body: { role: "STAFF" },
  });
  expect(granted.response.status, "the admin grants STAFF").toBeLessThan(300);
  const login = await api.POST("/api/user/login", { body: { email: person.email, password: person.password } });
  if (!login.data) throw new Error(`staff login: ${login.response.status}`);
  expect(login.data.role).toBe("STAFF");
  return { ...person, session: login.data };
}

async function checkinList(api: Api, adminToken: string, concertId: number, name: string) {
  const created = await api.POST("/api/concert/{id}/checkin-lists", {
    headers: bearer(adminToken),
    params: { path: { id: concertId } },
    body: { name, allowMultipleEntries: false, allowEntryAfterExit: false },
  });
  if (!created.data) throw new Error(`check-in list: ${created.response.status} ${JSON.stringify(created.error)}`);
  return created.data;
}

/** A fan who bought `count` seats of a fresh concert, with their tickets as the API has them. */
async function fanWithTickets(api: Api, adminToken: string, fan: Fan, count: number) {
  const concert = await createConcert(api, adminToken);
  for (let i = 0; i < count; i++) {
    const payment = await buySeat(api, fan, await seatIdAt(api, concert.id, i));
    await waitForReservation(api, fan, payment.transactionId, "CONFIRMED");
  }
  const mine = await api.GET("/api/tickets/my", { headers: bearer(fan.session.token) });
  const tickets = (mine.data ?? []).filter((t) => t.concertId === concert.id).sort((a, b) => a.seatId - b.seatId);
  expect(tickets).toHaveLength(count);
  return { concert, tickets };
}

/** The scanner of one list, opened by the staff member in their own browser. */
async function openScanner(page: Page, staff: Fan, concertId: number, listId: number) {
  await signInAs(page, staff);
  await page.setViewportSize(DESKTOP);
  await page.goto("/concerts");
  await page.getByRole("link", { name: "입장 확인" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "입장 확인" })).toBeVisible();
  await page.getByLabel("공연").selectOption(String(concertId));
  await page.getByLabel("입장 목록").selectOption(String(listId));
  const scanner = {
    result: page.getByRole("status", { name: "스캔 결과" }),
    status: page.getByRole("region", { name: "현황" }),
    offline: page.getByRole("region", { name: "오프라인 모드" }),
    async enter(secret: string) {
      await page.getByLabel("티켓 코드").fill(secret);
      await page.getByRole("button", { name: "확인", exact: true }).click();
    },
  };
  // Headless Chromium on Linux has no BarcodeDetector: the page says so and takes the code typed.
  await expect(page.getByText("카메라 QR 인식(BarcodeDetector)을 지원하지 않습니다", { exact: false })).toBeVisible();
  await expect(scanner.offline.getByText(/키 1개/)).toBeVisible();
  return scanner;
}

test("a fan shows the ticket from the wallet and staff in another browser admit it exactly once", async ({
  page,
  fan,
  api,
  adminToken,
  baseURL,
  newContext,
}) => {
  const { concert, tickets } = await fanWithTickets(api, adminToken, fan, 1);
  const ticket = tickets[0]!;

  // The fan, on a phone, opens the wallet from the header.
  await page.setViewportSize(PHONE);
  await signInAs(page, fan);
  await page.goto("/concerts");
  await page.getByRole("link", { name: "내 티켓" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "내 티켓" })).toBeVisible();
  const card = page.getByRole("listitem").filter({ has: page.getByRole("heading", { name: concert.title }) });
  const qr = card.getByRole("img", { name: "A구역 1열 1번 티켓 QR 코드" });
  await expect(qr).toBeVisible();
  expect(await qr.evaluate((img: HTMLImageElement) => img.naturalWidth), "the QR code image loaded").toBeGreaterThan(0);
  const box = await qr.boundingBox();
  expect(box!.width, "the QR code fills most of a phone's width").toBeGreaterThan(250);
  await expect(card.getByText("A구역 1열 1번", { exact: true })).toBeVisible();
  await expect(card.getByText("VIP", { exact: true })).toBeVisible();
  await expect(card.getByText("사용 가능")).toBeVisible();
  await expect(card.getByText(ticket.secret)).toBeVisible();
  await expectNoSeriousA11yViolations(page);
  await saveScreenshot(page, "wallet");

  // A fan is not door staff.
  await page.goto("/scan");
  await expect(page.getByRole("alert")).toContainText("입장 확인 직원과 관리자만");

  // The staff member, in another browser, scans the fan's code (typed: no camera here).
  const list = await checkinList(api, adminToken, concert.id, "정문");
  const staff = await staffMember(baseURL!, adminToken);
  const staffPage = await (await newContext()).newPage();
  const scanner = await openScanner(staffPage, staff, concert.id, list.id);
  await expect(scanner.status).toContainText(/대상 티켓\s*1/);
  await expect(scanner.status).toContainText(/입장한 티켓\s*0/);

  await scanner.enter(ticket.secret);
  await expect(scanner.result).toContainText("입장 허용");
  await expect(scanner.result).toContainText("A구역 1열 1번");
  await expect(scanner.result).toContainText("VIP");
  await expect(scanner.status).toContainText(/입장한 티켓\s*1/);
  await expect(scanner.status).toContainText(/현재 입장 중\s*1/);
  await expectNoSeriousA11yViolations(staffPage);
  await saveScreenshot(staffPage, "scanner-ok");

  // The same code again is refused, saying when and where it was used.
  await scanner.enter(ticket.secret);
  await expect(scanner.result).toContainText("입장 거부");
  await expect(scanner.result).toContainText("이미 입장한 티켓입니다");
  await expect(scanner.result).toContainText("정문");
  await expect(scanner.status).toContainText(/입장한 티켓\s*1/);
  await saveScreenshot(staffPage, "scanner-refused");

  // The wallet now shows the ticket used.
  await page.goto("/tickets");
  await expect(card.getByText("입장 완료").first()).toBeVisible();
});

test("offline, the scanner verifies with the downloaded key, queues the scans and uploads them when back online, showing the conflict", async ({
  fan,
  api,
  adminToken,
  baseURL,
  newContext,
}) => {
  const { concert, tickets } = await fanWithTickets(api, adminToken, fan, 3);
  const [first, second, cancelled] = [tickets[0]!, tickets[1]!, tickets[2]!];
  // The fan cancels one booking: its ticket is on the revocation list the scanner downloads.
  const cancel = await api.POST("/api/reservations/cancel", {
    headers: bearer(fan.session.token),
    body: { reservationId: cancelled.reservationId },
  });
  expect(cancel.response.status).toBe(200);
  const list = await checkinList(api, adminToken, concert.id, "후문");
  const staff = await staffMember(baseURL!, adminToken);
  const context = await newContext();
  const page = await context.newPage();
  const scanner = await openScanner(page, staff, concert.id, list.id);
  await expect(scanner.offline).toContainText("무효 티켓 1개");

  await context.setOffline(true);
  await expect(page.getByText("오프라인", { exact: true })).toBeVisible();
  // Meanwhile another gate, online, lets the second ticket in.
  const elsewhere = await api.POST("/api/checkin/redeem", {
    headers: bearer(adminToken),
    body: { secret: second.secret, listId: list.id, type: "entry", nonce: `other-gate-${second.id}` },
  });
  expect(elsewhere.response.status).toBe(201);

  await scanner.enter(first.secret);
  await expect(scanner.result).toContainText("입장 허용");
  await expect(scanner.result).toContainText("A구역 1열 1번");
  await expect(scanner.result).toContainText("오프라인으로 이 기기에서 확인했습니다");
  await expect(scanner.offline).toContainText("업로드 대기 1건");

  // This device remembers what it let in.
  await scanner.enter(first.secret);
  await expect(scanner.result).toContainText("이미 입장한 티켓입니다");
  // A code altered by one character fails the signature check.
  const forged = first.secret.slice(0, 20) + (first.secret[20] === "A" ? "B" : "A") + first.secret.slice(21);
  await scanner.enter(forged);
  await expect(scanner.result).toContainText("유효하지 않은 티켓입니다");
  await scanner.enter(cancelled.secret);
  await expect(scanner.result).toContainText("무효화된 티켓입니다");
  await expect(scanner.result).toContainText("A구역 1열 3번");

  // The device cannot know about the other gate: it admits the second ticket too.
  await scanner.enter(second.secret);
  await expect(scanner.result).toContainText("입장 허용");
  await expect(scanner.offline).toContainText("업로드 대기 2건");

  await context.setOffline(false);
  await expect(scanner.offline).toContainText("오프라인 스캔 2건을 올렸습니다.");
  await expect(scanner.offline).toContainText("업로드 대기 중인 스캔이 없습니다.");
  const conflicts = page.getByRole("alert").filter({ hasText: "충돌 1건" });
  await expect(conflicts).toContainText(`티켓 #${second.id}`);
  await expect(conflicts).toContainText("이미 입장한 티켓입니다");
  await expect(scanner.status).toContainText(/입장한 티켓\s*2/);
});

test("staff undo the last admission: the ticket is out again and can enter once more", async ({
  fan,
  api,
  adminToken,
  baseURL,
  newContext,
}) => {
  const { concert, tickets } = await fanWithTickets(api, adminToken, fan, 1);
  const list = await checkinList(api, adminToken, concert.id, "VIP 입구");
  const staff = await staffMember(baseURL!, adminToken);
  const page = await (await newContext()).newPage();
  const scanner = await openScanner(page, staff, concert.id, list.id);

  await scanner.enter(tickets[0]!.secret);
  await expect(scanner.result).toContainText("입장 허용");
  await expect(scanner.status).toContainText(/입장한 티켓\s*1/);
  await page.getByRole("button", { name: "방금 스캔 되돌리기" }).click();
  await expect(scanner.result).toContainText("방금 스캔을 되돌렸습니다.");
  await expect(scanner.status).toContainText(/입장한 티켓\s*0/);
  await expect(page.getByRole("button", { name: "방금 스캔 되돌리기" })).toHaveCount(0);

  await scanner.enter(tickets[0]!.secret);
  await expect(scanner.result).toContainText("입장 허용");
  await expect(scanner.status).toContainText(/입장한 티켓\s*1/);
});

test.describe("when the server cannot be reached", () => {
  // The redeem calls this test cuts off are logged by Chromium as failed requests.
  test.use({ allowedConsoleErrors: [/ERR_CONNECTION_REFUSED|Failed to fetch/] });

  test("the scanner decides on the device although the browser is online, and uploads later", async ({
    fan,
    api,
    adminToken,
    baseURL,
    newContext,
  }) => {
    const { concert, tickets } = await fanWithTickets(api, adminToken, fan, 1);
    const list = await checkinList(api, adminToken, concert.id, "남문");
    const staff = await staffMember(baseURL!, adminToken);
    const page = await (await newContext()).newPage();
    const scanner = await openScanner(page, staff, concert.id, list.id);

    await page.route("**/api/checkin/redeem", (route) => route.abort("connectionrefused"));
    await scanner.enter(tickets[0]!.secret);
    await expect(scanner.result).toContainText("입장 허용");
    await expect(scanner.result).toContainText("서버에 연결할 수 없어 이 기기에서 확인했습니다.");
    await expect(scanner.offline).toContainText("업로드 대기 1건");
    await expect(scanner.status).toContainText(/입장한 티켓\s*0/);

    // The scanner tries again by itself every 10 s while something waits.
    await page.unroute("**/api/checkin/redeem");
    await expect(scanner.offline).toContainText("오프라인 스캔 1건을 올렸습니다.", { timeout: 15_000 });
    await expect(scanner.offline).toContainText("업로드 대기 중인 스캔이 없습니다.");
    await expect(page.getByText(/충돌 \d+건/)).toHaveCount(0);
    await expect(scanner.status).toContainText(/입장한 티켓\s*1/);
  });
});
