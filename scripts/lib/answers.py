"""Walks a purchase and the waiting room against a running app and writes what it answered as
TypeScript: each answer `satisfies` the body the generated client (web/src/lib/api/schema.d.ts)
declares for that operation and status, so `tsc` checks real answers against the document."""

import hashlib
import hmac
import json
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone

BASE, ADMIN, OUT = sys.argv[1], sys.argv[2], sys.argv[3]
SECRET = b"dev-only-webhook-secret"
answers = []


def call(op, status, method, path, token=None, body=None, headers=None, raw=None):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(BASE + path, data=data, method=method)
    if data is not None:
        req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", "Bearer " + token)
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req) as res:
            code, text = res.status, res.read()
    except urllib.error.HTTPError as e:
        code, text = e.code, e.read()
    assert code == status, f"{method} {path}: {code} {text[:300]!r}, expected {status}"
    value = json.loads(text) if text else None
    if value is not None:
        answers.append((op, status, value))
    return value


def at(days=0, hours=0):
    return (datetime.now(timezone.utc) + timedelta(days=days, hours=hours)).isoformat()


concert = {"title": "Contract", "venue": "Hall", "openTime": at(hours=-1),
           "closeTime": at(days=30), "concertDate": at(days=31)}
fan = call("sign_up", 201, "POST", "/api/user/signup",
           body={"username": "ts-fan", "email": "ts.fan@example.com", "password": "password123"})
token = fan["token"]
call("log_in", 200, "POST", "/api/user/login",
     body={"email": "ts.fan@example.com", "password": "password123"})
call("refresh_token", 200, "POST", "/api/user/refresh", body={"refreshToken": fan["refreshToken"]})
call("get_me", 200, "GET", "/api/user/me", token)
c = call("create_concert", 201, "POST", "/api/concert", ADMIN, concert)
seats = call("create_seats", 201, "POST", "/api/seat/batch", ADMIN, [
    {"concertId": c["id"], "section": "A", "row": "1", "number": str(n), "grade": "VIP",
     "price": 150000} for n in range(1, 5)])
call("list_concerts", 200, "GET", "/api/concert?size=5")
call("get_concert", 200, "GET", f"/api/concert/{c['id']}")
call("update_concert", 200, "PUT", f"/api/concert/{c['id']}", ADMIN, concert)
call("list_seats", 200, "GET", f"/api/seat/concert/{c['id']}")
call("get_seat_map", 200, "GET", f"/api/seat/concert/{c['id']}/seat-map")
call("get_seat_layout", 200, "GET", f"/api/seat/concert/{c['id']}/layout")
call("list_seats_by_grade", 200, "GET", f"/api/seat/concert/{c['id']}/seats?grade=VIP")
call("get_seat", 200, "GET", f"/api/seat/{seats[0]['id']}")
call("update_seat", 200, "PUT", f"/api/seat/{seats[3]['id']}", ADMIN,
     {"section": "B", "row": "1", "number": "1", "grade": "R", "price": 99000.5})
call("select_seat", 200, "POST", f"/api/seat/{seats[0]['id']}/select", token)
call("select_seats", 200, "POST", "/api/seat/select", token,
     {"seatIds": [seats[1]["id"], seats[2]["id"]]}, {"idempotency-key": "ts-hold-1"})
call("release_seat", 204, "DELETE", f"/api/seat/{seats[2]['id']}/select", token)
call("get_seat_availability", 200, "GET", f"/api/seat/concert/{c['id']}/availability")
pay = call("create_payment", 200, "POST", "/api/payment", token,
           {"seatIds": [seats[0]["id"], seats[1]["id"]], "paymentMethod": "CREDIT_CARD"})
call("get_payment", 200, "GET", f"/api/payment/{pay['transactionId']}", token)
event = json.dumps({"eventId": "evt_ts_1", "transactionId": pay["transactionId"],
                    "status": "SUCCESS", "amount": pay["amount"], "currency": "KRW"}).encode()
t = int(time.time())
sig = hmac.new(SECRET, f"{t}.".encode() + event, hashlib.sha256).hexdigest()
call("receive_webhook", 200, "POST", "/api/payment/webhook",
     headers={"x-payment-signature": f"t={t},v1={sig}"}, raw=event)
call("get_reservation", 200, "GET", f"/api/reservations/{pay['reservationId']}", token)
call("list_my_reservations", 200, "GET", "/api/reservations/my", token)
call("list_all_reservations", 200, "GET", "/api/reservations/admin/all", ADMIN)
call("list_concert_reservations", 200, "GET", f"/api/reservations/admin/concert/{c['id']}", ADMIN)
call("cancel_reservation", 200, "POST", "/api/reservations/cancel", token,
     {"reservationId": pay["reservationId"], "cancelReason": "plans changed"})
q = call("create_concert", 201, "POST", "/api/concert", ADMIN, {**concert, "queueEnabled": True})
call("join_queue", 200, "POST", "/api/queue", token, {"concertId": q["id"]})
call("get_queue_status", 200, "GET", f"/api/queue/{q['id']}/status", token)
call("create_stream_ticket", 200, "POST", f"/api/queue/{q['id']}/stream-ticket", token)
call("get_concert", 404, "GET", "/api/concert/987654321")
call("create_concert", 400, "POST", "/api/concert", ADMIN, {"title": ""})
call("get_health", 200, "GET", "/actuator/health")
call("get_liveness", 200, "GET", "/health/live")

lines = [
    "// Written by scripts/lib/answers.py: real answers of a running app. Do not edit.",
    'import type { operations } from "../src/lib/api/schema";',
    "type Json<O extends keyof operations, S extends keyof operations[O][\"responses\"]> =",
    "  operations[O][\"responses\"][S] extends { content: { \"application/json\": infer B } } ? B : never;",
]
for i, (op, status, value) in enumerate(answers):
    lines.append(f"export const answer{i} = {json.dumps(value, ensure_ascii=False)} "
                 f"satisfies Json<\"{op}\", {status}>;")
with open(OUT, "w") as f:
    f.write("\n".join(lines) + "\n")
print(f"{len(answers)} answers written", file=sys.stderr)
