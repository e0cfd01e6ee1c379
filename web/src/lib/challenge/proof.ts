// The bot check before signup and before joining a waiting room: ask the server for a
// challenge (`POST /api/challenge`); when it asks for work (difficulty above 0), solve it in a
// Web Worker so the page stays responsive, and return the `X-Challenge` header value for the
// request it guards. About a second of one core in a browser; see README.
import { api, unwrap, type Schemas } from "../api/client";
import { solve } from "./solver";

export type ChallengeRequest = Schemas["ChallengeRequest"];

/** Finds the solution in a worker (on the page's thread where workers are unavailable). */
export function solveInWorker(challenge: string, difficulty: number): Promise<string> {
  if (typeof Worker === "undefined") return Promise.resolve(solve(challenge, difficulty));
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL("./worker.ts", import.meta.url), { type: "module" });
    worker.onmessage = (e: MessageEvent<{ solution: string }>) => {
      worker.terminate();
      resolve(e.data.solution);
    };
    worker.onerror = (e) => {
      worker.terminate();
      reject(new Error(e.message || "challenge worker failed"));
    };
    worker.postMessage({ challenge, difficulty });
  });
}

/**
 * The `X-Challenge` header for a request that `request` describes, or `undefined` when the
 * server asks for no work. `onChecking(true)` fires while the work runs (to show it).
 */
export async function proveHuman(
  request: ChallengeRequest,
  onChecking?: (checking: boolean) => void,
): Promise<Record<string, string>> {
  const issued = await unwrap(api.POST("/api/challenge", { body: request }));
  if (issued.difficulty === 0) return {};
  onChecking?.(true);
  try {
    const solution = await solveInWorker(issued.challenge, issued.difficulty);
    return { "X-Challenge": `${issued.challenge};${solution}` };
  } finally {
    onChecking?.(false);
  }
}
