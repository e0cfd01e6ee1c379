// Concert times are shown and entered in Seoul time (UTC+9, no daylight saving), whatever the
// browser's zone. The service reads a timestamp without offset as Seoul time.

const SEOUL_OFFSET_MS = 9 * 60 * 60 * 1000;

/** The `datetime-local` value ("2026-12-25T19:00") of an RFC 3339 instant, in Seoul time. */
export function toSeoulInput(iso: string): string {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return "";
  return new Date(ms + SEOUL_OFFSET_MS).toISOString().slice(0, 16);
}

/** An RFC 3339 timestamp with the Seoul offset from a `datetime-local` value, or "" if empty. */
export function fromSeoulInput(value: string): string {
  const match = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2})(:\d{2})?/.exec(value);
  if (!match) return "";
  return `${match[1]}${match[2] ?? ":00"}+09:00`;
}

/** A readable Seoul time ("2026-12-25 19:00") of an RFC 3339 instant. */
export function formatSeoul(iso: string | null | undefined): string {
  if (!iso) return "";
  const input = toSeoulInput(iso);
  return input ? input.replace("T", " ") : iso;
}
