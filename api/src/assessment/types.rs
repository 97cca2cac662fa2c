//! GraphQL types of needs assessments.

use super::service::Assessment;
use crate::context::ContextExt;
use crate::error::GqlResult;
use crate::graphql::enums::mirror_enum;
use crate::graphql::relay::{NodeKind, to_global_id};
use crate::graphql::scalars::Date;
use crate::loaders::{OrganizationById, PersonById};
use crate::organization::types::Organization;
use crate::person::types::Person;
use async_graphql::{Context, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};

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

/// One need of an assessment.
#[derive(SimpleObject, Clone, Debug)]
pub struct AssessedNeed {
    /// The NEED term code.
    pub need: String,
    /// How severe it is.
    pub severity: Severity,
}

/// A needs assessment: what a person needs, recorded by an organization on its own
/// record of the person. Only that organization reads it (a referral's receiver reads
/// the needs on the referral instead). Reading the notes is logged.
#[derive(Clone, Debug)]
pub struct NeedsAssessment(pub Assessment);

impl From<Assessment> for NeedsAssessment {
    fn from(assessment: Assessment) -> Self {
        Self(assessment)
    }
}

/// A needs assessment of a person by the organization that holds the record: needs with
/// their severity, target groups, notes. Only that organization reads it.
#[Object]
impl NeedsAssessment {
    /// Global ID.
    pub async fn id(&self) -> ID {
        to_global_id(NodeKind::NeedsAssessment, self.0.row.id)
    }
    /// The person assessed (the organization's own record).
    async fn person(&self, ctx: &Context<'_>) -> GqlResult<Option<Person>> {
        let row = ctx
            .loaders()?
            .0
            .load_one(PersonById(self.0.row.person_id))
            .await?;
        Ok(row.map(Person))
    }
    /// The assessing organization.
    async fn organization(&self, ctx: &Context<'_>) -> GqlResult<Option<Organization>> {
        ctx.loaders()?
            .one(OrganizationById(self.0.row.organization_id))
            .await
    }
    /// The operator (or partner system) that assessed or last revised it.
    async fn assessor(&self) -> &str {
        &self.0.row.assessor
    }
    /// The day of the assessment.
    async fn assessed_on(&self) -> Date {
        Date(self.0.row.assessed_on)
    }
    /// The needs, most severe first.
    async fn needs(&self) -> Vec<AssessedNeed> {
        self.0
            .needs
            .iter()
            .map(|need| AssessedNeed {
                need: need.need_code.clone(),
                severity: need.severity.into(),
            })
            .collect()
    }
    /// TARGET_GROUP term codes the person belongs to.
    async fn target_groups(&self) -> Vec<String> {
        self.0
            .row
            .target_groups
            .split_whitespace()
            .map(str::to_owned)
            .collect()
    }
    /// Notes (encrypted at rest; reading them is logged; null once the person is
    /// erased).
    async fn notes(&self, ctx: &Context<'_>) -> GqlResult<Option<String>> {
        let Some(notes) = &self.0.row.notes_enc else {
            return Ok(None);
        };
        crate::person::types::reader(ctx)?
            .log_read(self.0.row.person_id, "needsAssessment.notes")
            .await?;
        Ok(Some(ctx.protection()?.decrypt_text(notes)?))
    }
    /// Version of this record for optimistic concurrency: pass it as `expectedVersion`.
    async fn row_version(&self) -> i32 {
        self.0.row.row_version
    }
    /// When it was recorded.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.row.created_at
    }
    /// When it last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.row.updated_at
    }
}
