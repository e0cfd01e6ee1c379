//! The authorization matrix: every route of the OpenAPI document × anonymous, the owner of the
//! resources, another user, door staff and an admin, in one table. Refusals are checked first
//! and exactly (status and code) and must change nothing; then every allowed caller gets
//! through. A route missing from the table fails the test.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestUser, concert_body, error_body, spawn_app};

/// The callers, in the order of a row's expectations.
const CALLERS: [&str; 5] = ["anonymous", "owner", "other user", "staff", "admin"];

#[derive(Clone, Copy, Debug)]
enum Expect {
    /// Past authorization: anything but 401 and 403 (a business answer such as 409 is fine).
    Pass,
    /// A success (2xx or 304).
    Found,
    /// Refused with exactly this status and error code.
    Refused(u16, &'static str),
}

use Expect::{Found, Pass, Refused};

const UNAUTHORIZED: Expect = Refused(401, "UNAUTHORIZED");
const FORBIDDEN: Expect = Refused(403, "FORBIDDEN");

fn public() -> [Expect; 5] {
    [Pass; 5]
}

fn signed_in() -> [Expect; 5] {
    [UNAUTHORIZED, Pass, Pass, Pass, Pass]
}

fn admin_only() -> [Expect; 5] {
    [UNAUTHORIZED, FORBIDDEN, FORBIDDEN, FORBIDDEN, Found]
}

/// The owner's resource: hidden (404 with `code`) from everyone else, admins as `admin`.
fn owned(code: &'static str, admin: Expect) -> [Expect; 5] {
    let hidden = Refused(404, code);
    [UNAUTHORIZED, Found, hidden, hidden, admin]
}

struct Row {
    method: Method,
    /// The path as the OpenAPI document names it.
    template: &'static str,
    path: String,
    body: Option<Value>,
    expect: [Expect; 5],
}

fn row(
    method: Method,
    template: &'static str,
    path: impl Into<String>,
    body: Option<Value>,
    expect: [Expect; 5],
) -> Row {
    Row { method, template, path: path.into(), body, expect }
}

/// What the rows act on; all of it belongs to `owner` unless named otherwise.
struct World {
    concert: i64,
    /// A concert with no seats, for the admin to delete.
    empty_concert: i64,
    /// Held by the owner.
    held: i64,
    /// Free: anyone may try to hold it.
    free: i64,
    /// Free, for the admin to edit and then delete.
    spare: i64,
    reservation: i64,
    transaction: String,
    owner_refresh: String,
    other_user: i64,
    /// The owner's e-ticket (a confirmed seat).
    ticket: i64,
    /// Its secret, and a check-in list of the concert on which it entered once.
    secret: String,
    checkin_list: i64,
    checkin: i64,
}

/// The table, in the order the allowed calls run: reads first, then changes, deletions last.
fn table(w: &World) -> Vec<Row> {
    use Method as M;
    let c = w.concert;
    let seat_item = json!([{"concertId": c, "section": "B", "row": "1", "number": "1", "grade": "R", "price": 1000}]);
    let seat_update =
        json!({"section": "Z", "row": "9", "number": "99", "grade": "VIP", "price": 2000});
    let invalid_signature = Refused(401, "INVALID_SIGNATURE");
    let not_selected = Refused(404, "SEAT_NOT_SELECTED");
    let foreign_refresh = Refused(401, "INVALID_REFRESH_TOKEN");
    let anyone_signed_in = [UNAUTHORIZED, Found, Found, Found, Found];
    let t = w.ticket;
    let staff_only = [UNAUTHORIZED, FORBIDDEN, FORBIDDEN, Found, Found];
    vec![
        row(M::GET, "/actuator/health", "/actuator/health", None, public()),
        row(M::GET, "/api/tickets/my", "/api/tickets/my", None, anyone_signed_in),
        row(
            M::GET,
            "/api/tickets/{id}",
            format!("/api/tickets/{t}"),
            None,
            owned("TICKET_NOT_FOUND", Found),
        ),
        row(
            M::GET,
            "/api/tickets/{id}/qr.svg",
            format!("/api/tickets/{t}/qr.svg"),
            None,
            owned("TICKET_NOT_FOUND", Found),
        ),
        row(
            M::GET,
            "/api/concert/{id}/checkin/keys",
            format!("/api/concert/{c}/checkin/keys"),
            None,
            public(),
        ),
        row(
            M::GET,
            "/api/concert/{id}/checkin/revoked",
            format!("/api/concert/{c}/checkin/revoked"),
            None,
            staff_only,
        ),
        row(
            M::GET,
            "/api/concert/{id}/checkin-lists",
            format!("/api/concert/{c}/checkin-lists"),
            None,
            staff_only,
        ),
        row(
            M::GET,
            "/api/checkin/lists/{listId}",
            format!("/api/checkin/lists/{}", w.checkin_list),
            None,
            staff_only,
        ),
        row(
            M::GET,
            "/api/checkin/lists/{listId}/status",
            format!("/api/checkin/lists/{}/status", w.checkin_list),
            None,
            staff_only,
        ),
        // Entered once already: staff and admin get a refusal (200), everyone else no answer.
        row(
            M::POST,
            "/api/checkin/redeem",
            "/api/checkin/redeem",
            Some(
                json!({"secret": w.secret, "listId": w.checkin_list, "type": "entry", "nonce": "authz"}),
            ),
            staff_only,
        ),
        row(
            M::POST,
            "/api/concert/{id}/checkin-lists",
            format!("/api/concert/{c}/checkin-lists"),
            Some(
                json!({"name": "authz", "allowMultipleEntries": false, "allowEntryAfterExit": false}),
            ),
            admin_only(),
        ),
        // Staff undo it; the admin after them finds it undone already (a 404, past the role
        // check).
        row(
            M::DELETE,
            "/api/checkin/{checkinId}",
            format!("/api/checkin/{}", w.checkin),
            None,
            [UNAUTHORIZED, FORBIDDEN, FORBIDDEN, Found, Pass],
        ),
        row(M::GET, "/actuator/prometheus", "/actuator/prometheus", None, public()),
        row(M::GET, "/health/live", "/health/live", None, public()),
        row(M::GET, "/health/ready", "/health/ready", None, public()),
        row(M::GET, "/v3/api-docs", "/v3/api-docs", None, public()),
        row(M::GET, "/api/concert", "/api/concert", None, public()),
        row(M::GET, "/api/concert/{id}", format!("/api/concert/{c}"), None, public()),
        row(
            M::GET,
            "/api/seat/concert/{concertId}",
            format!("/api/seat/concert/{c}"),
            None,
            public(),
        ),
        row(
            M::GET,
            "/api/seat/concert/{concertId}/seat-map",
            format!("/api/seat/concert/{c}/seat-map"),
            None,
            public(),
        ),
        row(
            M::GET,
            "/api/seat/concert/{concertId}/layout",
            format!("/api/seat/concert/{c}/layout"),
            None,
            public(),
        ),
        row(
            M::GET,
            "/api/seat/concert/{concertId}/availability",
            format!("/api/seat/concert/{c}/availability"),
            None,
            public(),
        ),
        row(
            M::GET,
            "/api/seat/concert/{concertId}/availability/stream",
            format!("/api/seat/concert/{c}/availability/stream"),
            None,
            public(),
        ),
        row(
            M::GET,
            "/api/seat/concert/{concertId}/seats",
            format!("/api/seat/concert/{c}/seats?grade=R"),
            None,
            public(),
        ),
        row(M::GET, "/api/seat/{id}", format!("/api/seat/{}", w.held), None, public()),
        row(M::GET, "/api/user/me", "/api/user/me", None, anyone_signed_in),
        row(M::GET, "/api/reservations/my", "/api/reservations/my", None, anyone_signed_in),
        row(M::GET, "/api/waitlist/my", "/api/waitlist/my", None, anyone_signed_in),
        row(M::GET, "/api/waitlist/my/events", "/api/waitlist/my/events", None, anyone_signed_in),
        row(
            M::POST,
            "/api/waitlist/my/stream-ticket",
            "/api/waitlist/my/stream-ticket",
            None,
            anyone_signed_in,
        ),
        row(
            M::GET,
            "/api/concert/{id}/waitlist",
            format!("/api/concert/{c}/waitlist"),
            None,
            admin_only(),
        ),
        row(
            M::GET,
            "/api/reservations/{reservationId}",
            format!("/api/reservations/{}", w.reservation),
            None,
            owned("NOT_FOUND", Found),
        ),
        row(
            M::GET,
            "/api/payment/{transactionId}",
            format!("/api/payment/{}", w.transaction),
            None,
            owned("PAYMENT_NOT_FOUND", Found),
        ),
        row(
            M::GET,
            "/api/reservations/admin/all",
            "/api/reservations/admin/all",
            None,
            admin_only(),
        ),
        row(
            M::GET,
            "/api/reservations/admin/concert/{concertId}",
            format!("/api/reservations/admin/concert/{c}"),
            None,
            admin_only(),
        ),
        row(
            M::GET,
            "/api/queue/{concertId}/stats",
            format!("/api/queue/{c}/stats"),
            None,
            admin_only(),
        ),
        row(
            M::POST,
            "/api/challenge",
            "/api/challenge",
            Some(json!({"purpose": "QUEUE", "concertId": c})),
            public(),
        ),
        row(M::POST, "/api/queue", "/api/queue", Some(json!({"concertId": c})), signed_in()),
        row(
            M::GET,
            "/api/queue/{concertId}/status",
            format!("/api/queue/{c}/status"),
            None,
            signed_in(),
        ),
        row(
            M::GET,
            "/api/queue/{concertId}/stream",
            format!("/api/queue/{c}/stream"),
            None,
            signed_in(),
        ),
        row(
            M::POST,
            "/api/queue/{concertId}/stream-ticket",
            format!("/api/queue/{c}/stream-ticket"),
            None,
            signed_in(),
        ),
        row(M::DELETE, "/api/queue/{concertId}", format!("/api/queue/{c}"), None, signed_in()),
        // The signature is the only credential of the webhook; a bearer token is no substitute.
        row(
            M::POST,
            "/api/payment/webhook",
            "/api/payment/webhook",
            Some(
                json!({"eventId": "evt_authz", "transactionId": w.transaction, "status": "SUCCESS", "amount": 1}),
            ),
            [invalid_signature; 5],
        ),
        row(M::POST, "/api/user/signup", "/api/user/signup", None, public()),
        row(M::POST, "/api/user/login", "/api/user/login", None, public()),
        row(M::POST, "/api/user/refresh", "/api/user/refresh", None, public()),
        row(
            M::POST,
            "/api/seat/{id}/select",
            format!("/api/seat/{}/select", w.free),
            None,
            signed_in(),
        ),
        row(
            M::POST,
            "/api/seat/select",
            "/api/seat/select",
            Some(json!({"seatIds": [w.free]})),
            signed_in(),
        ),
        row(
            M::POST,
            "/api/payment",
            "/api/payment",
            Some(json!({"seatId": w.free, "paymentMethod": "CREDIT_CARD"})),
            signed_in(),
        ),
        // Only the holder releases a hold; to anyone else it is not theirs (admins included).
        row(
            M::DELETE,
            "/api/seat/{id}/select",
            format!("/api/seat/{}/select", w.held),
            None,
            [UNAUTHORIZED, Found, not_selected, not_selected, not_selected],
        ),
        // Only the owner cancels a reservation (an in-progress one may be refused for business
        // reasons, hence Pass).
        row(
            M::POST,
            "/api/reservations/cancel",
            "/api/reservations/cancel",
            Some(json!({"reservationId": w.reservation})),
            [
                UNAUTHORIZED,
                Pass,
                Refused(404, "NOT_FOUND"),
                Refused(404, "NOT_FOUND"),
                Refused(404, "NOT_FOUND"),
            ],
        ),
        // The concert has free seats: joining its waitlist is a business refusal (409) for all.
        row(
            M::POST,
            "/api/concert/{id}/waitlist",
            format!("/api/concert/{c}/waitlist"),
            Some(json!({"quantity": 1})),
            signed_in(),
        ),
        row(M::DELETE, "/api/waitlist/{id}", "/api/waitlist/9000000000", None, signed_in()),
        row(M::POST, "/api/concert", "/api/concert", Some(concert_body("authz")), admin_only()),
        row(
            M::PUT,
            "/api/concert/{id}",
            format!("/api/concert/{c}"),
            Some(concert_body("authz")),
            admin_only(),
        ),
        row(M::POST, "/api/seat/batch", "/api/seat/batch", Some(seat_item), admin_only()),
        row(
            M::PUT,
            "/api/seat/{id}",
            format!("/api/seat/{}", w.spare),
            Some(seat_update),
            admin_only(),
        ),
        row(
            M::PUT,
            "/api/admin/users/{userId}/role",
            format!("/api/admin/users/{}/role", w.other_user),
            Some(json!({"role": "USER"})),
            admin_only(),
        ),
        row(
            M::DELETE,
            "/api/checkin/lists/{listId}",
            format!("/api/checkin/lists/{}", w.checkin_list),
            None,
            admin_only(),
        ),
        row(M::DELETE, "/api/seat/{id}", format!("/api/seat/{}", w.spare), None, admin_only()),
        row(
            M::DELETE,
            "/api/concert/{id}",
            format!("/api/concert/{}", w.empty_concert),
            None,
            admin_only(),
        ),
        // Someone else's refresh token is refused; one's own ends the session (last).
        row(
            M::POST,
            "/api/user/logout",
            "/api/user/logout",
            Some(json!({"refreshToken": w.owner_refresh})),
            [UNAUTHORIZED, Pass, foreign_refresh, foreign_refresh, foreign_refresh],
        ),
        row(M::POST, "/api/user/logout", "/api/user/logout", Some(json!({})), signed_in()),
    ]
}

/// Signs up a user and makes them door staff; returns them signed in again with the new role.
async fn staff_member(app: &TestApp, admin: &str) -> TestUser {
    let mut staff = app.signup().await;
    let id = app.user_id(&staff.email).await;
    let path = format!("/api/admin/users/{id}/role");
    let res = app.put(&path, Some(admin), json!({"role": "STAFF"})).await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = app.login(&staff.email, &staff.password).await;
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["role"], "STAFF");
    staff.token = body["token"].as_str().unwrap().to_owned();
    staff
}

/// Every (method, path) of the served OpenAPI document.
async fn documented_routes(app: &TestApp) -> BTreeSet<(String, String)> {
    let doc: Value = app.get("/v3/api-docs", None).await.json().await.unwrap();
    let mut routes = BTreeSet::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for method in ops.as_object().unwrap().keys() {
            if ["get", "post", "put", "delete", "patch"].contains(&method.as_str()) {
                routes.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    routes
}

async fn check(app: &TestApp, row: &Row, caller: usize, token: Option<&str>) {
    let who = CALLERS[caller];
    let (method, path) = (&row.method, &row.path);
    let res = app.request(method.clone(), path, token, row.body.clone()).await;
    let status = res.status();
    match row.expect[caller] {
        Pass => assert!(
            status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN,
            "{method} {path} as {who}: {status}"
        ),
        Found => assert!(
            status.is_success() || status == StatusCode::NOT_MODIFIED,
            "{method} {path} as {who}: {status}"
        ),
        Refused(code, name) => {
            let expected = StatusCode::from_u16(code).unwrap();
            assert_eq!(status, expected, "{method} {path} as {who}");
            error_body(res, expected, name).await;
        }
    }
}

#[tokio::test]
async fn every_route_answers_each_kind_of_caller_as_the_table_says() {
    let app = spawn_app().await;
    let (admin, concert, seats) = app.concert_on_sale(5).await;
    let empty_concert = app.create_concert(&admin).await["id"].as_i64().unwrap();
    let owner = app.signup().await;
    let other = app.signup().await;
    let staff = staff_member(&app, &admin).await;
    let [held, free, spare, bought, ticketed] = seats[..] else { unreachable!() };
    let paid = app.start_checkout(&owner.token, &[ticketed]).await;
    let res = app.webhook(&crate::helpers::event(&paid.transaction, "SUCCESS", paid.amount)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let mine: Value = app.get("/api/tickets/my", Some(&owner.token)).await.json().await.unwrap();
    let ticket = mine[0]["id"].as_i64().expect("the confirmed seat's ticket");
    let secret = mine[0]["secret"].as_str().unwrap().to_owned();
    let list: Value = app
        .post(
            &format!("/api/concert/{concert}/checkin-lists"),
            Some(&admin),
            json!({"name": "gate", "allowMultipleEntries": false, "allowEntryAfterExit": false}),
        )
        .await
        .json()
        .await
        .unwrap();
    let checkin_list = list["id"].as_i64().expect("a check-in list");
    let scan = json!({"secret": secret, "listId": checkin_list, "type": "entry", "nonce": "setup"});
    let res = app.post("/api/checkin/redeem", Some(&admin), scan).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let checkin = res.json::<Value>().await.unwrap()["checkinId"].as_i64().expect("a check-in");
    let started = app.start_checkout(&owner.token, &[bought]).await;
    assert_eq!(app.hold(&owner.token, held).await.status(), StatusCode::OK);
    let world = World {
        concert,
        empty_concert,
        held,
        free,
        spare,
        reservation: started.reservation,
        transaction: started.transaction,
        owner_refresh: owner.refresh_token.clone(),
        other_user: app.user_id(&other.email).await,
        ticket,
        secret,
        checkin_list,
        checkin,
    };
    let tokens =
        [None, Some(&*owner.token), Some(&*other.token), Some(&*staff.token), Some(&*admin)];
    let rows = table(&world);

    // The table covers the document, and names nothing the document does not serve.
    let documented = documented_routes(&app).await;
    let tabled: BTreeSet<_> =
        rows.iter().map(|r| (r.method.to_string(), r.template.to_owned())).collect();
    let missing: Vec<_> = documented.difference(&tabled).collect();
    assert!(missing.is_empty(), "routes missing from the matrix: {missing:?}");
    for (method, template) in tabled.difference(&documented) {
        assert_eq!(template, "/v3/api-docs", "{method} {template} is not in the document");
    }

    // Refusals first: exact, and they change nothing.
    for row in &rows {
        for (caller, token) in tokens.iter().enumerate() {
            if matches!(row.expect[caller], Refused(..)) {
                check(&app, row, caller, *token).await;
            }
        }
    }
    let statuses = app.seat_statuses(concert).await;
    assert_eq!(statuses[&held], "HELD", "a refused release left the hold alone");
    let (reservation, _) = app.reservation_status(started.reservation).await;
    assert_eq!(reservation, "IN_PROGRESS", "a refused cancel left the reservation alone");

    // Then every allowed caller, in the table's order.
    for row in &rows {
        for (caller, token) in tokens.iter().enumerate() {
            if !matches!(row.expect[caller], Refused(..)) {
                check(&app, row, caller, *token).await;
            }
        }
    }
}

#[tokio::test]
async fn a_new_role_reaches_tokens_at_the_next_refresh_and_an_admin_cannot_change_their_own() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let fan = app.signup().await;
    let id = app.user_id(&fan.email).await;
    let path = format!("/api/admin/users/{id}/role");

    let res = app.put(&path, Some(&admin), json!({"role": "ADMIN"})).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap()["role"], "ADMIN");
    // The access token issued before keeps its role until it expires ...
    let res = app.get("/api/reservations/admin/all", Some(&fan.token)).await;
    error_body(res, StatusCode::FORBIDDEN, "FORBIDDEN").await;
    // ... and the next refresh carries the new one.
    let res = app.post("/api/user/refresh", None, json!({"refreshToken": fan.refresh_token})).await;
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["role"], "ADMIN");
    let promoted = body["token"].as_str().unwrap();
    let res = app.get("/api/reservations/admin/all", Some(promoted)).await;
    assert_eq!(res.status(), StatusCode::OK);

    // An admin cannot change their own role (no lock-out of the last admin by mistake).
    let res = app.put(&path, Some(promoted), json!({"role": "USER"})).await;
    error_body(res, StatusCode::CONFLICT, "CANNOT_CHANGE_OWN_ROLE").await;
    let res =
        app.put("/api/admin/users/987654321/role", Some(&admin), json!({"role": "STAFF"})).await;
    error_body(res, StatusCode::NOT_FOUND, "NOT_FOUND_USER_ID").await;
    let res = app.put(&path, Some(&admin), json!({"role": "ROOT"})).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let res = app.put(&path, Some(&admin), json!({})).await;
    error_body(res, StatusCode::BAD_REQUEST, "BAD_REQUEST").await;
}
