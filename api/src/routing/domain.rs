//! The small rules of routing: severities in order, and the priority a referral gets
//! from the severity of the need that caused it.

use entity::enums::{Priority, Severity};

/// Severity in order, least severe first.
fn level(severity: Severity) -> u8 {
    match severity {
        Severity::Low => 0,
        Severity::Medium => 1,
        Severity::High => 2,
        Severity::Urgent => 3,
    }
}

/// `severity` is `min` or more severe.
pub fn at_least(severity: Severity, min: Severity) -> bool {
    level(severity) >= level(min)
}

/// The priority of a referral a rule creates for a need of `severity`.
pub fn priority_of(severity: Severity) -> Priority {
    match severity {
        Severity::Low => Priority::Low,
        Severity::Medium => Priority::Normal,
        Severity::High => Priority::High,
        Severity::Urgent => Priority::Urgent,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_severity_is_at_least_itself_and_every_milder_one() {
        assert!(at_least(Severity::High, Severity::High));
        assert!(at_least(Severity::Urgent, Severity::Low));
        assert!(!at_least(Severity::Medium, Severity::High));
        assert!(!at_least(Severity::Low, Severity::Urgent));
    }
}
