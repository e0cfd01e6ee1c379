use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::domain::user::{Role, User};

/// An account with its password hash (which never leaves the services).
#[derive(Debug, Clone)]
pub struct UserRow {
    pub id: i64,
    pub username: String,
    pub email: String,
    pub password_hash: String,
    pub role: Role,
    pub created_at: DateTime<Utc>,
}

impl From<UserRow> for User {
    fn from(u: UserRow) -> Self {
        User {
            id: u.id,
            username: u.username,
            email: u.email,
            role: u.role,
            created_at: u.created_at,
        }
    }
}

pub async fn insert(
    conn: &mut PgConnection,
    username: &str,
    email: &str,
    password_hash: &str,
    role: Role,
) -> sqlx::Result<UserRow> {
    sqlx::query_as!(
        UserRow,
        r#"insert into users (username, email, password_hash, role)
           values ($1, $2, $3, $4)
           returning id, username, email, password_hash, role as "role: Role", created_at"#,
        username,
        email,
        password_hash,
        role.as_str(),
    )
    .fetch_one(conn)
    .await
}

pub async fn find_by_email(conn: &mut PgConnection, email: &str) -> sqlx::Result<Option<UserRow>> {
    sqlx::query_as!(
        UserRow,
        r#"select id, username, email, password_hash, role as "role: Role", created_at
           from users where email = $1 and deleted_at is null"#,
        email,
    )
    .fetch_optional(conn)
    .await
}

pub async fn find_by_id(conn: &mut PgConnection, id: i64) -> sqlx::Result<Option<UserRow>> {
    sqlx::query_as!(
        UserRow,
        r#"select id, username, email, password_hash, role as "role: Role", created_at
           from users where id = $1 and deleted_at is null"#,
        id,
    )
    .fetch_optional(conn)
    .await
}

pub async fn admin_exists(conn: &mut PgConnection) -> sqlx::Result<bool> {
    let exists = sqlx::query_scalar!(
        r#"select exists(select 1 from users where role = 'ADMIN' and deleted_at is null) as "exists!""#
    )
    .fetch_one(conn)
    .await?;
    Ok(exists)
}

/// Makes the account with this email an admin with the given password; false when none has it.
pub async fn promote_to_admin(
    conn: &mut PgConnection,
    email: &str,
    password_hash: &str,
) -> sqlx::Result<bool> {
    let promoted = sqlx::query!(
        "update users set role = 'ADMIN', password_hash = $2, updated_at = now() where email = $1",
        email,
        password_hash,
    )
    .execute(conn)
    .await?
    .rows_affected();
    Ok(promoted > 0)
}

pub async fn username_taken(conn: &mut PgConnection, username: &str) -> sqlx::Result<bool> {
    let taken = sqlx::query_scalar!(
        r#"select exists(select 1 from users where username = $1) as "taken!""#,
        username,
    )
    .fetch_one(conn)
    .await?;
    Ok(taken)
}

/// Gives the account a role; `None` when no such account exists.
pub async fn set_role(
    conn: &mut PgConnection,
    id: i64,
    role: Role,
) -> sqlx::Result<Option<UserRow>> {
    sqlx::query_as!(
        UserRow,
        r#"update users set role = $2, updated_at = now() where id = $1 and deleted_at is null
           returning id, username, email, password_hash, role as "role: Role", created_at"#,
        id,
        role.as_str(),
    )
    .fetch_optional(conn)
    .await
}

/// Which of an email and a username already belong to an account (deleted ones too: the
/// unique indexes cover them).
#[derive(Debug, Clone, Copy)]
pub struct Taken {
    pub email: bool,
    pub username: bool,
}

pub async fn taken(conn: &mut PgConnection, email: &str, username: &str) -> sqlx::Result<Taken> {
    let row = sqlx::query!(
        r#"select exists(select 1 from users where email = $1) as "email!",
                  exists(select 1 from users where username = $2) as "username!""#,
        email,
        username,
    )
    .fetch_one(conn)
    .await?;
    Ok(Taken { email: row.email, username: row.username })
}
