//! GraphQL types of incremental sync.

use super::service::Reason;
use crate::error::{AppError, GqlResult};
use crate::graphql::relay::{NodeKind, subject_global_id};
use crate::graphql::scalars::Timestamp;
use async_graphql::{Enum, ID, Object};
use entity::tombstone;

/// The kind of object a tombstone is about.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum TombstoneSubjectType {
    /// A service of the catalogue (it left the active catalogue).
    Service,
    /// A site of an organization (deleted).
    Location,
    /// An organization. None today: organizations are never deleted nor hidden (a
    /// dissolution is a change, seen through `updatedSince`).
    Organization,
    /// A protocol. None today: protocols are never deleted nor hidden (a termination
    /// is a change, seen through `updatedSince`).
    Protocol,
    /// A referral of the caller's organization (erased, or no longer readable).
    Referral,
}

impl From<TombstoneSubjectType> for NodeKind {
    fn from(kind: TombstoneSubjectType) -> Self {
        match kind {
            TombstoneSubjectType::Service => NodeKind::Service,
            TombstoneSubjectType::Location => NodeKind::Location,
            TombstoneSubjectType::Organization => NodeKind::Organization,
            TombstoneSubjectType::Protocol => NodeKind::Protocol,
            TombstoneSubjectType::Referral => NodeKind::Referral,
        }
    }
}

impl TombstoneSubjectType {
    fn of(kind: NodeKind) -> Option<Self> {
        [
            Self::Service,
            Self::Location,
            Self::Organization,
            Self::Protocol,
            Self::Referral,
        ]
        .into_iter()
        .find(|t| NodeKind::from(*t) == kind)
    }
}

/// Why an object left the caller's view.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum TombstoneReason {
    /// It was deleted (a site): `node(id:)` reads null.
    Deleted,
    /// A service became INACTIVE or DEFUNCT and left the active catalogue (ACTIVE,
    /// TEMPORARILY_CLOSED). It is still readable by id and in lists filtered by those
    /// statuses; a later change of it shows again in `updatedSince`.
    Hidden,
    /// The person of a referral was erased: its free text is gone. Drop your copies of
    /// the referral's personal values; its coded facts stay readable.
    Erased,
    /// The receiver's reading period of an ended referral is over: the receiver reads
    /// it as missing from now on.
    AccessEnded,
}

impl From<Reason> for TombstoneReason {
    fn from(reason: Reason) -> Self {
        match reason {
            Reason::Deleted => Self::Deleted,
            Reason::Hidden => Self::Hidden,
            Reason::Erased => Self::Erased,
            Reason::AccessEnded => Self::AccessEnded,
        }
    }
}

/// Something that left the caller's view, and why: so a mirror drops its copy. Ids and
/// codes only, never personal values.
#[derive(Clone, Debug)]
pub struct Tombstone(pub tombstone::Model);

impl From<tombstone::Model> for Tombstone {
    fn from(model: tombstone::Model) -> Self {
        Self(model)
    }
}

/// Something that left the caller's view, and why: so a mirror drops its copy. Ids and
/// codes only, never personal values.
#[Object]
impl Tombstone {
    /// Global ID of the object that left the view (the ID the mirror holds it by).
    async fn subject_id(&self) -> ID {
        subject_global_id(&self.0.subject_type, self.0.subject_id)
    }
    /// The kind of object.
    async fn subject_type(&self) -> GqlResult<TombstoneSubjectType> {
        NodeKind::from_type_name(&self.0.subject_type)
            .and_then(TombstoneSubjectType::of)
            .ok_or_else(|| unknown("subject type", &self.0.subject_type))
    }
    /// Why it left the view.
    async fn reason(&self) -> GqlResult<TombstoneReason> {
        Reason::parse(&self.0.reason)
            .map(Into::into)
            .ok_or_else(|| unknown("reason", &self.0.reason))
    }
    /// When it left the view.
    async fn removed_at(&self) -> Timestamp {
        Timestamp(self.0.removed_at)
    }
}

/// A stored value this version does not know (a row written by a newer one).
fn unknown(what: &str, value: &str) -> crate::error::GqlError {
    AppError::internal(anyhow::anyhow!("tombstone with unknown {what} `{value}`")).into()
}

crate::connection!(TombstoneConnection, TombstoneEdge, Tombstone, "tombstones");
