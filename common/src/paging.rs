//! Paging and sorting arguments shared by every paged search: `page` from 1,
//! `size`, and `sort=field:asc|desc`.

use crate::error::ServiceError;

/// Page size used when the caller gives none.
pub const DEFAULT_PAGE_SIZE: u32 = 25;
/// Largest page a caller may ask for.
pub const MAX_PAGE_SIZE: u32 = 1000;

/// A validated page request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    /// 1-based page number.
    pub page: u32,
    pub size: u32,
}

impl PageRequest {
    /// Builds a page request; 0 means "not given" for both fields.
    pub fn new(page: u32, size: u32) -> Result<Self, ServiceError> {
        let size = if size == 0 { DEFAULT_PAGE_SIZE } else { size };
        // The documented range (OpenAPI int32).
        if page > i32::MAX as u32 {
            return Err(ServiceError::InvalidArgument(format!(
                "page {page} is too large: at most {}",
                i32::MAX
            )));
        }
        if size > MAX_PAGE_SIZE {
            return Err(ServiceError::InvalidArgument(format!(
                "size {size} is too large: at most {MAX_PAGE_SIZE}"
            )));
        }
        Ok(PageRequest {
            page: page.max(1),
            size,
        })
    }

    /// Rows to skip before this page.
    pub fn offset(&self) -> u64 {
        u64::from(self.page - 1) * u64::from(self.size)
    }
}

/// A validated sort: one of the allowed fields, ascending or descending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sort<'a> {
    pub field: &'a str,
    pub descending: bool,
}

impl<'a> Sort<'a> {
    /// Parses `field`, `field:asc` or `field:desc` against `allowed`; an
    /// empty string gives the first allowed field, ascending.
    pub fn parse(text: &str, allowed: &[&'a str]) -> Result<Sort<'a>, ServiceError> {
        let (name, direction) = match text.split_once(':') {
            Some((name, direction)) => (name, direction),
            None => (text, "asc"),
        };
        let descending = match direction {
            "asc" => false,
            "desc" => true,
            other => {
                return Err(ServiceError::InvalidArgument(format!(
                    "sort direction '{other}' must be asc or desc"
                )));
            }
        };
        let field = if name.is_empty() {
            allowed[0]
        } else {
            allowed
                .iter()
                .copied()
                .find(|f| *f == name)
                .ok_or_else(|| {
                    ServiceError::InvalidArgument(format!(
                        "cannot sort by '{name}': use one of {}",
                        allowed.join(", ")
                    ))
                })?
        };
        Ok(Sort { field, descending })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_default_and_bound() {
        assert_eq!(
            PageRequest::new(0, 0).expect("defaults"),
            PageRequest {
                page: 1,
                size: DEFAULT_PAGE_SIZE
            }
        );
        assert_eq!(PageRequest::new(3, 10).expect("valid").offset(), 20);
        assert!(PageRequest::new(1, MAX_PAGE_SIZE + 1).is_err());
    }

    #[test]
    fn sorts_parse_against_allowed_fields() {
        let allowed = ["id", "name"];
        assert_eq!(
            Sort::parse("", &allowed).expect("default"),
            Sort {
                field: "id",
                descending: false
            }
        );
        assert!(
            Sort::parse("name:desc", &allowed)
                .expect("valid")
                .descending
        );
        assert!(Sort::parse("password:asc", &allowed).is_err());
        assert!(Sort::parse("name:up", &allowed).is_err());
    }
}
