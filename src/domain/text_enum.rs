//! Enumerations stored as `text` columns with a check constraint.

/// Declares an enum with its SCREAMING_SNAKE_CASE names, serde and OpenAPI schema. Its Postgres
/// `text` encoding lives with the SQL (`repositories::stored_as_text!`).
#[macro_export]
macro_rules! text_enum {
    ($(#[$meta:meta])* pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)* }) => {
        $(#[$meta])*
        // The names travel as SCREAMING_SNAKE_CASE of the variants (a unit test checks each
        // `$text` is exactly that), so serde and the OpenAPI schema agree on them.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
        #[serde(rename_all = "SCREAMING_SNAKE_CASE")]
        pub enum $name {
            $($(#[$vmeta])* $variant,)*
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text,)* }
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($text => Ok($name::$variant),)*
                    other => Err(format!("unknown {} `{other}`", stringify!($name))),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use utoipa::PartialSchema;

    use crate::domain::{challenge, concert, reservation, user};

    /// What travels, what serde reads back, and what the OpenAPI document says: one name each.
    fn names_agree<T>(all: &[T], as_str: fn(&T) -> &'static str)
    where
        T: serde::Serialize
            + serde::de::DeserializeOwned
            + PartialSchema
            + PartialEq
            + std::fmt::Debug,
    {
        let texts: Vec<&str> = all.iter().map(as_str).collect();
        for (value, text) in all.iter().zip(&texts) {
            assert_eq!(serde_json::to_value(value).unwrap(), *text);
            assert_eq!(&serde_json::from_value::<T>(serde_json::json!(text)).unwrap(), value);
        }
        let schema = serde_json::to_value(T::schema()).unwrap();
        assert_eq!(schema["enum"], serde_json::json!(texts), "{schema}");
    }

    #[test]
    fn every_text_enum_has_one_name_on_the_wire_in_serde_and_in_the_schema() {
        names_agree(concert::ConcertStatus::ALL, |v| v.as_str());
        names_agree(user::Role::ALL, |v| v.as_str());
        names_agree(reservation::ReservationStatus::ALL, |v| v.as_str());
        names_agree(reservation::PaymentStatus::ALL, |v| v.as_str());
        names_agree(reservation::PaymentMethod::ALL, |v| v.as_str());
        names_agree(reservation::WebhookStatus::ALL, |v| v.as_str());
        names_agree(reservation::WebhookOutcome::ALL, |v| v.as_str());
        names_agree(challenge::ChallengePurpose::ALL, |v| v.as_str());
    }
}
