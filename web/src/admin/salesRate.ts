// Seats sold per minute, from the SOLD counts the overview sees over time (the API keeps no
// confirmation time per reservation).

export interface Sample {
  /** Milliseconds since the epoch. */
  at: number;
  sold: number;
}

/** How long samples are kept. */
export const KEEP_MS = 10 * 60_000;

/** Adds a sample, dropping those older than `KEEP_MS` before it. */
export function addSample(samples: readonly Sample[], next: Sample): Sample[] {
  return [...samples.filter((s) => next.at - s.at <= KEEP_MS && s.at < next.at), next];
}

/**
 * Seats sold per minute over the last `windowMs` (or over what has been seen, if less), or
 * null until at least `minSpanMs` has been observed. Refunds can make the count fall; the
 * rate is then negative, which is what happened.
 */
export function soldPerMinute(
  samples: readonly Sample[],
  windowMs = 60_000,
  minSpanMs = 10_000,
): number | null {
  const last = samples[samples.length - 1];
  if (!last) return null;
  const first = samples.find((s) => last.at - s.at <= windowMs);
  if (!first || last.at - first.at < minSpanMs) return null;
  return ((last.sold - first.sold) * 60_000) / (last.at - first.at);
}
