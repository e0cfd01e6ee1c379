//! Malformed input of every kind gets a 4xx in the error shape, never a 500 or plain text.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{concert_body, error_body, failing_fields, spawn_app};

#[tokio::test]
async fn malformed_json_is_a_400() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    for raw in ["{\"title\": ", "not json", "{\"title\": \"x\"} trailing", ""] {
        let res = app
            .client
            .post(app.url("/api/concert"))
            .bearer_auth(&admin)
            .header("content-type", "application/json")
            .body(raw)
            .send()
            .await
            .unwrap();
        let body = error_body(res, StatusCode::BAD_REQUEST, "BAD_REQUEST").await;
        assert_eq!(failing_fields(&body), ["body"], "{raw}");
    }
}

#[tokio::test]
async fn wrong_types_name_the_field() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let mut body = concert_body("x");
    body["title"] = json!(123);
    let res = app.post("/api/concert", Some(&admin), body).await;
    assert_eq!(
        failing_fields(&error_body(res, StatusCode::BAD_REQUEST, "BAD_REQUEST").await),
        ["title"]
    );

    let mut body = concert_body("x");
    body["openTime"] = json!("next tuesday");
    let res = app.post("/api/concert", Some(&admin), body).await;
    assert_eq!(
        failing_fields(&error_body(res, StatusCode::BAD_REQUEST, "BAD_REQUEST").await),
        ["openTime"]
    );

    let res = app
        .post("/api/seat/batch", Some(&admin), json!([{"concertId": 1, "section": "A", "row": "1", "number": "1", "grade": "R", "price": "free"}]))
        .await;
    assert_eq!(
        failing_fields(&error_body(res, StatusCode::BAD_REQUEST, "BAD_REQUEST").await),
        ["[0].price"]
    );

    let res = app.post("/api/seat/batch", Some(&admin), json!({"concertId": 1})).await;
    assert_eq!(
        failing_fields(&error_body(res, StatusCode::BAD_REQUEST, "BAD_REQUEST").await),
        ["body"]
    );
}

#[tokio::test]
async fn unknown_enum_values_are_a_400() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let concert = app.create_concert(&admin).await;
    let mut body = concert_body("x");
    body["status"] = json!("PARTYING");
    let res = app.put(&format!("/api/concert/{}", concert["id"]), Some(&admin), body).await;
    let body = error_body(res, StatusCode::BAD_REQUEST, "BAD_REQUEST").await;
    assert_eq!(failing_fields(&body), ["status"]);
    assert!(body["fields"][0]["message"].as_str().unwrap().contains("PARTYING"));
}

#[tokio::test]
async fn missing_and_overlong_fields_are_all_listed() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let res = app.post("/api/concert", Some(&admin), json!({"title": "t".repeat(201)})).await;
    let body = error_body(res, StatusCode::BAD_REQUEST, "BAD_REQUEST").await;
    assert_eq!(failing_fields(&body), ["title", "venue", "concertDate", "openTime", "closeTime"]);
}

#[tokio::test]
async fn bad_path_parameters_are_a_400() {
    let app = spawn_app().await;
    for path in [
        "/api/concert/abc",
        "/api/seat/1.5",
        "/api/seat/concert/x/seat-map",
        "/api/concert/99999999999999999999",
    ] {
        let res = app.get(path, None).await;
        let body = error_body(res, StatusCode::BAD_REQUEST, "BAD_REQUEST").await;
        assert_eq!(failing_fields(&body).len(), 1, "{path}: {body}");
    }
    let body =
        error_body(app.get("/api/concert/abc", None).await, StatusCode::BAD_REQUEST, "BAD_REQUEST")
            .await;
    assert_eq!(failing_fields(&body), ["id"]);
}

#[tokio::test]
async fn bad_query_parameters_are_a_400() {
    let app = spawn_app().await;
    let body = error_body(
        app.get("/api/concert?page=-1", None).await,
        StatusCode::BAD_REQUEST,
        "BAD_REQUEST",
    )
    .await;
    assert_eq!(failing_fields(&body), ["page"]);
    let body = error_body(
        app.get("/api/concert?size=lots", None).await,
        StatusCode::BAD_REQUEST,
        "BAD_REQUEST",
    )
    .await;
    assert_eq!(failing_fields(&body), ["size"]);
    let admin = app.admin_token().await;
    let concert = app.create_concert(&admin).await;
    let res = app.get(&format!("/api/seat/concert/{}/seats", concert["id"]), None).await;
    let body = error_body(res, StatusCode::BAD_REQUEST, "BAD_REQUEST").await;
    assert_eq!(failing_fields(&body), ["grade"]);
}

#[tokio::test]
async fn unknown_routes_are_a_404_and_wrong_methods_a_405() {
    let app = spawn_app().await;
    error_body(app.get("/api/nothing-here", None).await, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    error_body(app.get("/", None).await, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    let res = app.request(reqwest::Method::PATCH, "/api/concert", None, Some(json!({}))).await;
    error_body(res, StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED").await;
    let res = app.delete("/api/user/signup", None).await;
    error_body(res, StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED").await;
}

#[tokio::test]
async fn a_body_without_json_content_type_is_a_415() {
    let app = spawn_app().await;
    let res = app
        .client
        .post(app.url("/api/user/login"))
        .header("content-type", "text/plain")
        .body(r#"{"email":"a@b.c","password":"password123"}"#)
        .send()
        .await
        .unwrap();
    error_body(res, StatusCode::UNSUPPORTED_MEDIA_TYPE, "UNSUPPORTED_MEDIA_TYPE").await;
}

#[tokio::test]
async fn an_oversized_body_is_a_413() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let huge = format!(r#"[{{"section": "{}"}}]"#, "A".repeat(5 * 1024 * 1024));
    let res = app
        .client
        .post(app.url("/api/seat/batch"))
        .bearer_auth(&admin)
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    error_body(res, StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE").await;
}

#[tokio::test]
async fn messages_are_korean_by_default_and_english_on_request() {
    let app = spawn_app().await;
    let ko: Value = app.get("/api/concert/424242", None).await.json().await.unwrap();
    assert_eq!(ko["code"], "CONCERT_NOT_FOUND");
    assert_eq!(ko["message"], "콘서트를 찾을 수 없습니다.");
    let en: Value = app
        .client
        .get(app.url("/api/concert/424242"))
        .header("accept-language", "en-US,en;q=0.9")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(en["code"], "CONCERT_NOT_FOUND");
    assert_eq!(en["message"], "The concert was not found.");
    // Field messages follow the language too.
    let res = app
        .client
        .post(app.url("/api/user/signup"))
        .header("accept-language", "en")
        .json(&json!({"username": "x", "email": "a@b.c", "password": "password123"}))
        .send()
        .await
        .unwrap();
    let body = error_body(res, StatusCode::BAD_REQUEST, "BAD_REQUEST").await;
    assert_eq!(body["fields"][0]["message"], "must be 2 to 20 characters long");
}

/// A NUL reached Postgres and came back as a 500 (issue 12): now it is a 400 naming the field.
#[tokio::test]
async fn text_with_a_nul_is_a_400_naming_the_field_never_a_500() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let mut body = crate::helpers::concert_body("x\u{0}y");
    body["venue"] = serde_json::json!("hall\u{0}");
    let res = app.post("/api/concert", Some(&admin), body).await;
    let err = error_body(res, StatusCode::BAD_REQUEST, "BAD_REQUEST").await;
    assert_eq!(failing_fields(&err), ["title", "venue"]);
    let res = app.get("/api/concert?title=a%00b", None).await;
    let err = error_body(res, StatusCode::BAD_REQUEST, "BAD_REQUEST").await;
    assert_eq!(failing_fields(&err), ["title"]);
    let fan = app.signup().await;
    let res = app.get("/api/payment/tx%00", Some(&fan.token)).await;
    error_body(res, StatusCode::NOT_FOUND, "PAYMENT_NOT_FOUND").await;
}
