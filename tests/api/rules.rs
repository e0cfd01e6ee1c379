//! One seat representation, and the rules Redis repeats, tied to their one place in the domain.

use chrono::{Duration, Utc};
use reqwest::StatusCode;
use serde_json::Value;
use ticketing::{
    clients::holds::{ConcertLoad, ConcertState, HoldAttempt, HoldOutcome, HoldVelocity},
    domain::{
        concert::{ConcertStatus, sale_state},
        reservation::ReservationStatus,
        seat::SeatStatus,
    },
    services::holds::refusal,
};

use crate::helpers::{error_body, spawn_app};

#[tokio::test]
async fn a_seat_looks_the_same_in_the_map_the_list_the_hold_answer_and_on_its_own_in_every_state() {
    let app = spawn_app().await;
    let (_admin, concert, seats) = app.concert_on_sale(4).await;
    let (holder, payer, buyer) = (app.signup().await, app.signup().await, app.signup().await);
    let held: Value = app.hold(&holder.token, seats[1]).await.json().await.unwrap();
    app.start_checkout(&payer.token, &[seats[2]]).await;
    let sold = app.start_checkout(&buyer.token, &[seats[3]]).await;
    app.confirm_reservation(sold.reservation).await;

    let map: Value =
        app.get(&format!("/api/seat/concert/{concert}/seat-map"), None).await.json().await.unwrap();
    let list: Value =
        app.get(&format!("/api/seat/concert/{concert}"), None).await.json().await.unwrap();
    let expected = ["AVAILABLE", "HELD", "RESERVED", "SOLD"];
    for (i, seat) in seats.iter().enumerate() {
        let single: Value = app.get(&format!("/api/seat/{seat}"), None).await.json().await.unwrap();
        assert_eq!(single["status"], expected[i], "seat {i}");
        assert_eq!(single["reserved"], i > 0, "seat {i}");
        assert_eq!(map[i], single, "seat-map entry {i} differs from GET /api/seat/{seat}");
        assert_eq!(list["content"][i], single, "list entry {i} differs from GET /api/seat/{seat}");
    }
    let mut held_seat = held.clone();
    assert!(held_seat.as_object_mut().unwrap().remove("expiresAt").is_some());
    assert_eq!(held_seat, map[1], "the hold answer is the seat plus expiresAt");
}

/// Loads a made-up concert straight into Redis (as the hold service would from Postgres) with
/// the given status and sale window, then tries a hold on its one seat.
async fn hold_in_redis(
    app: &crate::helpers::TestApp,
    concert: i64,
    status: ConcertStatus,
    open_in: Duration,
    close_in: Duration,
) -> HoldOutcome {
    let holds = &app.state.holds;
    let seat = concert * 10;
    let now = Utc::now();
    let version = holds.create_version(concert).await.unwrap();
    let load = ConcertLoad {
        state: ConcertState {
            open_ms: (now + open_in).timestamp_millis(),
            close_ms: (now + close_in).timestamp_millis(),
            status: status.as_str().to_owned(),
            deleted: false,
            queue_enabled: false,
        },
        layout: "test",
        live_seats: &[seat],
        sold: &[],
        reserved: &[],
        owned: &[],
        force: false,
        places: &[],
        waiting: &[],
        offered: &[],
    };
    assert!(holds.warm(concert, &version, &load).await.unwrap());
    let attempt = HoldAttempt {
        client: "127.0.0.1",
        velocity: HoldVelocity { per_user: 0, per_ip: 0, window_ms: 60_000 },
        count: true,
    };
    holds.hold(concert, 1, &[seat], 60_000, 4, &attempt).await.unwrap()
}

#[tokio::test]
async fn the_hold_script_applies_the_sale_rule_of_the_domain() {
    let app = spawn_app().await;
    let h = Duration::hours(1);
    let cases = [
        (ConcertStatus::Scheduled, -h, h),
        (ConcertStatus::Scheduled, h, h * 2),
        (ConcertStatus::Scheduled, -h * 2, -h),
        (ConcertStatus::SoldOut, -h, h),
        (ConcertStatus::Completed, -h * 2, -h),
        (ConcertStatus::Cancelled, h, h * 2),
    ];
    for (i, (status, open_in, close_in)) in cases.into_iter().enumerate() {
        let concert = 9_000 + i as i64;
        let outcome = hold_in_redis(&app, concert, status, open_in, close_in).await;
        let now = Utc::now();
        let rule = sale_state(status, now + open_in, now + close_in, now);
        match (rule, outcome) {
            (Ok(()), HoldOutcome::Held { .. }) => {}
            (Err(why), outcome) => {
                let refused = refusal(outcome.clone());
                let expected: ticketing::error::AppError = why.code().into();
                assert_eq!(
                    format!("{refused:?}"),
                    format!("{expected:?}"),
                    "case {i} ({status:?}): Redis said {outcome:?}, the domain {why:?}"
                );
            }
            (Ok(()), outcome) => {
                panic!("case {i} ({status:?}): on sale, but Redis said {outcome:?}")
            }
        }
    }
}

#[tokio::test]
async fn redis_marks_paid_seats_sold_and_unpaid_ones_reserved_as_the_domain_says() {
    let app = spawn_app().await;
    let (_admin, concert, seats) = app.concert_on_sale(3).await;
    let (payer, buyer, fan) = (app.signup().await, app.signup().await, app.signup().await);
    app.start_checkout(&payer.token, &[seats[0]]).await;
    let sold = app.start_checkout(&buyer.token, &[seats[1]]).await;
    app.confirm_reservation(sold.reservation).await;
    // Redis loses everything; the next hold reloads the seat states from Postgres.
    app.flush_redis().await;
    assert_eq!(app.hold(&fan.token, seats[2]).await.status(), StatusCode::OK);
    error_body(
        app.hold(&fan.token, seats[0]).await,
        StatusCode::CONFLICT,
        "IS_ALREADY_RESERVATION",
    )
    .await;

    let mut conn = app.state.redis.conn().await.unwrap();
    for (seat, reservation) in
        [(seats[0], ReservationStatus::InProgress), (seats[1], ReservationStatus::Confirmed)]
    {
        let key = app.state.holds.seat_key(concert, seat);
        let value: String =
            deadpool_redis::redis::cmd("GET").arg(key).query_async(&mut conn).await.unwrap();
        let marked = if value == "s" {
            SeatStatus::Sold
        } else if value.starts_with("r:") {
            SeatStatus::Reserved
        } else {
            panic!("seat {seat} is marked `{value}` in Redis")
        };
        assert_eq!(marked, SeatStatus::of_reservation(reservation), "{reservation:?}");
    }
    let statuses = app.seat_statuses(concert).await;
    assert_eq!(statuses[&seats[0]], "RESERVED");
    assert_eq!(statuses[&seats[1]], "SOLD");
}
