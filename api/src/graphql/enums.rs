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
