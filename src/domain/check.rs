//! Collects every failing field of a request, so one response can list them all.

use crate::error::{AppError, AppResult, FieldError, FieldProblem};

/// The white space trimmed from text fields: ASCII space, tab, line feed, form feed, carriage
/// return (the class the OpenAPI patterns of `text_pattern` name, so both agree exactly).
pub const TRIMMED: [char; 5] = [' ', '\t', '\n', '\x0C', '\r'];

/// `value` without leading and trailing `TRIMMED` white space.
pub fn trim(value: &str) -> &str {
    value.trim_matches(TRIMMED)
}

/// Whether a character may not appear in a single-line name or title: a control character
/// (Unicode `Cc`: tabs and line breaks too) or a bidirectional formatting character, which
/// can make what others see differ from what is stored (U+061C, U+200E, U+200F,
/// U+202A–U+202E, U+2066–U+2069).
pub fn is_hidden_in_names(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// `is_hidden_in_names` as the body of a regular-expression class.
const HIDDEN_IN_NAMES: &str =
    r"\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069";

/// The JSON Schema pattern of what `Check::text(…, min, max)` accepts: no NUL, and between
/// `min` and `max` characters once white space is trimmed from both ends.
pub fn text_pattern(min: usize, max: usize) -> String {
    pattern(min, max, r"[^ \t\n\f\r\u0000]", r"[^\u0000]")
}

/// The JSON Schema pattern of what `Check::name(…, min, max)` accepts: `text_pattern` without
/// the characters `is_hidden_in_names` refuses.
pub fn name_pattern(min: usize, max: usize) -> String {
    pattern(min, max, &format!("[^ {HIDDEN_IN_NAMES}]"), &format!("[^{HIDDEN_IN_NAMES}]"))
}

/// Trimmed white space around `min..=max` characters of `any`, the first and last of `edge`.
fn pattern(min: usize, max: usize, edge: &str, any: &str) -> String {
    const WS: &str = r"[ \t\n\f\r]";
    let core = match (min, max) {
        (_, 0) => String::new(),
        (0 | 1, 1) => edge.to_owned(),
        (0 | 1, _) => format!("{edge}(?:{any}{{0,{}}}{edge})?", max - 2),
        _ => format!("{edge}{any}{{{},{}}}{edge}", min - 2, max - 2),
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

    /// A single-line name or title: a `text` without control or bidirectional formatting
    /// characters (`is_hidden_in_names`).
    pub fn name(
        &mut self,
        field: &str,
        value: Option<String>,
        min: usize,
        max: usize,
    ) -> Option<String> {
        let value = self.text(field, value, min, max)?;
        if value.chars().any(is_hidden_in_names) {
            self.fail(field, FieldProblem::HiddenCharacter);
            return None;
        }
        Some(value)
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
    fn names_refuse_control_and_bidirectional_formatting_characters() {
        for bad in ["\u{202E}evil", "a\u{0007}b", "a\tb", "a\nb", "a\u{85}b", "a\u{2066}b"] {
            let mut check = Check::new();
            assert_eq!(check.name("title", Some(bad.into()), 1, 20), None, "{bad:?}");
            let AppError::Invalid(_, fields) = check.finish().unwrap_err() else { panic!() };
            assert_eq!(fields, [FieldError::new("title", FieldProblem::HiddenCharacter)]);
        }
        for good in ["홍길동", "🎤 아이유 콘서트 🎶", "Zoë & the 🎸s", " trimmed\t\n", "דוד"]
        {
            let mut check = Check::new();
            assert!(check.name("title", Some(good.into()), 1, 20).is_some(), "{good:?}");
        }
        let mut check = Check::new();
        assert_eq!(check.name("title", Some("a\0b".into()), 1, 20), None);
        let AppError::Invalid(_, fields) = check.finish().unwrap_err() else { panic!() };
        assert_eq!(fields[0].problem, FieldProblem::Unstorable, "NUL keeps its own problem");
    }

    /// The pattern's class names exactly the characters `Check::name` refuses.
    #[test]
    fn the_name_pattern_class_matches_the_check() {
        let code = |s: &str| u32::from_str_radix(s, 16).unwrap();
        let mut ranges = Vec::new();
        let tokens: Vec<&str> = HIDDEN_IN_NAMES.split("\\u").skip(1).collect();
        let mut i = 0;
        while i < tokens.len() {
            let start = code(&tokens[i][..4]);
            if tokens[i].ends_with('-') {
                ranges.push((start, code(&tokens[i + 1][..4])));
                i += 2;
            } else {
                ranges.push((start, start));
                i += 1;
            }
        }
        for c in (0..=0xFFFF).filter_map(char::from_u32) {
            let in_class = ranges.iter().any(|&(a, b)| (a..=b).contains(&(c as u32)));
            assert_eq!(in_class, is_hidden_in_names(c), "U+{:04X}", c as u32);
        }
        assert!(name_pattern(2, 20).contains(&format!("[^{HIDDEN_IN_NAMES}]{{0,18}}")));
    }

    #[test]
    fn length_counts_characters_not_bytes() {
        let mut check = Check::new();
        assert!(check.text("name", Some("홍길동".into()), 2, 3).is_some());
        assert!(check.is_ok());
    }
}
