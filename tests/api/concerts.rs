use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{concert_body, error_body, spawn_app};

#[tokio::test]
async fn admin_creates_a_concert_and_anyone_reads_it() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let body = json!({
        "title": "아이유 콘서트 2026",
        "venue": "올림픽공원 체조경기장",
        // Naive timestamps are Seoul time, as the original's clients send them.
        "openTime": "2026-12-01T10:00:00",
        "closeTime": "2026-12-24T23:59:59",
        "concertDate": "2026-12-25T19:00:00+09:00",
        "queueEnabled": true,
    });
    let res = app.post("/api/concert", Some(&admin), body).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let created: Value = res.json().await.unwrap();
    assert_eq!(created["title"], "아이유 콘서트 2026");
    assert_eq!(created["status"], "SCHEDULED");
    assert_eq!(created["queueEnabled"], true);
    assert_eq!(created["openTime"], "2026-12-01T10:00:00+09:00");
    assert_eq!(created["concertDate"], "2026-12-25T19:00:00+09:00");
    assert!(created["createdAt"].is_string() && created["updatedAt"].is_string());

    let fetched: Value =
        app.get(&format!("/api/concert/{}", created["id"]), None).await.json().await.unwrap();
    assert_eq!(fetched, created);
}

#[tokio::test]
async fn concert_dates_must_be_in_order() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let mut body = concert_body("x");
    body["closeTime"] = body["openTime"].clone();
    error_body(
        app.post("/api/concert", Some(&admin), body).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "CLOSE_TIME_AFTER_OPEN_TIME",
    )
    .await;
    let mut body = concert_body("x");
    body["concertDate"] = body["openTime"].clone();
    error_body(
        app.post("/api/concert", Some(&admin), body).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "CONCERT_DATE_AFTER_CLOSE_TIME",
    )
    .await;
    // openTime < closeTime <= concertDate: the sale may close as the show starts.
    let mut body = concert_body("x");
    body["concertDate"] = body["closeTime"].clone();
    assert_eq!(app.post("/api/concert", Some(&admin), body).await.status(), StatusCode::CREATED);
    let mut body = concert_body("x");
    body["openTime"] = json!("0276-01-01T00:00:00Z");
    error_body(
        app.post("/api/concert", Some(&admin), body).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "DATE_OUT_OF_RANGE",
    )
    .await;
}

#[tokio::test]
async fn list_is_paged_ordered_by_date_and_filtered() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let now = chrono::Utc::now();
    for (i, title) in ["Rock Night", "Jazz Evening", "Rock Morning"].iter().enumerate() {
        let days = 30 - i as i64 * 10; // created in reverse date order
        let body = json!({
            "title": title,
            "venue": if i == 1 { "Blue Note" } else { "Arena 100%" },
            "openTime": (now).to_rfc3339(),
            "closeTime": (now + chrono::Duration::days(days - 1)).to_rfc3339(),
            "concertDate": (now + chrono::Duration::days(days)).to_rfc3339(),
        });
        assert_eq!(
            app.post("/api/concert", Some(&admin), body).await.status(),
            StatusCode::CREATED
        );
    }
    let page: Value = app.get("/api/concert?page=0&size=2", None).await.json().await.unwrap();
    let titles: Vec<&str> =
        page["content"].as_array().unwrap().iter().map(|c| c["title"].as_str().unwrap()).collect();
    assert_eq!(titles, ["Rock Morning", "Jazz Evening"]);
    assert_eq!(page["totalElements"], 3);
    assert_eq!(page["totalPages"], 2);
    assert_eq!(page["size"], 2);
    assert_eq!(page["number"], 0);
    assert_eq!(page["first"], true);
    assert_eq!(page["last"], false);
    assert_eq!(page["numberOfElements"], 2);
    assert_eq!(page["empty"], false);

    let second: Value = app.get("/api/concert?page=1&size=2", None).await.json().await.unwrap();
    assert_eq!(second["content"][0]["title"], "Rock Night");
    assert_eq!(second["last"], true);

    let rock: Value = app.get("/api/concert?title=rock", None).await.json().await.unwrap();
    assert_eq!(rock["totalElements"], 2);
    let venue: Value = app.get("/api/concert?venue=blue", None).await.json().await.unwrap();
    assert_eq!(venue["content"][0]["title"], "Jazz Evening");
    // LIKE wildcards in the filter are literal.
    let percent: Value = app.get("/api/concert?venue=100%25", None).await.json().await.unwrap();
    assert_eq!(percent["totalElements"], 2);
    let underscore: Value = app.get("/api/concert?title=_", None).await.json().await.unwrap();
    assert_eq!(underscore["totalElements"], 0);

    let capped: Value = app.get("/api/concert?size=1000", None).await.json().await.unwrap();
    assert_eq!(capped["size"], 100, "page size is capped at 100");
}

#[tokio::test]
async fn update_replaces_the_details_and_keeps_what_is_absent() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let concert = app.create_concert(&admin).await;
    let id = concert["id"].as_i64().unwrap();
    let mut body = concert_body("새 제목");
    body["queueEnabled"] = json!(true);
    let res = app.put(&format!("/api/concert/{id}"), Some(&admin), body).await;
    assert_eq!(res.status(), StatusCode::OK);
    let updated: Value = res.json().await.unwrap();
    assert_eq!(updated["title"], "새 제목");
    assert_eq!(updated["queueEnabled"], true);
    assert_eq!(updated["status"], "SCHEDULED");

    let mut body = concert_body("새 제목");
    body["status"] = json!("CANCELLED");
    let updated: Value =
        app.put(&format!("/api/concert/{id}"), Some(&admin), body).await.json().await.unwrap();
    assert_eq!(updated["status"], "CANCELLED");
    assert_eq!(updated["queueEnabled"], true, "absent queueEnabled is unchanged");

    let mut bad = concert_body("x");
    bad["concertDate"] = bad["openTime"].clone();
    error_body(
        app.put(&format!("/api/concert/{id}"), Some(&admin), bad).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "CONCERT_DATE_AFTER_CLOSE_TIME",
    )
    .await;
    error_body(
        app.put("/api/concert/987654", Some(&admin), concert_body("x")).await,
        StatusCode::NOT_FOUND,
        "CONCERT_NOT_FOUND",
    )
    .await;
}

#[tokio::test]
async fn status_cannot_be_set_on_creation() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let mut body = concert_body("x");
    body["status"] = json!("SOLD_OUT");
    let body = error_body(
        app.post("/api/concert", Some(&admin), body).await,
        StatusCode::BAD_REQUEST,
        "BAD_REQUEST",
    )
    .await;
    assert_eq!(crate::helpers::failing_fields(&body), ["status"]);
}

#[tokio::test]
async fn delete_is_soft_and_hides_the_concert_and_its_seats() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let concert = app.create_concert(&admin).await;
    let id = concert["id"].as_i64().unwrap();
    let seats = app.create_seats(&admin, id, 2).await;
    assert_eq!(
        app.delete(&format!("/api/concert/{id}"), Some(&admin)).await.status(),
        StatusCode::NO_CONTENT
    );

    error_body(
        app.get(&format!("/api/concert/{id}"), None).await,
        StatusCode::NOT_FOUND,
        "CONCERT_NOT_FOUND",
    )
    .await;
    error_body(
        app.get(&format!("/api/seat/concert/{id}/seat-map"), None).await,
        StatusCode::NOT_FOUND,
        "CONCERT_NOT_FOUND",
    )
    .await;
    error_body(
        app.get(&format!("/api/seat/{}", seats[0]["id"]), None).await,
        StatusCode::NOT_FOUND,
        "SEAT_NOT_FOUND",
    )
    .await;
    let list: Value = app.get("/api/concert", None).await.json().await.unwrap();
    assert_eq!(list["totalElements"], 0);
    error_body(
        app.delete(&format!("/api/concert/{id}"), Some(&admin)).await,
        StatusCode::NOT_FOUND,
        "CONCERT_NOT_FOUND",
    )
    .await;

    // Soft: the rows are still there, marked deleted.
    let deleted: bool =
        sqlx::query_scalar("select deleted_at is not null from concert where id = $1")
            .bind(id)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert!(deleted);
}

#[tokio::test]
async fn a_concert_with_active_reservations_cannot_be_deleted() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let user = app.signup().await;
    let id = app.create_concert(&admin).await["id"].as_i64().unwrap();
    let seat = app.create_seats(&admin, id, 1).await[0]["id"].as_i64().unwrap();
    let reservation = app.start_checkout(&user.token, &[seat]).await.reservation;
    let res = app.delete(&format!("/api/concert/{id}"), Some(&admin)).await;
    error_body(res, StatusCode::UNPROCESSABLE_ENTITY, "CANNOT_DELETE_RESERVATION_OPEN_CONCERT")
        .await;

    // Once the reservation ends, the concert can go.
    sqlx::query("update reservation set status = 'EXPIRED' where id = $1")
        .bind(reservation)
        .execute(&app.db)
        .await
        .unwrap();
    assert_eq!(
        app.delete(&format!("/api/concert/{id}"), Some(&admin)).await.status(),
        StatusCode::NO_CONTENT
    );
}

#[tokio::test]
async fn missing_concert_is_a_404() {
    let app = spawn_app().await;
    error_body(
        app.get("/api/concert/424242", None).await,
        StatusCode::NOT_FOUND,
        "CONCERT_NOT_FOUND",
    )
    .await;
}

#[tokio::test]
async fn demo_data_is_seeded_once_when_asked() {
    let app = crate::helpers::spawn_app_with(&[("SEED_DEMO_DATA", "true")]).await;
    let list: Value = app.get("/api/concert", None).await.json().await.unwrap();
    assert_eq!(list["totalElements"], 2);
    let queued =
        list["content"].as_array().unwrap().iter().filter(|c| c["queueEnabled"] == true).count();
    assert_eq!(queued, 1, "one demo concert is behind the waiting room");
    let id = list["content"][0]["id"].as_i64().unwrap();
    let map: Value =
        app.get(&format!("/api/seat/concert/{id}/seat-map"), None).await.json().await.unwrap();
    assert_eq!(map.as_array().unwrap().len(), 500);
    // A second instance starting on the same database does not seed again.
    let second = app.another_instance().await;
    let list: Value = second.get("/api/concert", None).await.json().await.unwrap();
    assert_eq!(list["totalElements"], 2);
}
