// The wallet's strings (Korean first), added to the app's table when the wallet loads.
import { registerMessages } from "../../lib/i18n";

export const ko = {
  "tickets.title": "내 티켓",
  "tickets.lead": "입장할 때 이 QR 코드를 보여 주세요. 화면 밝기를 높이면 더 빨리 읽힙니다.",
  "tickets.empty": "아직 티켓이 없습니다. 예매가 확정되면 여기에 티켓이 나타납니다.",
  "tickets.more": "이전 티켓 더 보기",
  "tickets.qr": "{seat} 티켓 QR 코드",
  "tickets.qrLoading": "QR 코드 불러오는 중…",
  "tickets.qrFailed": "QR 코드를 불러오지 못했습니다. 아래 티켓 코드를 보여 주세요.",
  "tickets.seat": "좌석",
  "tickets.grade": "등급",
  "tickets.code": "티켓 코드",
  "tickets.copy": "코드 복사",
  "tickets.copied": "복사했습니다",
  "tickets.issuedAt": "발급",
  "tickets.usedNote": "입장 처리된 티켓입니다.",
  "tickets.revokedNote": "취소되어 더는 쓸 수 없는 티켓입니다.",
  "tickets.status.VALID": "사용 가능",
  "tickets.status.USED": "입장 완료",
  "tickets.status.REVOKED": "무효",
} as const;

export const en: Record<keyof typeof ko, string> = {
  "tickets.title": "My tickets",
  "tickets.lead": "Show this QR code at the door. Turning up the screen brightness helps it scan faster.",
  "tickets.empty": "No tickets yet. Once a booking is confirmed, its tickets appear here.",
  "tickets.more": "Show older tickets",
  "tickets.qr": "QR code of the ticket for {seat}",
  "tickets.qrLoading": "Loading the QR code…",
  "tickets.qrFailed": "The QR code could not be loaded. Show the ticket code below instead.",
  "tickets.seat": "Seat",
  "tickets.grade": "Grade",
  "tickets.code": "Ticket code",
  "tickets.copy": "Copy code",
  "tickets.copied": "Copied",
  "tickets.issuedAt": "Issued",
  "tickets.usedNote": "This ticket has been checked in.",
  "tickets.revokedNote": "This ticket was cancelled and can no longer be used.",
  "tickets.status.VALID": "Valid",
  "tickets.status.USED": "Used",
  "tickets.status.REVOKED": "Revoked",
};

registerMessages({ ko, en });
