//! The waitlist after sell-out (issue 18): joining, leaving and the lists, on two instances.

use std::{collections::HashSet, sync::Arc, time::Duration};

use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestUser, error_body, event, spawn_app, spawn_app_with, wait_until};

#[tokio::test]
async fn joining_while_matching_seats_are_available_is_refused() {
    let app = spawn_app().await;
    let (_admin, concert, seats) = app.concert_on_sale(2).await;
    let fan = app.signup().await;
    let path = format!("/api/concert/{concert}/waitlist");

    let res = app.post(&path, Some(&fan.token), json!({"quantity": 1})).await;
    error_body(res, StatusCode::CONFLICT, "SEATS_AVAILABLE").await;

    // One seat left: enough for one, not for two.
    let other = app.signup().await;
    assert_eq!(app.hold(&other.token, seats[0]).await.status(), StatusCode::OK);
    let res = app.post(&path, Some(&fan.token), json!({"quantity": 1})).await;
    error_body(res, StatusCode::CONFLICT, "SEATS_AVAILABLE").await;
    let res = app.post(&path, Some(&fan.token), json!({"quantity": 2})).await;
    assert_eq!(res.status(), StatusCode::CREATED, "a partial match waits");

    // A grade the concert does not have.
    let third = app.signup().await;
    let res = app.post(&path, Some(&third.token), json!({"quantity": 1, "grade": "VIP"})).await;
    error_body(res, StatusCode::NOT_FOUND, "SEAT_NOT_FOUND").await;
}

#[tokio::test]
async fn fans_join_a_sold_out_concert_in_order_across_two_instances() {
    let app = spawn_app().await;
    let second = app.another_instance().await;
    let (admin, concert, seats) = app.concert_on_sale(2).await;
    let holder = app.signup().await;
    assert_eq!(app.hold_many(&holder.token, &seats).await.status(), StatusCode::OK);
    let path = format!("/api/concert/{concert}/waitlist");

    let a = app.signup().await;
    let b = app.signup().await;
    let res = app.post(&path, Some(&a.token), json!({"quantity": 2, "grade": "R"})).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let first: Value = res.json().await.unwrap();
    assert_eq!(first["position"], 1, "{first}");
    assert_eq!(first["quantity"], 2);
    assert_eq!(first["grade"], "R");
    assert_eq!(first["status"], "WAITING");

    let res = second.post(&path, Some(&b.token), json!({"quantity": 1})).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let later: Value = res.json().await.unwrap();
    assert_eq!(later["position"], 2, "{later}");
    assert!(later["grade"].is_null());

    // One active entry per fan and concert, whichever instance answers.
    let res = second.post(&path, Some(&a.token), json!({"quantity": 1})).await;
    error_body(res, StatusCode::CONFLICT, "ALREADY_ON_WAITLIST").await;

    // The admin list is in order of service; fans may not read it.
    let res = second.get(&path, Some(&admin)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let list: Vec<Value> = res.json().await.unwrap();
    let ids: Vec<i64> = list.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, [first["id"].as_i64().unwrap(), later["id"].as_i64().unwrap()]);
    assert_eq!(list[0]["userId"], app.user_id(&a.email).await);
    let res = app.get(&path, Some(&a.token)).await;
    error_body(res, StatusCode::FORBIDDEN, "FORBIDDEN").await;

    // Leaving moves the next fan up; leaving twice, or someone else's entry, is 404.
    let a_id = first["id"].as_i64().unwrap();
    let res = app.delete(&format!("/api/waitlist/{a_id}"), Some(&b.token)).await;
    error_body(res, StatusCode::NOT_FOUND, "WAITLIST_ENTRY_NOT_FOUND").await;
    let res = second.delete(&format!("/api/waitlist/{a_id}"), Some(&a.token)).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = app.delete(&format!("/api/waitlist/{a_id}"), Some(&a.token)).await;
    error_body(res, StatusCode::NOT_FOUND, "WAITLIST_ENTRY_NOT_FOUND").await;

    let mine: Vec<Value> = app.get("/api/waitlist/my", Some(&b.token)).await.json().await.unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0]["position"], 1, "{mine:?}");
    let mine: Vec<Value> = app.get("/api/waitlist/my", Some(&a.token)).await.json().await.unwrap();
    assert_eq!(mine[0]["status"], "CANCELLED");
    assert_eq!(mine[0]["position"], 0);

    // A cancelled entry does not block joining again (at the back).
    let res = app.post(&path, Some(&a.token), json!({"quantity": 1})).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(res.json::<Value>().await.unwrap()["position"], 2);
}

#[tokio::test]
async fn the_per_user_limit_counts_what_the_fan_already_holds() {
    // MAX_SEATS_PER_USER is 4 by default.
    let app = spawn_app().await;
    let (_admin, concert, seats) = app.concert_on_sale(5).await;
    let fan = app.signup().await;
    let other = app.signup().await;
    assert_eq!(app.hold_many(&fan.token, &seats[..3]).await.status(), StatusCode::OK);
    assert_eq!(app.hold_many(&other.token, &seats[3..]).await.status(), StatusCode::OK);
    let path = format!("/api/concert/{concert}/waitlist");

    let res = app.post(&path, Some(&fan.token), json!({"quantity": 2})).await;
    error_body(res, StatusCode::UNPROCESSABLE_ENTITY, "SEAT_LIMIT_EXCEEDED").await;
    for bad in [json!({"quantity": 0}), json!({"quantity": 5}), json!({}), json!({"quantity": "x"})]
    {
        let res = app.post(&path, Some(&fan.token), bad.clone()).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
    let res = app.post(&path, Some(&fan.token), json!({"quantity": 1})).await;
    assert_eq!(res.status(), StatusCode::CREATED);

    let res =
        app.post("/api/concert/999999/waitlist", Some(&fan.token), json!({"quantity": 1})).await;
    error_body(res, StatusCode::NOT_FOUND, "CONCERT_NOT_FOUND").await;
    let res = app.post(&path, None, json!({"quantity": 1})).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

// ---- The release step (items 2-4) ----

/// Joins the concert's waitlist for `quantity` seats; returns the entry's id.
async fn join(app: &TestApp, fan: &TestUser, concert: i64, quantity: u32) -> i64 {
    let path = format!("/api/concert/{concert}/waitlist");
    let res = app.post(&path, Some(&fan.token), json!({"quantity": quantity})).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    res.json::<Value>().await.unwrap()["id"].as_i64().unwrap()
}

async fn entry_status(app: &TestApp, entry: i64) -> String {
    sqlx::query_scalar("select status from waitlist_entries where id = $1")
        .bind(entry)
        .fetch_one(&app.db)
        .await
        .unwrap()
}

/// Waits until the entry is `status`.
async fn until_status(app: &TestApp, entry: i64, status: &str) {
    wait_until(&format!("entry {entry} {status}"), || async {
        entry_status(app, entry).await == status
    })
    .await;
}

async fn holder(app: &TestApp, seat: i64) -> Option<i64> {
    let concert = app.concert_of_seat(seat).await;
    app.state.holds.holder(concert, seat).await.unwrap().map(|h| h.user_id)
}

/// While `release` frees `seat`, another fan keeps trying to hold it (on the other instance)
/// and reads the public seat map: it must never be AVAILABLE nor held by them. Then the first
/// waiting entry is OFFERED and holds it.
/// The fans of `released_seat_goes_to_first_fan`, signed up before the seat is taken: a hold
/// or reservation set to lapse in seconds must still stand when they join.
struct Fans {
    first: TestUser,
    next: TestUser,
    public: TestUser,
}

async fn fans(app: &TestApp) -> Fans {
    Fans { first: app.signup().await, next: app.signup().await, public: app.signup().await }
}

async fn released_seat_goes_to_first_fan<F, Fut>(
    app: &TestApp,
    second: &TestApp,
    concert: i64,
    seat: i64,
    fans: Fans,
    release: F,
) -> (TestUser, i64, TestUser, i64)
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let Fans { first, next, public } = fans;
    let first_entry = join(app, &first, concert, 1).await;
    let next_entry = join(second, &next, concert, 1).await;
    release().await;
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while entry_status(app, first_entry).await != "OFFERED" {
        assert!(std::time::Instant::now() < deadline, "the first fan is offered the seat");
        let res = second.hold(&public.token, seat).await;
        assert_ne!(res.status(), StatusCode::OK, "the public never gets the freed seat");
        let map = second.seat_statuses(concert).await;
        assert_ne!(map[&seat], "AVAILABLE", "never AVAILABLE while a fan waits");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(holder(app, seat).await, Some(app.user_id(&first.email).await));
    assert_eq!(app.seat_statuses(concert).await[&seat], "HELD");
    assert_ne!(app.hold(&public.token, seat).await.status(), StatusCode::OK);
    assert_eq!(entry_status(app, next_entry).await, "WAITING");
    let mine: Vec<Value> =
        app.get("/api/waitlist/my", Some(&first.token)).await.json().await.unwrap();
    assert_eq!(mine[0]["status"], "OFFERED");
    assert!(mine[0]["offerExpiresAt"].is_string(), "{mine:?}");
    assert_eq!(mine[0]["offeredSeatIds"], json!([seat]), "the page checks out from the offer");
    (first, first_entry, next, next_entry)
}

#[tokio::test]
async fn an_expired_hold_is_offered_to_the_first_fan_who_pays_through_the_normal_path() {
    let app = spawn_app_with(&[("HOLD_TTL_SECS", "3")]).await;
    let second = app.another_instance().await;
    let (_, concert, seats) = app.concert_on_sale(1).await;
    let fans = fans(&app).await;
    let holder_fan = app.signup().await;
    assert_eq!(app.hold(&holder_fan.token, seats[0]).await.status(), StatusCode::OK);
    let (first, entry, _, next_entry) =
        released_seat_goes_to_first_fan(&app, &second, concert, seats[0], fans, || async {}).await;
    assert_eq!(app.outbox_count("waitlist_offer").await, 1, "one offer email");

    // The offer is an ordinary hold: the fan checks out and pays; the entry is PURCHASED.
    let res = second.checkout(&first.token, &seats).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    let tx = body["transactionId"].as_str().unwrap();
    let amount = body["amount"].as_i64().unwrap();
    assert_eq!(app.webhook(&event(tx, "SUCCESS", amount)).await.status(), StatusCode::OK);
    until_status(&app, entry, "PURCHASED").await;
    assert_eq!(app.seat_statuses(concert).await[&seats[0]], "SOLD");
    assert_eq!(entry_status(&app, next_entry).await, "WAITING");
    // Offers made and accepted, and the time from release to offer, are exported.
    let scrape = app.get("/metrics", None).await.text().await.unwrap();
    for name in [
        "ticketing_waitlist_offers_total ",
        "ticketing_waitlist_offers_accepted_total ",
        "ticketing_waitlist_release_to_offer_seconds_count ",
    ] {
        assert!(scrape.contains(name), "{name} in {scrape}");
    }
}

#[tokio::test]
async fn an_offer_that_expires_passes_to_the_next_fan() {
    let app = spawn_app_with(&[("HOLD_TTL_SECS", "3"), ("WAITLIST_OFFER_TTL_SECS", "2")]).await;
    let second = app.another_instance().await;
    let (_, concert, seats) = app.concert_on_sale(1).await;
    let fans = fans(&app).await;
    let holder_fan = app.signup().await;
    assert_eq!(app.hold(&holder_fan.token, seats[0]).await.status(), StatusCode::OK);
    let (_, entry, next, next_entry) =
        released_seat_goes_to_first_fan(&app, &second, concert, seats[0], fans, || async {}).await;
    until_status(&app, next_entry, "OFFERED").await;
    assert_eq!(holder(&app, seats[0]).await, Some(app.user_id(&next.email).await));
    until_status(&app, entry, "EXPIRED").await;
    assert_eq!(app.outbox_count("waitlist_offer").await, 2);
    // Nobody waits any more: the next expiry makes the seat public.
    wait_until("the seat public again", || async {
        app.seat_statuses(concert).await[&seats[0]] == "AVAILABLE"
    })
    .await;
    until_status(&app, next_entry, "EXPIRED").await;
    let scrape = app.get("/metrics", None).await.text().await.unwrap();
    assert!(scrape.contains("ticketing_waitlist_offers_expired_total "), "{scrape}");
}

#[tokio::test]
async fn leaving_with_an_offer_passes_the_seats_to_the_next_fan() {
    let app = spawn_app_with(&[("HOLD_TTL_SECS", "3")]).await;
    let second = app.another_instance().await;
    let (_, concert, seats) = app.concert_on_sale(1).await;
    let fans = fans(&app).await;
    let holder_fan = app.signup().await;
    assert_eq!(app.hold(&holder_fan.token, seats[0]).await.status(), StatusCode::OK);
    let (first, entry, next, next_entry) =
        released_seat_goes_to_first_fan(&app, &second, concert, seats[0], fans, || async {}).await;
    let res = second.delete(&format!("/api/waitlist/{entry}"), Some(&first.token)).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    until_status(&app, next_entry, "OFFERED").await;
    assert_eq!(entry_status(&app, entry).await, "CANCELLED");
    assert_eq!(holder(&app, seats[0]).await, Some(app.user_id(&next.email).await));
}

#[tokio::test]
async fn an_expired_reservation_is_offered_to_the_first_fan() {
    let app =
        spawn_app_with(&[("RESERVATION_TTL_SECS", "3"), ("EXPIRY_SWEEP_INTERVAL_MS", "200")]).await;
    let second = app.another_instance().await;
    let (_, concert, seats) = app.concert_on_sale(1).await;
    let fans = fans(&app).await;
    let payer = app.signup().await;
    app.start_checkout(&payer.token, &seats).await;
    released_seat_goes_to_first_fan(&app, &second, concert, seats[0], fans, || async {}).await;
}

#[tokio::test]
async fn a_declined_payment_is_offered_to_the_first_fan() {
    let app = spawn_app().await;
    let second = app.another_instance().await;
    let (_, concert, seats) = app.concert_on_sale(1).await;
    let fans = fans(&app).await;
    let payer = app.signup().await;
    let started = app.start_checkout(&payer.token, &seats).await;
    released_seat_goes_to_first_fan(&app, &second, concert, seats[0], fans, || async {
        let res = second.webhook(&event(&started.transaction, "FAILED", started.amount)).await;
        assert_eq!(res.status(), StatusCode::OK);
    })
    .await;
}

#[tokio::test]
async fn a_cancelled_purchase_is_offered_to_the_first_fan() {
    let app = spawn_app().await;
    let second = app.another_instance().await;
    let (_, concert, seats) = app.concert_on_sale(1).await;
    let fans = fans(&app).await;
    let payer = app.signup().await;
    let started = app.start_checkout(&payer.token, &seats).await;
    app.confirm_reservation(started.reservation).await;
    released_seat_goes_to_first_fan(&app, &second, concert, seats[0], fans, || async {
        let res = second
            .post(
                "/api/reservations/cancel",
                Some(&payer.token),
                json!({"reservationId": started.reservation, "cancelReason": "일정 변경"}),
            )
            .await;
        assert_eq!(res.status(), StatusCode::OK);
    })
    .await;
}

#[tokio::test]
async fn a_seat_an_admin_adds_is_offered_to_the_first_fan() {
    let app = spawn_app().await;
    let second = app.another_instance().await;
    let (admin, concert, seats) = app.concert_on_sale(1).await;
    let buyer = app.signup().await;
    assert_eq!(app.hold(&buyer.token, seats[0]).await.status(), StatusCode::OK);
    let first = app.signup().await;
    let entry = join(&app, &first, concert, 1).await;
    let added = second.create_seats_numbered(&admin, concert, 9).await;
    until_status(&app, entry, "OFFERED").await;
    assert_eq!(holder(&app, added).await, Some(app.user_id(&first.email).await));
    assert_eq!(app.seat_statuses(concert).await[&added], "HELD");
}

#[tokio::test]
async fn a_partial_match_waits_for_its_quantity_and_keeps_its_seats_off_sale() {
    let app = spawn_app().await;
    let (_, concert, seats) = app.concert_on_sale(3).await;
    let a = app.signup().await;
    let b = app.signup().await;
    assert_eq!(app.hold_many(&a.token, &seats[..2]).await.status(), StatusCode::OK);
    assert_eq!(app.hold(&b.token, seats[2]).await.status(), StatusCode::OK);
    let fan = app.signup().await;
    let entry = join(&app, &fan, concert, 2).await;
    let later = app.signup().await;
    let later_entry = join(&app, &later, concert, 1).await;
    // One seat comes back: the entry of two keeps it; the later entry of one does not jump it.
    let res = app.delete(&format!("/api/seat/{}/select", seats[2]), Some(&b.token)).await;
    assert!(res.status().is_success());
    assert_eq!(app.seat_statuses(concert).await[&seats[2]], "HELD");
    assert_ne!(app.hold(&later.token, seats[2]).await.status(), StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(entry_status(&app, entry).await, "WAITING");
    assert_eq!(entry_status(&app, later_entry).await, "WAITING");
    // The second seat comes back: both are the entry's offer.
    let res = app.delete(&format!("/api/seat/{}/select", seats[0]), Some(&a.token)).await;
    assert!(res.status().is_success());
    until_status(&app, entry, "OFFERED").await;
    let fan_id = app.user_id(&fan.email).await;
    assert_eq!(holder(&app, seats[0]).await, Some(fan_id));
    assert_eq!(holder(&app, seats[2]).await, Some(fan_id));
    assert_eq!(entry_status(&app, later_entry).await, "WAITING");
}

#[tokio::test]
async fn a_hundred_seats_released_at_once_go_to_the_first_hundred_of_150_fans_once_each() {
    let app = spawn_app().await;
    let second = app.another_instance().await;
    let (_, concert, seats) = app.concert_on_sale(100).await;
    let holders = app.bulk_users(25).await;
    for (i, (_, token)) in holders.iter().enumerate() {
        let res = app.hold_many(token, &seats[i * 4..i * 4 + 4]).await;
        assert_eq!(res.status(), StatusCode::OK);
    }
    let fans = app.bulk_users(150).await;
    let path = format!("/api/concert/{concert}/waitlist");
    let instances = Arc::new([app.another_instance().await, second]);
    for chunk in fans.chunks(25) {
        let joins = chunk.iter().enumerate().map(|(i, (_, token))| {
            let (instances, token, path) = (instances.clone(), token.clone(), path.clone());
            tokio::spawn(async move {
                let res = instances[i % 2].post(&path, Some(&token), json!({"quantity": 1})).await;
                assert_eq!(res.status(), StatusCode::CREATED);
            })
        });
        for j in futures::future::join_all(joins).await {
            j.unwrap();
        }
    }
    // All 100 seats released at once, half through each instance.
    let releases = holders
        .iter()
        .enumerate()
        .flat_map(|(i, (_, token))| (0..4).map(move |k| (i * 4 + k, token.clone())));
    let tasks: Vec<_> = releases
        .map(|(n, token)| {
            let (instances, seat) = (instances.clone(), seats[n]);
            tokio::spawn(async move {
                let res = instances[n % 2]
                    .delete(&format!("/api/seat/{seat}/select"), Some(&token))
                    .await;
                assert!(res.status().is_success(), "{}", res.status());
            })
        })
        .collect();
    for t in futures::future::join_all(tasks).await {
        t.unwrap();
    }
    let order: Vec<(i64, i64, String)> = sqlx::query_as(
        "select id, user_id, status from waitlist_entries where concert_id = $1 order by created_at, id",
    )
    .bind(concert)
    .fetch_all(&app.db)
    .await
    .unwrap();
    assert_eq!(order.len(), 150);
    wait_until("100 offers recorded", || async {
        let n: i64 = sqlx::query_scalar(
            "select count(*) from waitlist_entries where concert_id = $1 and status = 'OFFERED'",
        )
        .bind(concert)
        .fetch_one(&app.db)
        .await
        .unwrap();
        n == 100
    })
    .await;
    let order: Vec<(i64, i64, String)> = sqlx::query_as(
        "select id, user_id, status from waitlist_entries where concert_id = $1 order by created_at, id",
    )
    .bind(concert)
    .fetch_all(&app.db)
    .await
    .unwrap();
    for (i, (id, _, status)) in order.iter().enumerate() {
        let want = if i < 100 { "OFFERED" } else { "WAITING" };
        assert_eq!(status, want, "entry {id} at place {i}: in order, none skipped");
    }
    // Each seat held by exactly one of the first hundred, each of them holding one.
    let offered: HashSet<i64> = order[..100].iter().map(|e| e.1).collect();
    let mut holders_seen = HashSet::new();
    let map = app.seat_statuses(concert).await;
    for seat in &seats {
        assert_eq!(map[seat], "HELD", "seat {seat} never public");
        let user = holder(&app, *seat).await.expect("held");
        assert!(offered.contains(&user), "seat {seat} held by a fan of the first hundred");
        assert!(holders_seen.insert(user), "fan {user} holds one seat, not two");
    }
    assert_eq!(app.outbox_count("waitlist_offer").await, 100, "one offer email each");
    let m = app.state.holds.user_seat_count(concert, order[0].1).await.unwrap();
    assert_eq!(m, 1, "the per-user count includes the offer");
}

#[tokio::test]
async fn the_per_user_limit_holds_for_offers() {
    // MAX_SEATS_PER_USER is 4: a fan holding 2 waits for 2 more, no more.
    let app = spawn_app_with(&[("HOLD_TTL_SECS", "3")]).await;
    let (_, concert, seats) = app.concert_on_sale(6).await;
    let fan = app.signup().await;
    let other = app.signup().await;
    let next = app.signup().await;
    let res = app.hold_many(&other.token, &seats[..4]).await;
    assert_eq!(res.status(), StatusCode::OK);
    let started = app.start_checkout(&fan.token, &seats[4..]).await;
    let path = format!("/api/concert/{concert}/waitlist");
    let res = app.post(&path, Some(&fan.token), json!({"quantity": 3})).await;
    error_body(res, StatusCode::UNPROCESSABLE_ENTITY, "SEAT_LIMIT_EXCEEDED").await;
    let entry = join(&app, &fan, concert, 2).await;
    let next_entry = join(&app, &next, concert, 2).await;
    until_status(&app, entry, "OFFERED").await;
    let fan_id = app.user_id(&fan.email).await;
    let held: Vec<i64> = {
        let mut v = Vec::new();
        for s in &seats[..4] {
            if holder(&app, *s).await == Some(fan_id) {
                v.push(*s);
            }
        }
        v
    };
    assert_eq!(held.len(), 2, "offered exactly the quantity");
    assert_eq!(app.state.holds.user_seat_count(concert, fan_id).await.unwrap(), 4);
    until_status(&app, next_entry, "OFFERED").await;
    assert_eq!(app.state.holds.user_seat_count(concert, fan_id).await.unwrap(), 4);
    let _ = started;
}

#[tokio::test]
async fn after_a_redis_flush_the_load_puts_the_waitlist_back_before_any_seat_goes_public() {
    let app = spawn_app().await;
    let second = app.another_instance().await;
    let (_, concert, seats) = app.concert_on_sale(1).await;
    let holder_fan = app.signup().await;
    assert_eq!(app.hold(&holder_fan.token, seats[0]).await.status(), StatusCode::OK);
    let first = app.signup().await;
    let entry = join(&app, &first, concert, 1).await;
    // The flush loses the hold (and the waitlist's keys): the load rebuilds both, and the
    // seat the lost hold freed is offered, not sold to whoever asks first.
    app.flush_redis().await;
    assert_ne!(second.seat_statuses(concert).await[&seats[0]], "AVAILABLE");
    let public = app.signup().await;
    assert_ne!(second.hold(&public.token, seats[0]).await.status(), StatusCode::OK);
    until_status(&app, entry, "OFFERED").await;
    assert_eq!(holder(&app, seats[0]).await, Some(app.user_id(&first.email).await));
}

#[tokio::test]
async fn the_offer_is_emailed_once() {
    let sink = crate::mail::SmtpSink::start().await;
    let app = spawn_app_with(&[("SMTP_URL", &sink.url()), ("HOLD_TTL_SECS", "3")]).await;
    let second = app.another_instance().await;
    let (_, concert, seats) = app.concert_on_sale(1).await;
    let fans = fans(&app).await;
    let holder_fan = app.signup().await;
    assert_eq!(app.hold(&holder_fan.token, seats[0]).await.status(), StatusCode::OK);
    let (first, _, _, _) =
        released_seat_goes_to_first_fan(&app, &second, concert, seats[0], fans, || async {}).await;
    let subject = "Subject: [ConcertMania] 대기하신 좌석이 준비되었습니다";
    let is_offer = |m: &str| {
        m.contains(subject)
            && m.lines()
                .any(|l| l.to_ascii_lowercase().starts_with("to:") && l.contains(&first.email))
    };
    let mail = sink.wait_for(1, is_offer).await;
    assert!(mail[0].contains(&first.username), "addressed by name");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(sink.wait_for(1, is_offer).await.len(), 1, "sent once");
}

// ---- The fan's live events (item 3: "a live event if they are online") ----

/// An open waitlist stream, read event by event.
struct Events {
    body: futures::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    buffer: String,
}

impl Events {
    /// Opens `GET /api/waitlist/my/events{query}`, with the bearer token when given (without
    /// it, as `EventSource` does); returns once the stream is open.
    async fn open(app: &TestApp, query: &str, token: Option<&str>) -> Events {
        let res = app.get(&format!("/api/waitlist/my/events{query}"), token).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()["content-type"], "text/event-stream");
        assert_eq!(res.headers()["x-accel-buffering"], "no", "passed on unbuffered");
        Events { body: Box::pin(res.bytes_stream()), buffer: String::new() }
    }

    /// The next frame (comments included), or `None` when the stream ended.
    async fn next_frame(&mut self) -> Option<String> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let frame = self.buffer[..end].to_owned();
                self.buffer.drain(..end + 2);
                return Some(frame);
            }
            let chunk = tokio::time::timeout(Duration::from_secs(20), self.body.next())
                .await
                .expect("a frame within 20 s")?
                .expect("the stream reads");
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }

    /// The next event (comments skipped): its name and data.
    async fn next_event(&mut self) -> (String, Value) {
        loop {
            let frame = self.next_frame().await.expect("the stream is open");
            let field = |name: &str| {
                frame.lines().find_map(|l| l.strip_prefix(name)).map(|v| v.trim().to_owned())
            };
            if let (Some(name), Some(data)) = (field("event:"), field("data:")) {
                return (name, serde_json::from_str(&data).unwrap());
            }
        }
    }
}

/// A ticket for the fan's waitlist stream.
async fn stream_ticket(app: &TestApp, fan: &TestUser) -> String {
    let res = app.post("/api/waitlist/my/stream-ticket", Some(&fan.token), json!({})).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["cache-control"], "no-store");
    res.json::<Value>().await.unwrap()["ticket"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn an_offer_made_on_one_instance_reaches_the_fans_stream_on_the_other_and_no_one_elses() {
    // Outcomes are recorded when the test says so, on instance A only.
    let app = spawn_app_with(&[("AVAILABILITY_SWEEP_MS", "3600000")]).await;
    let second = app.another_instance().await;
    let (_, concert, seats) = app.concert_on_sale(1).await;
    let holder_fan = app.signup().await;
    assert_eq!(app.hold(&holder_fan.token, seats[0]).await.status(), StatusCode::OK);
    let fan = app.signup().await;
    let other = app.signup().await;
    let entry = join(&app, &fan, concert, 1).await;
    let other_entry = join(&app, &other, concert, 1).await;

    // Both streams are on instance B: the fan's as `EventSource` opens it (a ticket in the
    // URL), the other fan's with the bearer header.
    let ticket = stream_ticket(&second, &fan).await;
    let mut mine = Events::open(&second, &format!("?ticket={ticket}"), None).await;
    let mut theirs = Events::open(&second, "", Some(&other.token)).await;

    // The holder lets go through instance A, and A records the offer the step made.
    let res = app.delete(&format!("/api/seat/{}/select", seats[0]), Some(&holder_fan.token)).await;
    assert!(res.status().is_success(), "released: {}", res.status());
    ticketing::workers::availability::execute_once(&app.state).await.unwrap();
    assert_eq!(entry_status(&app, entry).await, "OFFERED");

    let (name, offer) = mine.next_event().await;
    assert_eq!(name, "offer");
    assert_eq!(offer["entryId"], entry);
    assert_eq!(offer["concertId"], concert);
    assert_eq!(offer["seatIds"], json!([seats[0]]), "the seats held for the fan");
    let mine_now: Vec<Value> =
        app.get("/api/waitlist/my", Some(&fan.token)).await.json().await.unwrap();
    assert_eq!(offer["expiresAt"], mine_now[0]["offerExpiresAt"], "the offer's expiry");

    // The other fan's stream hears only of their own entry: the event after the offer in the
    // shared order is their leaving, and it is the first their stream sends.
    let res = app.delete(&format!("/api/waitlist/{other_entry}"), Some(&other.token)).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let (name, status) = theirs.next_event().await;
    assert_eq!((name.as_str(), &status["entryId"]), ("status", &json!(other_entry)), "{status}");
    assert_eq!(status["status"], "CANCELLED");

    // A stream opened after the offer starts with it.
    let mut late = Events::open(&app, "", Some(&fan.token)).await;
    let (name, again) = late.next_event().await;
    assert_eq!((name.as_str(), &again), ("offer", &offer));

    // The fan pays for the offer through the normal path: both of the fan's streams hear it.
    let res = second.checkout(&fan.token, &seats).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    let (tx, amount) = (body["transactionId"].as_str().unwrap(), body["amount"].as_i64().unwrap());
    assert_eq!(app.webhook(&event(tx, "SUCCESS", amount)).await.status(), StatusCode::OK);
    for stream in [&mut mine, &mut late] {
        let (name, status) = stream.next_event().await;
        assert_eq!((name.as_str(), &status["status"]), ("status", &json!("PURCHASED")));
        assert_eq!(status["entryId"], entry);
    }

    // A shutdown ends the stream with a reconnect hint.
    second.stop();
    let mut last = String::new();
    while let Some(frame) = mine.next_frame().await {
        last = frame;
    }
    assert!(last.contains("retry: "), "the stream ended with a reconnect hint: {last}");
}

#[tokio::test]
async fn the_waitlist_stream_takes_only_its_own_ticket_and_counts_against_the_user_cap() {
    let app = spawn_app_with(&[("QUEUE_STREAM_MAX_PER_USER", "1")]).await;
    let fan = app.signup().await;
    let res = app.get("/api/waitlist/my/events", None).await;
    error_body(res, StatusCode::UNAUTHORIZED, "UNAUTHORIZED").await;
    let res = app.get(&format!("/api/waitlist/my/events?ticket={}", fan.token), None).await;
    error_body(res, StatusCode::UNAUTHORIZED, "INVALID_STREAM_TICKET").await;
    let ticket = stream_ticket(&app, &fan).await;
    let res = app.get(&format!("/api/waitlist/my/events?ticket={ticket}"), Some(&ticket)).await;
    error_body(res, StatusCode::UNAUTHORIZED, "INVALID_TOKEN").await;

    let open = Events::open(&app, &format!("?ticket={ticket}"), None).await;
    let res = app.get("/api/waitlist/my/events", Some(&fan.token)).await;
    assert!(res.headers().contains_key("retry-after"));
    error_body(res, StatusCode::TOO_MANY_REQUESTS, "TOO_MANY_STREAMS").await;
    drop(open);
    wait_until("the closed stream frees its place", || async {
        app.get("/api/waitlist/my/events", Some(&fan.token)).await.status() == StatusCode::OK
    })
    .await;
}
