// Pure formatting of money, dates and countdowns for both languages. Concerts happen in Seoul,
// so dates show Seoul time whatever the browser's zone.
import type { Lang } from "./i18n";

const SEOUL = "Asia/Seoul";

/** `150,000원` in Korean, `₩150,000` in English; cents only when there are some. */
export function formatMoney(amount: number, lang: Lang): string {
  const whole = Number.isInteger(amount);
  const digits = { minimumFractionDigits: whole ? 0 : 2, maximumFractionDigits: 2 };
  if (lang === "ko") return `${new Intl.NumberFormat("ko-KR", digits).format(amount)}원`;
  return new Intl.NumberFormat("en-US", { style: "currency", currency: "KRW", ...digits }).format(amount);
}

const dateFormats = new Map<string, Intl.DateTimeFormat>();

function dateFormat(lang: Lang, withWeekday: boolean): Intl.DateTimeFormat {
  const key = `${lang}:${withWeekday}`;
  let format = dateFormats.get(key);
  if (!format) {
    format = new Intl.DateTimeFormat(lang === "ko" ? "ko-KR" : "en-US", {
      timeZone: SEOUL,
      year: "numeric",
      month: "short",
      day: "numeric",
      weekday: withWeekday ? "short" : undefined,
      hour: "2-digit",
      minute: "2-digit",
      hourCycle: "h23",
    });
    dateFormats.set(key, format);
  }
  return format;
}

/** A timestamp (RFC 3339) as a Seoul date and time. */
export function formatDateTime(iso: string, lang: Lang, withWeekday = false): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return dateFormat(lang, withWeekday).format(date);
}

const pad = (n: number) => String(n).padStart(2, "0");

/**
 * A remaining duration as a clock: `mm:ss` under an hour, `hh:mm:ss` under a day, and the days
 * in front beyond (`3일 04:05:06` / `3d 04:05:06`). Negative durations read as zero.
 */
export function formatCountdown(ms: number, lang: Lang): string {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const days = Math.floor(total / 86400);
  const hours = Math.floor((total % 86400) / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = total % 60;
  if (days > 0) {
    const hms = `${pad(hours)}:${pad(minutes)}:${pad(seconds)}`;
    return lang === "ko" ? `${days}일 ${hms}` : `${days}d ${hms}`;
  }
  if (hours > 0) return `${pad(hours)}:${pad(minutes)}:${pad(seconds)}`;
  return `${pad(minutes)}:${pad(seconds)}`;
}

/** A wait in seconds in words: `약 3분` / `about 3 min`, `1분 미만` / `under a minute`. */
export function formatWait(seconds: number, lang: Lang): string {
  if (seconds < 60) return lang === "ko" ? "1분 미만" : "under a minute";
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return lang === "ko" ? `약 ${minutes}분` : `about ${minutes} min`;
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  if (lang === "ko") return rest ? `약 ${hours}시간 ${rest}분` : `약 ${hours}시간`;
  return rest ? `about ${hours} h ${rest} min` : `about ${hours} h`;
}

export type SalePhase = "upcoming" | "open" | "closed";

/** Where the sale window stands at `now` (ms): before `openTime`, in it, or after `closeTime`. */
export function salePhase(openTime: string, closeTime: string, now: number): SalePhase {
  if (now < Date.parse(openTime)) return "upcoming";
  if (now < Date.parse(closeTime)) return "open";
  return "closed";
}

/** Cancellation is allowed for a confirmed booking until two hours before the show. */
export const CANCEL_DEADLINE_MS = 2 * 60 * 60 * 1000;

export function canCancel(status: string, concertDate: string, now: number): boolean {
  return status === "CONFIRMED" && now < Date.parse(concertDate) - CANCEL_DEADLINE_MS;
}
