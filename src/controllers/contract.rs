//! The OpenAPI document, finished so that it states exactly what the server does: the answers
//! every operation can give (malformed input, authentication, media type, body size, an
//! unavailable dependency), the text constraints as the server checks them (trimmed length, no
//! NUL, no control or bidirectional formatting character in names), prices as positive cents, and the seat batch's size.

use serde_json::{Value, json};
use utoipa::openapi::OpenApi;

use super::checkin;
use crate::domain::{
    check::{name_pattern, text_pattern},
    concert,
    money::Money,
    seat, user,
};

/// Finishes the generated document; `max_seats` is `MAX_SEATS_PER_USER`, the most seats one
/// request may name.
pub fn finish(doc: OpenApi, max_seats: u32) -> OpenApi {
    let mut v = serde_json::to_value(&doc).expect("the OpenAPI document serializes");
    common_responses(&mut v);
    text_constraints(&mut v);
    prices(&mut v);
    seat_lists(&mut v, max_seats);
    concert_creation(&mut v);
    accounts(&mut v);
    links(&mut v);
    queue_events(&mut v);
    seat_events(&mut v);
    challenge_request(&mut v);
    waitlist_request(&mut v, max_seats);
    let batch = &mut v["paths"]["/api/seat/batch"]["post"]["requestBody"]["content"]["application/json"]
        ["schema"];
    batch["minItems"] = json!(1);
    batch["maxItems"] = json!(seat::MAX_BATCH);
    serde_json::from_value(v).expect("the finished OpenAPI document reads back")
}

/// Joining the waitlist (issue 18): `quantity` is `1..=MAX_SEATS_PER_USER`; `grade` is a filter
/// (`Check::text`).
fn waitlist_request(v: &mut Value, max_seats: u32) {
    let props = &mut v["components"]["schemas"]["JoinWaitlistRequest"]["properties"];
    props["quantity"]["minimum"] = json!(1);
    props["quantity"]["maximum"] = json!(max_seats);
    let grade = props["grade"].as_object_mut().expect("JoinWaitlistRequest.grade is documented");
    grade.remove("maxLength");
    grade.insert("pattern".into(), json!(text_pattern(seat::LABEL_LEN.0, seat::LABEL_LEN.1)));
}

fn error(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
    })
}

/// Adds the answers the middleware and extractors give, where an operation can get them.
fn common_responses(v: &mut Value) {
    let Some(paths) = v["paths"].as_object_mut() else { return };
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else { continue };
        for op in item.values_mut() {
            let has_input = op.get("parameters").and_then(Value::as_array).is_some_and(|p| {
                p.iter().any(|p| p["in"] == "path" || p["in"] == "query" || p["in"] == "header")
            });
            let has_body = op.get("requestBody").is_some();
            let secured =
                op.get("security").and_then(Value::as_array).is_some_and(|s| !s.is_empty());
            let responses = op["responses"].as_object_mut().expect("responses");
            let mut add = |status: &str, body: Value| {
                responses.entry(status).or_insert(body);
            };
            if has_input || has_body {
                add(
                    "400",
                    error("`BAD_REQUEST`: malformed input; `fields` names each failing field"),
                );
            }
            if secured {
                add("401", error("`UNAUTHORIZED` (no token) or `INVALID_TOKEN`"));
            }
            if has_body {
                add("413", error("`PAYLOAD_TOO_LARGE`"));
                add("415", error("`UNSUPPORTED_MEDIA_TYPE`: the body must be `application/json`"));
            }
            if path.starts_with("/api/") {
                add("503", error("`SERVICE_UNAVAILABLE`: a dependency is down; retry later"));
            }
        }
    }
}

/// Text fields: the exact pattern of `Check::text` (trimmed length, no NUL) instead of
/// lengths that count untrimmed characters.
fn text_constraints(v: &mut Value) {
    let label = seat::LABEL_LEN;
    // Names and titles (`Check::name`) also refuse control and bidirectional formatting
    // characters.
    type Pattern = fn(usize, usize) -> String;
    let name: Pattern = name_pattern;
    let fields: &[(&str, &str, (usize, usize), Pattern)] = &[
        ("ConcertRequest", "title", concert::TITLE_LEN, name),
        ("ConcertRequest", "venue", concert::VENUE_LEN, name),
        ("SeatCreateRequest", "section", label, name),
        ("SeatCreateRequest", "row", label, name),
        ("SeatCreateRequest", "number", label, name),
        ("SeatCreateRequest", "grade", label, name),
        ("SeatUpdateRequest", "section", label, name),
        ("SeatUpdateRequest", "row", label, name),
        ("SeatUpdateRequest", "number", label, name),
        ("SeatUpdateRequest", "grade", label, name),
        ("SignupRequest", "username", user::USERNAME_LEN, name),
        ("RefreshRequest", "refreshToken", (1, 200), text_pattern),
        ("CancelRequest", "cancelReason", (0, 500), text_pattern),
        ("WebhookRequest", "eventId", (1, 100), text_pattern),
        ("WebhookRequest", "transactionId", (1, 64), text_pattern),
        ("WebhookRequest", "currency", (3, 3), text_pattern),
        ("CreateCheckinListRequest", "name", checkin::NAME_LEN, name),
        ("RedeemRequest", "nonce", checkin::NONCE_LEN, text_pattern),
        ("RedeemRequest", "secret", (1, checkin::SECRET_MAX), text_pattern),
    ];
    for (schema, property, (min, max), pattern) in fields {
        let p = &mut v["components"]["schemas"][schema]["properties"][property];
        let p = p.as_object_mut().unwrap_or_else(|| panic!("{schema}.{property} is documented"));
        p.remove("minLength");
        p.remove("maxLength");
        p.insert("pattern".into(), json!(pattern(*min, *max)));
    }
    let grades =
        &mut v["components"]["schemas"]["CreateCheckinListRequest"]["properties"]["grades"];
    grades["minItems"] = json!(1);
    grades["maxItems"] = json!(checkin::MAX_GRADES);
    grades["items"] = json!({"type": "string", "pattern": name(label.0, label.1)});
    let grade = &mut v["paths"]["/api/seat/concert/{concertId}/seats"]["get"]["parameters"];
    for p in grade.as_array_mut().into_iter().flatten() {
        if p["name"] == "grade" {
            // A filter, not a name: any text gets an answer (none matches a hidden character).
            p["schema"]["pattern"] = json!(text_pattern(label.0, label.1));
        }
    }
    for (path, name) in [("/api/concert", "title"), ("/api/concert", "venue")] {
        for p in v["paths"][path]["get"]["parameters"].as_array_mut().into_iter().flatten() {
            if p["name"] == name {
                p["schema"]["pattern"] = json!(r"^[^\u0000]*$");
            }
        }
    }
    // An Idempotency-Key is visible ASCII (what a header carries), 1 to 255 characters.
    for item in v["paths"].as_object_mut().into_iter().flat_map(|p| p.values_mut()) {
        for op in item.as_object_mut().into_iter().flat_map(|i| i.values_mut()) {
            for p in op["parameters"].as_array_mut().into_iter().flatten() {
                if p["name"] == "Idempotency-Key" {
                    p["schema"]["pattern"] =
                        json!(r"^[\x21-\x7e](?:[\x20-\x7e]{0,253}[\x21-\x7e])?$");
                }
            }
            let keyed = op["parameters"]
                .as_array()
                .is_some_and(|ps| ps.iter().any(|p| p["name"] == "Idempotency-Key"));
            if keyed {
                // The per-user cap on live keys (IDEMPOTENCY_MAX_KEYS_PER_USER).
                const LIMIT: &str = "`IDEMPOTENCY_KEY_LIMIT`: a new `Idempotency-Key` past the caller's limit of live keys";
                match op["responses"]["429"]["description"].as_str() {
                    Some(d) => {
                        op["responses"]["429"]["description"] = json!(format!("{d}; or {LIMIT}"))
                    }
                    None => op["responses"]["429"] = error(LIMIT),
                }
            }
        }
    }
}

/// A `QUEUE` challenge names its concert; a `SIGNUP` one needs none.
fn challenge_request(v: &mut Value) {
    let schema = &mut v["components"]["schemas"]["ChallengeRequest"];
    schema["anyOf"] =
        json!([{"properties": {"purpose": {"const": "SIGNUP"}}}, {"required": ["concertId"]}]);
    schema["examples"] = json!([{"purpose": "QUEUE", "concertId": 1}, {"purpose": "SIGNUP"}]);
}

/// Seat id lists: one to `max_seats` ids, no repeats; checkout names `seatId` or `seatIds`.
fn seat_lists(v: &mut Value, max_seats: u32) {
    for schema in ["MultiSelectRequest", "PaymentRequest"] {
        let ids = &mut v["components"]["schemas"][schema]["properties"]["seatIds"];
        ids["minItems"] = json!(1);
        ids["maxItems"] = json!(max_seats);
        ids["uniqueItems"] = json!(true);
    }
    let payment = &mut v["components"]["schemas"]["PaymentRequest"];
    payment["anyOf"] = json!([{"required": ["seatId"]}, {"required": ["seatIds"]}]);
    payment["not"] = json!({"required": ["seatId", "seatIds"]});
    // Examples of both fields would make an example that names both, which is refused.
    for property in ["seatId", "seatIds", "amount"] {
        if let Some(p) = payment["properties"][property].as_object_mut() {
            p.remove("example");
            p.remove("examples");
        }
    }
    payment["examples"] = json!([{"seatIds": [101, 102], "paymentMethod": "CREDIT_CARD"}]);
}

/// A new concert's status is set by the system: the create body is the update body without it.
fn concert_creation(v: &mut Value) {
    let schemas = &mut v["components"]["schemas"];
    let mut create = schemas["ConcertRequest"].clone();
    create["properties"].as_object_mut().expect("properties").remove("status");
    create["not"] = json!({"required": ["status"]});
    create["description"] = json!("A new concert (its status starts `SCHEDULED`)");
    schemas["ConcertCreateRequest"] = create;
    v["paths"]["/api/concert"]["post"]["requestBody"]["content"]["application/json"]["schema"] =
        json!({"$ref": "#/components/schemas/ConcertCreateRequest"});
}

/// OpenAPI links: how the answer of one operation feeds the next, so a client (or a stateful
/// fuzzer) can walk a purchase: concert → seats → hold → checkout → payment → reservation →
/// cancel, the waiting room: join → status, stream, leave, and door check-in: concert → list →
/// its status, redeem → undo.
fn links(v: &mut Value) {
    let concert_id = "$response.body#/id";
    let first_seat = "$response.body#/0/id";
    let held_seat = "$request.path.id";
    let list_id = "$response.body#/id";
    let table: &[(&str, &str, &str, &str, Value)] = &[
        ("/api/concert", "post", "201", "get_concert", json!({"parameters": {"id": concert_id}})),
        (
            "/api/concert",
            "post",
            "201",
            "update_concert",
            json!({"parameters": {"id": concert_id}}),
        ),
        (
            "/api/concert",
            "post",
            "201",
            "delete_concert",
            json!({"parameters": {"id": concert_id}}),
        ),
        (
            "/api/concert",
            "post",
            "201",
            "list_seats",
            json!({"parameters": {"concertId": concert_id}}),
        ),
        (
            "/api/concert",
            "post",
            "201",
            "get_seat_map",
            json!({"parameters": {"concertId": concert_id}}),
        ),
        (
            "/api/concert",
            "post",
            "201",
            "create_seats",
            json!({"requestBody": [{
            "concertId": concert_id, "section": "A", "row": "1", "number": "1", "grade": "VIP",
            "price": 150000}]}),
        ),
        (
            "/api/concert",
            "post",
            "201",
            "join_queue",
            json!({"requestBody": {"concertId": concert_id}}),
        ),
        (
            "/api/concert",
            "post",
            "201",
            "list_concert_reservations",
            json!({"parameters": {"concertId": concert_id}}),
        ),
        (
            "/api/concert",
            "post",
            "201",
            "create_checkin_list",
            json!({"parameters": {"id": concert_id}, "requestBody": {
            "name": "Gate 1", "allowMultipleEntries": false, "allowEntryAfterExit": false}}),
        ),
        (
            "/api/concert/{id}/checkin-lists",
            "post",
            "201",
            "get_checkin_list",
            json!({"parameters": {"listId": list_id}}),
        ),
        (
            "/api/concert/{id}/checkin-lists",
            "post",
            "201",
            "get_checkin_list_status",
            json!({"parameters": {"listId": list_id}}),
        ),
        (
            "/api/concert/{id}/checkin-lists",
            "post",
            "201",
            "delete_checkin_list",
            json!({"parameters": {"listId": list_id}}),
        ),
        (
            "/api/concert/{id}/checkin-lists",
            "post",
            "201",
            "redeem_checkin",
            json!({"requestBody": {
            "secret": "scanned-secret", "listId": list_id, "type": "entry", "nonce": "scan-1"}}),
        ),
        (
            "/api/checkin/redeem",
            "post",
            "201",
            "undo_checkin",
            json!({"parameters": {"checkinId": "$response.body#/checkinId"}}),
        ),
        ("/api/seat/batch", "post", "201", "get_seat", json!({"parameters": {"id": first_seat}})),
        (
            "/api/seat/batch",
            "post",
            "201",
            "update_seat",
            json!({"parameters": {"id": first_seat}}),
        ),
        (
            "/api/seat/batch",
            "post",
            "201",
            "delete_seat",
            json!({"parameters": {"id": first_seat}}),
        ),
        (
            "/api/seat/batch",
            "post",
            "201",
            "select_seat",
            json!({"parameters": {"id": first_seat}}),
        ),
        (
            "/api/seat/{id}/select",
            "post",
            "200",
            "release_seat",
            json!({"parameters": {"id": held_seat}}),
        ),
        (
            "/api/seat/{id}/select",
            "post",
            "200",
            "create_payment",
            json!({"requestBody": {
            "seatId": held_seat, "paymentMethod": "CREDIT_CARD"}}),
        ),
        (
            "/api/payment",
            "post",
            "200",
            "get_payment",
            json!({"parameters": {"transactionId": "$response.body#/transactionId"}}),
        ),
        (
            "/api/payment",
            "post",
            "200",
            "get_reservation",
            json!({"parameters": {"reservationId": "$response.body#/reservationId"}}),
        ),
        (
            "/api/payment",
            "post",
            "200",
            "cancel_reservation",
            json!({"requestBody": {
            "reservationId": "$response.body#/reservationId", "cancelReason": "plans changed"}}),
        ),
        (
            "/api/queue",
            "post",
            "200",
            "get_queue_status",
            json!({"parameters": {"concertId": "$response.body#/concertId"}}),
        ),
        (
            "/api/queue",
            "post",
            "200",
            "stream_queue",
            json!({"parameters": {"concertId": "$response.body#/concertId"}}),
        ),
        (
            "/api/queue",
            "post",
            "200",
            "create_stream_ticket",
            json!({"parameters": {"concertId": "$response.body#/concertId"}}),
        ),
        (
            "/api/queue",
            "post",
            "200",
            "leave_queue",
            json!({"parameters": {"concertId": "$response.body#/concertId"}}),
        ),
    ];
    for (path, method, status, target, link) in table {
        let response = &mut v["paths"][path][method]["responses"][status];
        assert!(response.is_object(), "{method} {path} answers {status}");
        let mut link = link.clone();
        link["operationId"] = json!(target);
        link["description"] = json!(format!("The answer feeds `{target}`"));
        // utoipa reads `parameters` back only when present (it skips it when empty).
        link.as_object_mut().expect("a link").entry("parameters").or_insert(json!({}));
        response["links"][*target] = link;
    }
}

/// The seat-map stream, event by event: `snapshot` and `delta` carry their availability version
/// as `id`; `layout` says the layout changed.
fn seat_events(v: &mut Value) {
    let content = &mut v["paths"]["/api/seat/concert/{concertId}/availability/stream"]["get"]["responses"]
        ["200"]["content"]["text/event-stream"];
    content["schema"] = json!({
        "type": "object",
        "required": ["event", "data"],
        "properties": {
            "event": {"type": "string", "enum": ["snapshot", "delta", "layout"]},
            "data": {
                "type": "string",
                "contentMediaType": "application/json",
                "contentSchema": {"anyOf": [
                    {"$ref": "#/components/schemas/SeatAvailability"},
                    {"$ref": "#/components/schemas/AvailabilityDelta"},
                    {
                        "description": "`layout`: fetch the layout again; a `snapshot` follows",
                        "type": "object",
                        "required": ["layoutVersion"],
                        "properties": {"layoutVersion": {"type": "string"}}
                    }
                ]}
            },
            "id": {"type": "string", "description": "The availability version (`snapshot`, `delta`)"},
            "retry": {"type": "integer"}
        }
    });
}

/// The waiting-room stream, event by event (OpenAPI's Server-Sent Events shape): the event's
/// name, and its `data`, a JSON text of the caller's place.
fn queue_events(v: &mut Value) {
    let content = &mut v["paths"]["/api/queue/{concertId}/stream"]["get"]["responses"]["200"]["content"]
        ["text/event-stream"];
    content["schema"] = json!({
        "type": "object",
        "required": ["event", "data"],
        "properties": {
            "event": {"type": "string", "enum": ["queue-update", "queue-complete", "queue-left"]},
            "data": {
                "type": "string",
                "contentMediaType": "application/json",
                "contentSchema": {"anyOf": [
                    {"$ref": "#/components/schemas/QueueStatusResponse"},
                    {
                        "description": "`queue-left`: the caller left or lost the place",
                        "type": "object",
                        "required": ["concertId", "userId", "canEnter"],
                        "properties": {
                            "concertId": {"type": "integer", "format": "int64"},
                            "userId": {"type": "integer", "format": "int64"},
                            "canEnter": {"type": "boolean", "const": false}
                        }
                    }
                ]}
            },
            "id": {"type": "string"},
            "retry": {"type": "integer"}
        }
    });
}

/// Passwords are compared exactly as given (never trimmed); addresses fit `varchar(254)`.
fn accounts(v: &mut Value) {
    let schemas = &mut v["components"]["schemas"];
    let login = &mut schemas["LoginRequest"]["properties"];
    login["password"]["minLength"] = json!(1);
    login["password"]["maxLength"] = json!(user::PASSWORD_LEN.1);
    login["email"]["maxLength"] = json!(254);
    login["email"]["format"] = json!("email");
    schemas["SignupRequest"]["properties"]["email"]["maxLength"] = json!(254);
}

/// Prices and the client's expected amount: positive, in cents, at most `numeric(12,2)`.
fn prices(v: &mut Value) {
    v["components"]["schemas"]["Price"] = json!({
        "type": "number",
        "description": "A positive amount with at most two decimal places",
        "exclusiveMinimum": 0,
        "maximum": Money::MAX_F64,
        "multipleOf": 0.01,
        "examples": [150000]
    });
    for (schema, property) in [
        ("SeatCreateRequest", "price"),
        ("SeatUpdateRequest", "price"),
        ("PaymentRequest", "amount"),
    ] {
        let p = &mut v["components"]["schemas"][schema]["properties"][property];
        let nullable = p.to_string().contains("null");
        *p = if nullable {
            json!({"oneOf": [{"type": "null"}, {"$ref": "#/components/schemas/Price"}]})
        } else {
            json!({"$ref": "#/components/schemas/Price"})
        };
    }
}
