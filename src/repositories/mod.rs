//! SQL only: free functions taking a connection (or a transaction), one module per feature.

pub mod checkin;
pub mod concerts;
pub mod database;
pub mod health;
pub mod housekeeping;
pub mod idempotency;
pub mod locks;
pub mod outbox;
pub mod payments;
pub mod refresh_tokens;
pub mod reservations;
pub mod seats;
pub mod tickets;
pub mod users;
pub mod waitlist;

/// Stores text enums (`domain::text_enum!`) in `text` columns: each is encoded as its name.
macro_rules! stored_as_text {
    ($($name:ty),* $(,)?) => {$(
        impl sqlx::Type<sqlx::Postgres> for $name {
            fn type_info() -> sqlx::postgres::PgTypeInfo {
                <&str as sqlx::Type<sqlx::Postgres>>::type_info()
            }
            fn compatible(ty: &sqlx::postgres::PgTypeInfo) -> bool {
                <&str as sqlx::Type<sqlx::Postgres>>::compatible(ty)
            }
        }

        impl sqlx::Encode<'_, sqlx::Postgres> for $name {
            fn encode_by_ref(
                &self,
                buf: &mut sqlx::postgres::PgArgumentBuffer,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                <&str as sqlx::Encode<sqlx::Postgres>>::encode_by_ref(&self.as_str(), buf)
            }
        }

        impl<'r> sqlx::Decode<'r, sqlx::Postgres> for $name {
            fn decode(
                value: sqlx::postgres::PgValueRef<'r>,
            ) -> Result<Self, sqlx::error::BoxDynError> {
                let s = <&str as sqlx::Decode<sqlx::Postgres>>::decode(value)?;
                Ok(s.parse()?)
            }
        }
    )*};
}

stored_as_text!(
    crate::domain::concert::ConcertStatus,
    crate::domain::user::Role,
    crate::domain::reservation::ReservationStatus,
    crate::domain::reservation::PaymentStatus,
    crate::domain::reservation::PaymentMethod,
);
