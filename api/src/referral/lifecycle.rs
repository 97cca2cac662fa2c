//! The referral state machine of DESIGN.md §2.6: which side may take which action from
//! which state, and what it requires. Every other combination is refused.

use entity::enums::ReferralStatus::{self, *};

/// An action on an existing referral (creation and re-routing are separate).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// DRAFT → SENT.
    Send,
    /// SENT → RECEIVED (also on the receiver's first read).
    MarkReceived,
    /// SENT, RECEIVED → ACCEPTED.
    Accept,
    /// SENT, RECEIVED → REJECTED.
    Reject,
    /// ACCEPTED → IN_PROGRESS.
    Start,
    /// ACCEPTED, IN_PROGRESS → ON_HOLD.
    Hold,
    /// ON_HOLD → IN_PROGRESS.
    Resume,
    /// IN_PROGRESS → COMPLETED.
    Complete,
    /// ACCEPTED, IN_PROGRESS, ON_HOLD → FAILED.
    Fail,
    /// Before the end → CANCELLED.
    Cancel,
    /// SENT, RECEIVED → EXPIRED, by the system when the due date passed.
    Expire,
}

impl Action {
    /// Every action.
    pub const ALL: [Action; 11] = [
        Action::Send,
        Action::MarkReceived,
        Action::Accept,
        Action::Reject,
        Action::Start,
        Action::Hold,
        Action::Resume,
        Action::Complete,
        Action::Fail,
        Action::Cancel,
        Action::Expire,
    ];

    /// Name recorded in referral events.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Send => "SEND",
            Self::MarkReceived => "MARK_RECEIVED",
            Self::Accept => "ACCEPT",
            Self::Reject => "REJECT",
            Self::Start => "START",
            Self::Hold => "HOLD",
            Self::Resume => "RESUME",
            Self::Complete => "COMPLETE",
            Self::Fail => "FAIL",
            Self::Cancel => "CANCEL",
            Self::Expire => "EXPIRE",
        }
    }

    /// True when the action needs a coded reason (it ends or pauses the referral).
    pub fn needs_reason(self) -> bool {
        matches!(
            self,
            Self::Reject | Self::Hold | Self::Fail | Self::Cancel | Self::Expire
        )
    }

    /// True when the action needs a coded outcome.
    pub fn needs_outcome(self) -> bool {
        matches!(self, Self::Complete)
    }

    /// True when the action needs to say who declined.
    pub fn needs_declined_by(self) -> bool {
        matches!(self, Self::Reject)
    }
}

/// Who acts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// The sending organization.
    Sender,
    /// The receiving organization.
    Receiver,
    /// The service itself (expiry).
    System,
}

/// All statuses.
pub const STATUSES: [ReferralStatus; 11] = [
    Draft, Sent, Received, Accepted, Rejected, InProgress, OnHold, Completed, Failed, Cancelled,
    Expired,
];

/// True for the final states.
pub fn is_final(status: ReferralStatus) -> bool {
    matches!(status, Completed | Rejected | Failed | Cancelled | Expired)
}

/// True for the states a referral can be re-routed from.
pub fn can_reroute(status: ReferralStatus) -> bool {
    matches!(status, Rejected | Expired | Failed | Cancelled)
}

/// The state `action` by `side` leads to from `status`, or None when refused.
pub fn next(status: ReferralStatus, action: Action, side: Side) -> Option<ReferralStatus> {
    use Action as A;
    use Side::{Receiver, Sender, System};
    match (action, side, status) {
        (A::Send, Sender, Draft) => Some(Sent),
        (A::MarkReceived, Receiver, Sent) => Some(Received),
        (A::Accept, Receiver, Sent | Received) => Some(Accepted),
        (A::Reject, Receiver, Sent | Received) => Some(Rejected),
        (A::Expire, System, Sent | Received) => Some(Expired),
        (A::Start, Receiver, Accepted) => Some(InProgress),
        (A::Hold, Receiver, Accepted | InProgress) => Some(OnHold),
        (A::Resume, Receiver, OnHold) => Some(InProgress),
        (A::Complete, Receiver, InProgress) => Some(Completed),
        (A::Fail, Receiver, Accepted | InProgress | OnHold) => Some(Failed),
        (A::Cancel, Sender, Draft | Sent | Received) => Some(Cancelled),
        (A::Cancel, Sender | Receiver, Accepted | InProgress | OnHold) => Some(Cancelled),
        _ => None,
    }
}

/// Why and how a transition happens.
#[derive(Clone, Debug, Default)]
pub struct Details {
    /// Coded reason (required to reject, hold, fail and cancel).
    pub reason_code: Option<String>,
    /// Free-text explanation.
    pub reason_text: Option<String>,
    /// Who declined (required to reject).
    pub declined_by: Option<entity::enums::DeclinedBy>,
    /// Outcome (required to complete).
    pub outcome: Option<entity::enums::Outcome>,
    /// Sending: wait for a place when the service has none open.
    pub accept_waitlist: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// The table of DESIGN.md §2.6, written out independently of `next`.
    fn design_table() -> HashMap<(ReferralStatus, Action, Side), ReferralStatus> {
        use Action as A;
        use Side::*;
        let rows: &[(&[ReferralStatus], Action, &[Side], ReferralStatus)] = &[
            (&[Draft], A::Send, &[Sender], Sent),
            (&[Sent], A::MarkReceived, &[Receiver], Received),
            (&[Sent, Received], A::Accept, &[Receiver], Accepted),
            (&[Sent, Received], A::Reject, &[Receiver], Rejected),
            (&[Sent, Received], A::Expire, &[System], Expired),
            (&[Accepted], A::Start, &[Receiver], InProgress),
            (&[Accepted, InProgress], A::Hold, &[Receiver], OnHold),
            (&[OnHold], A::Resume, &[Receiver], InProgress),
            (&[InProgress], A::Complete, &[Receiver], Completed),
            (
                &[Accepted, InProgress, OnHold],
                A::Fail,
                &[Receiver],
                Failed,
            ),
            (&[Draft, Sent, Received], A::Cancel, &[Sender], Cancelled),
            (
                &[Accepted, InProgress, OnHold],
                A::Cancel,
                &[Sender, Receiver],
                Cancelled,
            ),
        ];
        let mut table = HashMap::new();
        for (froms, action, sides, to) in rows {
            for from in *froms {
                for side in *sides {
                    table.insert((*from, *action, *side), *to);
                }
            }
        }
        table
    }

    #[test]
    fn every_state_action_and_side_follows_the_design_table() {
        let table = design_table();
        let mut allowed = 0;
        for status in STATUSES {
            for action in Action::ALL {
                for side in [Side::Sender, Side::Receiver, Side::System] {
                    let expected = table.get(&(status, action, side)).copied();
                    assert_eq!(
                        next(status, action, side),
                        expected,
                        "{status:?} {action:?} {side:?}"
                    );
                    allowed += usize::from(expected.is_some());
                }
            }
        }
        assert_eq!(allowed, table.len());
    }

    #[test]
    fn final_states_allow_nothing() {
        for status in STATUSES.into_iter().filter(|s| is_final(*s)) {
            for action in Action::ALL {
                for side in [Side::Sender, Side::Receiver, Side::System] {
                    assert_eq!(next(status, action, side), None, "{status:?} {action:?}");
                }
            }
        }
    }
}
