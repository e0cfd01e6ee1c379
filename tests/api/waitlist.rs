//! The waitlist after sell-out (issue 18): joining, leaving and the lists, on two instances.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{error_body, spawn_app};

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
