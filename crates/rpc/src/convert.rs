//! What every handler checks of paging and request ids. Enum and timestamp conversions
//! live in `liaison_proto::domain`.

/// The offset an offset page token stands for: 0 for the first page (no token), else the
/// number this server put in the previous page's `next_page_token`.
pub fn page_offset(token: &str) -> Result<u64, crate::ServiceError> {
    if token.is_empty() {
        return Ok(0);
    }
    token.parse().map_err(|_| {
        crate::ServiceError::invalid("page_token", "page_token is not one this server made")
    })
}

/// A request's `page_size`: 0 means `default`, anything above `max` is capped, negative
/// values are refused.
pub fn page_size(requested: i32, default: u32, max: u32) -> Result<u32, crate::ServiceError> {
    match u32::try_from(requested) {
        Ok(0) => Ok(default),
        Ok(size) => Ok(size.min(max)),
        Err(_) => Err(crate::ServiceError::invalid(
            "page_size",
            "page_size must not be negative",
        )),
    }
}

/// Longest accepted `request_id`.
pub const REQUEST_ID_MAX: usize = 128;

const REQUEST_ID_RULE: &str =
    "request_id is required: 1 to 128 printable ASCII characters, unique per write (a UUID, say)";

fn request_id_ok(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= REQUEST_ID_MAX
        && value.bytes().all(|b| b.is_ascii_graphic())
}

/// Checks a write's `request_id`: required, 1 to 128 printable ASCII characters.
pub fn request_id(value: &str, field: &str) -> Result<(), crate::ServiceError> {
    if request_id_ok(value) {
        Ok(())
    } else {
        Err(crate::ServiceError::invalid(field, REQUEST_ID_RULE))
    }
}

/// [`request_id`], adding its violation to `violations`, for requests whose fields are
/// all checked before any is refused.
pub fn check_request_id(violations: &mut liaison_core::Violations, value: &str, field: &str) {
    if !request_id_ok(value) {
        violations.add(field, REQUEST_ID_RULE);
    }
}
