//! HSDS 3.0 objects as serde structures: field names as the schemas spell them; an
//! optional value without content is left out (HSDS: absent rather than null), and so
//! is an empty list.

use serde::Serialize;
use uuid::Uuid;

/// A page of a list, as the HSDS API reference's `Page` (with `contents`).
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Serialize)]
pub struct Page<T> {
    /// Objects in the whole list (tombstones included).
    pub total_items: u64,
    /// Pages in the whole list.
    pub total_pages: u64,
    /// This page's number, from 1.
    pub page_number: u64,
    /// Objects on this page.
    pub size: u64,
    /// True on the first page.
    pub first_page: bool,
    /// True on the last page (or past it).
    pub last_page: bool,
    /// True when the whole list is empty.
    pub empty: bool,
    /// The objects.
    pub contents: Vec<T>,
}

/// An HSDS `service`, fully nested.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Serialize)]
pub struct Service {
    /// Id.
    pub id: Uuid,
    /// The provider.
    pub organization_id: Option<Uuid>,
    /// Name.
    pub name: String,
    /// Other name.
    pub alternate_name: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Web page.
    pub url: Option<String>,
    /// E-mail address.
    pub email: Option<String>,
    /// `active`, `inactive`, `defunct` or `temporarily closed`.
    pub status: &'static str,
    /// How to apply.
    pub application_process: Option<String>,
    /// Fees, in words.
    pub fees_description: Option<String>,
    /// Typical wait.
    pub wait_time: Option<String>,
    /// Accreditations, `; `-separated.
    pub accreditations: Option<String>,
    /// Who may use it.
    pub eligibility_description: Option<String>,
    /// Youngest age served.
    pub minimum_age: Option<i32>,
    /// Oldest age served.
    pub maximum_age: Option<i32>,
    /// Last change (RFC 3339).
    pub last_modified: Option<String>,
    /// Telephone numbers.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub phones: Vec<Phone>,
    /// Opening hours.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub schedules: Vec<Schedule>,
    /// Municipalities served.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub service_areas: Vec<ServiceArea>,
    /// Sites it is delivered at.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub service_at_locations: Vec<ServiceAtLocation>,
    /// Languages spoken.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub languages: Vec<Language>,
    /// The provider (its own fields, not nested further).
    pub organization: Option<Box<Organization>>,
    /// Sources of funding.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub funding: Vec<Funding>,
    /// What it costs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cost_options: Vec<CostOption>,
    /// Documents to bring.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub required_documents: Vec<RequiredDocument>,
    /// People to ask.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub contacts: Vec<Contact>,
    /// Service types and target groups.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<Attribute>,
    /// On a tombstone: why it left the directory.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub metadata: Vec<Metadata>,
}

/// An HSDS `organization`.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Serialize)]
pub struct Organization {
    /// Id.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// Description (the name when none is recorded: HSDS requires one).
    pub description: String,
    /// E-mail address.
    pub email: Option<String>,
    /// Web site.
    pub website: Option<String>,
    /// Codice fiscale.
    pub tax_id: Option<String>,
    /// Sector and kind.
    pub legal_status: Option<String>,
    /// Sources of funding.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub funding: Vec<Funding>,
    /// Contact points.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub contacts: Vec<Contact>,
    /// Telephone numbers.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub phones: Vec<Phone>,
    /// Sites.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub locations: Vec<Location>,
    /// Registry identifiers.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub organization_identifiers: Vec<OrganizationIdentifier>,
    /// On a tombstone: why it left the directory.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub metadata: Vec<Metadata>,
}

/// An HSDS `organization_identifier`.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Serialize)]
pub struct OrganizationIdentifier {
    /// Id (derived).
    pub id: Uuid,
    /// The organization.
    pub organization_id: Uuid,
    /// org-id.guide scheme.
    pub identifier_scheme: Option<&'static str>,
    /// What the identifier is.
    pub identifier_type: &'static str,
    /// The identifier.
    pub identifier: String,
}

/// An HSDS `location`: a site of an organization.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Serialize)]
pub struct Location {
    /// Id.
    pub id: Uuid,
    /// Always `physical`: sites are places.
    pub location_type: &'static str,
    /// The organization.
    pub organization_id: Option<Uuid>,
    /// Name.
    pub name: String,
    /// Latitude (WGS 84).
    pub latitude: Option<f64>,
    /// Longitude (WGS 84).
    pub longitude: Option<f64>,
    /// ISTAT code of the municipality.
    pub external_identifier: Option<String>,
    /// `ISTAT`.
    pub external_identifier_type: Option<&'static str>,
    /// Its address.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<Address>,
    /// Accessibility.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub accessibility: Vec<Accessibility>,
    /// Telephone numbers.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub phones: Vec<Phone>,
    /// On a tombstone: why it left the directory.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub metadata: Vec<Metadata>,
}

/// An HSDS `address`.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Serialize)]
pub struct Address {
    /// Id (derived from the site).
    pub id: Uuid,
    /// The site.
    pub location_id: Uuid,
    /// Street and number.
    pub address_1: String,
    /// Municipality.
    pub city: String,
    /// Region.
    pub region: Option<String>,
    /// Province (its abbreviation).
    pub state_province: String,
    /// CAP.
    pub postal_code: String,
    /// `IT`.
    pub country: &'static str,
    /// `physical`.
    pub address_type: &'static str,
}

/// An HSDS `accessibility` of a site.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Serialize)]
pub struct Accessibility {
    /// Id.
    pub id: Uuid,
    /// The site.
    pub location_id: Uuid,
    /// Description.
    pub description: String,
    /// Details.
    pub details: Option<String>,
    /// Further information.
    pub url: Option<String>,
}

/// An HSDS `phone`.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Serialize)]
pub struct Phone {
    /// Id.
    pub id: Uuid,
    /// Owner organization.
    pub organization_id: Option<Uuid>,
    /// Owner service.
    pub service_id: Option<Uuid>,
    /// Owner site.
    pub location_id: Option<Uuid>,
    /// Owner contact.
    pub contact_id: Option<Uuid>,
    /// Number.
    pub number: String,
    /// Extension.
    pub extension: Option<i32>,
    /// RFC 6350 type: `voice`, `fax`, `text`, `cell`, ...
    pub r#type: String,
    /// Description.
    pub description: Option<String>,
}

/// An HSDS `contact`.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Serialize)]
pub struct Contact {
    /// Id.
    pub id: Uuid,
    /// Organization.
    pub organization_id: Option<Uuid>,
    /// Service (contacts of a service).
    pub service_id: Option<Uuid>,
    /// Name.
    pub name: Option<String>,
    /// Title.
    pub title: Option<String>,
    /// Department.
    pub department: Option<String>,
    /// E-mail address.
    pub email: Option<String>,
    /// Telephone numbers.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub phones: Vec<Phone>,
}

/// An HSDS `schedule`: one weekly opening.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Serialize)]
pub struct Schedule {
    /// Id.
    pub id: Uuid,
    /// Service.
    pub service_id: Option<Uuid>,
    /// Site.
    pub location_id: Option<Uuid>,
    /// `WEEKLY`.
    pub freq: &'static str,
    /// iCal day.
    pub byday: &'static str,
    /// `HH:MM`, local time (Europe/Rome).
    pub opens_at: String,
    /// `HH:MM`, local time (Europe/Rome).
    pub closes_at: String,
    /// Notes.
    pub notes: Option<String>,
}

/// An HSDS `service_area`: one municipality served.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Serialize)]
pub struct ServiceArea {
    /// Id (derived).
    pub id: Uuid,
    /// Service.
    pub service_id: Uuid,
    /// Municipality.
    pub name: String,
    /// ISTAT code.
    pub extent: String,
    /// `ISTAT`.
    pub extent_type: &'static str,
}

/// An HSDS `service_at_location`.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Serialize)]
pub struct ServiceAtLocation {
    /// Id (derived from the service and the site).
    pub id: Uuid,
    /// Service.
    pub service_id: Uuid,
    /// Site.
    pub location_id: Uuid,
    /// Opening hours of the service at the site.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub schedules: Vec<Schedule>,
    /// The site (in the list of links).
    pub location: Option<Box<Location>>,
}

/// An HSDS `language`.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Serialize)]
pub struct Language {
    /// Id (derived).
    pub id: Uuid,
    /// Service.
    pub service_id: Uuid,
    /// Name.
    pub name: String,
    /// ISO 639-1 code.
    pub code: String,
}

/// An HSDS `funding`.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Serialize)]
pub struct Funding {
    /// Id.
    pub id: Uuid,
    /// Organization funded.
    pub organization_id: Option<Uuid>,
    /// Service funded.
    pub service_id: Option<Uuid>,
    /// Source.
    pub source: String,
}

/// An HSDS `cost_option`.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Serialize)]
pub struct CostOption {
    /// Id.
    pub id: Uuid,
    /// Service.
    pub service_id: Uuid,
    /// From (date).
    pub valid_from: Option<String>,
    /// To (date).
    pub valid_to: Option<String>,
    /// Condition of this price.
    pub option: Option<String>,
    /// ISO 4217.
    pub currency: Option<String>,
    /// Amount.
    pub amount: Option<f64>,
    /// Amount, in words.
    pub amount_description: Option<String>,
}

/// An HSDS `required_document`.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Serialize)]
pub struct RequiredDocument {
    /// Id.
    pub id: Uuid,
    /// Service.
    pub service_id: Uuid,
    /// Document.
    pub document: String,
    /// Where to read about it.
    pub uri: Option<String>,
}

/// An HSDS `attribute`: a term a service is tagged with.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Serialize)]
pub struct Attribute {
    /// Id (derived).
    pub id: Uuid,
    /// The service.
    pub link_id: Uuid,
    /// The term.
    pub taxonomy_term_id: Uuid,
    /// `service_type` or `target_group`.
    pub link_type: &'static str,
    /// `service`.
    pub link_entity: &'static str,
    /// The term.
    pub taxonomy_term: Option<TaxonomyTerm>,
}

/// An HSDS `taxonomy_term`.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Serialize)]
pub struct TaxonomyTerm {
    /// Id.
    pub id: Uuid,
    /// Stable code.
    pub code: String,
    /// Name (Italian).
    pub name: String,
    /// Description (the English label when none is recorded).
    pub description: String,
    /// Broader term.
    pub parent_id: Option<Uuid>,
    /// Taxonomy code.
    pub taxonomy: &'static str,
    /// `it`.
    pub language: &'static str,
    /// Taxonomy.
    pub taxonomy_id: Uuid,
}

/// An HSDS `taxonomy`.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Serialize)]
pub struct Taxonomy {
    /// Id (derived from its code).
    pub id: Uuid,
    /// Name.
    pub name: &'static str,
    /// Description.
    pub description: &'static str,
    /// Latest change of its terms.
    pub version: Option<String>,
}

/// An HSDS `metadata` record: here, a tombstone (why an object left the public directory).
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Serialize)]
pub struct Metadata {
    /// Id (derived).
    pub id: Uuid,
    /// The object.
    pub resource_id: Uuid,
    /// Its HSDS type.
    pub resource_type: &'static str,
    /// When (RFC 3339).
    pub last_action_date: String,
    /// `deleted` or `hidden`.
    pub last_action_type: &'static str,
    /// Empty: the whole object.
    pub field_name: &'static str,
    /// Empty.
    pub previous_value: &'static str,
    /// Empty.
    pub replacement_value: &'static str,
    /// `MeLT`.
    pub updated_by: &'static str,
}

impl<T> Page<T> {
    /// The page `number` of `per_page` objects, of `total` in all.
    pub fn new(contents: Vec<T>, number: u64, per_page: u64, total: u64) -> Self {
        let total_pages = total.div_ceil(per_page.max(1));
        Self {
            total_items: total,
            total_pages,
            page_number: number,
            size: contents.len() as u64,
            first_page: number == 1,
            last_page: number >= total_pages,
            empty: total == 0,
            contents,
        }
    }
}
