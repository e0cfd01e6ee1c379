// Words of the map in Korean and English, and how a seat is read out.
import { AVAILABLE, HELD, RESERVED, SOLD } from "./availability";
import type { SeatLayout } from "./geometry";

export type Lang = "ko" | "en";

const NUMBER_LOCALE: Record<Lang, string> = { ko: "ko-KR", en: "en-US" };
const numberFormats = new Map<Lang, Intl.NumberFormat>();

/** A price in won: "150,000원" in Korean, "₩150,000" in English. */
export function formatPrice(price: number, lang: Lang): string {
  let format = numberFormats.get(lang);
  if (!format) {
    format =
      lang === "ko"
        ? new Intl.NumberFormat(NUMBER_LOCALE.ko, { maximumFractionDigits: 0 })
        : new Intl.NumberFormat(NUMBER_LOCALE.en, { style: "currency", currency: "KRW" });
    numberFormats.set(lang, format);
  }
  return lang === "ko" ? `${format.format(price)}원` : format.format(price);
}

export function formatCount(n: number, lang: Lang): string {
  return new Intl.NumberFormat(NUMBER_LOCALE[lang]).format(n);
}

export const TEXT = {
  ko: {
    map: "좌석 배치도",
    mapRole: "좌석 배치도",
    help:
      "화살표 키로 좌석을 옮겨 다니고 Enter 또는 Space로 선택하거나 해제합니다. Shift+화살표로 지도를 움직이고 + 와 - 로 확대·축소, 0으로 전체 보기. 마우스: 끌어서 이동, 휠로 확대·축소, Shift+휠로 이동.",
    zoomIn: "확대",
    zoomOut: "축소",
    fit: "전체 보기",
    fitShort: "전체",
    legend: "범례",
    loading: "좌석 배치를 불러오는 중…",
    loadingStates: "좌석 현황을 불러오는 중입니다",
    loadError: "좌석 정보를 불러오지 못했습니다",
    taken: "이미 선택된 좌석입니다",
    sold: "이미 판매된 좌석입니다",
    max: (n: number) => `최대 ${n}석까지 선택할 수 있습니다`,
    state: {
      [AVAILABLE]: "선택 가능",
      [HELD]: "다른 사람이 선택 중",
      [RESERVED]: "예약됨",
      [SOLD]: "판매 완료",
    } as Record<number, string>,
    legendState: {
      [HELD]: "선택 중",
      [RESERVED]: "예약됨",
      [SOLD]: "판매 완료",
    } as Record<number, string>,
    mine: "내가 선택한 좌석",
    unknown: "상태 확인 중",
    seat: (section: string, row: string, number: string) => `${section}구역 ${row}열 ${number}번`,
    summary: (total: string, parts: string[]) => `전체 ${total}석: ${parts.join(", ")}`,
    countPart: (label: string, n: string) => `${label} ${n}석`,
    selectedCount: (n: number, max: number) => `선택 ${n} / ${max}석`,
  },
  en: {
    map: "Seat map",
    mapRole: "seat map",
    help:
      "Arrow keys move between seats; Enter or Space picks or releases one. Shift+arrows move the map, + and - zoom, 0 fits it. Mouse: drag to move, wheel to zoom, Shift+wheel to move.",
    zoomIn: "Zoom in",
    zoomOut: "Zoom out",
    fit: "Fit the whole map",
    fitShort: "Fit",
    legend: "Legend",
    loading: "Loading the seat map…",
    loadingStates: "Seat availability is still loading",
    loadError: "Could not load the seats",
    taken: "Someone else has this seat",
    sold: "This seat is already sold",
    max: (n: number) => `You can pick up to ${n} seat${n === 1 ? "" : "s"}`,
    state: {
      [AVAILABLE]: "available",
      [HELD]: "held by someone else",
      [RESERVED]: "reserved",
      [SOLD]: "sold",
    } as Record<number, string>,
    legendState: {
      [HELD]: "Held",
      [RESERVED]: "Reserved",
      [SOLD]: "Sold",
    } as Record<number, string>,
    mine: "Your pick",
    unknown: "checking",
    seat: (section: string, row: string, number: string) => `Section ${section}, row ${row}, seat ${number}`,
    summary: (total: string, parts: string[]) => `${total} seats: ${parts.join(", ")}`,
    countPart: (label: string, n: string) => `${n} ${label}`,
    selectedCount: (n: number, max: number) => `Picked ${n} of ${max}`,
  },
} as const;

/** "A구역 3열 12번, VIP, 150,000원, 선택 가능" / "Section A, row 3, seat 12, VIP, ₩150,000, available". */
export function describeSeat(
  layout: SeatLayout,
  i: number,
  state: number | undefined,
  mine: boolean,
  lang: Lang,
): string {
  const t = TEXT[lang];
  const section = layout.section.values[layout.section.index[i] ?? 0] ?? "";
  const row = layout.row.values[layout.row.index[i] ?? 0] ?? "";
  const grade = layout.grade.values[layout.grade.index[i] ?? 0] ?? "";
  const price = layout.price.values[layout.price.index[i] ?? 0] ?? 0;
  const status = mine ? t.mine : state === undefined ? t.unknown : (t.state[state] ?? t.unknown);
  return `${t.seat(section, row, layout.number[i] ?? "")}, ${grade}, ${formatPrice(price, lang)}, ${status}`;
}

export interface GradeEntry {
  grade: string;
  /** Index in `layout.grade.values`. */
  index: number;
  minPrice: number;
  maxPrice: number;
}

/** Every grade with its price range, dearest first. */
export function gradeEntries(layout: SeatLayout): GradeEntry[] {
  const entries: GradeEntry[] = layout.grade.values.map((grade, index) => ({
    grade,
    index,
    minPrice: Infinity,
    maxPrice: -Infinity,
  }));
  for (let i = 0; i < layout.grade.index.length; i++) {
    const e = entries[layout.grade.index[i] ?? 0];
    const price = layout.price.values[layout.price.index[i] ?? 0] ?? 0;
    if (!e) continue;
    e.minPrice = Math.min(e.minPrice, price);
    e.maxPrice = Math.max(e.maxPrice, price);
  }
  return entries.filter((e) => e.maxPrice >= e.minPrice).sort((a, b) => b.maxPrice - a.maxPrice || a.index - b.index);
}

export function formatPriceRange(e: GradeEntry, lang: Lang): string {
  return e.minPrice === e.maxPrice
    ? formatPrice(e.minPrice, lang)
    : `${formatPrice(e.minPrice, lang)}–${formatPrice(e.maxPrice, lang)}`;
}
