//! Money: a positive decimal with at most two decimal places, a JSON number on the wire.

use std::{fmt, str::FromStr};

use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize, Serializer, de};

/// An amount in the concert's currency (KRW by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Money(Decimal);

impl Money {
    /// The largest amount `numeric(12,2)` holds.
    pub const MAX: Decimal = Decimal::from_parts(3_567_587_327, 232, 0, false, 2); // 9_999_999_999.99
    /// `MAX` as the OpenAPI document states it.
    pub const MAX_F64: f64 = 9_999_999_999.99;

    pub fn new(value: Decimal) -> Result<Self, &'static str> {
        if value.scale() > 2 && value.normalize().scale() > 2 {
            return Err("at most two decimal places");
        }
        if value > Self::MAX || value < -Self::MAX {
            return Err("too large");
        }
        Ok(Money(value.round_dp(2)))
    }

    pub fn is_positive(self) -> bool {
        self.0 > Decimal::ZERO
    }

    pub fn decimal(self) -> Decimal {
        self.0
    }

    /// `100,000원` (and `99.5원` for fractions), as fans read amounts.
    pub fn won(self) -> String {
        let normalized = self.0.normalize();
        let text = normalized.abs().to_string();
        let (int, frac) = text.split_once('.').map_or((text.as_str(), None), |(i, f)| (i, Some(f)));
        let mut grouped = String::new();
        for (i, c) in int.chars().enumerate() {
            if i > 0 && (int.len() - i) % 3 == 0 {
                grouped.push(',');
            }
            grouped.push(c);
        }
        let sign = if normalized.is_sign_negative() && !normalized.is_zero() { "-" } else { "" };
        match frac {
            Some(f) => format!("{sign}{grouped}.{f}원"),
            None => format!("{sign}{grouped}원"),
        }
    }
}

impl From<Decimal> for Money {
    /// Trusts the value (it comes from the database's `numeric(12,2)`).
    fn from(value: Decimal) -> Self {
        Money(value)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl Serialize for Money {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // Integral amounts are written as integers, others as the shortest exact float.
        let normalized = self.0.normalize();
        if normalized.scale() == 0
            && let Ok(i) = i64::try_from(normalized)
        {
            return serializer.serialize_i64(i);
        }
        let f: f64 = normalized.to_string().parse().map_err(serde::ser::Error::custom)?;
        serializer.serialize_f64(f)
    }
}

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl de::Visitor<'_> for Visitor {
            type Value = Money;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an amount with at most two decimal places")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Money, E> {
                Money::new(Decimal::from(v)).map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Money, E> {
                Money::new(Decimal::from(v)).map_err(E::custom)
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Money, E> {
                if !v.is_finite() {
                    return Err(E::custom("not a finite number"));
                }
                // A float a hair off a cent (0.5700000000000001, as float arithmetic makes 57 ×
                // 0.01) means that cent; any other fraction stays and is refused below.
                let cents = (v * 100.0).round();
                if (v * 100.0 - cents).abs() < 1e-6 && cents.abs() < 1e15 {
                    return Money::new(Decimal::from(cents as i64) / Decimal::from(100))
                        .map_err(E::custom);
                }
                // The shortest representation round-trips exactly: 0.1 stays 0.1.
                self.visit_str(&v.to_string())
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Money, E> {
                let d = Decimal::from_str(v.trim())
                    .or_else(|_| Decimal::from_scientific(v.trim()))
                    .map_err(|_| E::custom("not a decimal number"))?;
                Money::new(d).map_err(E::custom)
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

impl utoipa::PartialSchema for Money {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::Number)
            .minimum(Some(-Money::MAX_F64))
            .maximum(Some(Money::MAX_F64))
            .multiple_of(Some(0.01))
            .examples([serde_json::json!(150000)])
            .description(Some("Amount (at most two decimal places)"))
            .into()
    }
}

impl utoipa::ToSchema for Money {}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<Money, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn reads_numbers_and_strings_exactly() {
        assert_eq!(parse("150000").unwrap().decimal(), Decimal::from(150000));
        assert_eq!(parse("0.1").unwrap().decimal(), Decimal::from_str("0.1").unwrap());
        assert_eq!(parse("\"99.99\"").unwrap().decimal(), Decimal::from_str("99.99").unwrap());
        assert!(parse("1.005").is_err());
        assert!(parse("1e20").is_err());
        assert!(parse("true").is_err());
    }

    #[test]
    fn writes_json_numbers() {
        let m = Money::from(Decimal::from_str("150000.00").unwrap());
        assert_eq!(serde_json::to_string(&m).unwrap(), "150000");
        let m = Money::from(Decimal::from_str("99.90").unwrap());
        assert_eq!(serde_json::to_string(&m).unwrap(), "99.9");
    }

    #[test]
    fn won_groups_thousands_and_drops_trailing_zeros() {
        let won = |s: &str| Money::from(Decimal::from_str(s).unwrap()).won();
        assert_eq!(won("100000.00"), "100,000원");
        assert_eq!(won("1234567.50"), "1,234,567.5원");
        assert_eq!(won("999"), "999원");
    }

    #[test]
    fn max_is_the_largest_numeric_12_2() {
        assert_eq!(Money::MAX.to_string(), "9999999999.99");
    }
}
