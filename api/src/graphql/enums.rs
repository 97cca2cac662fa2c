//! GraphQL enums, mirrored from the stored enums so the schema stays a deliberate
//! contract.

/// Declares a GraphQL enum with conversions to and from the stored enum.
macro_rules! mirror_enum {
    ($(#[$meta:meta])* $name:ident => $stored:path { $($(#[$vmeta:meta])* $variant:ident),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(async_graphql::Enum, Clone, Copy, Debug, PartialEq, Eq)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl From<$stored> for $name {
            fn from(value: $stored) -> Self {
                match value {
                    $(<$stored>::$variant => Self::$variant,)+
                }
            }
        }

        impl From<$name> for $stored {
            fn from(value: $name) -> Self {
                match value {
                    $($name::$variant => Self::$variant,)+
                }
            }
        }
    };
}

pub(crate) use mirror_enum;

/// The stored values of an optional list of GraphQL enum values (a filter): empty when
/// the list is omitted.
pub fn stored<T: Into<U>, U>(values: Option<Vec<T>>) -> Vec<U> {
    values
        .unwrap_or_default()
        .into_iter()
        .map(Into::into)
        .collect()
}

mirror_enum!(
    /// Kind of a territory.
    TerritoryKind => entity::enums::TerritoryKind {
        /// Regione Toscana.
        Region,
        /// A province (or metropolitan city).
        Province,
        /// A municipality (comune), identified by its ISTAT code.
        Municipality,
        /// A zona-distretto: a set of municipalities for social and health services.
        Zone,
        /// A hub area of the MeLT regional split.
        HubArea,
    }
);

mirror_enum!(
    /// Kind of an organization of the network.
    OrganizationKind => entity::enums::OrganizationKind {
        /// The regional administration.
        Region,
        /// An employment centre (Centro per l'impiego).
        EmploymentCentre,
        /// A municipality (Comune).
        Municipality,
        /// A municipal social service.
        MunicipalSocialService,
        /// A health-and-social consortium (Società della Salute).
        HealthSocialConsortium,
        /// A health trust (AUSL).
        HealthTrust,
        /// A third-sector body (ETS).
        ThirdSectorBody,
        /// A social cooperative.
        SocialCooperative,
        /// A training agency.
        TrainingAgency,
        /// A trade association.
        TradeAssociation,
        /// An employer.
        Employer,
        /// Any other body.
        Other,
    }
);

mirror_enum!(
    /// Sector of an organization.
    Sector => entity::enums::Sector {
        /// Public administration.
        Public,
        /// Private for-profit.
        Private,
        /// Third sector (non-profit).
        ThirdSector,
    }
);

mirror_enum!(
    /// A taxonomy of terms.
    Taxonomy => entity::enums::Taxonomy {
        /// Types of service (the MeLT guidelines and the national essential labour services).
        ServiceType,
        /// Groups of people a service is meant for.
        TargetGroup,
        /// Needs a person may have.
        Need,
        /// Languages (ISO 639-1 codes).
        Language,
        /// Why a receiver rejects a referral (`rejectReferral.reasonCode`).
        RejectionReason,
        /// Why a referral is cancelled (`cancelReferral.reasonCode`).
        CancellationReason,
        /// Why a referral failed (`failReferral.reasonCode`).
        FailureReason,
        /// Why a referral is on hold (`holdReferral.reasonCode`).
        HoldReason,
        /// How a referral ended (`completeReferral.outcome`), with labels.
        Outcome,
        /// Goals of an individual plan (`createIndividualPlan.goals`).
        PlanGoal,
    }
);

mirror_enum!(
    /// Status of a service (HSDS 3.0).
    ServiceStatus => entity::enums::ServiceStatus {
        /// Open to referrals.
        Active,
        /// Not currently offered.
        Inactive,
        /// Permanently closed.
        Defunct,
        /// Closed for a while.
        TemporarilyClosed,
    }
);

mirror_enum!(
    /// How a service is delivered.
    DeliveryMode => entity::enums::DeliveryMode {
        /// At one of its locations.
        InPerson,
        /// Remotely (phone, video).
        Remote,
        /// Both in person and remotely.
        Hybrid,
    }
);

mirror_enum!(
    /// Lifecycle status of a protocol.
    ProtocolStatus => entity::enums::ProtocolStatus {
        /// Being written.
        Draft,
        /// Open for organizations to sign.
        OpenForSignature,
        /// In force: its signatories may exchange referrals.
        InForce,
        /// Past its validity.
        Expired,
        /// Ended before its validity.
        Terminated,
    }
);

mirror_enum!(
    /// Role of a signatory in a protocol.
    SignatoryRole => entity::enums::SignatoryRole {
        /// Promoter and lead of the protocol.
        Promoter,
        /// Partner.
        Partner,
        /// Adherent.
        Adherent,
    }
);

mirror_enum!(
    /// Status of an organization's adherence to a protocol.
    SignatoryStatus => entity::enums::SignatoryStatus {
        /// Invited, not yet signed.
        Invited,
        /// Signed.
        Signed,
        /// Withdrawn after signing.
        Withdrawn,
    }
);

/// Direction of an ordering.
#[derive(async_graphql::Enum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum OrderDirection {
    /// Smallest first.
    #[default]
    Asc,
    /// Largest first.
    Desc,
}

mirror_enum!(
    /// How severe an assessed need is.
    Severity => entity::enums::Severity {
        /// Can wait.
        Low,
        /// Should be addressed.
        Medium,
        /// Should be addressed soon.
        High,
        /// Must be addressed at once.
        Urgent,
    }
);

/// Declares a GraphQL enum over a code stored as text, with the stored code of each
/// value. A stored code no value has is an internal error (the database and the code
/// disagree), never a guess.
macro_rules! coded_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $code:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(async_graphql::Enum, Clone, Copy, Debug, PartialEq, Eq)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// The code as stored.
            pub fn as_stored(self) -> &'static str {
                match self {
                    $(Self::$variant => $code,)+
                }
            }

            /// The value of a stored code.
            pub fn from_stored(code: &str) -> crate::error::GqlResult<Self> {
                match code {
                    $($code => Ok(Self::$variant),)+
                    other => Err(crate::error::AppError::internal_message(format!(
                        concat!("unknown stored ", stringify!($name), " `{}`"),
                        other
                    ))
                    .into()),
                }
            }
        }
    };
}

coded_enum!(
    /// Who acted: a person, a partner system, or the API itself (deadlines, expiry).
    ActorKind {
        /// A person, with a token of the identity provider.
        User = "USER",
        /// A partner system with machine credentials.
        Client = "CLIENT",
        /// The API itself, e.g. a referral expiring unanswered.
        System = "SYSTEM",
    }
);

coded_enum!(
    /// A step in the lifecycle of a referral.
    ReferralAction {
        /// The referral was created as a DRAFT.
        Create = "CREATE",
        /// The referral was created as a DRAFT re-routing another one.
        Reroute = "REROUTE",
        /// DRAFT → SENT.
        Send = "SEND",
        /// SENT → RECEIVED (also on the receiver's first read).
        MarkReceived = "MARK_RECEIVED",
        /// SENT, RECEIVED → ACCEPTED.
        Accept = "ACCEPT",
        /// SENT, RECEIVED → REJECTED.
        Reject = "REJECT",
        /// ACCEPTED → IN_PROGRESS.
        Start = "START",
        /// ACCEPTED, IN_PROGRESS → ON_HOLD.
        Hold = "HOLD",
        /// ON_HOLD → IN_PROGRESS.
        Resume = "RESUME",
        /// IN_PROGRESS → COMPLETED.
        Complete = "COMPLETE",
        /// ACCEPTED, IN_PROGRESS, ON_HOLD → FAILED.
        Fail = "FAIL",
        /// Before the end → CANCELLED.
        Cancel = "CANCEL",
        /// SENT, RECEIVED → EXPIRED: unanswered by the due time.
        Expire = "EXPIRE",
    }
);

coded_enum!(
    /// Why personal data was read.
    AccessPurpose {
        /// A field was read through the API.
        Read = "read",
        /// The record was exported for the person (a data subject request).
        Export = "export",
    }
);

coded_enum!(
    /// A power a machine client may be granted; a person's roles imply the matching
    /// ones. In OAuth requests (`scope`) they are written in lower case with a colon,
    /// e.g. `services:write`.
    Scope {
        /// Change the organization's profile, sites and contacts.
        OrganizationWrite = "organization:write",
        /// Create and change the organization's services and their capacity.
        ServicesWrite = "services:write",
        /// Create, send and answer the organization's referrals.
        ReferralsWrite = "referrals:write",
        /// Register, read and change the people involved with the organization.
        PersonsWrite = "persons:write",
        /// Read the organization's event feed (no write power).
        EventsRead = "events:read",
        /// Register and manage the organization's webhook endpoints, read their
        /// delivery log and re-deliver.
        WebhooksWrite = "webhooks:write",
        /// Read the organization's referrals (lists, nodes, counts, tombstones and
        /// events) without changing them: reading never marks a referral RECEIVED.
        ReferralsRead = "referrals:read",
    }
);

impl Scope {
    /// The scopes of a list of stored scope codes, skipping codes no longer granted
    /// (a token may carry scopes of other audiences).
    pub fn known(codes: &[String]) -> Vec<Self> {
        codes
            .iter()
            .filter_map(|code| Self::from_stored(code).ok())
            .collect()
    }
}
