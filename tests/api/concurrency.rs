//! Many fans at once, against the real app, Redis and Postgres: nothing is ever sold twice.

use std::{collections::HashMap, sync::Arc};

use rand::seq::IndexedRandom;
use reqwest::StatusCode;
use serde_json::Value;
use tokio::sync::Barrier;

use crate::helpers::{error_body, spawn_app};

#[tokio::test]
async fn five_hundred_fans_race_for_one_seat_and_exactly_one_wins() {
    let app = spawn_app().await;
    let (_, concert, seats) = app.concert_on_sale(1).await;
    let fans = app.bulk_users(500).await;
    // Warm the concert's state so every racer takes the same path.
    let (_, warm_token) = &app.bulk_users(1).await[0];
    let warm = app.hold(warm_token, seats[0]).await;
    assert_eq!(warm.status(), StatusCode::OK);
    app.delete(&format!("/api/seat/{}/select", seats[0]), Some(warm_token)).await;

    let barrier = Arc::new(Barrier::new(fans.len()));
    let app = Arc::new(app);
    let tasks = fans.iter().map(|(id, token)| {
        let (app, barrier, token, seat) = (app.clone(), barrier.clone(), token.clone(), seats[0]);
        let id = *id;
        tokio::spawn(async move {
            barrier.wait().await;
            let res = app.hold(&token, seat).await;
            (id, res.status(), res.json::<Value>().await.unwrap())
        })
    });
    let results: Vec<(i64, StatusCode, Value)> =
        futures::future::join_all(tasks).await.into_iter().map(Result::unwrap).collect();
    let winners: Vec<i64> = results.iter().filter(|r| r.1 == StatusCode::OK).map(|r| r.0).collect();
    assert_eq!(winners.len(), 1, "exactly one fan holds the seat");
    for (_, status, body) in results.iter().filter(|r| r.1 != StatusCode::OK) {
        assert_eq!(*status, StatusCode::CONFLICT, "{body}");
        assert_eq!(body["code"], "SEAT_ALREADY_LOCKED");
    }
    assert_eq!(app.seat_statuses(concert).await[&seats[0]], "HELD");
    let holder = app.state.holds.holder(concert, seats[0]).await.unwrap().map(|h| h.user_id);
    assert_eq!(holder, Some(winners[0]), "held by the one who got 200");
}

#[tokio::test]
async fn two_hundred_fans_grab_overlapping_pairs_and_no_seat_goes_to_two() {
    let app = spawn_app().await;
    let (_, _, seats) = app.concert_on_sale(100).await;
    let fans = app.bulk_users(200).await;
    let mut rng = rand::rng();
    let pairs: Vec<[i64; 2]> = (0..fans.len())
        .map(|_| {
            let mut pick: Vec<i64> = seats.sample(&mut rng, 2).copied().collect();
            pick.sort_unstable();
            [pick[0], pick[1]]
        })
        .collect();
    let barrier = Arc::new(Barrier::new(fans.len()));
    let app = Arc::new(app);
    let tasks = fans.iter().zip(&pairs).map(|((id, token), pair)| {
        let (app, barrier, token, pair, id) =
            (app.clone(), barrier.clone(), token.clone(), *pair, *id);
        tokio::spawn(async move {
            barrier.wait().await;
            let status = app.hold_many(&token, &pair).await.status();
            (id, token, pair, status)
        })
    });
    let results: Vec<(i64, String, [i64; 2], StatusCode)> =
        futures::future::join_all(tasks).await.into_iter().map(Result::unwrap).collect();
    assert!(
        results.iter().all(|r| r.3 == StatusCode::OK || r.3 == StatusCode::CONFLICT),
        "only 200 or 409"
    );

    // Every successful hold is whole, every failed one left nothing behind, no seat has two.
    let mut owner_of: HashMap<i64, i64> = HashMap::new();
    for (id, _, pair, status) in &results {
        for seat in pair {
            let holder = app
                .state
                .holds
                .holder(app.concert_of_seat(*seat).await, *seat)
                .await
                .unwrap()
                .map(|h| h.user_id);
            if *status == StatusCode::OK {
                assert_eq!(holder, Some(*id), "fan {id} holds both seats of {pair:?}");
                assert!(
                    owner_of.insert(*seat, *id).is_none_or(|prev| prev == *id),
                    "seat {seat} given twice"
                );
            } else {
                assert_ne!(holder, Some(*id), "a refused fan holds nothing");
            }
        }
    }
    let winners: Vec<_> = results.iter().filter(|r| r.3 == StatusCode::OK).collect();
    assert!(!winners.is_empty());

    // Everyone who holds checks out at once; the database agrees: one active reservation per seat.
    let checkouts = winners.iter().map(|(_, token, pair, _)| {
        let (app, token, pair) = (app.clone(), token.clone(), *pair);
        tokio::spawn(async move { app.checkout(&token, &pair).await.status() })
    });
    for status in futures::future::join_all(checkouts).await {
        assert_eq!(status.unwrap(), StatusCode::OK);
    }
    let doubled: i64 = sqlx::query_scalar(
        "select count(*) from (select seat_id from reservation_seat where active group by seat_id having count(*) > 1) d",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(doubled, 0);
    let reserved: i64 = sqlx::query_scalar("select count(*) from reservation_seat where active")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(reserved as usize, winners.len() * 2);
}

#[tokio::test]
async fn with_the_hold_key_gone_the_database_still_refuses_a_second_reservation() {
    let app = spawn_app().await;
    let (_, concert, seats) = app.concert_on_sale(1).await;
    let (alice, bob) = (app.signup().await, app.signup().await);
    app.hold(&alice.token, seats[0]).await;
    assert_eq!(app.checkout(&alice.token, &seats).await.status(), StatusCode::OK);

    // Redis loses the seat's key: Bob can hold it there, but the database says no at checkout.
    app.delete_hold_key(seats[0]).await;
    assert_eq!(app.hold(&bob.token, seats[0]).await.status(), StatusCode::OK);
    error_body(
        app.checkout(&bob.token, &seats).await,
        StatusCode::CONFLICT,
        "IS_ALREADY_RESERVATION",
    )
    .await;
    let reservations: i64 =
        sqlx::query_scalar("select count(*) from reservation").fetch_one(&app.db).await.unwrap();
    assert_eq!(reservations, 1);
    assert_eq!(app.seat_statuses(concert).await[&seats[0]], "RESERVED");
}

#[tokio::test]
async fn after_a_redis_flush_the_state_is_reloaded_from_the_database() {
    let app = spawn_app().await;
    let (_, concert, seats) = app.concert_on_sale(3).await;
    let (alice, bob) = (app.signup().await, app.signup().await);
    let paid = app.hold(&alice.token, seats[0]).await;
    assert_eq!(paid.status(), StatusCode::OK);
    let res: Value = app.checkout(&alice.token, &seats[..1]).await.json().await.unwrap();
    app.confirm_reservation(res["reservationId"].as_i64().unwrap()).await;
    app.hold(&alice.token, seats[1]).await;
    app.checkout(&alice.token, &seats[1..2]).await;

    app.flush_redis().await;
    error_body(
        app.hold(&bob.token, seats[0]).await,
        StatusCode::CONFLICT,
        "IS_ALREADY_RESERVATION",
    )
    .await;
    error_body(
        app.hold(&bob.token, seats[1]).await,
        StatusCode::CONFLICT,
        "IS_ALREADY_RESERVATION",
    )
    .await;
    assert_eq!(app.hold(&bob.token, seats[2]).await.status(), StatusCode::OK);
    let statuses = app.seat_statuses(concert).await;
    assert_eq!(
        (statuses[&seats[0]].as_str(), statuses[&seats[1]].as_str(), statuses[&seats[2]].as_str()),
        ("SOLD", "RESERVED", "HELD")
    );
}
