//! The authorization matrix: every protected endpoint refuses anonymous callers with 401 and,
//! where an admin is required, a USER with 403. Public endpoints answer anyone.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{concert_body, error_body, spawn_app};

enum Who {
    /// Anyone, signed in or not.
    Public,
    /// Any signed-in user.
    User,
    /// Admins only.
    Admin,
}

fn endpoints(concert: i64, seat: i64) -> Vec<(Method, String, Option<Value>, Who)> {
    let seat_item = json!([{"concertId": concert, "section": "B", "row": "1", "number": "1", "grade": "R", "price": 1000}]);
    let seat_update =
        json!({"section": "A", "row": "1", "number": "1", "grade": "VIP", "price": 2000});
    vec![
        (Method::POST, "/api/user/signup".into(), None, Who::Public),
        (Method::POST, "/api/user/login".into(), None, Who::Public),
        (Method::POST, "/api/user/refresh".into(), None, Who::Public),
        (Method::POST, "/api/user/logout".into(), Some(json!({})), Who::User),
        (Method::GET, "/api/user/me".into(), None, Who::User),
        (Method::POST, "/api/concert".into(), Some(concert_body("authz")), Who::Admin),
        (Method::GET, "/api/concert".into(), None, Who::Public),
        (Method::GET, format!("/api/concert/{concert}"), None, Who::Public),
        (Method::PUT, format!("/api/concert/{concert}"), Some(concert_body("authz")), Who::Admin),
        (Method::DELETE, format!("/api/concert/{concert}"), None, Who::Admin),
        (Method::POST, "/api/seat/batch".into(), Some(seat_item), Who::Admin),
        (Method::GET, format!("/api/seat/concert/{concert}"), None, Who::Public),
        (Method::GET, format!("/api/seat/concert/{concert}/seat-map"), None, Who::Public),
        (Method::GET, format!("/api/seat/concert/{concert}/layout"), None, Who::Public),
        (Method::GET, format!("/api/seat/concert/{concert}/availability"), None, Who::Public),
        (
            Method::GET,
            format!("/api/seat/concert/{concert}/availability/stream"),
            None,
            Who::Public,
        ),
        (Method::GET, format!("/api/seat/concert/{concert}/seats?grade=R"), None, Who::Public),
        (Method::GET, format!("/api/seat/{seat}"), None, Who::Public),
        (Method::PUT, format!("/api/seat/{seat}"), Some(seat_update), Who::Admin),
        (Method::DELETE, format!("/api/seat/{seat}"), None, Who::Admin),
        (Method::POST, format!("/api/seat/{seat}/select"), None, Who::User),
        (Method::POST, "/api/seat/select".into(), Some(json!({"seatIds": [seat]})), Who::User),
        (Method::DELETE, format!("/api/seat/{seat}/select"), None, Who::User),
        (
            Method::POST,
            "/api/payment".into(),
            Some(json!({"seatId": seat, "paymentMethod": "CREDIT_CARD"})),
            Who::User,
        ),
        (Method::GET, "/api/payment/tx_unknown".into(), None, Who::User),
        (
            Method::POST,
            "/api/challenge".into(),
            Some(json!({"purpose": "QUEUE", "concertId": concert})),
            Who::Public,
        ),
        (Method::POST, "/api/queue".into(), Some(json!({"concertId": concert})), Who::User),
        (Method::GET, format!("/api/queue/{concert}/status"), None, Who::User),
        (Method::GET, format!("/api/queue/{concert}/stats"), None, Who::Admin),
        (Method::GET, format!("/api/queue/{concert}/stream"), None, Who::User),
        (Method::DELETE, format!("/api/queue/{concert}"), None, Who::User),
        (Method::GET, "/api/reservations/my".into(), None, Who::User),
        (Method::GET, "/api/reservations/1".into(), None, Who::User),
        (
            Method::POST,
            "/api/reservations/cancel".into(),
            Some(json!({"reservationId": 1})),
            Who::User,
        ),
        (Method::GET, "/api/reservations/admin/all".into(), None, Who::Admin),
        (Method::GET, format!("/api/reservations/admin/concert/{concert}"), None, Who::Admin),
        (Method::GET, "/actuator/health".into(), None, Who::Public),
        (Method::GET, "/v3/api-docs".into(), None, Who::Public),
    ]
}

#[tokio::test]
async fn anonymous_callers_get_401_and_users_get_403_where_admin_is_required() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let user = app.signup().await;
    let concert = app.create_concert(&admin).await["id"].as_i64().unwrap();
    let seat = app.create_seats(&admin, concert, 1).await[0]["id"].as_i64().unwrap();

    for (method, path, body, who) in endpoints(concert, seat) {
        let anonymous = app.request(method.clone(), &path, None, body.clone()).await;
        match who {
            Who::Public => assert_ne!(
                anonymous.status(),
                StatusCode::UNAUTHORIZED,
                "{method} {path} is public"
            ),
            Who::User | Who::Admin => {
                error_body(anonymous, StatusCode::UNAUTHORIZED, "UNAUTHORIZED").await;
            }
        }
        let as_user = app.request(method.clone(), &path, Some(&user.token), body.clone()).await;
        match who {
            Who::Admin => {
                error_body(as_user, StatusCode::FORBIDDEN, "FORBIDDEN").await;
            }
            _ => {
                let status = as_user.status();
                assert!(
                    status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN,
                    "{method} {path}: {status}"
                );
            }
        }
    }
    // And the admin gets through every admin endpoint (deletes last, seat before concert).
    let mut admin_only: Vec<_> =
        endpoints(concert, seat).into_iter().filter(|e| matches!(e.3, Who::Admin)).collect();
    admin_only.sort_by_key(|(method, path, _, _)| {
        (*method == Method::DELETE, path.starts_with("/api/concert"))
    });
    for (method, path, body, _) in admin_only {
        {
            let res = app.request(method.clone(), &path, Some(&admin), body).await;
            assert!(res.status().is_success(), "{method} {path}: {}", res.status());
        }
    }
}
