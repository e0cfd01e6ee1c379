//! `/api/admin`: what an admin does to accounts.

use axum::extract::State;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::{
    extract::{AdminUser, AppJson, AppPath},
    users::ProfileResponse,
};
use crate::{
    domain::user::Role,
    error::{AppError, AppResult, ErrorBody, FieldProblem},
    state::AppState,
};

const TAG: &str = "admin";

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct UserPath {
    /// User id.
    #[serde(rename = "userId")]
    #[param(rename = "userId")]
    pub user_id: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RoleRequest {
    #[schema(required = true, value_type = Role)]
    pub role: Option<Role>,
}

/// Grant a role: `USER`, `STAFF` (door staff) or `ADMIN`. Access tokens already issued keep
/// their role until they expire (`JWT_ACCESS_TTL_SECS`); the next refresh carries the new one.
#[utoipa::path(put, path = "/api/admin/users/{userId}/role", tag = TAG, params(UserPath),
    request_body = RoleRequest, security(("bearer" = [])),
    responses(
        (status = 200, description = "The account with its new role", body = ProfileResponse),
        (status = 400, description = "Invalid fields", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "`FORBIDDEN`: not an admin", body = ErrorBody),
        (status = 404, description = "`NOT_FOUND_USER_ID`", body = ErrorBody),
        (status = 409, description = "`CANNOT_CHANGE_OWN_ROLE`: an admin cannot demote themselves", body = ErrorBody),
    ))]
pub async fn set_role(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    AppPath(UserPath { user_id }): AppPath<UserPath>,
    AppJson(req): AppJson<RoleRequest>,
) -> AppResult<AppJson<ProfileResponse>> {
    let role = req.role.ok_or_else(|| AppError::field("role", FieldProblem::Required))?;
    Ok(AppJson(state.users.set_role(admin.user_id, user_id, role).await?.into()))
}
