//! Bearer-token checks shared by the admin API and the CRM/ERP API: off (404) while the
//! token is unset, constant-time comparison, and an error that names the variable.

use axum::http::{HeaderMap, header};
use subtle::ConstantTimeEq;

use super::{ApiError, ErrorCode};

/// Who a bearer token is for, in the words errors use.
pub struct BearerToken<'a> {
    /// "the admin API"
    pub api: &'a str,
    /// "admin token"
    pub token: &'a str,
    /// "ADMIN_TOKEN"
    pub variable: &'a str,
}

/// Accepts `Authorization: Bearer <expected>`.
pub fn check_bearer(
    headers: &HeaderMap,
    expected: Option<&str>,
    who: &BearerToken<'_>,
) -> Result<(), ApiError> {
    let BearerToken {
        api,
        token,
        variable,
    } = who;
    let Some(expected) = expected else {
        return Err(ApiError::not_found(&format!(
            "{api} (set {variable} to turn it on)"
        )));
    };
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if bool::from(presented.as_bytes().ct_eq(expected.as_bytes())) {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorCode::Unauthorized,
            format!("send the {token} as \"Authorization: Bearer <{variable}>\""),
        ))
    }
}
