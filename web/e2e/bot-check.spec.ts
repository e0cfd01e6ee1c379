// Issue 15: a concert that asks for a bot check before its waiting room. The fan's browser
// fetches a challenge, solves it in a Web Worker and joins the line with the answer; the
// server refuses a join without one. Low difficulty here for speed; the proof of work is the
// same at the recommended one.
import { search } from "../src/lib/challenge/solver";
import { expect, expectNoSeriousA11yViolations, signUpFan, test } from "./fixtures";
import { bearer, createConcert, signInAs, untilAdmitted } from "./helpers";

const DIFFICULTY = 12;

test.use({
  // Before joining, the app asks for the fan's place and the API answers 404 QUEUE_NOT_JOINED.
  allowedConsoleErrors: [/status of 404 .*\/api\/queue\/\d+\/status/],
});

test("a fan's browser solves the concert's bot check and joins its waiting room", async ({
  page,
  api,
  adminToken,
  fan,
  baseURL,
}) => {
  const concert = await createConcert(api, adminToken, { queueEnabled: true, challengeDifficulty: DIFFICULTY });
  expect(concert.challengeDifficulty).toBe(DIFFICULTY);

  // Without an answer the server refuses; someone ahead solves one (the same solver, in Node)
  // and is admitted first, so that our fan waits in line.
  const ahead = await signUpFan(baseURL!);
  const aheadAuth = bearer(ahead.session.token);
  const refused = await api.POST("/api/queue", { headers: aheadAuth, body: { concertId: concert.id } });
  expect(refused.response.status).toBe(428);
  expect(refused.error?.code).toBe("CHALLENGE_REQUIRED");
  const issued = await api.POST("/api/challenge", { body: { purpose: "QUEUE", concertId: concert.id } });
  const { challenge, difficulty } = issued.data!;
  expect(difficulty).toBe(DIFFICULTY);
  const solution = search(challenge, difficulty)!;
  const joined = await api.POST("/api/queue", {
    headers: aheadAuth,
    body: { concertId: concert.id },
    params: { header: { "X-Challenge": `${challenge};${solution}` } },
  });
  expect(joined.response.ok).toBe(true);
  await untilAdmitted(api, aheadAuth, concert.id);

  await signInAs(page, fan);
  await page.goto(`/concerts/${concert.id}`);
  await expect(page.getByRole("heading", { level: 1, name: concert.title })).toBeVisible();
  const room = page.getByRole("region", { name: "대기열" });
  const join = page.waitForRequest((r) => r.method() === "POST" && new URL(r.url()).pathname === "/api/queue");
  await room.getByRole("button", { name: "대기열 참여하기" }).click();
  // The browser solved the challenge before joining: the join carried a valid answer.
  const sent = (await join).headers()["x-challenge"] ?? "";
  const [sentChallenge, sentSolution] = sent.split(";");
  expect(sentChallenge).toMatch(new RegExp(`^v1\\.QUEUE\\.${concert.id}\\.${DIFFICULTY}\\.`));
  expect(search(sentChallenge!, DIFFICULTY, Number(sentSolution), 1)).toBe(sentSolution);
  await expect(room.getByText("1번째")).toBeVisible();
  await expectNoSeriousA11yViolations(page);

  const { data: place } = await api.GET("/api/queue/{concertId}/status", {
    headers: bearer(fan.session.token),
    params: { path: { concertId: concert.id } },
  });
  expect(place?.position).toBe(1);
});
