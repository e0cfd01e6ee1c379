//! Extractors whose rejections are `AppError`s, so malformed input always gets the error body
//! of SPEC §6.1, and the authentication extractors.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::{
    body::Bytes,
    extract::{
        ConnectInfo, FromRef, FromRequest, FromRequestParts, Request,
        path::ErrorKind,
        rejection::{BytesRejection, PathRejection, QueryRejection},
    },
    http::{HeaderMap, HeaderValue, header, request::Parts},
    response::{IntoResponse, Response},
};
use serde::{Serialize, de::DeserializeOwned};

use crate::{
    domain::{client_addr, user::Role},
    error::{AppError, ErrorCode, FieldProblem},
    services::tokens::Principal,
    state::AppState,
};

/// A JSON body; any failure to read or parse it is a 4xx in our error shape.
pub struct AppJson<T>(pub T);

impl<T, S> FromRequest<S> for AppJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, AppError> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|mime| {
                let mime = mime.trim().to_ascii_lowercase();
                mime == "application/json"
                    || (mime.starts_with("application/") && mime.ends_with("+json"))
            });
        if !is_json {
            return Err(ErrorCode::UNSUPPORTED_MEDIA_TYPE.into());
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| match rejection {
            BytesRejection::FailedToBufferBody(e) if e.body_text().contains("length limit") => {
                AppError::Rejected(ErrorCode::PAYLOAD_TOO_LARGE)
            }
            other => AppError::field("body", FieldProblem::Invalid(other.body_text())),
        })?;
        parse_json(&bytes).map(AppJson)
    }
}

/// Parses JSON, naming the failing field (`[3].price`, `status`) when there is one.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        let field = if path == "." || inner.is_syntax() || inner.is_eof() {
            "body".to_owned()
        } else {
            path
        };
        AppError::field(field, FieldProblem::Invalid(inner.to_string()))
    })?;
    // Trailing garbage after the JSON value is malformed input too.
    de.end().map_err(|e| AppError::field("body", FieldProblem::Invalid(e.to_string())))?;
    Ok(value)
}

impl<T: Serialize> IntoResponse for AppJson<T> {
    /// Serialised once, into this thread's reused buffer, then copied into a body of exactly
    /// its size (axum's `Json` grows a fresh buffer from 128 bytes for every answer).
    fn into_response(self) -> Response {
        thread_local! {
            static BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        let body = BUF.with_borrow_mut(|buf| {
            buf.clear();
            let written =
                serde_json::to_writer(&mut *buf, &self.0).map(|()| Bytes::copy_from_slice(buf));
            // A huge answer (the seat map) does not keep its memory on the thread.
            if buf.capacity() > 64 * 1024 {
                *buf = Vec::new();
            }
            written
        });
        match body {
            Ok(body) => {
                ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], body)
                    .into_response()
            }
            Err(e) => AppError::Unexpected(e.into()).into_response(),
        }
    }
}

/// Path parameters; a value of the wrong type is a 400 naming the parameter.
pub struct AppPath<T>(pub T);

impl<T, S> FromRequestParts<S> for AppPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(AppPath(value)),
            Err(PathRejection::FailedToDeserializePathParams(e)) => {
                let (field, detail) = match e.kind() {
                    ErrorKind::ParseErrorAtKey { key, value, expected_type } => {
                        (key.clone(), format!("`{value}` is not a valid {expected_type}"))
                    }
                    _ => ("path".to_owned(), e.body_text()),
                };
                Err(AppError::field(field, FieldProblem::Invalid(detail)))
            }
            Err(other) => Err(AppError::Unexpected(anyhow::anyhow!(other.body_text()))),
        }
    }
}

/// Query parameters; a bad value is a 400 naming the parameter.
pub struct AppQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for AppQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, AppError> {
        match axum::extract::Query::<T>::try_from_uri(&parts.uri) {
            Ok(axum::extract::Query(value)) => Ok(AppQuery(value)),
            Err(QueryRejection::FailedToDeserializeQueryString(e)) => {
                let text = e.body_text();
                let detail =
                    text.strip_prefix("Failed to deserialize query string: ").unwrap_or(&text);
                let (field, detail) = match detail.split_once(": ") {
                    Some((field, rest)) if !field.contains(' ') => {
                        (field.to_owned(), rest.to_owned())
                    }
                    _ => ("query".to_owned(), detail.to_owned()),
                };
                Err(AppError::field(field, FieldProblem::Invalid(detail)))
            }
            Err(other) => Err(AppError::field("query", FieldProblem::Invalid(other.body_text()))),
        }
    }
}

/// The token of an `Authorization: Bearer …` header (the scheme in any case): `None` without
/// the header, `INVALID_TOKEN` when it holds something else. The one place bearer tokens are
/// read.
pub fn bearer_token(headers: &HeaderMap) -> Option<Result<&str, ErrorCode>> {
    let value = headers.get(header::AUTHORIZATION)?;
    let token = value.to_str().ok().and_then(|v| {
        let (scheme, token) = v.trim_start().split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
    });
    Some(token.ok_or(ErrorCode::INVALID_TOKEN))
}

/// The caller proven by the request's bearer token. Anonymous → 401 `UNAUTHORIZED`; a bad
/// token → 401 `INVALID_TOKEN`.
pub fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Principal, AppError> {
    let token = bearer_token(headers).ok_or(ErrorCode::UNAUTHORIZED)??;
    verify(state, token)
}

/// The caller proven by an access token.
pub fn verify(state: &AppState, token: &str) -> Result<Principal, AppError> {
    let principal = state.users.authenticate(token).ok_or(ErrorCode::INVALID_TOKEN)?;
    tracing::Span::current().record("user.id", principal.user_id);
    Ok(principal)
}

/// The caller, proven by a valid access token (`Authorization: Bearer …`). Anonymous → 401.
#[derive(Debug, Clone, Copy)]
pub struct AuthUser(pub Principal);

impl<S> FromRequestParts<S> for AuthUser
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        // Verified already by a layer in front (`Idempotency-Key`): not a second time.
        if let Some(principal) = parts.extensions.get::<Principal>() {
            return Ok(AuthUser(*principal));
        }
        authenticate(&AppState::from_ref(state), &parts.headers).map(AuthUser)
    }
}

/// The signed-in caller when their role is one of `roles`: anonymous → 401, another role → 403.
async fn with_role<S>(parts: &mut Parts, state: &S, roles: &[Role]) -> Result<Principal, AppError>
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    let AuthUser(principal) = AuthUser::from_request_parts(parts, state).await?;
    if !roles.contains(&principal.role) {
        return Err(ErrorCode::FORBIDDEN.into());
    }
    Ok(principal)
}

/// An authenticated caller with the ADMIN role. Anonymous → 401, a USER → 403.
#[derive(Debug, Clone, Copy)]
pub struct AdminUser(pub Principal);

impl<S> FromRequestParts<S> for AdminUser
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        with_role(parts, state, &[Role::Admin]).await.map(AdminUser)
    }
}

/// An authenticated caller who works the doors: STAFF or ADMIN. Anonymous → 401, a USER → 403.
#[derive(Debug, Clone, Copy)]
pub struct StaffUser(pub Principal);

impl<S> FromRequestParts<S> for StaffUser
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        with_role(parts, state, &[Role::Staff, Role::Admin]).await.map(StaffUser)
    }
}

/// The client, as every per-address limit counts it (login, signup, streams, holds): the
/// socket peer, or — when the peer is one of `TRUSTED_PROXIES` — the right-most
/// `X-Forwarded-For` address that is not itself a trusted proxy. An IPv6 client counts as its
/// /64. The one place client addresses are worked out.
pub struct ClientIp(pub IpAddr);

impl<S> FromRequestParts<S> for ClientIp
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
        let state = AppState::from_ref(state);
        // A value that is not text is an entry that is not an address: the walk stops there.
        let forwarded =
            parts.headers.get_all("x-forwarded-for").iter().map(|v| v.to_str().unwrap_or(""));
        let client = state.settings.trusted_proxies.client_address(peer, forwarded);
        Ok(ClientIp(client_addr::limit_identity(client)))
    }
}

/// The caller's language for messages in success bodies (`Accept-Language`).
pub struct Language(pub crate::error::Lang);

impl<S: Send + Sync> FromRequestParts<S> for Language {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, AppError> {
        let value = parts.headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok());
        Ok(Language(crate::error::Lang::from_accept_language(value)))
    }
}

/// JSON integers as JSON Schema counts them: `3` and `3.0` are the same integer (generated
/// clients and fuzzers send either). For `#[serde(deserialize_with = …)]` on request ids.
pub mod integer {
    use serde::{Deserialize, Deserializer, de::Error};

    fn exact<E: Error>(n: serde_json::Number) -> Result<i64, E> {
        if let Some(i) = n.as_i64() {
            return Ok(i);
        }
        match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f >= i64::MIN as f64 && f < i64::MAX as f64 => {
                Ok(f as i64)
            }
            _ => Err(E::custom(format!("`{n}` is not a 64-bit integer"))),
        }
    }

    pub fn option<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        Option::<serde_json::Number>::deserialize(d)?.map(exact).transpose()
    }

    pub fn option_vec<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<i64>>, D::Error> {
        Option::<Vec<serde_json::Number>>::deserialize(d)?
            .map(|v| v.into_iter().map(exact).collect())
            .transpose()
    }
}
