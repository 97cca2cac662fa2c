//! Who may do what: the authorization matrix of the README, enforced in the service
//! layer so that list queries, nested fields and `node(id:)` share the same rules.

use super::viewer::{Role, Viewer, ViewerKind};
use crate::error::{AppError, AppResult};
use uuid::Uuid;

/// The refusal for a caller: anonymous callers must authenticate, others are forbidden.
pub fn deny(viewer: &Viewer, what: &str) -> AppError {
    if viewer.is_anonymous() {
        AppError::Unauthenticated
    } else {
        AppError::Forbidden(what.to_owned())
    }
}

/// Regional administrators only (territories, taxonomies, registry, protocols).
pub fn require_regional_admin(viewer: &Viewer) -> AppResult<()> {
    if viewer.kind == ViewerKind::User && viewer.has_role(Role::RegionalAdmin) {
        Ok(())
    } else {
        Err(deny(viewer, "only the regional administration may do this"))
    }
}

/// A person administering `organization` (not a machine client).
pub fn require_org_admin(viewer: &Viewer, organization: Uuid) -> AppResult<()> {
    let admin = viewer.kind == ViewerKind::User
        && viewer.has_role(Role::OrgAdmin)
        && viewer.organization == Some(organization);
    if admin {
        Ok(())
    } else {
        Err(deny(
            viewer,
            "only an administrator of the organization may do this",
        ))
    }
}

/// An administrator of `organization`, or a machine client of it holding `scope`.
pub fn require_org_write(viewer: &Viewer, organization: Uuid, scope: &str) -> AppResult<()> {
    if viewer.organization != Some(organization) {
        return Err(deny(viewer, "only the organization itself may change this"));
    }
    let allowed = match viewer.kind {
        ViewerKind::User => viewer.has_role(Role::OrgAdmin),
        ViewerKind::Client => viewer.has_scope(scope),
        ViewerKind::Anonymous => false,
    };
    if allowed {
        Ok(())
    } else {
        Err(deny(
            viewer,
            &format!("requires ORG_ADMIN or the `{scope}` scope"),
        ))
    }
}

/// Auditors and regional administrators (audit log).
pub fn require_auditor(viewer: &Viewer) -> AppResult<()> {
    let allowed = viewer.kind == ViewerKind::User
        && (viewer.has_role(Role::Auditor) || viewer.has_role(Role::RegionalAdmin));
    if allowed {
        Ok(())
    } else {
        Err(deny(
            viewer,
            "only auditors and the regional administration may read the audit log",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(role: Role, org: Option<Uuid>) -> Viewer {
        Viewer {
            kind: ViewerKind::User,
            subject: "u".into(),
            organization: org,
            roles: vec![role],
            scopes: vec![],
            name: None,
        }
    }

    #[test]
    fn anonymous_callers_must_authenticate() {
        let anonymous = Viewer::anonymous();
        assert!(matches!(
            require_regional_admin(&anonymous),
            Err(AppError::Unauthenticated)
        ));
        assert!(matches!(
            require_auditor(&anonymous),
            Err(AppError::Unauthenticated)
        ));
    }

    #[test]
    fn an_org_admin_manages_only_their_own_organization() {
        let (own, other) = (Uuid::now_v7(), Uuid::now_v7());
        let admin = user(Role::OrgAdmin, Some(own));
        assert!(require_org_admin(&admin, own).is_ok());
        assert!(matches!(
            require_org_admin(&admin, other),
            Err(AppError::Forbidden(_))
        ));
        assert!(require_org_write(&admin, own, "services:write").is_ok());
        let operator = user(Role::Operator, Some(own));
        assert!(matches!(
            require_org_write(&operator, own, "services:write"),
            Err(AppError::Forbidden(_))
        ));
    }

    #[test]
    fn a_client_needs_the_scope_and_its_organization() {
        let own = Uuid::now_v7();
        let client = Viewer {
            kind: ViewerKind::Client,
            subject: "client:x".into(),
            organization: Some(own),
            roles: vec![],
            scopes: vec!["services:write".into()],
            name: None,
        };
        assert!(require_org_write(&client, own, "services:write").is_ok());
        assert!(require_org_write(&client, own, "organization:write").is_err());
        assert!(require_org_write(&client, Uuid::now_v7(), "services:write").is_err());
        assert!(require_org_admin(&client, own).is_err());
        assert!(require_regional_admin(&user(Role::OrgAdmin, Some(own))).is_err());
    }
}
