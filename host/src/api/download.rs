//! What the listing endpoints share: JSON or a CSV download, as the client
//! asks (`Accept: text/csv` or `?format=csv`), and time bounds as unix ms.

use axum::Json;
use axum::http::HeaderMap;
use axum::http::header::{ACCEPT, CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};

use super::ApiError;

/// Whether the client asked for CSV.
pub fn wants_csv(format: Option<&str>, headers: &HeaderMap) -> bool {
    format == Some("csv")
        || headers
            .get(ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/csv"))
}

/// `rows` as JSON, or as the CSV file `filename` that `csv` makes of them
/// when the client asked for CSV.
pub fn json_or_csv<T: serde::Serialize>(
    rows: Vec<T>,
    as_csv: bool,
    filename: &str,
    csv: impl FnOnce(&[T]) -> Result<Vec<u8>, ::csv::Error>,
) -> Result<Response, ApiError> {
    if !as_csv {
        return Ok(Json(rows).into_response());
    }
    let disposition = format!("attachment; filename=\"{filename}\"");
    Ok((
        [
            (CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (CONTENT_DISPOSITION, disposition),
        ],
        csv(&rows).map_err(ApiError::internal)?,
    )
        .into_response())
}

/// A time parameter: whole unix ms that a JSON number holds exactly.
pub fn unix_ms(t: Option<i64>, name: &str) -> Result<Option<u64>, ApiError> {
    match t {
        Some(t) if !(0..=9_007_199_254_740_991).contains(&t) => Err(ApiError::bad_request(
            format!("`{name}` must be unix ms between 0 and 2^53-1"),
        )),
        t => Ok(t.map(|t| t as u64)),
    }
}
