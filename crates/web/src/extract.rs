//! Request extractors whose rejections use the API error shape instead of axum's plain text.

use crate::error::{ApiError, ErrorCode};
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};

/// Largest JSON body the API accepts.
pub const MAX_JSON_BODY: usize = 1024 * 1024;

/// A JSON body; malformed JSON, wrong types and unknown fields are 400 `invalid_request`.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("application/json") || ct.contains("+json"));
        if !is_json {
            return Err(ApiError::new(
                ErrorCode::UnsupportedMediaType,
                "send the body as JSON with \"Content-Type: application/json\"",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|_| {
            ApiError::new(
                ErrorCode::PayloadTooLarge,
                format!("the request body is larger than {} KiB", MAX_JSON_BODY / 1024),
            )
        })?;
        json_object(&bytes, false)?
            .ok_or_else(|| ApiError::bad_request("invalid JSON body: send a JSON object"))
            .map(ApiJson)
    }
}

/// Reads a JSON body that must be an object; with `null_is_none`, `null` is `Ok(None)`.
/// Serde would read a struct from an array too (by position); the API takes objects only.
pub fn json_object<T: DeserializeOwned>(bytes: &[u8], null_is_none: bool) -> Result<Option<T>, ApiError> {
    let invalid = |e: serde_json::Error| ApiError::bad_request(format!("invalid JSON body: {e}"));
    let mut value: serde_json::Value = serde_json::from_slice(bytes).map_err(invalid)?;
    match value {
        serde_json::Value::Null if null_is_none => Ok(None),
        serde_json::Value::Object(_) => {
            integral_floats_to_integers(&mut value);
            T::deserialize(value).map(Some).map_err(invalid)
        }
        _ => Err(ApiError::bad_request("invalid JSON body: send a JSON object")),
    }
}

/// JSON has one number type: `5.0` is the integer 5 to JSON Schema and to most clients, but
/// serde refuses it for an integer field. Whole floats become integers before typing (not
/// inside free-form values, which are kept as sent).
fn integral_floats_to_integers(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Number(n) => {
            if let Some(f) = n.as_f64().filter(|_| n.is_f64())
                && f.fract() == 0.0
                && f.abs() < 9_007_199_254_740_992.0
            {
                // Exact: |f| < 2^53, so the cast loses nothing.
                *v = serde_json::Value::from(f as i64);
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(integral_floats_to_integers),
        // Free-form JSON the caller wants kept as sent: a payload to preview, a value to compare.
        serde_json::Value::Object(map) => map
            .iter_mut()
            .filter(|(k, _)| !matches!(k.as_str(), "payload" | "equals"))
            .for_each(|(_, v)| integral_floats_to_integers(v)),
        _ => {}
    }
}

/// Query-string parameters; bad values are 400 `invalid_request` naming the parameter.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let q = parts.uri.query().unwrap_or("");
        serde_urlencoded::from_str(q)
            .map(ApiQuery)
            .map_err(|e| ApiError::bad_request(format!("invalid query string: {e}")))
    }
}

/// For PATCH bodies: distinguishes an absent field (`None`) from an explicit `null` (`Some(None)`).
pub fn double_option<'de, T: Deserialize<'de>, D: Deserializer<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// Parses a path segment that must be a UUID.
pub fn parse_id(what: opsdeck_core::Entity, raw: &str) -> Result<uuid::Uuid, ApiError> {
    raw.parse().map_err(|_| ApiError::not_found(what))
}
