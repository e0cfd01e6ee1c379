// The waiting room's size is not in the REST API for admins; the service exports it as the
// Prometheus gauges `ticketing_queue_waiting{concert}` and `ticketing_queue_active{concert}`,
// refreshed from Redis at every admission tick on every instance. This reads them.

export interface QueueGauges {
  waiting: number | null;
  active: number | null;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** The value of `name` whose labels include every pair of `labels`, or null. */
export function metricValue(
  text: string,
  name: string,
  labels: Record<string, string>,
): number | null {
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) continue;
    const match = LINE.exec(line);
    if (!match || match[1] !== name) continue;
    const found: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? "").matchAll(LABEL)) found[key!] = value!;
    if (Object.entries(labels).every(([key, value]) => found[key] === value)) {
      const value = Number(match[3]);
      return Number.isNaN(value) ? null : value;
    }
  }
  return null;
}

export function queueGauges(text: string, concertId: number): QueueGauges {
  const labels = { concert: String(concertId) };
  return {
    waiting: metricValue(text, "ticketing_queue_waiting", labels),
    active: metricValue(text, "ticketing_queue_active", labels),
  };
}

/** Whether an answer is Prometheus text at all (and not, say, an HTML page). */
export function isMetricsText(text: string): boolean {
  return /^# (HELP|TYPE) /m.test(text) && !/^\s*</.test(text);
}
