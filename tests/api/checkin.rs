//! Door check-in (issue 17): lists, redeeming a scanned secret exactly once per list (the
//! database decides, whatever the number of scanners), nonces, revocations, the list rules,
//! offline uploads, undo, live counts, roles, and offline verification with the public key.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{Duration, Utc};
use ed25519_dalek::VerifyingKey;
use reqwest::StatusCode;
use serde_json::{Value, json};
use ticketing::domain::ticket_secret;
use uuid::Uuid;

use crate::helpers::{TestApp, TestUser, error_body, event, spawn_app};

/// Signs up a user, makes them door staff, and signs them in again with the new role.
async fn staff_member(app: &TestApp, admin: &str) -> TestUser {
    let mut staff = app.signup().await;
    let id = app.user_id(&staff.email).await;
    let res = app
        .put(&format!("/api/admin/users/{id}/role"), Some(admin), json!({"role": "STAFF"}))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = app.login(&staff.email, &staff.password).await.json().await.unwrap();
    assert_eq!(body["role"], "STAFF");
    staff.token = body["token"].as_str().unwrap().to_owned();
    staff
}

/// Buys `seats` as `token` through checkout and a SUCCESS webhook; returns the reservation.
async fn buy(app: &TestApp, token: &str, seats: &[i64]) -> i64 {
    let started = app.start_checkout(token, seats).await;
    let res = app.webhook(&event(&started.transaction, "SUCCESS", started.amount)).await;
    assert_eq!(res.status(), StatusCode::OK);
    started.reservation
}

async fn my_tickets(app: &TestApp, token: &str) -> Vec<Value> {
    let res = app.get("/api/tickets/my", Some(token)).await;
    assert_eq!(res.status(), StatusCode::OK);
    res.json::<Value>().await.unwrap().as_array().unwrap().clone()
}

/// A list of the concert with these rules (and grades, when given); returns its id.
async fn new_list(app: &TestApp, admin: &str, concert: i64, rules: Value) -> i64 {
    let mut body =
        json!({"name": "정문", "allowMultipleEntries": false, "allowEntryAfterExit": false});
    for (k, v) in rules.as_object().unwrap() {
        body[k] = v.clone();
    }
    let res = app.post(&format!("/api/concert/{concert}/checkin-lists"), Some(admin), body).await;
    assert_eq!(res.status(), StatusCode::CREATED, "create list");
    res.json::<Value>().await.unwrap()["id"].as_i64().unwrap()
}

fn scan_body(secret: &str, list: i64, scan_type: &str) -> Value {
    json!({"secret": secret, "listId": list, "type": scan_type, "nonce": Uuid::new_v4().to_string()})
}

/// Posts a redeem; its status and body.
async fn redeem(app: &TestApp, token: &str, body: Value) -> (StatusCode, Value) {
    let res = app.post("/api/checkin/redeem", Some(token), body).await;
    let status = res.status();
    (status, res.json().await.unwrap())
}

/// A scan that must be recorded; its check-in id.
async fn admitted(app: &TestApp, token: &str, body: Value) -> i64 {
    let (status, answer) = redeem(app, token, body).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    assert_eq!(answer["status"], "ok", "{answer}");
    answer["checkinId"].as_i64().unwrap()
}

/// A scan that must be refused for `reason` (200); the answer.
async fn refused(app: &TestApp, token: &str, body: Value, reason: &str) -> Value {
    let (status, answer) = redeem(app, token, body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["status"], "error", "{answer}");
    assert_eq!(answer["reason"], reason, "{answer}");
    answer
}

async fn checkins_of(app: &TestApp, ticket: i64) -> i64 {
    sqlx::query_scalar("select count(*) from checkins where ticket_id = $1")
        .bind(ticket)
        .fetch_one(&app.db)
        .await
        .unwrap()
}

/// A concert on sale with `n` seats, its admin, a staff member and a fan who bought them all;
/// the fan's tickets, oldest first.
struct Door {
    app: TestApp,
    admin: String,
    staff: TestUser,
    fan: TestUser,
    concert: i64,
    seats: Vec<i64>,
    tickets: Vec<Value>,
}

async fn door(n: usize) -> Door {
    let app = spawn_app().await;
    let (admin, concert, seats) = app.concert_on_sale(n).await;
    let staff = staff_member(&app, &admin).await;
    let fan = app.signup().await;
    buy(&app, &fan.token, &seats).await;
    let mut tickets = my_tickets(&app, &fan.token).await;
    tickets.reverse();
    assert_eq!(tickets.len(), n);
    Door { app, admin, staff, fan, concert, seats, tickets }
}

fn secret(ticket: &Value) -> &str {
    ticket["secret"].as_str().unwrap()
}

#[tokio::test]
async fn fifty_simultaneous_redeems_of_one_ticket_admit_it_exactly_once() {
    let d = door(1).await;
    let list = new_list(&d.app, &d.admin, d.concert, json!({})).await;
    let ticket = &d.tickets[0];
    // Fifty scanners, each its own client and connection, all at once.
    let url = d.app.url("/api/checkin/redeem");
    let answers = futures::future::join_all((0..50).map(|_| {
        let client = reqwest::Client::new();
        let body = scan_body(secret(ticket), list, "entry");
        let (url, token) = (url.clone(), d.staff.token.clone());
        async move {
            let res = client.post(url).bearer_auth(token).json(&body).send().await.unwrap();
            (res.status(), res.json::<Value>().await.unwrap())
        }
    }))
    .await;
    let ok: Vec<_> = answers.iter().filter(|(s, _)| *s == StatusCode::CREATED).collect();
    assert_eq!(ok.len(), 1, "exactly one ok: {answers:#?}");
    for (status, answer) in answers.iter().filter(|(s, _)| *s != StatusCode::CREATED) {
        assert_eq!(*status, StatusCode::OK, "{answer}");
        assert_eq!(answer["reason"], "already_redeemed", "{answer}");
        assert!(answer["redeemedAt"].is_string(), "{answer}");
        assert_eq!(answer["redeemedListId"], list);
        assert_eq!(answer["ticket"]["id"], ticket["id"]);
    }
    let id = ticket["id"].as_i64().unwrap();
    assert_eq!(checkins_of(&d.app, id).await, 1);

    // The database itself refuses a second entry that counts on a single-entry list.
    let second = sqlx::query(
        "insert into checkins (list_id, ticket_id, type, single_entry, scanned_at, staff_id)
         select list_id, ticket_id, 'entry', true, now(), staff_id from checkins where ticket_id = $1",
    )
    .bind(id)
    .execute(&d.app.db)
    .await
    .unwrap_err();
    let constraint = second.as_database_error().and_then(|e| e.constraint()).map(str::to_owned);
    assert_eq!(constraint.as_deref(), Some("checkins_single_entry_uk"));

    // On a list that lets a ticket back in after an exit, simultaneous re-entries after an exit
    // still admit one (the per-ticket lock, not the index, decides there).
    let reentry = new_list(&d.app, &d.admin, d.concert, json!({"allowEntryAfterExit": true})).await;
    admitted(&d.app, &d.staff.token, scan_body(secret(ticket), reentry, "entry")).await;
    admitted(&d.app, &d.staff.token, scan_body(secret(ticket), reentry, "exit")).await;
    let app = &d.app;
    let answers = futures::future::join_all((0..20).map(|_| {
        let body = scan_body(secret(ticket), reentry, "entry");
        let token = d.staff.token.clone();
        async move { redeem(app, &token, body).await.0 }
    }))
    .await;
    let ok = answers.iter().filter(|s| **s == StatusCode::CREATED).count();
    assert_eq!(ok, 1, "one re-entry: {answers:?}");
    assert_eq!(checkins_of(&d.app, id).await, 1 + 3);
}

#[tokio::test]
async fn a_repeated_nonce_gets_the_first_answer_and_records_one_checkin() {
    let d = door(1).await;
    let list = new_list(&d.app, &d.admin, d.concert, json!({})).await;
    let ticket = &d.tickets[0];
    let id = ticket["id"].as_i64().unwrap();
    let first = scan_body(secret(ticket), list, "entry");
    let (status, answer) = redeem(&d.app, &d.staff.token, first.clone()).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(answer["forced"], false);
    assert_eq!(answer["conflict"], Value::Null);
    assert_eq!(answer["ticket"]["status"], "USED");
    let (again, replayed) = redeem(&d.app, &d.staff.token, first.clone()).await;
    assert_eq!(again, StatusCode::CREATED, "the same answer, not already_redeemed");
    assert_eq!(replayed, answer);
    assert_eq!(checkins_of(&d.app, id).await, 1);

    // A refusal is repeated as it was given, too.
    let second = scan_body(secret(ticket), list, "entry");
    let refusal = refused(&d.app, &d.staff.token, second.clone(), "already_redeemed").await;
    assert_eq!(refused(&d.app, &d.staff.token, second, "already_redeemed").await, refusal);

    // Ten simultaneous sends of one nonce: one exit, ten identical answers.
    let exit = scan_body(secret(ticket), list, "exit");
    let app = &d.app;
    let answers = futures::future::join_all((0..10).map(|_| {
        let (body, token) = (exit.clone(), d.staff.token.clone());
        async move { redeem(app, &token, body).await }
    }))
    .await;
    assert!(
        answers.iter().all(|a| a.0 == StatusCode::CREATED && a.1 == answers[0].1),
        "{answers:#?}"
    );
    assert_eq!(checkins_of(&d.app, id).await, 2);

    // The nonce names one scan: another secret or type with it is refused.
    let mut other = first.clone();
    other["type"] = json!("exit");
    let res = d.app.post("/api/checkin/redeem", Some(&d.staff.token), other).await;
    error_body(res, StatusCode::UNPROCESSABLE_ENTITY, "CHECKIN_NONCE_REUSED").await;
    // An invalid secret's answer is kept as well.
    let forged =
        json!({"secret": "A".repeat(140), "listId": list, "type": "entry", "nonce": "bad-1"});
    for _ in 0..2 {
        let (status, answer) = redeem(&d.app, &d.staff.token, forged.clone()).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(answer, json!({"status": "error", "reason": "invalid"}));
    }
    assert_eq!(checkins_of(&d.app, id).await, 2);
}

#[tokio::test]
async fn a_cancelled_bookings_ticket_is_refused_as_revoked_and_the_seat_sold_again_gets_in() {
    let app = spawn_app().await;
    let (admin, concert, seats) = app.concert_on_sale(1).await;
    let staff = staff_member(&app, &admin).await;
    let fan = app.signup().await;
    let reservation = buy(&app, &fan.token, &seats).await;
    let old = my_tickets(&app, &fan.token).await.remove(0);
    let list = new_list(&app, &admin, concert, json!({})).await;
    admitted(&app, &staff.token, scan_body(secret(&old), list, "entry")).await;

    let res = app
        .post(
            "/api/reservations/cancel",
            Some(&fan.token),
            json!({"reservationId": reservation, "cancelReason": "일정 변경"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    // Validity before duplicates: revoked, never "already in".
    let answer =
        refused(&app, &staff.token, scan_body(secret(&old), list, "entry"), "revoked").await;
    assert_eq!(answer["ticket"]["status"], "REVOKED");
    assert!(answer.get("redeemedAt").is_none(), "{answer}");

    // The seat sells again: the new secret gets in, the old one stays out.
    let buyer = app.signup().await;
    buy(&app, &buyer.token, &seats).await;
    let fresh = my_tickets(&app, &buyer.token).await.remove(0);
    assert_ne!(fresh["secret"], old["secret"]);
    admitted(&app, &staff.token, scan_body(secret(&fresh), list, "entry")).await;
    refused(&app, &staff.token, scan_body(secret(&old), list, "entry"), "revoked").await;
    refused(&app, &staff.token, scan_body(secret(&fresh), list, "entry"), "already_redeemed").await;

    // A cancelled concert admits nobody: its valid tickets are answered `canceled`.
    sqlx::query("update concert set status = 'CANCELLED' where id = $1")
        .bind(concert)
        .execute(&app.db)
        .await
        .unwrap();
    let exit = scan_body(secret(&fresh), list, "exit");
    let answer = refused(&app, &staff.token, exit, "canceled").await;
    assert_eq!(answer["ticket"]["status"], "USED");
}

#[tokio::test]
async fn a_ticket_of_another_grade_or_concert_or_a_forged_secret_is_refused() {
    let d = door(1).await;
    let ticket = &d.tickets[0];
    assert_eq!(ticket["grade"], "R");
    let vip = new_list(&d.app, &d.admin, d.concert, json!({"grades": ["VIP"]})).await;
    let answer =
        refused(&d.app, &d.staff.token, scan_body(secret(ticket), vip, "entry"), "wrong_list")
            .await;
    assert_eq!(answer["ticket"]["seatId"], d.seats[0], "staff see the seat");
    assert_eq!(answer["ticket"]["grade"], "R");
    let other_concert = d.app.create_concert(&d.admin).await["id"].as_i64().unwrap();
    let elsewhere = new_list(&d.app, &d.admin, other_concert, json!({})).await;
    refused(&d.app, &d.staff.token, scan_body(secret(ticket), elsewhere, "entry"), "wrong_concert")
        .await;
    // A list for R and VIP lets it in.
    let both = new_list(&d.app, &d.admin, d.concert, json!({"grades": ["VIP", "R"]})).await;
    admitted(&d.app, &d.staff.token, scan_body(secret(ticket), both, "entry")).await;

    // Not ours: a changed character, garbage, a well-formed secret signed by another key.
    let mut changed = secret(ticket).as_bytes().to_vec();
    changed[30] = if changed[30] == b'A' { b'B' } else { b'A' };
    let key = ticket_secret::generate_key();
    let claims = ticket_secret::decode_unverified(secret(ticket)).unwrap();
    let resigned = claims.sign(&key);
    for bad in [String::from_utf8(changed).unwrap(), "hello".to_owned(), resigned] {
        let (status, answer) = redeem(&d.app, &d.staff.token, scan_body(&bad, both, "entry")).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{bad}");
        assert_eq!(answer, json!({"status": "error", "reason": "invalid"}));
    }
    // An unknown list is the usual 404.
    let res = d
        .app
        .post(
            "/api/checkin/redeem",
            Some(&d.staff.token),
            scan_body(secret(ticket), 987654321, "entry"),
        )
        .await;
    error_body(res, StatusCode::NOT_FOUND, "CHECKIN_LIST_NOT_FOUND").await;
    // A scan from the future (beyond the clock skew) is refused, and no entry is recorded.
    let fresh = new_list(&d.app, &d.admin, d.concert, json!({})).await;
    let mut future = scan_body(secret(ticket), fresh, "entry");
    future["scannedAt"] = json!((Utc::now() + Duration::hours(1)).to_rfc3339());
    refused(&d.app, &d.staff.token, future, "invalid_time").await;
    assert_eq!(checkins_of(&d.app, ticket["id"].as_i64().unwrap()).await, 1);
    // Bad input is a 400 naming the field.
    for (body, field) in [
        (json!({"listId": both, "type": "entry", "nonce": "x"}), "secret"),
        (json!({"secret": "s", "listId": both, "type": "in", "nonce": "x"}), "type"),
        (json!({"secret": "s", "listId": both, "type": "entry", "nonce": ""}), "nonce"),
        (json!({"secret": "s", "listId": both, "type": "entry", "nonce": "n".repeat(65)}), "nonce"),
        (json!({"secret": "s", "type": "entry", "nonce": "x"}), "listId"),
        (
            json!({"secret": "s", "listId": both, "type": "entry", "nonce": "x", "scannedAt": "yesterday"}),
            "scannedAt",
        ),
    ] {
        let res = d.app.post("/api/checkin/redeem", Some(&d.staff.token), body).await;
        let body = error_body(res, StatusCode::BAD_REQUEST, "BAD_REQUEST").await;
        assert_eq!(body["fields"][0]["field"], field, "{body}");
    }
}

#[tokio::test]
async fn entries_and_exits_follow_each_lists_rules_and_a_ticket_is_valid_once_on_each_list() {
    let d = door(1).await;
    let (app, token) = (&d.app, d.staff.token.as_str());
    let s = secret(&d.tickets[0]);

    // One entry, ever; an exit only when inside.
    let once = new_list(app, &d.admin, d.concert, json!({})).await;
    refused(app, token, scan_body(s, once, "exit"), "not_inside").await;
    admitted(app, token, scan_body(s, once, "entry")).await;
    refused(app, token, scan_body(s, once, "entry"), "already_redeemed").await;
    admitted(app, token, scan_body(s, once, "exit")).await;
    refused(app, token, scan_body(s, once, "entry"), "already_redeemed").await;
    refused(app, token, scan_body(s, once, "exit"), "not_inside").await;

    // Back in after an exit, but not twice without one.
    let reentry = new_list(app, &d.admin, d.concert, json!({"allowEntryAfterExit": true})).await;
    admitted(app, token, scan_body(s, reentry, "entry")).await;
    refused(app, token, scan_body(s, reentry, "entry"), "already_redeemed").await;
    admitted(app, token, scan_body(s, reentry, "exit")).await;
    refused(app, token, scan_body(s, reentry, "exit"), "not_inside").await;
    admitted(app, token, scan_body(s, reentry, "entry")).await;

    // Any number of entries.
    let lounge = new_list(app, &d.admin, d.concert, json!({"allowMultipleEntries": true})).await;
    for _ in 0..3 {
        admitted(app, token, scan_body(s, lounge, "entry")).await;
    }
    // A second single-entry list admits the ticket once more, once.
    let side = new_list(app, &d.admin, d.concert, json!({})).await;
    admitted(app, token, scan_body(s, side, "entry")).await;
    refused(app, token, scan_body(s, side, "entry"), "already_redeemed").await;
}

#[tokio::test]
async fn forced_offline_uploads_are_recorded_and_conflicts_are_flagged() {
    let d = door(3).await;
    let (app, token) = (&d.app, d.staff.token.as_str());
    let list = new_list(app, &d.admin, d.concert, json!({})).await;
    let earlier = Utc::now() - Duration::minutes(10);

    // A clean offline entry: recorded as scanned, and it counts.
    let mut upload = scan_body(secret(&d.tickets[0]), list, "entry");
    upload["force"] = json!(true);
    upload["scannedAt"] = json!(earlier.to_rfc3339());
    let (status, answer) = redeem(app, token, upload).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    assert_eq!(answer["forced"], true);
    assert_eq!(answer["conflict"], Value::Null);
    let answer =
        refused(app, token, scan_body(secret(&d.tickets[0]), list, "entry"), "already_redeemed")
            .await;
    let redeemed_at =
        chrono::DateTime::parse_from_rfc3339(answer["redeemedAt"].as_str().unwrap()).unwrap();
    assert_eq!(redeemed_at.timestamp(), earlier.timestamp(), "when the scanner saw it");

    // Two devices let the same ticket in offline: the second upload is kept and flagged.
    admitted(app, token, scan_body(secret(&d.tickets[1]), list, "entry")).await;
    let mut twice = scan_body(secret(&d.tickets[1]), list, "entry");
    twice["force"] = json!(true);
    twice["scannedAt"] = json!(earlier.to_rfc3339());
    let (status, answer) = redeem(app, token, twice).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    assert_eq!(answer["conflict"], "already_redeemed");
    let flagged: Vec<(bool, Option<String>)> =
        sqlx::query_as("select forced, conflict from checkins where ticket_id = $1 order by id")
            .bind(d.tickets[1]["id"].as_i64().unwrap())
            .fetch_all(&app.db)
            .await
            .unwrap();
    assert_eq!(flagged, [(false, None), (true, Some("already_redeemed".to_owned()))]);

    // A ticket revoked while the scanner was offline: recorded, flagged revoked.
    sqlx::query("update tickets set status = 'REVOKED', revoked_at = now() where id = $1")
        .bind(d.tickets[2]["id"].as_i64().unwrap())
        .execute(&app.db)
        .await
        .unwrap();
    let mut revoked = scan_body(secret(&d.tickets[2]), list, "entry");
    revoked["force"] = json!(true);
    let (status, answer) = redeem(app, token, revoked).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    assert_eq!(answer["conflict"], "revoked");
    assert_eq!(answer["ticket"]["status"], "REVOKED");
    // A forced secret that is not ours is never recorded.
    let forged = json!({"secret": "B".repeat(140), "listId": list, "type": "entry", "nonce": "f", "force": true});
    assert_eq!(redeem(app, token, forged).await.0, StatusCode::NOT_FOUND);
    let total: i64 =
        sqlx::query_scalar("select count(*) from checkins").fetch_one(&app.db).await.unwrap();
    assert_eq!(total, 4);
}

#[tokio::test]
async fn an_undone_checkin_lets_the_ticket_in_again_and_records_who_undid_it() {
    let d = door(1).await;
    let (app, token) = (&d.app, d.staff.token.as_str());
    let list = new_list(app, &d.admin, d.concert, json!({})).await;
    let ticket_id = d.tickets[0]["id"].as_i64().unwrap();
    let path = format!("/api/tickets/{ticket_id}");
    let view: Value = app.get(&path, Some(&d.fan.token)).await.json().await.unwrap();
    assert_eq!(view["status"], "VALID");

    let checkin = admitted(app, token, scan_body(secret(&d.tickets[0]), list, "entry")).await;
    let view: Value = app.get(&path, Some(&d.fan.token)).await.json().await.unwrap();
    assert_eq!(view["status"], "USED", "a ticket that entered is used");
    assert_eq!(my_tickets(app, &d.fan.token).await[0]["status"], "USED");

    let res = app.delete(&format!("/api/checkin/{checkin}"), Some(token)).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let view: Value = app.get(&path, Some(&d.fan.token)).await.json().await.unwrap();
    assert_eq!(view["status"], "VALID");
    let res = app.delete(&format!("/api/checkin/{checkin}"), Some(token)).await;
    error_body(res, StatusCode::NOT_FOUND, "CHECKIN_NOT_FOUND").await;
    let res = app.delete("/api/checkin/987654321", Some(token)).await;
    error_body(res, StatusCode::NOT_FOUND, "CHECKIN_NOT_FOUND").await;

    let staff_id = app.user_id(&d.staff.email).await;
    let (undone_by, undone): (Option<i64>, bool) =
        sqlx::query_as("select undone_by, undone_at is not null from checkins where id = $1")
            .bind(checkin)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!((undone_by, undone), (Some(staff_id), true));
    let audited: i64 = sqlx::query_scalar(
        "select count(*) from audit_log where action = 'checkin.undo' and entity_id = $1 and actor_id = $2",
    )
    .bind(checkin)
    .bind(staff_id)
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(audited, 1);

    // In again, once.
    admitted(app, token, scan_body(secret(&d.tickets[0]), list, "entry")).await;
    refused(app, token, scan_body(secret(&d.tickets[0]), list, "entry"), "already_redeemed").await;
}

#[tokio::test]
async fn the_status_counts_valid_tickets_those_checked_in_and_those_inside() {
    let d = door(3).await;
    let (app, token) = (&d.app, d.staff.token.as_str());
    let list = new_list(app, &d.admin, d.concert, json!({"allowEntryAfterExit": true})).await;
    let status = |list: i64| async move {
        let res = app.get(&format!("/api/checkin/lists/{list}/status"), Some(token)).await;
        assert_eq!(res.status(), StatusCode::OK);
        res.json::<Value>().await.unwrap()
    };
    assert_eq!(status(list).await, json!({"tickets": 3, "checkedIn": 0, "inside": 0}));
    admitted(app, token, scan_body(secret(&d.tickets[0]), list, "entry")).await;
    admitted(app, token, scan_body(secret(&d.tickets[1]), list, "entry")).await;
    let exit = admitted(app, token, scan_body(secret(&d.tickets[1]), list, "exit")).await;
    assert_eq!(status(list).await, json!({"tickets": 3, "checkedIn": 2, "inside": 1}));
    let res = app.delete(&format!("/api/checkin/{exit}"), Some(token)).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(status(list).await, json!({"tickets": 3, "checkedIn": 2, "inside": 2}));
    let vip = new_list(app, &d.admin, d.concert, json!({"grades": ["VIP"]})).await;
    assert_eq!(status(vip).await, json!({"tickets": 0, "checkedIn": 0, "inside": 0}));

    // The people inside are exported for the dashboard.
    let scrape = app.get("/metrics", None).await.text().await.unwrap();
    assert!(scrape.contains(&format!("ticketing_checkin_inside{{list=\"{list}\"}}")), "{scrape}");
    assert!(scrape.contains("ticketing_checkins_total{type=\"entry\"}"), "{scrape}");
    assert!(scrape.contains("ticketing_checkin_refusals_total{reason=\"already_redeemed\"}"));
}

#[tokio::test]
async fn admins_manage_lists_and_staff_read_them() {
    let app = spawn_app().await;
    let (admin, concert, _) = app.concert_on_sale(1).await;
    let staff = staff_member(&app, &admin).await;
    let path = format!("/api/concert/{concert}/checkin-lists");
    let res = app
        .post(
            &path,
            Some(&admin),
            json!({"name": " VIP 입구 ", "grades": ["VIP", "VIP", "R"], "allowMultipleEntries": false, "allowEntryAfterExit": true}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let created: Value = res.json().await.unwrap();
    assert_eq!(created["concertId"], concert);
    assert_eq!(created["name"], "VIP 입구");
    assert_eq!(created["grades"], json!(["VIP", "R"]));
    assert_eq!(created["allowEntryAfterExit"], true);
    assert!(created["createdAt"].as_str().unwrap().ends_with("+09:00"));
    let all = new_list(&app, &admin, concert, json!({})).await;
    let lists: Value = app.get(&path, Some(&staff.token)).await.json().await.unwrap();
    assert_eq!(lists.as_array().unwrap().len(), 2);
    assert_eq!(lists[0], created);
    assert_eq!(lists[1]["grades"], Value::Null);
    let one: Value = app
        .get(&format!("/api/checkin/lists/{all}"), Some(&staff.token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(one["id"], all);

    for (body, field) in [
        (
            json!({"name": "  ", "allowMultipleEntries": false, "allowEntryAfterExit": false}),
            "name",
        ),
        (
            json!({"name": "a", "grades": [], "allowMultipleEntries": false, "allowEntryAfterExit": false}),
            "grades",
        ),
        (
            json!({"name": "a", "grades": ["x\u{202E}"], "allowMultipleEntries": false, "allowEntryAfterExit": false}),
            "grades[0]",
        ),
        (json!({"name": "a", "allowEntryAfterExit": false}), "allowMultipleEntries"),
        (
            json!({"name": "n".repeat(101), "allowMultipleEntries": false, "allowEntryAfterExit": false}),
            "name",
        ),
    ] {
        let res = app.post(&path, Some(&admin), body).await;
        let body = error_body(res, StatusCode::BAD_REQUEST, "BAD_REQUEST").await;
        assert_eq!(body["fields"][0]["field"], field, "{body}");
    }
    let res = app
        .post(
            "/api/concert/987654321/checkin-lists",
            Some(&admin),
            json!({"name": "a", "allowMultipleEntries": false, "allowEntryAfterExit": false}),
        )
        .await;
    error_body(res, StatusCode::NOT_FOUND, "CONCERT_NOT_FOUND").await;
    let res = app.get("/api/concert/987654321/checkin-lists", Some(&staff.token)).await;
    error_body(res, StatusCode::NOT_FOUND, "CONCERT_NOT_FOUND").await;

    // Deleted: gone from every route, and deleting again is a 404.
    let res = app.delete(&format!("/api/checkin/lists/{all}"), Some(&admin)).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    for res in [
        app.get(&format!("/api/checkin/lists/{all}"), Some(&staff.token)).await,
        app.get(&format!("/api/checkin/lists/{all}/status"), Some(&staff.token)).await,
        app.delete(&format!("/api/checkin/lists/{all}"), Some(&admin)).await,
        app.post("/api/checkin/redeem", Some(&staff.token), scan_body("x", all, "entry")).await,
    ] {
        error_body(res, StatusCode::NOT_FOUND, "CHECKIN_LIST_NOT_FOUND").await;
    }
    let lists: Value = app.get(&path, Some(&staff.token)).await.json().await.unwrap();
    assert_eq!(lists.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_fan_gets_403_and_anonymous_401_on_every_checkin_route_and_staff_cannot_manage_lists() {
    let d = door(1).await;
    let app = &d.app;
    let list = new_list(app, &d.admin, d.concert, json!({})).await;
    let checkin = admitted(app, &d.admin, scan_body(secret(&d.tickets[0]), list, "entry")).await;
    let create = json!({"name": "a", "allowMultipleEntries": false, "allowEntryAfterExit": false});
    let routes: Vec<(reqwest::Method, String, Option<Value>)> = vec![
        (
            reqwest::Method::POST,
            format!("/api/concert/{}/checkin-lists", d.concert),
            Some(create.clone()),
        ),
        (reqwest::Method::GET, format!("/api/concert/{}/checkin-lists", d.concert), None),
        (reqwest::Method::GET, format!("/api/checkin/lists/{list}"), None),
        (reqwest::Method::GET, format!("/api/checkin/lists/{list}/status"), None),
        (
            reqwest::Method::POST,
            "/api/checkin/redeem".to_owned(),
            Some(scan_body(secret(&d.tickets[0]), list, "exit")),
        ),
        (reqwest::Method::DELETE, format!("/api/checkin/{checkin}"), None),
        (reqwest::Method::DELETE, format!("/api/checkin/lists/{list}"), None),
        (reqwest::Method::GET, format!("/api/concert/{}/checkin/revoked", d.concert), None),
    ];
    for (method, path, body) in &routes {
        let res = app.request(method.clone(), path, None, body.clone()).await;
        error_body(res, StatusCode::UNAUTHORIZED, "UNAUTHORIZED").await;
        let res = app.request(method.clone(), path, Some(&d.fan.token), body.clone()).await;
        error_body(res, StatusCode::FORBIDDEN, "FORBIDDEN").await;
    }
    for (method, path, body) in [&routes[0], &routes[6]] {
        let res = app.request(method.clone(), path, Some(&d.staff.token), body.clone()).await;
        error_body(res, StatusCode::FORBIDDEN, "FORBIDDEN").await;
    }
    // Nothing changed: the list is there, the check-in not undone, no exit recorded.
    let res = app.get(&format!("/api/checkin/lists/{list}/status"), Some(&d.staff.token)).await;
    assert_eq!(res.json::<Value>().await.unwrap()["inside"], 1);
    assert_eq!(checkins_of(app, d.tickets[0]["id"].as_i64().unwrap()).await, 1);
}

#[tokio::test]
async fn a_scanner_verifies_a_secret_offline_with_only_the_public_key() {
    let d = door(1).await;
    let res = d.app.get(&format!("/api/concert/{}/checkin/keys", d.concert), None).await;
    assert_eq!(res.status(), StatusCode::OK);
    let keys: Value = res.json().await.unwrap();
    let public = URL_SAFE_NO_PAD.decode(keys["keys"][0]["publicKey"].as_str().unwrap()).unwrap();
    let key = VerifyingKey::from_bytes(&public.try_into().unwrap()).unwrap();
    // Verified with ed25519-dalek directly, from the documented layout alone.
    let bytes = URL_SAFE_NO_PAD.decode(secret(&d.tickets[0])).unwrap();
    assert_eq!((bytes.len(), bytes[0]), (105, 1));
    let signature = ed25519_dalek::Signature::from_slice(&bytes[41..]).unwrap();
    key.verify_strict(&bytes[..41], &signature).expect("signed by the concert's key");
    let id = |at: usize| u64::from_be_bytes(bytes[at..at + 8].try_into().unwrap()) as i64;
    assert_eq!(id(1), d.tickets[0]["id"].as_i64().unwrap());
    assert_eq!(id(9), d.concert);
    assert_eq!(id(17), d.seats[0]);
    let mut tampered = bytes.clone();
    tampered[17 + 7] ^= 1; // another seat
    assert!(key.verify_strict(&tampered[..41], &signature).is_err());
    // The scanner's verdict and the server's agree.
    let list = new_list(&d.app, &d.admin, d.concert, json!({})).await;
    admitted(&d.app, &d.staff.token, scan_body(secret(&d.tickets[0]), list, "entry")).await;
}
