//! One error type for the whole service, rendered as the error body of SPEC §6.1.
//!
//! `AppError::into_response` does not know the caller's language, so it attaches an
//! [`ErrorPayload`] to an empty response; the `render_errors` middleware (which sees the
//! request's `Accept-Language`) writes the body. The same middleware gives responses that
//! axum or tower produce by themselves (405, 413, 408, …) the same shape.

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use utoipa::ToSchema;

/// The language of messages in error bodies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Ko,
    En,
}

impl Lang {
    /// Picks English when the client prefers it; Korean otherwise.
    pub fn from_accept_language(value: Option<&str>) -> Lang {
        let Some(value) = value else { return Lang::Ko };
        // The first language range that we speak wins; q-values are rarely used by clients.
        for range in value.split(',') {
            let tag = range.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
            if tag.starts_with("en") {
                return Lang::En;
            }
            if tag.starts_with("ko") {
                return Lang::Ko;
            }
        }
        Lang::Ko
    }
}

macro_rules! error_codes {
    ($($code:ident = $status:ident, $ko:literal, $en:literal;)*) => {
        /// Stable machine names clients switch on (ERRORS.md).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
        #[allow(non_camel_case_types, clippy::upper_case_acronyms)]
        pub enum ErrorCode { $($code,)* }

        impl ErrorCode {
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$code,)*];

            pub fn status(self) -> StatusCode {
                match self { $(ErrorCode::$code => StatusCode::$status,)* }
            }

            pub fn as_str(self) -> &'static str {
                match self { $(ErrorCode::$code => stringify!($code),)* }
            }

            pub fn message(self, lang: Lang) -> &'static str {
                match (self, lang) {
                    $((ErrorCode::$code, Lang::Ko) => $ko, (ErrorCode::$code, Lang::En) => $en,)*
                }
            }
        }
    };
}

error_codes! {
    BAD_REQUEST = BAD_REQUEST, "잘못된 요청입니다.", "The request is malformed.";
    FAIL_REGISTER_QUEUE = BAD_REQUEST, "대기열 등록에 실패하였습니다.", "Could not join the queue.";
    UNAUTHORIZED = UNAUTHORIZED, "인증이 필요합니다.", "Authentication is required.";
    INVALID_TOKEN = UNAUTHORIZED, "유효하지 않거나 만료된 토큰입니다.", "The token is invalid or expired.";
    INVALID_CREDENTIALS = UNAUTHORIZED, "이메일 또는 비밀번호가 올바르지 않습니다.", "Wrong email or password.";
    INVALID_REFRESH_TOKEN = UNAUTHORIZED, "유효하지 않거나 만료된 리프레시 토큰입니다.", "The refresh token is invalid or expired.";
    REFRESH_TOKEN_REUSED = UNAUTHORIZED, "이미 사용된 리프레시 토큰입니다. 보안을 위해 다시 로그인해주세요.", "This refresh token was already used; sign in again.";
    INVALID_STREAM_TICKET = UNAUTHORIZED, "유효하지 않거나 만료된 스트림 티켓입니다. 새 티켓을 받아주세요.", "The stream ticket is invalid, expired or for another concert; get a new one.";
    INVALID_SIGNATURE = UNAUTHORIZED, "웹훅 서명이 올바르지 않거나 만료되었습니다.", "The webhook signature is missing, wrong or too old.";
    FORBIDDEN = FORBIDDEN, "접근 권한이 없습니다.", "You are not allowed to do this.";
    QUEUE_NOT_ADMITTED = FORBIDDEN, "대기열 입장 순서가 아닙니다. 대기열에서 차례를 기다려주세요.", "Wait for your turn in the queue first.";
    // Bot checks (proof of work): issue 15.
    CHALLENGE_REQUIRED = PRECONDITION_REQUIRED, "자동 가입·입장 방지 확인이 필요합니다. 확인 문제를 받아 풀어주세요.", "A bot check is required: get a challenge from /api/challenge and solve it.";
    CHALLENGE_INVALID = FORBIDDEN, "자동 가입·입장 방지 확인 답이 올바르지 않습니다. 새 확인 문제를 받아주세요.", "The bot-check answer is not valid for this request; get a new challenge.";
    CHALLENGE_EXPIRED = FORBIDDEN, "자동 가입·입장 방지 확인 문제가 만료되었습니다. 새 확인 문제를 받아주세요.", "The bot-check challenge has expired; get a new one.";
    CHALLENGE_ALREADY_USED = CONFLICT, "이미 사용된 확인 문제입니다. 새 확인 문제를 받아주세요.", "This bot-check challenge was already used; get a new one.";
    NOT_FOUND = NOT_FOUND, "리소스를 찾을 수 없습니다.", "The resource was not found.";
    NOT_FOUND_USER_ID = NOT_FOUND, "사용자를 찾을 수 없습니다.", "The user was not found.";
    CONCERT_NOT_FOUND = NOT_FOUND, "콘서트를 찾을 수 없습니다.", "The concert was not found.";
    SEAT_NOT_FOUND = NOT_FOUND, "좌석을 찾을 수 없습니다.", "The seat was not found.";
    SEAT_NOT_SELECTED = NOT_FOUND, "선택된 좌석을 찾을 수 없습니다. 좌석을 먼저 선택해주세요.", "You do not hold this seat; select it first.";
    QUEUE_NOT_JOINED = NOT_FOUND, "대기열에 등록되어 있지 않습니다.", "You are not in this concert's queue.";
    PAYMENT_NOT_FOUND = NOT_FOUND, "결제 정보를 찾을 수 없습니다.", "The payment was not found.";
    METHOD_NOT_ALLOWED = METHOD_NOT_ALLOWED, "허용되지 않은 메서드 호출입니다.", "This method is not allowed on this path.";
    NOT_ACCEPTABLE = NOT_ACCEPTABLE, "지원하지 않는 응답 형식입니다.", "The requested response format is not supported.";
    REQUEST_TIMEOUT = REQUEST_TIMEOUT, "요청 처리 시간이 초과되었습니다.", "The request took too long.";
    EXIST_USER_EMAIL = CONFLICT, "중복된 이메일이 존재합니다.", "This email is already registered.";
    EXIST_USER_USERNAME = CONFLICT, "중복된 사용자명이 존재합니다.", "This username is already taken.";
    SEAT_ALREADY_EXISTS = CONFLICT, "이미 존재하는 좌석입니다.", "This seat already exists in the concert.";
    IS_ALREADY_RESERVATION = CONFLICT, "이미 예약 된 좌석입니다.", "The seat is already reserved or sold.";
    SEAT_ALREADY_LOCKED = CONFLICT, "다른 사용자가 이미 선택한 좌석입니다.", "Another fan is holding this seat.";
    SEAT_LOCK_RETRY_NEEDED = CONFLICT, "좌석 선점 중 충돌이 발생했습니다. 다시 시도해주세요.", "The hold raced with a change; try again.";
    RESERVATION_ALREADY_PROCESSED = CONFLICT, "이미 처리된 예약입니다.", "This reservation was already processed.";
    IDEMPOTENCY_KEY_IN_USE = CONFLICT, "같은 Idempotency-Key 의 요청이 아직 처리 중입니다.", "A request with this Idempotency-Key is still being processed.";
    // The waitlist after sell-out: issue 18.
    SEATS_AVAILABLE = CONFLICT, "선택 가능한 좌석이 있습니다. 대기 신청 대신 좌석을 선택해주세요.", "Matching seats are available; select them instead of joining the waitlist.";
    ALREADY_ON_WAITLIST = CONFLICT, "이미 이 공연의 대기 명단에 있습니다.", "You are already on this concert's waitlist.";
    WAITLIST_ENTRY_NOT_FOUND = NOT_FOUND, "대기 신청을 찾을 수 없습니다.", "The waitlist entry was not found.";
    // E-tickets and check-in: issue 17.
    TICKET_NOT_FOUND = NOT_FOUND, "티켓을 찾을 수 없습니다.", "The ticket was not found.";
    CHECKIN_LIST_NOT_FOUND = NOT_FOUND, "체크인 명단을 찾을 수 없습니다.", "The check-in list was not found.";
    CHECKIN_NOT_FOUND = NOT_FOUND, "체크인 기록을 찾을 수 없거나 이미 취소되었습니다.", "The check-in was not found or was already undone.";
    CHECKIN_NONCE_REUSED = UNPROCESSABLE_ENTITY, "같은 nonce 가 다른 스캔에 사용되었습니다.", "This nonce was already used on this list for another scan.";
    PAYMENT_ALREADY_PROCESSED = CONFLICT, "이미 처리된 결제입니다.", "This payment was already processed.";
    PAYLOAD_TOO_LARGE = PAYLOAD_TOO_LARGE, "요청 본문이 너무 큽니다.", "The request body is too large.";
    UNSUPPORTED_MEDIA_TYPE = UNSUPPORTED_MEDIA_TYPE, "Content-Type: application/json 이 필요합니다.", "Content-Type: application/json is required.";
    CONCERT_DATE_AFTER_CLOSE_TIME = UNPROCESSABLE_ENTITY, "공연일은 예매 마감일과 같거나 이후여야 합니다.", "The concert date must not be before the close time.";
    DATE_OUT_OF_RANGE = UNPROCESSABLE_ENTITY, "날짜는 2000년부터 2100년 사이여야 합니다.", "Dates must fall in the years 2000 to 2100.";
    CLOSE_TIME_AFTER_OPEN_TIME = UNPROCESSABLE_ENTITY, "예매 마감일은 예매 시작일보다 이후여야 합니다.", "The close time must be after the open time.";
    CANNOT_DELETE_RESERVATION_OPEN_CONCERT = UNPROCESSABLE_ENTITY, "진행 중인 예약이 있는 콘서트는 삭제할 수 없습니다.", "A concert with active reservations cannot be deleted.";
    CANNOT_DELETE_RESERVED_SEAT = UNPROCESSABLE_ENTITY, "예약된 좌석은 삭제하거나 변경할 수 없습니다.", "A reserved seat cannot be deleted or changed.";
    CANNOT_CHANGE_OWN_ROLE = CONFLICT, "자신의 역할은 변경할 수 없습니다.", "An admin cannot change their own role.";
    RESERVATION_NOT_OPEN_YET = UNPROCESSABLE_ENTITY, "아직 예매 오픈 시간이 아닙니다.", "The sale has not opened yet.";
    SALE_CLOSED = UNPROCESSABLE_ENTITY, "예매가 마감되었습니다.", "The sale has closed.";
    INVALID_CONCERT_STATUS = UNPROCESSABLE_ENTITY, "예매할 수 없는 콘서트 상태입니다.", "The concert is not on sale.";
    SEAT_LIMIT_EXCEEDED = UNPROCESSABLE_ENTITY, "공연당 선택할 수 있는 좌석 수를 초과했습니다.", "You would exceed the seats allowed per fan for this concert.";
    AMOUNT_MISMATCH = UNPROCESSABLE_ENTITY, "결제 금액이 좌석 가격과 일치하지 않습니다.", "The amount does not match the seats' prices.";
    CHALLENGE_CONCERT_REQUIRED = UNPROCESSABLE_ENTITY, "대기열 입장용 확인에는 콘서트 ID가 필요합니다.", "A QUEUE challenge needs the concertId of the waiting room.";
    RESERVATION_EXPIRED = UNPROCESSABLE_ENTITY, "예약이 만료되었습니다.", "The reservation has expired.";
    RESERVATION_NOT_CONFIRMED = UNPROCESSABLE_ENTITY, "확정된 예약만 취소할 수 있습니다.", "Only a confirmed reservation can be canceled.";
    CANCELLATION_DEADLINE_PASSED = UNPROCESSABLE_ENTITY, "공연 2시간 전까지만 취소할 수 있습니다.", "Cancellation closes two hours before the show.";
    IDEMPOTENCY_KEY_REUSED = UNPROCESSABLE_ENTITY, "같은 Idempotency-Key 가 다른 요청에 사용되었습니다.", "This Idempotency-Key was used with a different request.";
    INVALID_REQUEST = UNPROCESSABLE_ENTITY, "유효하지 않은 요청입니다.", "The request is not valid.";
    INVALID_CONCERT_ID = UNPROCESSABLE_ENTITY, "모든 좌석은 동일한 콘서트에 속해야 합니다.", "All seats must belong to the same concert.";
    DUPLICATE_SEAT_IN_REQUEST = UNPROCESSABLE_ENTITY, "요청 내에 중복된 좌석이 있습니다.", "The request repeats a seat.";
    TOO_MANY_STREAMS = TOO_MANY_REQUESTS, "열려 있는 실시간 연결이 너무 많습니다. 다른 탭을 닫고 다시 시도해주세요.", "You have too many live streams open; close another tab and try again.";
    RATE_LIMITED = TOO_MANY_REQUESTS, "요청이 너무 많습니다. 잠시 후 다시 시도해주세요.", "Too many requests; try again later.";
    CHECKOUT_COOLDOWN = TOO_MANY_REQUESTS, "결제하지 않은 예약이 여러 번 만료되어 잠시 좌석 선택과 결제가 제한됩니다. 잠시 후 다시 시도해주세요.", "Several of your checkouts expired unpaid, so holding seats and checking out are paused for a while; try again later.";
    IDEMPOTENCY_KEY_LIMIT = TOO_MANY_REQUESTS, "사용 중인 Idempotency-Key 가 너무 많습니다. 이전 키가 만료된 뒤 다시 시도해주세요.", "You have too many live Idempotency-Keys; retry once older ones expire.";
    INTERNAL_SERVER_ERROR = INTERNAL_SERVER_ERROR, "내부 서버 오류입니다.", "Internal server error.";
    STREAM_CAPACITY_REACHED = SERVICE_UNAVAILABLE, "실시간 연결이 가득 찼습니다. 잠시 후 다시 시도해주세요.", "This server has as many live streams as it can take; try again shortly.";
    SERVICE_UNAVAILABLE = SERVICE_UNAVAILABLE, "일시적으로 서비스를 이용할 수 없습니다.", "The service is temporarily unavailable.";
}

/// Why one field of the input was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldProblem {
    Required,
    Length {
        min: usize,
        max: usize,
    },
    Email,
    Positive,
    TooMany {
        max: usize,
    },
    NotEmpty,
    /// Text with a character the database cannot store (NUL).
    Unstorable,
    /// A number outside `min..=max`.
    Range {
        min: i64,
        max: i64,
    },
    /// The value has the wrong type or format; the detail comes from the parser.
    Invalid(String),
    /// A name or title with a control or bidirectional formatting character.
    HiddenCharacter,
}

impl FieldProblem {
    fn message(&self, lang: Lang) -> String {
        match (self, lang) {
            (FieldProblem::Required, Lang::Ko) => "필수 항목입니다.".into(),
            (FieldProblem::Required, Lang::En) => "is required".into(),
            (FieldProblem::Length { min, max }, Lang::Ko) => {
                format!("{min}자 이상 {max}자 이하로 입력해주세요.")
            }
            (FieldProblem::Length { min, max }, Lang::En) => {
                format!("must be {min} to {max} characters long")
            }
            (FieldProblem::Email, Lang::Ko) => "올바른 이메일 형식이 아닙니다.".into(),
            (FieldProblem::Email, Lang::En) => "is not a valid email address".into(),
            (FieldProblem::Positive, Lang::Ko) => "0보다 커야 합니다.".into(),
            (FieldProblem::Positive, Lang::En) => "must be greater than 0".into(),
            (FieldProblem::TooMany { max }, Lang::Ko) => format!("최대 {max}개까지 가능합니다."),
            (FieldProblem::TooMany { max }, Lang::En) => format!("must have at most {max} items"),
            (FieldProblem::NotEmpty, Lang::Ko) => "비어 있을 수 없습니다.".into(),
            (FieldProblem::NotEmpty, Lang::En) => "must not be empty".into(),
            (FieldProblem::Unstorable, Lang::Ko) => "NUL 문자는 쓸 수 없습니다.".into(),
            (FieldProblem::Unstorable, Lang::En) => "must not contain a NUL character".into(),
            (FieldProblem::Range { min, max }, Lang::Ko) => {
                format!("{min} 이상 {max} 이하여야 합니다.")
            }
            (FieldProblem::Range { min, max }, Lang::En) => {
                format!("must be between {min} and {max}")
            }
            (FieldProblem::Invalid(detail), Lang::Ko) => {
                format!("올바르지 않은 값입니다: {detail}")
            }
            (FieldProblem::Invalid(detail), Lang::En) => format!("is invalid: {detail}"),
            (FieldProblem::HiddenCharacter, Lang::Ko) => {
                "제어 문자나 양방향 서식 문자는 쓸 수 없습니다.".into()
            }
            (FieldProblem::HiddenCharacter, Lang::En) => {
                "must not contain control or bidirectional formatting characters".into()
            }
        }
    }
}

/// One failing field, by its JSON path (`price`, `[3].price`, `page`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub problem: FieldProblem,
}

impl FieldError {
    pub fn new(field: impl Into<String>, problem: FieldProblem) -> Self {
        FieldError { field: field.into(), problem }
    }
}

/// Everything that can go wrong while serving a request.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// A rule refused the request; the code names the rule and implies the status.
    #[error("{}", .0.as_str())]
    Rejected(ErrorCode),
    /// The input did not parse; every failing field is listed.
    #[error("invalid input: {0:?}")]
    Invalid(ErrorCode, Vec<FieldError>),
    /// Too many attempts; retry after the given number of seconds.
    #[error("rate limited for {retry_after_secs}s")]
    RateLimited { retry_after_secs: u64 },
    /// A rule refuses the caller for a while, or this instance is saturated (the code says
    /// which: 429s, or `SERVICE_UNAVAILABLE`); retry after the seconds. Not logged as a fault.
    #[error("{} for {retry_after_secs}s", .code.as_str())]
    Throttled { code: ErrorCode, retry_after_secs: u64 },
    /// A dependency (database, Redis, broker) is unreachable or overloaded.
    #[error("unavailable: {0:#}")]
    Unavailable(anyhow::Error),
    /// A fault of ours; the body stays opaque and the cause is logged.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    pub fn validation(fields: Vec<FieldError>) -> Self {
        AppError::Invalid(ErrorCode::BAD_REQUEST, fields)
    }

    pub fn field(field: impl Into<String>, problem: FieldProblem) -> Self {
        AppError::validation(vec![FieldError::new(field, problem)])
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            AppError::Rejected(code) | AppError::Invalid(code, _) => *code,
            AppError::RateLimited { .. } => ErrorCode::RATE_LIMITED,
            AppError::Throttled { code, .. } => *code,
            AppError::Unavailable(_) => ErrorCode::SERVICE_UNAVAILABLE,
            AppError::Unexpected(_) => ErrorCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<ErrorCode> for AppError {
    fn from(code: ErrorCode) -> Self {
        AppError::Rejected(code)
    }
}

/// Whether an error came from the database (away, overloaded) rather than from its input.
pub fn is_database_error(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| cause.downcast_ref::<sqlx::Error>().is_some())
}

impl From<sqlx::Error> for AppError {
    fn from(err: sqlx::Error) -> Self {
        if let Some(code) = constraint_code(&err) {
            return AppError::Rejected(code);
        }
        // Text the database cannot store (a NUL) that no check caught: still the client's.
        let sqlstate = err.as_database_error().and_then(|d| d.code());
        if matches!(sqlstate.as_deref(), Some("22021" | "22P05")) {
            tracing::warn!(error = %err, "unstorable text reached the database");
            return AppError::Rejected(ErrorCode::BAD_REQUEST);
        }
        // The database going away, restarting or refusing connections: its SQLSTATE class 08
        // (connection exception), 57P01–57P03 (shut down by an administrator, crashed, not yet
        // accepting connections) and 53300 (too many connections). A transient failure, not a
        // fault of ours.
        let transient = matches!(sqlstate.as_deref(), Some(s) if s.starts_with("08"))
            || matches!(sqlstate.as_deref(), Some("57P01" | "57P02" | "57P03" | "53300"));
        match err {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::Io(_)
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed
            // The wire broke mid-conversation (a connection cut during its handshake, a proxy
            // in front of a server that is down): not SQL of ours.
            | sqlx::Error::Protocol(_)
            | sqlx::Error::Tls(_) => AppError::Unavailable(err.into()),
            other if transient => AppError::Unavailable(other.into()),
            other => AppError::Unexpected(other.into()),
        }
    }
}

/// Constraint names of the schema → the error a client should see.
fn constraint_code(err: &sqlx::Error) -> Option<ErrorCode> {
    let db = err.as_database_error()?;
    Some(match db.constraint()? {
        "users_email_uk" => ErrorCode::EXIST_USER_EMAIL,
        "users_username_uk" => ErrorCode::EXIST_USER_USERNAME,
        "seat_position_uk" => ErrorCode::SEAT_ALREADY_EXISTS,
        "concert_close_after_open" => ErrorCode::CLOSE_TIME_AFTER_OPEN_TIME,
        "concert_date_after_close" => ErrorCode::CONCERT_DATE_AFTER_CLOSE_TIME,
        "seat_concert_id_fkey" => ErrorCode::CONCERT_NOT_FOUND,
        "reservation_seat_active_uk" => ErrorCode::IS_ALREADY_RESERVATION,
        "waitlist_entries_active_uk" => ErrorCode::ALREADY_ON_WAITLIST,
        "waitlist_entries_concert_id_fkey" => ErrorCode::CONCERT_NOT_FOUND,
        _ => return None,
    })
}

/// `Retry-After` of a 503 for a dependency that is away.
pub const UNAVAILABLE_RETRY_AFTER_SECS: u64 = 2;

/// What the error middleware needs to write the body in the caller's language.
#[derive(Debug, Clone)]
pub struct ErrorPayload {
    pub code: ErrorCode,
    pub fields: Vec<FieldError>,
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let code = self.code();
        let mut retry_after = None;
        let fields = match self {
            AppError::Invalid(_, fields) => fields,
            AppError::RateLimited { retry_after_secs }
            | AppError::Throttled { retry_after_secs, .. } => {
                retry_after = Some(retry_after_secs.max(1));
                Vec::new()
            }
            AppError::Unavailable(err) => {
                tracing::error!(error = %format!("{err:#}"), "dependency unavailable");
                // Dependencies come back by themselves (reconnects, pool refills): a short
                // wait is the right advice.
                retry_after = Some(UNAVAILABLE_RETRY_AFTER_SECS);
                Vec::new()
            }
            AppError::Unexpected(err) => {
                tracing::error!(error = %format!("{err:#}"), "unexpected error");
                Vec::new()
            }
            AppError::Rejected(_) => Vec::new(),
        };
        let mut response = code.status().into_response();
        if let Some(secs) = retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response.extensions_mut().insert(ErrorPayload { code, fields });
        response
    }
}

/// The error body of SPEC §6.1.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"status": 409, "error": "CONFLICT", "code": "SEAT_ALREADY_LOCKED", "message": "다른 사용자가 이미 선택한 좌석입니다."}))]
pub struct ErrorBody {
    /// The HTTP status code.
    pub status: u16,
    /// The HTTP status name, upper snake case (`NOT_FOUND`).
    pub error: String,
    /// Stable machine name of the error.
    pub code: ErrorCode,
    /// Human-readable message (Korean by default, English with `Accept-Language: en`).
    pub message: String,
    /// Every failing field, for validation errors.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldErrorBody>,
}

/// One failing field in an error body.
#[derive(Debug, Serialize, ToSchema)]
pub struct FieldErrorBody {
    pub field: String,
    pub message: String,
}

impl ErrorBody {
    pub fn new(status: StatusCode, payload: &ErrorPayload, lang: Lang) -> Self {
        ErrorBody {
            status: status.as_u16(),
            error: status
                .canonical_reason()
                .unwrap_or("ERROR")
                .to_ascii_uppercase()
                .replace([' ', '-'], "_"),
            code: payload.code,
            message: payload.code.message(lang).to_owned(),
            fields: payload
                .fields
                .iter()
                .map(|f| FieldErrorBody {
                    field: f.field.clone(),
                    message: f.problem.message(lang),
                })
                .collect(),
        }
    }
}

/// The code for an error response that did not come from an `AppError`.
pub fn code_for_status(status: StatusCode) -> ErrorCode {
    match status {
        StatusCode::UNAUTHORIZED => ErrorCode::UNAUTHORIZED,
        StatusCode::FORBIDDEN => ErrorCode::FORBIDDEN,
        StatusCode::NOT_FOUND => ErrorCode::NOT_FOUND,
        StatusCode::METHOD_NOT_ALLOWED => ErrorCode::METHOD_NOT_ALLOWED,
        StatusCode::NOT_ACCEPTABLE => ErrorCode::NOT_ACCEPTABLE,
        StatusCode::REQUEST_TIMEOUT => ErrorCode::REQUEST_TIMEOUT,
        StatusCode::PAYLOAD_TOO_LARGE => ErrorCode::PAYLOAD_TOO_LARGE,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ErrorCode::UNSUPPORTED_MEDIA_TYPE,
        StatusCode::TOO_MANY_REQUESTS => ErrorCode::RATE_LIMITED,
        StatusCode::SERVICE_UNAVAILABLE | StatusCode::GATEWAY_TIMEOUT => {
            ErrorCode::SERVICE_UNAVAILABLE
        }
        s if s.is_server_error() => ErrorCode::INTERNAL_SERVER_ERROR,
        _ => ErrorCode::BAD_REQUEST,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn english_only_when_asked_first() {
        assert_eq!(Lang::from_accept_language(None), Lang::Ko);
        assert_eq!(Lang::from_accept_language(Some("en")), Lang::En);
        assert_eq!(Lang::from_accept_language(Some("en-US,en;q=0.9")), Lang::En);
        assert_eq!(Lang::from_accept_language(Some("ko-KR,en;q=0.8")), Lang::Ko);
        assert_eq!(Lang::from_accept_language(Some("fr,en;q=0.5")), Lang::En);
    }

    #[test]
    fn every_code_has_both_messages_and_a_client_or_server_status() {
        for code in ErrorCode::ALL {
            assert!(!code.message(Lang::Ko).is_empty() && !code.message(Lang::En).is_empty());
            assert!(code.status().is_client_error() || code.status().is_server_error());
        }
    }

    #[test]
    fn error_name_is_upper_snake_case() {
        let payload = ErrorPayload { code: ErrorCode::NOT_FOUND, fields: vec![] };
        let body = ErrorBody::new(StatusCode::UNPROCESSABLE_ENTITY, &payload, Lang::En);
        assert_eq!(body.error, "UNPROCESSABLE_ENTITY");
    }
}
