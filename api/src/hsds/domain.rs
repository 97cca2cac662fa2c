//! Mapping rules of the HSDS export: derived ids, enum spellings, paging values.

use crate::error::{AppError, AppResult};
use chrono::{DateTime, NaiveDate, Utc};
use entity::enums::{ServiceStatus, Taxonomy};
use uuid::Uuid;

/// Namespace of the ids this export derives (UUID v5) for objects the model stores
/// without an id of their own: a site's address, a service's area, a link of a service
/// to a site, a taxonomy, a phone or funding kept in an older single-valued column.
pub const NAMESPACE: Uuid = Uuid::from_u128(0x6d656c74_6873_4473_9000_000000000001);

/// A stable id for `parts` of the same derived object, the same on every export.
pub fn derived_id(kind: &str, parts: &[Uuid]) -> Uuid {
    let mut name = Vec::with_capacity(kind.len() + parts.len() * 16);
    name.extend_from_slice(kind.as_bytes());
    for part in parts {
        name.extend_from_slice(part.as_bytes());
    }
    Uuid::new_v5(&NAMESPACE, &name)
}

/// The id of the link of `service` to `location` (HSDS `service_at_location.id`),
/// stored on the link (migration 17 derives it the same way).
pub fn link_id(service: Uuid, location: Uuid) -> Uuid {
    derived_id("service_at_location", &[service, location])
}

/// Largest `per_page`.
pub const MAX_PER_PAGE: u64 = 100;
/// `per_page` when none is given.
pub const DEFAULT_PER_PAGE: u64 = 20;

/// A checked page request: `page` from 1, `per_page` from 1 to [`MAX_PER_PAGE`], and
/// `modified_after` (inclusive).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageRequest {
    /// Page number, from 1.
    pub page: u64,
    /// Objects per page.
    pub per_page: u64,
    /// Only objects modified at or after this time (and tombstones of those removed).
    pub modified_after: Option<DateTime<Utc>>,
}

impl Default for PageRequest {
    fn default() -> Self {
        Self {
            page: 1,
            per_page: DEFAULT_PER_PAGE,
            modified_after: None,
        }
    }
}

impl PageRequest {
    /// Parses the query string of a list request; any other parameter is refused.
    pub fn parse(query: &str) -> AppResult<Self> {
        let mut request = Self::default();
        for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
            match key.as_ref() {
                "page" => request.page = positive(&key, &value, u64::MAX)?,
                "per_page" => request.per_page = positive(&key, &value, MAX_PER_PAGE)?,
                "modified_after" => request.modified_after = Some(parse_time(&value)?),
                other => {
                    return Err(AppError::BadUserInput(format!(
                        "unsupported parameter `{other}`: use page, per_page and modified_after"
                    )));
                }
            }
        }
        request.offset()?;
        Ok(request)
    }

    /// Rows before the page.
    pub fn offset(&self) -> AppResult<u64> {
        (self.page - 1)
            .checked_mul(self.per_page)
            .ok_or_else(|| AppError::BadUserInput("page is too large".to_owned()))
    }
}

/// A whole number from 1 to `max`.
fn positive(key: &str, value: &str, max: u64) -> AppResult<u64> {
    match value.trim().parse::<u64>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ if max == u64::MAX => Err(AppError::BadUserInput(format!(
            "{key} must be a whole number from 1"
        ))),
        _ => Err(AppError::BadUserInput(format!(
            "{key} must be a whole number from 1 to {max}"
        ))),
    }
}

/// An RFC 3339 date-time (`2026-12-03T10:00:00Z`), or a date (midnight UTC).
pub fn parse_time(value: &str) -> AppResult<DateTime<Utc>> {
    let value = value.trim();
    if let Ok(time) = DateTime::parse_from_rfc3339(value) {
        return Ok(time.with_timezone(&Utc));
    }
    if let Ok(date) = NaiveDate::parse_from_str(value, "%Y-%m-%d")
        && let Some(midnight) = date.and_hms_opt(0, 0, 0)
    {
        return Ok(midnight.and_utc());
    }
    Err(AppError::BadUserInput(
        "modified_after must be an RFC 3339 date-time such as 2026-12-03T10:00:00Z, or a date"
            .to_owned(),
    ))
}

/// An instant as HSDS writes it (RFC 3339, UTC).
pub fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The HSDS spelling of a service status.
pub fn status(status: ServiceStatus) -> &'static str {
    match status {
        ServiceStatus::Active => "active",
        ServiceStatus::Inactive => "inactive",
        ServiceStatus::Defunct => "defunct",
        ServiceStatus::TemporarilyClosed => "temporarily closed",
    }
}

/// The iCal day of a stored weekday (1 = Monday ... 7 = Sunday).
pub fn byday(weekday: i16) -> &'static str {
    match weekday {
        1 => "MO",
        2 => "TU",
        3 => "WE",
        4 => "TH",
        5 => "FR",
        6 => "SA",
        _ => "SU",
    }
}

/// The taxonomies of the catalogue the export publishes: what services are tagged
/// with. The others (needs, reasons, outcomes) are not about services.
pub const TAXONOMIES: [Taxonomy; 3] = [
    Taxonomy::ServiceType,
    Taxonomy::TargetGroup,
    Taxonomy::Language,
];

/// The id of a taxonomy (derived from its code).
pub fn taxonomy_id(taxonomy: Taxonomy) -> Uuid {
    Uuid::new_v5(
        &NAMESPACE,
        format!("taxonomy:{}", taxonomy.as_str()).as_bytes(),
    )
}

/// Name and description of a published taxonomy.
pub fn taxonomy_text(taxonomy: Taxonomy) -> (&'static str, &'static str) {
    match taxonomy {
        Taxonomy::ServiceType => (
            "MeLT service types",
            "The nine service types of the MeLT guidelines and the national essential levels of labour services (LEP, D.M. 4/2018).",
        ),
        Taxonomy::TargetGroup => (
            "MeLT target groups",
            "Groups of people the services of the MeLT network are aimed at.",
        ),
        Taxonomy::Language => (
            "Languages (ISO 639-1)",
            "Languages services are offered in, coded ISO 639-1.",
        ),
        _ => ("", ""),
    }
}

/// How a term is linked to a service (the attribute's `link_type`).
pub fn link_type(taxonomy: Taxonomy) -> &'static str {
    match taxonomy {
        Taxonomy::ServiceType => "service_type",
        Taxonomy::TargetGroup => "target_group",
        _ => "term",
    }
}

/// The HSDS name of a tombstone's subject type, and its table.
pub fn resource_type(subject_type: &str) -> &'static str {
    match subject_type {
        "Service" => "service",
        "Location" => "location",
        "Organization" => "organization",
        _ => "other",
    }
}

/// The HSDS `last_action_type` of a tombstone's reason.
pub fn last_action(reason: &str) -> &'static str {
    match reason {
        "DELETED" => "deleted",
        "HIDDEN" => "hidden",
        _ => "removed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_values_are_checked() {
        assert_eq!(PageRequest::parse("").ok(), Some(PageRequest::default()));
        let request = PageRequest::parse("page=2&per_page=100&modified_after=2026-01-01").ok();
        assert_eq!(request.map(|r| (r.page, r.per_page)), Some((2, 100)));
        for bad in [
            "page=0",
            "page=x",
            "per_page=101",
            "per_page=0",
            "modified_after=yesterday",
            "search=lavoro",
            "page=18446744073709551615&per_page=100",
        ] {
            assert!(PageRequest::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn derived_ids_are_stable_and_distinct() {
        let a = Uuid::from_u128(1);
        let b = Uuid::from_u128(2);
        assert_eq!(derived_id("area", &[a, b]), derived_id("area", &[a, b]));
        assert_ne!(derived_id("area", &[a, b]), derived_id("area", &[b, a]));
        assert_ne!(derived_id("area", &[a]), derived_id("address", &[a]));
    }

    #[test]
    fn statuses_are_spelled_as_hsds_does() {
        assert_eq!(
            status(ServiceStatus::TemporarilyClosed),
            "temporarily closed"
        );
        assert_eq!(status(ServiceStatus::Active), "active");
    }
}
