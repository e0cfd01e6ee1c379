use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, error_body, failing_fields, spawn_app};

fn seat(concert: i64, section: &str, row: &str, number: &str, grade: &str, price: Value) -> Value {
    json!({"concertId": concert, "section": section, "row": row, "number": number, "grade": grade, "price": price})
}

async fn concert_with_admin(app: &TestApp) -> (String, i64) {
    let admin = app.admin_token().await;
    let id = app.create_concert(&admin).await["id"].as_i64().unwrap();
    (admin, id)
}

fn labels(seats: &Value) -> Vec<String> {
    seats
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            format!(
                "{}-{}-{}",
                s["section"].as_str().unwrap(),
                s["row"].as_str().unwrap(),
                s["number"].as_str().unwrap()
            )
        })
        .collect()
}

#[tokio::test]
async fn batch_creates_seats_with_the_original_fields() {
    let app = spawn_app().await;
    let (admin, concert) = concert_with_admin(&app).await;
    let res = app
        .post(
            "/api/seat/batch",
            Some(&admin),
            json!([
                seat(concert, "A", "1", "15", "VIP", json!(150000)),
                seat(concert, "A", "1", "16", "VIP", json!("99.5"))
            ]),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let seats: Value = res.json().await.unwrap();
    let first = &seats[0];
    assert_eq!(first["concertId"], concert);
    assert_eq!(first["concertTitle"], "테스트 콘서트");
    assert_eq!(first["section"], "A");
    assert_eq!(first["row"], "1");
    assert_eq!(first["number"], "15");
    assert_eq!(first["grade"], "VIP");
    assert_eq!(first["price"], 150000);
    assert_eq!(first["reserved"], false);
    assert_eq!(first["status"], "AVAILABLE");
    assert!(first["createdAt"].is_string() && first["updatedAt"].is_string());
    assert_eq!(seats[1]["price"], 99.5);

    let fetched: Value =
        app.get(&format!("/api/seat/{}", first["id"]), None).await.json().await.unwrap();
    assert_eq!(&fetched, first);
}

#[tokio::test]
async fn seat_map_is_in_natural_order() {
    let app = spawn_app().await;
    let (admin, concert) = concert_with_admin(&app).await;
    let items: Vec<Value> = [
        ("B", "1", "1"),
        ("A", "10", "2"),
        ("A", "2", "10"),
        ("A", "2", "9"),
        ("A", "2", "1"),
        ("a", "1", "1"),
    ]
    .iter()
    .map(|(s, r, n)| seat(concert, s, r, n, "R", json!(1000)))
    .collect();
    assert_eq!(
        app.post("/api/seat/batch", Some(&admin), Value::Array(items)).await.status(),
        StatusCode::CREATED
    );
    let map: Value =
        app.get(&format!("/api/seat/concert/{concert}/seat-map"), None).await.json().await.unwrap();
    assert_eq!(labels(&map), ["a-1-1", "A-2-1", "A-2-9", "A-2-10", "A-10-2", "B-1-1"]);

    let page: Value = app
        .get(&format!("/api/seat/concert/{concert}?page=1&size=4"), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(labels(&page["content"]), ["A-10-2", "B-1-1"]);
    assert_eq!(page["totalElements"], 6);
    assert_eq!(page["totalPages"], 2);
    assert_eq!(page["last"], true);
}

#[tokio::test]
async fn seats_by_grade() {
    let app = spawn_app().await;
    let (admin, concert) = concert_with_admin(&app).await;
    let items = json!([
        seat(concert, "A", "1", "1", "VIP", json!(3)),
        seat(concert, "A", "1", "2", "R", json!(2)),
        seat(concert, "A", "1", "3", "VIP", json!(3))
    ]);
    app.post("/api/seat/batch", Some(&admin), items).await;
    let vip: Value = app
        .get(&format!("/api/seat/concert/{concert}/seats?grade=VIP"), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(labels(&vip), ["A-1-1", "A-1-3"]);
    let none: Value = app
        .get(&format!("/api/seat/concert/{concert}/seats?grade=S"), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(none, json!([]));
    // Any grade text, control characters included (they are no header value), gets an answer.
    let res =
        app.get(&format!("/api/seat/concert/{concert}/seats?grade=9%1D%0C+%09%0D%0A"), None).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["etag"].to_str().is_ok_and(|e| e.starts_with("\"m")));
    assert_eq!(res.json::<Value>().await.unwrap(), json!([]));
}

#[tokio::test]
async fn every_invalid_item_is_reported_and_nothing_is_created() {
    let app = spawn_app().await;
    let (admin, concert) = concert_with_admin(&app).await;
    let items = json!([
        seat(concert, "A", "1", "1", "R", json!(1000)),
        seat(concert, "", "1", "2", "R", json!(0)),
        {"concertId": concert, "row": "1", "number": "3", "grade": "x".repeat(21), "price": -5},
    ]);
    let body = error_body(
        app.post("/api/seat/batch", Some(&admin), items).await,
        StatusCode::BAD_REQUEST,
        "BAD_REQUEST",
    )
    .await;
    assert_eq!(
        failing_fields(&body),
        ["[1].section", "[1].price", "[2].section", "[2].grade", "[2].price"]
    );
    let count: i64 =
        sqlx::query_scalar("select count(*) from seat").fetch_one(&app.db).await.unwrap();
    assert_eq!(count, 0);

    error_body(
        app.post("/api/seat/batch", Some(&admin), json!([])).await,
        StatusCode::BAD_REQUEST,
        "BAD_REQUEST",
    )
    .await;
    let too_many: Vec<Value> =
        (0..5001).map(|i| seat(concert, "A", "1", &i.to_string(), "R", json!(1))).collect();
    let body = error_body(
        app.post("/api/seat/batch", Some(&admin), Value::Array(too_many)).await,
        StatusCode::BAD_REQUEST,
        "BAD_REQUEST",
    )
    .await;
    assert_eq!(failing_fields(&body), ["body"]);
}

#[tokio::test]
async fn a_batch_must_name_one_concert_and_no_seat_twice() {
    let app = spawn_app().await;
    let (admin, concert) = concert_with_admin(&app).await;
    let other = app.create_concert(&admin).await["id"].as_i64().unwrap();
    let mixed = json!([
        seat(concert, "A", "1", "1", "R", json!(1)),
        seat(other, "A", "1", "2", "R", json!(1))
    ]);
    error_body(
        app.post("/api/seat/batch", Some(&admin), mixed).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "INVALID_CONCERT_ID",
    )
    .await;
    let repeated = json!([
        seat(concert, "A", "1", "1", "R", json!(1)),
        seat(concert, "A", "1", "1", "VIP", json!(2))
    ]);
    error_body(
        app.post("/api/seat/batch", Some(&admin), repeated).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "DUPLICATE_SEAT_IN_REQUEST",
    )
    .await;
}

#[tokio::test]
async fn a_seat_that_exists_in_the_concert_is_a_409_and_the_batch_is_not_applied() {
    let app = spawn_app().await;
    let (admin, concert) = concert_with_admin(&app).await;
    app.create_seats(&admin, concert, 3).await;
    let batch = json!([
        seat(concert, "A", "1", "100", "R", json!(1)),
        seat(concert, "A", "1", "2", "R", json!(1))
    ]);
    error_body(
        app.post("/api/seat/batch", Some(&admin), batch).await,
        StatusCode::CONFLICT,
        "SEAT_ALREADY_EXISTS",
    )
    .await;
    let count: i64 =
        sqlx::query_scalar("select count(*) from seat").fetch_one(&app.db).await.unwrap();
    assert_eq!(count, 3, "all or nothing");
    // The same position in another concert is fine.
    let other = app.create_concert(&admin).await["id"].as_i64().unwrap();
    app.create_seats(&admin, other, 3).await;
}

#[tokio::test]
async fn seats_for_a_missing_concert_are_a_404() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let res = app
        .post("/api/seat/batch", Some(&admin), json!([seat(987654, "A", "1", "1", "R", json!(1))]))
        .await;
    error_body(res, StatusCode::NOT_FOUND, "CONCERT_NOT_FOUND").await;
    error_body(
        app.get("/api/seat/concert/987654", None).await,
        StatusCode::NOT_FOUND,
        "CONCERT_NOT_FOUND",
    )
    .await;
    error_body(app.get("/api/seat/987654", None).await, StatusCode::NOT_FOUND, "SEAT_NOT_FOUND")
        .await;
}

#[tokio::test]
async fn admin_updates_and_deletes_a_free_seat() {
    let app = spawn_app().await;
    let (admin, concert) = concert_with_admin(&app).await;
    let seats = app.create_seats(&admin, concert, 2).await;
    let id = seats[0]["id"].as_i64().unwrap();
    let res = app
        .put(
            &format!("/api/seat/{id}"),
            Some(&admin),
            json!({"section": "B", "row": "3", "number": "7", "grade": "VIP", "price": 120000}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let updated: Value = res.json().await.unwrap();
    assert_eq!(labels(&json!([updated.clone()])), ["B-3-7"]);
    assert_eq!(updated["price"], 120000);
    // Moving onto the other seat's position is a conflict.
    let res = app
        .put(
            &format!("/api/seat/{id}"),
            Some(&admin),
            json!({"section": "A", "row": "1", "number": "2", "grade": "R", "price": 1}),
        )
        .await;
    error_body(res, StatusCode::CONFLICT, "SEAT_ALREADY_EXISTS").await;
    let res = app
        .put(
            &format!("/api/seat/{id}"),
            Some(&admin),
            json!({"section": "A", "row": "1", "number": "9", "grade": "R", "price": 0}),
        )
        .await;
    assert_eq!(
        failing_fields(&error_body(res, StatusCode::BAD_REQUEST, "BAD_REQUEST").await),
        ["price"]
    );

    assert_eq!(
        app.delete(&format!("/api/seat/{id}"), Some(&admin)).await.status(),
        StatusCode::NO_CONTENT
    );
    error_body(
        app.get(&format!("/api/seat/{id}"), None).await,
        StatusCode::NOT_FOUND,
        "SEAT_NOT_FOUND",
    )
    .await;
    let map: Value =
        app.get(&format!("/api/seat/concert/{concert}/seat-map"), None).await.json().await.unwrap();
    assert_eq!(map.as_array().unwrap().len(), 1);
    // A deleted seat's position can be created again.
    app.post("/api/seat/batch", Some(&admin), json!([seat(concert, "B", "3", "7", "R", json!(1))]))
        .await;
}

#[tokio::test]
async fn a_reserved_seat_cannot_be_changed_or_deleted_and_shows_as_reserved() {
    let app = spawn_app().await;
    let (admin, concert) = concert_with_admin(&app).await;
    let user = app.signup().await;
    let seats = app.create_seats(&admin, concert, 2).await;
    let id = seats[0]["id"].as_i64().unwrap();
    let reservation = app.start_checkout(&user.token, &[id]).await.reservation;
    let res = app
        .put(
            &format!("/api/seat/{id}"),
            Some(&admin),
            json!({"section": "A", "row": "1", "number": "1", "grade": "R", "price": 1}),
        )
        .await;
    error_body(res, StatusCode::UNPROCESSABLE_ENTITY, "CANNOT_DELETE_RESERVED_SEAT").await;
    error_body(
        app.delete(&format!("/api/seat/{id}"), Some(&admin)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "CANNOT_DELETE_RESERVED_SEAT",
    )
    .await;

    let map: Value =
        app.get(&format!("/api/seat/concert/{concert}/seat-map"), None).await.json().await.unwrap();
    assert_eq!(map[0]["status"], "RESERVED");
    assert_eq!(map[0]["reserved"], true);
    assert_eq!(map[1]["status"], "AVAILABLE");

    app.confirm_reservation(reservation).await;
    let map: Value =
        app.get(&format!("/api/seat/concert/{concert}/seat-map"), None).await.json().await.unwrap();
    assert_eq!(map[0]["status"], "SOLD");
}

#[tokio::test]
async fn the_database_refuses_a_second_active_reservation_of_a_seat() {
    let app = spawn_app().await;
    let (admin, concert) = concert_with_admin(&app).await;
    let seat_id = app.create_seats(&admin, concert, 1).await[0]["id"].as_i64().unwrap();
    let mut reservations = Vec::new();
    for _ in 0..2 {
        let id: i64 = sqlx::query_scalar(
            "insert into reservation (user_id, concert_id, expire_time) values (1, $1, now() + interval '10 minutes') returning id",
        )
        .bind(concert)
        .fetch_one(&app.db)
        .await
        .unwrap();
        reservations.push(id);
    }
    let insert = "insert into reservation_seat (reservation_id, seat_id) values ($1, $2)";
    sqlx::query(insert).bind(reservations[0]).bind(seat_id).execute(&app.db).await.unwrap();
    let err =
        sqlx::query(insert).bind(reservations[1]).bind(seat_id).execute(&app.db).await.unwrap_err();
    assert_eq!(err.as_database_error().unwrap().constraint(), Some("reservation_seat_active_uk"));

    // Ending the first reservation frees the seat (the trigger clears `active`).
    sqlx::query("update reservation set status = 'EXPIRED' where id = $1")
        .bind(reservations[0])
        .execute(&app.db)
        .await
        .unwrap();
    sqlx::query(insert).bind(reservations[1]).bind(seat_id).execute(&app.db).await.unwrap();
    // A seat cannot be attached to a reservation that already ended.
    let err =
        sqlx::query(insert).bind(reservations[0]).bind(seat_id).execute(&app.db).await.unwrap_err();
    assert_eq!(
        err.as_database_error().unwrap().constraint(),
        Some("reservation_seat_reservation_active")
    );
}

/// Decodes one seat of a layout: (id, section, row, number, grade, price).
fn layout_seat(layout: &Value, i: usize) -> (i64, String, String, String, String, Value) {
    let column = |name: &str| {
        let index = layout[name]["index"][i].as_u64().unwrap() as usize;
        layout[name]["values"][index].clone()
    };
    let text = |v: Value| v.as_str().unwrap().to_owned();
    (
        layout["ids"][i].as_i64().unwrap(),
        text(column("section")),
        text(column("row")),
        layout["number"][i].as_str().unwrap().to_owned(),
        text(column("grade")),
        column("price"),
    )
}

#[tokio::test]
async fn the_layout_is_the_seat_map_by_column_cached_by_its_version() {
    let app = spawn_app().await;
    let (admin, concert) = concert_with_admin(&app).await;
    let body = json!([
        seat(concert, "B", "1", "1", "R", json!(99000)),
        seat(concert, "A", "10", "2", "VIP", json!(150000)),
        seat(concert, "A", "2", "10", "VIP", json!(150000)),
        seat(concert, "A", "2", "9", "VIP", json!(150000.5)),
    ]);
    assert_eq!(app.post("/api/seat/batch", Some(&admin), body).await.status(), StatusCode::CREATED);
    let path = format!("/api/seat/concert/{concert}/layout");
    let res = app.get(&path, None).await;
    assert_eq!(res.status(), StatusCode::OK);
    let etag = res.headers()["etag"].to_str().unwrap().to_owned();
    assert!(res.headers()["cache-control"].to_str().unwrap().starts_with("public, max-age="));
    let layout: Value = res.json().await.unwrap();
    assert_eq!(etag, format!("\"{}\"", layout["version"].as_str().unwrap()));
    assert_eq!(layout["count"], 4);

    let map: Value =
        app.get(&format!("/api/seat/concert/{concert}/seat-map"), None).await.json().await.unwrap();
    for (i, s) in map.as_array().unwrap().iter().enumerate() {
        let text = |f: &str| s[f].as_str().unwrap().to_owned();
        let expected = (
            s["id"].as_i64().unwrap(),
            text("section"),
            text("row"),
            text("number"),
            text("grade"),
            s["price"].clone(),
        );
        assert_eq!(layout_seat(&layout, i), expected, "seat {i} in natural order");
    }

    // Unchanged: 304 with no body; a hold changes availability, not the layout.
    let cached = app.request_with(reqwest::Method::GET, &path, &[("if-none-match", &etag)]).await;
    assert_eq!(cached.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(cached.headers()["etag"], etag.as_str());
    assert!(cached.bytes().await.unwrap().is_empty());
    let fan = app.signup().await;
    assert_eq!(app.hold(&fan.token, map[0]["id"].as_i64().unwrap()).await.status(), StatusCode::OK);
    let again = app.get(&path, None).await;
    assert_eq!(again.headers()["etag"], etag.as_str(), "holds leave the layout alone");

    // An admin edit makes a new version; the old tag gets the new layout.
    let last = map[3]["id"].as_i64().unwrap();
    let edit = json!({"section": "B", "row": "1", "number": "2", "grade": "R", "price": 88000});
    assert_eq!(
        app.put(&format!("/api/seat/{last}"), Some(&admin), edit).await.status(),
        StatusCode::OK
    );
    let changed = app.request_with(reqwest::Method::GET, &path, &[("if-none-match", &etag)]).await;
    assert_eq!(changed.status(), StatusCode::OK);
    assert_ne!(changed.headers()["etag"], etag.as_str());
    error_body(
        app.get("/api/seat/concert/987654/layout", None).await,
        StatusCode::NOT_FOUND,
        "CONCERT_NOT_FOUND",
    )
    .await;
}

#[tokio::test]
async fn a_50000_seat_layout_is_at_most_1_5_mb() {
    let app = spawn_app().await;
    let (admin, concert) = concert_with_admin(&app).await;
    for block in 0..10 {
        let seats: Vec<Value> = (0..5000)
            .map(|i| {
                let (row, number) = (i / 50 + 1, i % 50 + 1);
                let section = format!("S{block}");
                seat(concert, &section, &row.to_string(), &number.to_string(), "R", json!(132000))
            })
            .collect();
        let res = app.post("/api/seat/batch", Some(&admin), Value::Array(seats)).await;
        assert_eq!(res.status(), StatusCode::CREATED);
    }
    let res = app.get(&format!("/api/seat/concert/{concert}/layout"), None).await;
    let bytes = res.bytes().await.unwrap();
    let layout: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(layout["count"], 50_000);
    assert!(bytes.len() <= 1_500_000, "{} bytes for 50,000 seats", bytes.len());
    println!("layout of 50,000 seats: {} bytes", bytes.len());
}
