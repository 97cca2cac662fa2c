//! The caller of a request.

use uuid::Uuid;

/// A role a token may carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// The regional administration: territories, taxonomies, protocols, the registry.
    RegionalAdmin,
    /// An organization's administrator: its profile, services, API clients.
    OrgAdmin,
    /// An operator of an organization: referrals and persons (later).
    Operator,
    /// Reads the audit and access logs.
    Auditor,
    /// The regional data protection officer: answers a data subject's request across
    /// the whole network (export, erasure), with a stated reason, audited.
    DataProtectionOfficer,
}

impl Role {
    /// All roles.
    pub const ALL: [Role; 5] = [
        Role::RegionalAdmin,
        Role::OrgAdmin,
        Role::Operator,
        Role::Auditor,
        Role::DataProtectionOfficer,
    ];

    /// The name used in tokens and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RegionalAdmin => "REGIONAL_ADMIN",
            Self::OrgAdmin => "ORG_ADMIN",
            Self::Operator => "OPERATOR",
            Self::Auditor => "AUDITOR",
            Self::DataProtectionOfficer => "DATA_PROTECTION_OFFICER",
        }
    }

    /// Parses a role name (case-insensitive, `-` or `_`).
    pub fn parse(name: &str) -> Option<Self> {
        let normal = name.trim().to_ascii_uppercase().replace('-', "_");
        Self::ALL.into_iter().find(|r| r.as_str() == normal)
    }
}

/// Scopes a machine client may be granted; a human's roles imply the matching ones.
pub mod scopes {
    /// Change the organization's profile, sites and contacts.
    pub const ORGANIZATION_WRITE: &str = "organization:write";
    /// Create and change the organization's services and their capacity.
    pub const SERVICES_WRITE: &str = "services:write";
    /// Create, send and answer the organization's referrals.
    pub const REFERRALS_WRITE: &str = "referrals:write";
    /// Register, read and change the people involved with the organization.
    pub const PERSONS_WRITE: &str = "persons:write";
    /// Read the organization's event feed (no write power).
    pub const EVENTS_READ: &str = "events:read";
    /// Register and manage the organization's webhook endpoints, read their delivery
    /// log and re-deliver.
    pub const WEBHOOKS_WRITE: &str = "webhooks:write";
    /// Read the organization's referrals (lists, nodes, counts, its tombstones and
    /// events) without changing them: reading never marks a referral RECEIVED.
    pub const REFERRALS_READ: &str = "referrals:read";
    /// Every scope a client can be granted.
    pub const ALL: [&str; 7] = [
        ORGANIZATION_WRITE,
        SERVICES_WRITE,
        REFERRALS_WRITE,
        PERSONS_WRITE,
        EVENTS_READ,
        WEBHOOKS_WRITE,
        REFERRALS_READ,
    ];
}

/// Whether the caller is a person or a partner system.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ViewerKind {
    /// No token.
    Anonymous,
    /// A person, with a token of the identity provider or `melt token`.
    User,
    /// A partner system, with a token from `POST /oauth/token`.
    Client,
}

impl ViewerKind {
    /// The name recorded in the audit log and in referral events.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Anonymous => "ANONYMOUS",
            Self::User => "USER",
            Self::Client => "CLIENT",
        }
    }
}

/// Who is calling.
#[derive(Clone, Debug)]
pub struct Viewer {
    /// Anonymous, user or client.
    pub kind: ViewerKind,
    /// Token subject (`sub`).
    pub subject: String,
    /// The organization the caller acts for.
    pub organization: Option<Uuid>,
    /// Roles.
    pub roles: Vec<Role>,
    /// Scopes.
    pub scopes: Vec<String>,
    /// Display name.
    pub name: Option<String>,
}

impl Viewer {
    /// The anonymous caller.
    pub fn anonymous() -> Self {
        Self {
            kind: ViewerKind::Anonymous,
            subject: "anonymous".to_owned(),
            organization: None,
            roles: Vec::new(),
            scopes: Vec::new(),
            name: None,
        }
    }

    /// True without a token.
    pub fn is_anonymous(&self) -> bool {
        self.kind == ViewerKind::Anonymous
    }

    /// True if the caller has the role.
    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// True if the caller has the scope.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}
