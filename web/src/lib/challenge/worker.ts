// The Web Worker that solves a challenge off the page's thread: one message in
// (`{ challenge, difficulty }`), one out (`{ solution }`).
import { solve } from "./solver";

interface WorkerScope {
  onmessage: ((e: MessageEvent<{ challenge: string; difficulty: number }>) => void) | null;
  postMessage(message: { solution: string }): void;
}

const scope = self as unknown as WorkerScope;
scope.onmessage = (e) => {
  scope.postMessage({ solution: solve(e.data.challenge, e.data.difficulty) });
};
