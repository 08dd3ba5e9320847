//! The monthly availability report, for the admin API and the dashboard.

use crate::error::AppError;
use crate::state::{AppState, blocking};

/// The SLA report of `month` (`YYYY-MM`; the current Czech month when absent).
pub async fn sla_of(state: &AppState, month: Option<&str>) -> Result<crate::sla::Report, AppError> {
    let now = crate::now_ms();
    let month = match month.filter(|m| !m.is_empty()) {
        Some(m) => crate::sla::parse_month(m)
            .ok_or_else(|| AppError::BadRequest("month must be YYYY-MM".into()))?,
        None => {
            let c = protocol::time::czech(now);
            (c.year, c.month)
        }
    };
    let (from, to) = (
        format!("{:04}-{:02}-01", month.0, month.1),
        format!("{:04}-{:02}-31", month.0, month.1),
    );
    let (kiosks, uptime, late) = blocking(state, move |s| {
        Ok((
            s.kiosks()?,
            s.uptime(&from, &to)?,
            s.late_uptime(&from, &to)?,
        ))
    })
    .await?;
    let sla = &*state.sla;
    Ok(crate::sla::report(
        month, &kiosks, &uptime, &late, &sla.hours, sla.target, now,
    ))
}
