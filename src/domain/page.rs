//! Paging as the original's Spring `Page`: `?page=0&size=20` in, the page object out.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::check::Check;
use crate::error::{AppResult, FieldProblem};

/// The largest page a client may ask for.
pub const MAX_PAGE_SIZE: u32 = 100;
const DEFAULT_PAGE_SIZE: u32 = 20;

/// `?page=&size=` (zero-based page; size capped at 100).
#[derive(Debug, Clone, Copy, Deserialize, IntoParams, Default)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Zero-based page number.
    #[param(minimum = 0, maximum = 2147483647, example = 0)]
    pub page: Option<u32>,
    /// Items per page, at least 1; values above 100 are read as 100 (default 20).
    #[param(minimum = 1, maximum = 2147483647, example = 20)]
    pub size: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub page: u32,
    pub size: u32,
}

impl PageRequest {
    pub fn offset(self) -> i64 {
        i64::from(self.page) * i64::from(self.size)
    }

    pub fn limit(self) -> i64 {
        i64::from(self.size)
    }
}

impl PageParams {
    /// The page asked for: `page` and `size` are 32-bit (the document's `int32`), `size` at
    /// least 1 and read as at most 100.
    pub fn request(self) -> AppResult<PageRequest> {
        let max = i64::from(i32::MAX);
        let mut check = Check::new();
        if self.page.is_some_and(|p| i64::from(p) > max) {
            check.fail("page", FieldProblem::Range { min: 0, max });
        }
        if self.size.is_some_and(|s| s == 0 || i64::from(s) > max) {
            check.fail("size", FieldProblem::Range { min: 1, max });
        }
        check.finish()?;
        Ok(PageRequest {
            page: self.page.unwrap_or(0),
            size: self.size.unwrap_or(DEFAULT_PAGE_SIZE).min(MAX_PAGE_SIZE),
        })
    }
}

/// One page of a list.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    pub content: Vec<T>,
    pub total_elements: i64,
    pub total_pages: i64,
    pub size: u32,
    pub number: u32,
    pub first: bool,
    pub last: bool,
    pub number_of_elements: usize,
    pub empty: bool,
}

impl<T> Page<T> {
    pub fn new(content: Vec<T>, total_elements: i64, request: PageRequest) -> Self {
        let size = i64::from(request.size);
        let total_pages = (total_elements + size - 1) / size;
        let number = request.page;
        Page {
            number_of_elements: content.len(),
            empty: content.is_empty(),
            content,
            total_elements,
            total_pages,
            size: request.size,
            number,
            first: number == 0,
            last: i64::from(number) + 1 >= total_pages,
        }
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            content: self.content.into_iter().map(f).collect(),
            total_elements: self.total_elements,
            total_pages: self.total_pages,
            size: self.size,
            number: self.number,
            first: self.first,
            last: self.last,
            number_of_elements: self.number_of_elements,
            empty: self.empty,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_is_capped_and_defaults_apply() {
        let r = PageParams { page: None, size: Some(1000) }.request().unwrap();
        assert_eq!(r, PageRequest { page: 0, size: 100 });
        let r = PageParams::default().request().unwrap();
        assert_eq!(r, PageRequest { page: 0, size: 20 });
        assert!(PageParams { page: None, size: Some(0) }.request().is_err(), "size 0 is a 400");
        assert!(PageParams { page: Some(1 << 31), size: None }.request().is_err(), "int32");
    }

    #[test]
    fn page_flags_follow_spring() {
        let p = Page::new(vec![1, 2], 22, PageRequest { page: 1, size: 20 });
        assert_eq!(p.total_pages, 2);
        assert!(!p.first && p.last);
        assert_eq!(p.number_of_elements, 2);
        let empty: Page<u8> = Page::new(vec![], 0, PageRequest { page: 0, size: 20 });
        assert!(empty.first && empty.last && empty.empty);
        assert_eq!(empty.total_pages, 0);
    }
}
