//! Reading people's data: which personal field a caller may read, decrypting it, and
//! the access log every read is written to.

use super::domain::Contacts;
use crate::audit::service::Actor;
use crate::auth::policy;
use crate::auth::viewer::{Role, Viewer, ViewerKind};
use crate::crypto::DataProtection;
use crate::error::{AppError, AppResult};
use crate::pagination::{self, Cursor, Page, Sort, SortKey, Window};
use crate::privacy::access::{self, Access};
use chrono::{DateTime, Utc};
use entity::{person, person_access};
use sea_orm::sea_query::{Expr, ExprTrait, Query, UnionType};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;
/// How one GraphQL operation reads people's data: the caller's organization sees a
/// person by the rule of [`crate::privacy::access`] (batched through the operation's
/// loaders), reads only the fields it shares, and every read is logged (with the
/// operation's other reads in one statement, or at once where the transport collects
/// none, as on websockets).
pub struct Reader<'a> {
    /// The caller.
    pub actor: Actor,
    /// The operation's loaders (and through them its database connection).
    pub loaders: &'a crate::loaders::Loaders,
    /// The operation's access log, when the transport collects reads.
    pub log: Option<&'a crate::context::AccessLog>,
    /// The keys protecting personal data.
    pub protection: &'a DataProtection,
}

impl Reader<'_> {
    /// How the caller's organization sees `person`; NOT_FOUND when it does not.
    pub async fn access(&self, person: Uuid) -> AppResult<Access> {
        let organization = super::service::acting_organization(&self.actor.viewer)?;
        let key = crate::loaders::PersonAccessOf {
            person,
            organization,
        };
        self.loaders
            .0
            .load_one(key)
            .await?
            .ok_or(AppError::NotFound("person"))
    }

    /// Logs a read of `field` of `person` by the caller.
    pub async fn log_read(&self, person: Uuid, field: &str) -> AppResult<()> {
        let entry = self.actor.access_entry(person, field, "read");
        crate::context::record_read(self.log, self.loaders.db(), entry).await
    }

    /// Checks that the caller may read `field` of `person` and logs the read. False
    /// when the caller sees the person but not this field.
    pub async fn read(&self, person: Uuid, field: access::Field, name: &str) -> AppResult<bool> {
        if !self.access(person).await?.shares(field) {
            return Ok(false);
        }
        self.log_read(person, name).await?;
        Ok(true)
    }

    /// Reads and decrypts a personal field of `person` (None where it is not shared).
    pub async fn personal(
        &self,
        person: &person::Model,
        field: PersonalField,
    ) -> AppResult<Option<String>> {
        if !self.read(person.id, field.kind(), field.name()).await? {
            return Ok(None);
        }
        decrypt_field(self.protection, person, field)
    }
}

/// Decrypts one personal field of a person the caller was found to see.
pub fn decrypt_field(
    protection: &DataProtection,
    row: &person::Model,
    field: PersonalField,
) -> AppResult<Option<String>> {
    field
        .stored(row)
        .map(|value| protection.decrypt(value))
        .transpose()
}

/// Appends a row to the access log.
#[tracing::instrument(level = "debug", skip_all, fields(%person))]
pub async fn log_access(
    db: &impl ConnectionTrait,
    actor: &Actor,
    person: Uuid,
    fields: &str,
    purpose: &str,
) -> AppResult<()> {
    actor
        .access_entry(person, fields, purpose)
        .insert(db)
        .await?;
    Ok(())
}

/// Which personal field to read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PersonalField {
    /// The codice fiscale.
    CodiceFiscale,
    /// The given name.
    GivenName,
    /// The family name.
    FamilyName,
    /// The contacts (JSON).
    Contacts,
}

impl PersonalField {
    /// The kind of value, for the sharing rule of [`access`].
    pub fn kind(self) -> access::Field {
        match self {
            Self::CodiceFiscale => access::Field::CodiceFiscale,
            Self::GivenName | Self::FamilyName => access::Field::Names,
            Self::Contacts => access::Field::Contacts,
        }
    }

    /// The GraphQL field name, as logged.
    pub fn name(self) -> &'static str {
        match self {
            Self::CodiceFiscale => "codiceFiscale",
            Self::GivenName => "givenName",
            Self::FamilyName => "familyName",
            Self::Contacts => "contacts",
        }
    }

    fn stored(self, row: &person::Model) -> Option<&String> {
        match self {
            Self::CodiceFiscale => row.codice_fiscale_enc.as_ref(),
            Self::GivenName => row.given_name_enc.as_ref(),
            Self::FamilyName => row.family_name_enc.as_ref(),
            Self::Contacts => row.contacts_enc.as_ref(),
        }
    }
}

/// Decrypts the contacts JSON.
pub fn decode_contacts(protection: &DataProtection, stored: &str) -> AppResult<Contacts> {
    serde_json::from_str(&protection.decrypt(stored)?).map_err(AppError::internal)
}

/// What to list in the access log.
#[derive(Clone, Debug, Default)]
pub struct AccessQuery {
    /// Only reads of this person.
    pub person: Option<Uuid>,
    /// Only reads by this token subject.
    pub actor: Option<String>,
    /// Only reads by callers acting for this organization.
    pub organization: Option<Uuid>,
    /// At or after this time.
    pub from: Option<DateTime<Utc>>,
    /// Before this time.
    pub to: Option<DateTime<Utc>>,
}

fn access_sort() -> Sort<person_access::Entity> {
    Sort::by(
        person_access::Column::OccurredAt,
        person_access::Column::Id,
        true,
        |row: &person_access::Model| Cursor::new(SortKey::Time(row.occurred_at), row.id),
    )
}

/// Lists reads of personal data, newest first (AUDITOR only; see the scope below).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn access_log(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    query: &AccessQuery,
    window: &Window,
    with_total: bool,
) -> AppResult<(Page<person_access::Model>, u64)> {
    let auditor = viewer.kind == ViewerKind::User && viewer.has_role(Role::Auditor);
    if !auditor {
        return Err(policy::deny(
            viewer,
            "only auditors may read the access log",
        ));
    }
    let mut select = person_access::Entity::find();
    // An organization's auditor sees its own reads and the reads of its own records;
    // an auditor of no organization (the region's) sees every read. Entries hold ids
    // and field names, never values.
    if let Some(organization) = viewer.organization {
        // One set of entry ids (its reads, united with the reads of its records), so
        // each side is read by its own index.
        let own_records = Query::select()
            .column(person::Column::Id)
            .from(person::Entity)
            .and_where(Expr::col(person::Column::RegisteredByOrganizationId).eq(organization))
            .to_owned();
        let of_own_records = Query::select()
            .column(person_access::Column::Id)
            .from(person_access::Entity)
            .and_where(person_access::Column::PersonId.in_subquery(own_records))
            .to_owned();
        let entries = Query::select()
            .column(person_access::Column::Id)
            .from(person_access::Entity)
            .and_where(person_access::Column::ActorOrganizationId.eq(organization))
            .union(UnionType::Distinct, of_own_records)
            .to_owned();
        select = select.filter(person_access::Column::Id.in_subquery(entries));
    }
    if let Some(person) = query.person {
        select = select.filter(person_access::Column::PersonId.eq(person));
    }
    if let Some(actor) = &query.actor {
        select = select.filter(person_access::Column::ActorSubject.eq(actor.clone()));
    }
    if let Some(organization) = query.organization {
        select = select.filter(person_access::Column::ActorOrganizationId.eq(organization));
    }
    if let Some(from) = query.from {
        select = select.filter(person_access::Column::OccurredAt.gte(from));
    }
    if let Some(to) = query.to {
        select = select.filter(person_access::Column::OccurredAt.lt(to));
    }
    pagination::list(db, select, &access_sort(), window, with_total).await
}
