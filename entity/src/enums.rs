//! Enumerations stored as text columns.

use sea_orm::entity::prelude::*;

macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $value:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, serde::Serialize)]
        #[sea_orm(rs_type = "String", db_type = "Text")]
        pub enum $name {
            $(
                #[sea_orm(string_value = $value)]
                #[serde(rename = $value)]
                $variant,
            )+
        }

        impl $name {
            /// The stored text (as the schema spells it).
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $value,)+
                }
            }
        }
    };
}

text_enum!(
    /// Kind of a territory.
    TerritoryKind {
        Region = "REGION",
        Province = "PROVINCE",
        Municipality = "MUNICIPALITY",
        Zone = "ZONE",
        HubArea = "HUB_AREA",
    }
);

text_enum!(
    /// Kind of an organization of the network.
    OrganizationKind {
        Region = "REGION",
        EmploymentCentre = "EMPLOYMENT_CENTRE",
        Municipality = "MUNICIPALITY",
        MunicipalSocialService = "MUNICIPAL_SOCIAL_SERVICE",
        HealthSocialConsortium = "HEALTH_SOCIAL_CONSORTIUM",
        HealthTrust = "HEALTH_TRUST",
        ThirdSectorBody = "THIRD_SECTOR_BODY",
        SocialCooperative = "SOCIAL_COOPERATIVE",
        TrainingAgency = "TRAINING_AGENCY",
        TradeAssociation = "TRADE_ASSOCIATION",
        Employer = "EMPLOYER",
        Other = "OTHER",
    }
);

text_enum!(
    /// Sector of an organization.
    Sector {
        Public = "PUBLIC",
        Private = "PRIVATE",
        ThirdSector = "THIRD_SECTOR",
    }
);

text_enum!(
    /// The taxonomy a term belongs to.
    Taxonomy {
        ServiceType = "SERVICE_TYPE",
        TargetGroup = "TARGET_GROUP",
        Need = "NEED",
        Language = "LANGUAGE",
        RejectionReason = "REJECTION_REASON",
        CancellationReason = "CANCELLATION_REASON",
        FailureReason = "FAILURE_REASON",
        HoldReason = "HOLD_REASON",
        Outcome = "OUTCOME",
        PlanGoal = "PLAN_GOAL",
    }
);

text_enum!(
    /// Status of a service (HSDS 3.0 `service.status`).
    ServiceStatus {
        Active = "ACTIVE",
        Inactive = "INACTIVE",
        Defunct = "DEFUNCT",
        TemporarilyClosed = "TEMPORARILY_CLOSED",
    }
);

text_enum!(
    /// How a service is delivered.
    DeliveryMode {
        InPerson = "IN_PERSON",
        Remote = "REMOTE",
        Hybrid = "HYBRID",
    }
);

text_enum!(
    /// Lifecycle of a protocol.
    ProtocolStatus {
        Draft = "DRAFT",
        OpenForSignature = "OPEN_FOR_SIGNATURE",
        InForce = "IN_FORCE",
        Expired = "EXPIRED",
        Terminated = "TERMINATED",
    }
);

text_enum!(
    /// Role of a signatory in a protocol.
    SignatoryRole {
        Promoter = "PROMOTER",
        Partner = "PARTNER",
        Adherent = "ADHERENT",
    }
);

text_enum!(
    /// Status of an organization's adherence to a protocol.
    SignatoryStatus {
        Invited = "INVITED",
        Signed = "SIGNED",
        Withdrawn = "WITHDRAWN",
    }
);

text_enum!(
    /// How a person prefers to be contacted.
    ContactChannel {
        Email = "EMAIL",
        Phone = "PHONE",
        Sms = "SMS",
        Post = "POST",
        InPerson = "IN_PERSON",
        DoNotContact = "DO_NOT_CONTACT",
    }
);

text_enum!(
    /// Gender as the person declares it.
    Gender {
        Female = "FEMALE",
        Male = "MALE",
        Other = "OTHER",
        Undisclosed = "UNDISCLOSED",
    }
);

text_enum!(
    /// Legal basis of processing personal data.
    LegalBasis {
        Consent = "CONSENT",
        LegalObligation = "LEGAL_OBLIGATION",
        PublicTask = "PUBLIC_TASK",
    }
);

text_enum!(
    /// Evidence of a consent or legal basis.
    EvidenceKind {
        Document = "DOCUMENT",
        OperatorAttestation = "OPERATOR_ATTESTATION",
    }
);

text_enum!(
    /// State of a referral (HL7 FHIR SDOH Task, plus closed-loop states).
    ReferralStatus {
        Draft = "DRAFT",
        Sent = "SENT",
        Received = "RECEIVED",
        Accepted = "ACCEPTED",
        Rejected = "REJECTED",
        InProgress = "IN_PROGRESS",
        OnHold = "ON_HOLD",
        Completed = "COMPLETED",
        Failed = "FAILED",
        Cancelled = "CANCELLED",
        Expired = "EXPIRED",
    }
);

text_enum!(
    /// Priority of a referral.
    Priority {
        Low = "LOW",
        Normal = "NORMAL",
        High = "HIGH",
        Urgent = "URGENT",
    }
);

text_enum!(
    /// How a referral came in.
    ReferralChannel {
        Operator = "OPERATOR",
        PartnerSystem = "PARTNER_SYSTEM",
        AutomatedRule = "AUTOMATED_RULE",
    }
);

text_enum!(
    /// Who declined a rejected referral.
    DeclinedBy {
        Provider = "PROVIDER",
        Person = "PERSON",
    }
);

text_enum!(
    /// Outcome recorded when a referral completes (or fails).
    Outcome {
        Enrolled = "ENROLLED",
        PathwayCompleted = "PATHWAY_COMPLETED",
        Employed = "EMPLOYED",
        TraineeshipStarted = "TRAINEESHIP_STARTED",
        NotEligible = "NOT_ELIGIBLE",
        Unreachable = "UNREACHABLE",
        Refused = "REFUSED",
        Other = "OTHER",
    }
);

text_enum!(
    /// How severe an assessed need is.
    Severity {
        Low = "LOW",
        Medium = "MEDIUM",
        High = "HIGH",
        Urgent = "URGENT",
    }
);

text_enum!(
    /// What a routing rule does with its best matches.
    RoutingMode {
        Propose = "PROPOSE",
        Send = "SEND",
    }
);

text_enum!(
    /// What came of a routing rule firing.
    RoutingOutcome {
        Proposed = "PROPOSED",
        Sent = "SENT",
        FellBackToPropose = "FELL_BACK_TO_PROPOSE",
        NoCandidate = "NO_CANDIDATE",
        AlreadyOpen = "ALREADY_OPEN",
    }
);

text_enum!(
    /// Whether a webhook endpoint receives deliveries.
    WebhookStatus {
        Active = "ACTIVE",
        Disabled = "DISABLED",
    }
);

text_enum!(
    /// Where one delivery of an event to an endpoint stands.
    DeliveryState {
        Pending = "PENDING",
        Delivered = "DELIVERED",
        Failed = "FAILED",
    }
);

text_enum!(
    /// Whether a working group still meets.
    WorkingGroupStatus {
        Active = "ACTIVE",
        Closed = "CLOSED",
    }
);

text_enum!(
    /// An organization's part in a working group.
    WorkingGroupRole {
        Lead = "LEAD",
        Member = "MEMBER",
        Observer = "OBSERVER",
    }
);

text_enum!(
    /// Where a meeting stands.
    MeetingStatus {
        Planned = "PLANNED",
        Held = "HELD",
        Cancelled = "CANCELLED",
    }
);

text_enum!(
    /// What a meeting decided or set someone to do.
    MeetingActionKind {
        Decision = "DECISION",
        Action = "ACTION",
    }
);

text_enum!(
    /// Where an action of a meeting stands.
    MeetingActionStatus {
        Open = "OPEN",
        Done = "DONE",
        Dropped = "DROPPED",
    }
);

text_enum!(
    /// Whether an individual plan is followed.
    PlanStatus {
        Active = "ACTIVE",
        Closed = "CLOSED",
    }
);

text_enum!(
    /// Where an action of an individual plan stands.
    PlanActionStatus {
        Planned = "PLANNED",
        Referred = "REFERRED",
        Started = "STARTED",
        Done = "DONE",
        Stopped = "STOPPED",
        Cancelled = "CANCELLED",
    }
);

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::Iterable;

    #[test]
    fn every_enum_spells_its_values_as_they_are_stored() {
        macro_rules! same {
            ($($name:ident),+) => { $(
                for value in $name::iter() {
                    assert_eq!(value.as_str(), value.to_value(), "{value:?}");
                }
            )+ };
        }
        same!(
            TerritoryKind,
            OrganizationKind,
            Sector,
            Taxonomy,
            ServiceStatus,
            DeliveryMode,
            ProtocolStatus,
            SignatoryRole,
            SignatoryStatus,
            ContactChannel,
            Gender,
            LegalBasis,
            EvidenceKind,
            ReferralStatus,
            Priority,
            ReferralChannel,
            DeclinedBy,
            Outcome,
            Severity,
            RoutingMode,
            RoutingOutcome,
            WebhookStatus,
            DeliveryState,
            WorkingGroupStatus,
            WorkingGroupRole,
            MeetingStatus,
            MeetingActionKind,
            MeetingActionStatus,
            PlanStatus,
            PlanActionStatus
        );
    }
}
