//! Opaque global IDs: base64 of `Type:uuid`, decoded only at the boundary.

use crate::error::{AppError, AppResult};
use async_graphql::ID;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use uuid::Uuid;

/// The kinds of objects that have a global ID.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeKind {
    /// A territory (region, province, municipality, zone, hub area).
    Territory,
    /// An organization.
    Organization,
    /// A site of an organization.
    Location,
    /// A contact person of an organization.
    Contact,
    /// A taxonomy term.
    Term,
    /// A service of the catalogue.
    Service,
    /// A protocol of understanding.
    Protocol,
    /// An organization's adherence to a protocol.
    Signatory,
    /// One organization taking over another's duties.
    Succession,
    /// An entry of the audit log.
    AuditEvent,
    /// Machine credentials of a partner system.
    ApiClient,
    /// A referral of a person between services.
    Referral,
    /// A person referred between services.
    Person,
    /// A consent to share a person's data.
    Consent,
    /// A needs assessment of a person.
    NeedsAssessment,
    /// A routing rule.
    RoutingRule,
    /// A webhook endpoint of an organization.
    WebhookEndpoint,
    /// One event's delivery to a webhook endpoint.
    WebhookDelivery,
    /// A working group of the network.
    WorkingGroup,
    /// A meeting of a working group.
    Meeting,
    /// A decision or action of a meeting.
    MeetingAction,
    /// A person's individual plan.
    IndividualPlan,
    /// An action of an individual plan.
    PlanAction,
}

impl NodeKind {
    const ALL: [NodeKind; 23] = [
        Self::Territory,
        Self::Organization,
        Self::Location,
        Self::Contact,
        Self::Term,
        Self::Service,
        Self::Protocol,
        Self::Signatory,
        Self::Succession,
        Self::AuditEvent,
        Self::ApiClient,
        Self::Referral,
        Self::Person,
        Self::Consent,
        Self::NeedsAssessment,
        Self::RoutingRule,
        Self::WebhookEndpoint,
        Self::WebhookDelivery,
        Self::WorkingGroup,
        Self::Meeting,
        Self::MeetingAction,
        Self::IndividualPlan,
        Self::PlanAction,
    ];

    /// The GraphQL type name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Territory => "Territory",
            Self::Organization => "Organization",
            Self::Location => "Location",
            Self::Contact => "Contact",
            Self::Term => "Term",
            Self::Service => "Service",
            Self::Protocol => "Protocol",
            Self::Signatory => "Signatory",
            Self::Succession => "Succession",
            Self::AuditEvent => "AuditEvent",
            Self::ApiClient => "ApiClient",
            Self::Referral => "Referral",
            Self::Person => "Person",
            Self::Consent => "Consent",
            Self::NeedsAssessment => "NeedsAssessment",
            Self::RoutingRule => "RoutingRule",
            Self::WebhookEndpoint => "WebhookEndpoint",
            Self::WebhookDelivery => "WebhookDelivery",
            Self::WorkingGroup => "WorkingGroup",
            Self::Meeting => "Meeting",
            Self::MeetingAction => "MeetingAction",
            Self::IndividualPlan => "IndividualPlan",
            Self::PlanAction => "PlanAction",
        }
    }

    /// The kind whose GraphQL type name is `name`.
    pub fn from_type_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

/// Encodes a global ID.
pub fn to_global_id(kind: NodeKind, id: Uuid) -> ID {
    ID(URL_SAFE_NO_PAD.encode(format!("{}:{id}", kind.as_str())))
}

/// The global ID of a row named by its GraphQL type name (as events, deliveries and
/// tombstones store their subject); the bare UUID for a name no node kind has.
pub fn subject_global_id(type_name: &str, id: Uuid) -> ID {
    match NodeKind::from_type_name(type_name) {
        Some(kind) => to_global_id(kind, id),
        None => ID(id.to_string()),
    }
}

/// Decodes any global ID into its kind and row id.
pub fn from_global_id(id: &str) -> AppResult<(NodeKind, Uuid)> {
    let invalid = || AppError::BadUserInput(format!("`{id}` is not a valid ID"));
    let bytes = URL_SAFE_NO_PAD.decode(id).map_err(|_| invalid())?;
    let raw = String::from_utf8(bytes).map_err(|_| invalid())?;
    let (name, uuid) = raw.split_once(':').ok_or_else(invalid)?;
    let kind = NodeKind::ALL
        .into_iter()
        .find(|k| k.as_str() == name)
        .ok_or_else(invalid)?;
    let uuid = Uuid::parse_str(uuid).map_err(|_| invalid())?;
    Ok((kind, uuid))
}

/// Decodes a global ID that must be of `kind`.
pub fn expect_id(id: &ID, kind: NodeKind) -> AppResult<Uuid> {
    match from_global_id(id)? {
        (found, uuid) if found == kind => Ok(uuid),
        (found, _) => Err(AppError::BadUserInput(format!(
            "`{}` is the ID of a {}, expected a {}",
            id.as_str(),
            found.as_str(),
            kind.as_str()
        ))),
    }
}

/// Decodes the key of a mutation input that renamed its key field to `id`: `id`, or
/// the deprecated field `old` named `old_name`. Neither, or two different ones, is
/// refused with BAD_USER_INPUT.
pub fn expect_key(
    id: Option<&ID>,
    old: Option<&ID>,
    old_name: &str,
    kind: NodeKind,
) -> AppResult<Uuid> {
    match (id, old) {
        (Some(id), Some(old)) if id != old => Err(AppError::BadUserInput(format!(
            "`id` and the deprecated `{old_name}` name different objects: give `id` only"
        ))),
        (Some(id), _) | (None, Some(id)) => expect_id(id, kind),
        (None, None) => Err(AppError::BadUserInput(format!(
            "`id` is required (the {} to change)",
            kind.as_str()
        ))),
    }
}

/// Decodes an optional global ID of `kind` (a filter or an optional reference).
pub fn expect_opt_id(id: Option<&ID>, kind: NodeKind) -> AppResult<Option<Uuid>> {
    id.map(|id| expect_id(id, kind)).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_renamed_mutation_key_is_read_from_id_or_from_its_deprecated_name() {
        let (one, other) = (Uuid::now_v7(), Uuid::now_v7());
        let id = to_global_id(NodeKind::Signatory, one);
        let other_id = to_global_id(NodeKind::Signatory, other);
        let key = |new: Option<&ID>, old: Option<&ID>| {
            expect_key(new, old, "signatory", NodeKind::Signatory)
        };
        assert_eq!(key(Some(&id), None).ok(), Some(one));
        assert_eq!(key(None, Some(&id)).ok(), Some(one));
        assert_eq!(key(Some(&id), Some(&id)).ok(), Some(one));
        let neither = key(None, None).map_err(|e| e.to_string());
        assert!(
            neither
                .as_ref()
                .is_err_and(|m| m.contains("`id` is required")),
            "{neither:?}"
        );
        let both = key(Some(&id), Some(&other_id)).map_err(|e| e.to_string());
        assert!(
            both.as_ref()
                .is_err_and(|m| m.contains("different objects")),
            "{both:?}"
        );
    }

    #[test]
    fn a_global_id_round_trips_and_is_opaque() {
        let uuid = Uuid::now_v7();
        let id = to_global_id(NodeKind::Service, uuid);
        assert!(!id.contains(&uuid.to_string()));
        assert_eq!(from_global_id(&id).ok(), Some((NodeKind::Service, uuid)));
    }

    #[test]
    fn an_id_of_another_type_is_refused() {
        let id = to_global_id(NodeKind::Organization, Uuid::now_v7());
        assert!(matches!(
            expect_id(&id, NodeKind::Service),
            Err(AppError::BadUserInput(_))
        ));
        assert!(expect_id(&ID("garbage".into()), NodeKind::Service).is_err());
    }
}
