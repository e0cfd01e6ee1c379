//! Collects every failing field of a request, so one response can list them all.

use crate::error::{AppError, AppResult, FieldError, FieldProblem};

/// The white space trimmed from text fields: ASCII space, tab, line feed, form feed, carriage
/// return (the class the OpenAPI patterns of `text_pattern` name, so both agree exactly).
pub const TRIMMED: [char; 5] = [' ', '\t', '\n', '\x0C', '\r'];

/// `value` without leading and trailing `TRIMMED` white space.
pub fn trim(value: &str) -> &str {
    value.trim_matches(TRIMMED)
}

/// The JSON Schema pattern of what `Check::text(…, min, max)` accepts: no NUL, and between
/// `min` and `max` characters once white space is trimmed from both ends.
pub fn text_pattern(min: usize, max: usize) -> String {
    const WS: &str = r"[ \t\n\f\r]";
    const EDGE: &str = r"[^ \t\n\f\r\u0000]";
    const ANY: &str = r"[^\u0000]";
    let core = match (min, max) {
        (_, 0) => String::new(),
        (0 | 1, 1) => EDGE.to_owned(),
        (0 | 1, _) => format!("{EDGE}(?:{ANY}{{0,{}}}{EDGE})?", max - 2),
        _ => format!("{EDGE}{ANY}{{{},{}}}{EDGE}", min - 2, max - 2),
    };
    let core = if min == 0 && !core.is_empty() { format!("(?:{core})?") } else { core };
    format!("^{WS}*{core}{WS}*$")
}

/// An accumulator of field errors; `finish` turns any into one `AppError`.
#[derive(Debug, Default)]
pub struct Check {
    errors: Vec<FieldError>,
}

impl Check {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn fail(&mut self, field: impl Into<String>, problem: FieldProblem) {
        self.errors.push(FieldError::new(field, problem));
    }

    /// The value, or a `Required` error.
    pub fn required<T>(&mut self, field: &str, value: Option<T>) -> Option<T> {
        if value.is_none() {
            self.fail(field, FieldProblem::Required);
        }
        value
    }

    /// A trimmed text of `min..=max` characters (a blank text counts as missing) that the
    /// database can store (no NUL).
    pub fn text(
        &mut self,
        field: &str,
        value: Option<String>,
        min: usize,
        max: usize,
    ) -> Option<String> {
        let value = value.map(|v| trim(&v).to_owned());
        match value {
            None => {
                self.fail(field, FieldProblem::Required);
                None
            }
            Some(v) if v.is_empty() && min > 0 => {
                self.fail(field, FieldProblem::Required);
                None
            }
            Some(v) if v.contains('\0') => {
                self.fail(field, FieldProblem::Unstorable);
                None
            }
            Some(v) => {
                let len = v.chars().count();
                if len < min || len > max {
                    self.fail(field, FieldProblem::Length { min, max });
                    None
                } else {
                    Some(v)
                }
            }
        }
    }

    pub fn is_ok(&self) -> bool {
        self.errors.is_empty()
    }

    pub fn extend(&mut self, other: Check) {
        self.errors.extend(other.errors);
    }

    /// `Ok` when nothing failed; otherwise every failure in one validation error.
    pub fn finish(self) -> AppResult<()> {
        if self.errors.is_empty() { Ok(()) } else { Err(AppError::validation(self.errors)) }
    }

    /// Like `finish`, but hands back the value built from the checked parts.
    pub fn build<T>(self, build: impl FnOnce() -> Option<T>) -> AppResult<T> {
        self.finish()?;
        // Every part was checked, so every part is present.
        build().ok_or_else(|| AppError::Unexpected(anyhow::anyhow!("checked value missing")))
    }
}

#[cfg(test)]
mod pattern_tests {
    use super::*;

    #[test]
    fn the_text_pattern_names_the_trimmed_length_range() {
        assert_eq!(
            text_pattern(2, 20),
            r"^[ \t\n\f\r]*[^ \t\n\f\r\u0000][^\u0000]{0,18}[^ \t\n\f\r\u0000][ \t\n\f\r]*$"
        );
        assert_eq!(text_pattern(1, 1), r"^[ \t\n\f\r]*[^ \t\n\f\r\u0000][ \t\n\f\r]*$");
        assert!(text_pattern(0, 500).starts_with(r"^[ \t\n\f\r]*(?:"));
        assert_eq!(trim(" \t a b \r\n"), "a b");
        assert_eq!(trim("\u{3000}a"), "\u{3000}a", "only the five ASCII spaces are trimmed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collects_every_failure() {
        let mut check = Check::new();
        assert_eq!(check.text("a", Some("  ".into()), 1, 5), None);
        assert_eq!(check.text("b", Some("toolong".into()), 1, 5), None);
        assert_eq!(check.text("c", Some(" ok ".into()), 1, 5).as_deref(), Some("ok"));
        assert_eq!(check.required::<u8>("d", None), None);
        let AppError::Invalid(_, fields) = check.finish().unwrap_err() else { panic!() };
        let names: Vec<_> = fields.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(names, ["a", "b", "d"]);
    }

    #[test]
    fn length_counts_characters_not_bytes() {
        let mut check = Check::new();
        assert!(check.text("name", Some("홍길동".into()), 2, 3).is_some());
        assert!(check.is_ok());
    }
}
