//! The privacy matrix: who sees a person, checked on every field of the schema that
//! returns personal data (schema.personal.txt, checked complete against
//! schema.graphql), through every path to it, as every role of three organizations,
//! for people at every referral state — including a cancelled draft and a
//! re-registration of a known codice fiscale — on SQLite and PostgreSQL. Each record
//! carries its organization's individual plan, with an action at the receiver started
//! by the record's referral: the receiver reads that action and its goal exactly when
//! it sees the person, nothing else of the plan.
//!
//! The rule (api/src/person/access.rs): an organization's record is its own; the
//! receiver of a referral sees the shared fields of the sender's record from SENT on,
//! while the referral is open and for `receiver_access_days` after; a draft exists only
//! for its sender; nobody else sees anything, and a forbidden id reads as unknown.

use melt_tests::{
    Engine, Role, TestApp, codice_fiscale, engines, first_error_code, global_id, row_id,
    spawn_app_with,
};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use uuid::Uuid;

const SCHEMA: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../schema.graphql"));
const PERSONAL: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../schema.personal.txt"
));

/// Types whose objects carry personal data.
const PERSONAL_TYPES: [&str; 14] = [
    "IndividualPlan",
    "PlanGoal",
    "PlanAction",
    "PlanReview",
    "PlanAgreement",
    "Person",
    "PersonContacts",
    "Consent",
    "Referral",
    "ReferralEvent",
    "PersonAccess",
    "NeedsAssessment",
    "AssessedNeed",
    "RoutingDecision",
];

// ---------------------------------------------------------------------------------
// The schema, read from its SDL
// ---------------------------------------------------------------------------------

/// One field of an object or input type: name and type as written (`[String!]!`).
#[derive(Clone, Debug)]
struct Field {
    name: String,
    ty: String,
}

/// Object types, input types and enums of the SDL.
#[derive(Default)]
struct Sdl {
    objects: BTreeMap<String, Vec<Field>>,
    inputs: BTreeMap<String, Vec<Field>>,
    enums: BTreeMap<String, Vec<String>>,
}

fn base(ty: &str) -> &str {
    ty.trim_matches(|c| c == '[' || c == ']' || c == '!')
}

fn parse_sdl(text: &str) -> Sdl {
    use async_graphql::parser::types::{TypeKind, TypeSystemDefinition};
    let document = async_graphql::parser::parse_schema(text).expect("schema.graphql parses");
    let mut sdl = Sdl::default();
    for definition in document.definitions {
        let TypeSystemDefinition::Type(ty) = definition else {
            continue;
        };
        let name = ty.node.name.node.to_string();
        match ty.node.kind {
            TypeKind::Object(object) => {
                let fields = object.fields.iter().map(|f| Field {
                    name: f.node.name.node.to_string(),
                    ty: f.node.ty.node.to_string(),
                });
                sdl.objects.entry(name).or_default().extend(fields);
            }
            TypeKind::Interface(interface) => {
                let fields = interface.fields.iter().map(|f| Field {
                    name: f.node.name.node.to_string(),
                    ty: f.node.ty.node.to_string(),
                });
                sdl.objects.entry(name).or_default().extend(fields);
            }
            TypeKind::InputObject(input) => {
                let fields = input.fields.iter().map(|f| Field {
                    name: f.node.name.node.to_string(),
                    ty: f.node.ty.node.to_string(),
                });
                sdl.inputs.entry(name).or_default().extend(fields);
            }
            TypeKind::Enum(values) => {
                let values = values.values.iter().map(|v| v.node.value.node.to_string());
                sdl.enums.entry(name).or_default().extend(values);
            }
            _ => {}
        }
    }
    sdl
}

/// The entries of schema.personal.txt: (kind, `Type.field`).
fn personal_list() -> BTreeSet<(String, String)> {
    PERSONAL
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (kind, coordinate) = l.split_once(' ').unwrap_or((l, ""));
            (kind.to_owned(), coordinate.trim().to_owned())
        })
        .collect()
}

/// A type that carries personal data, directly or as a page or edge of them.
fn carries_personal_data(ty: &str) -> bool {
    let ty = ty.trim_end_matches("Connection").trim_end_matches("Edge");
    PERSONAL_TYPES.contains(&ty) || ty == "Node" || ty == "JSON"
}

#[test]
fn the_list_of_personal_fields_is_complete_against_the_schema() {
    let sdl = parse_sdl(SCHEMA);
    let listed = personal_list();
    let coordinates: HashSet<&str> = listed.iter().map(|(_, c)| c.as_str()).collect();
    // Every field of a type carrying personal data is classified.
    for ty in PERSONAL_TYPES {
        let fields = sdl
            .objects
            .get(ty)
            .unwrap_or_else(|| panic!("{ty} is not in the schema"));
        for field in fields {
            let coordinate = format!("{ty}.{}", field.name);
            assert!(
                coordinates.contains(coordinate.as_str()),
                "{coordinate} is not classified in schema.personal.txt"
            );
        }
    }
    // Every field returning such a type (or JSON) anywhere is a path.
    let paths: HashSet<&str> = listed
        .iter()
        .filter(|(k, _)| k == "path")
        .map(|(_, c)| c.as_str())
        .collect();
    for (ty, fields) in &sdl.objects {
        if ty.ends_with("Connection") || ty.ends_with("Edge") {
            continue;
        }
        for field in fields {
            let returns = base(&field.ty);
            let nested_scalar = PERSONAL_TYPES.contains(&ty.as_str()) && returns == "JSON";
            if carries_personal_data(returns) && !nested_scalar && returns != "PersonAccess" {
                let coordinate = format!("{ty}.{}", field.name);
                assert!(
                    paths.contains(coordinate.as_str()),
                    "{coordinate} returns {returns}: list it as a path in schema.personal.txt"
                );
            }
        }
    }
    // Nothing listed is missing from the schema.
    for (kind, coordinate) in &listed {
        assert!(
            ["value", "public", "path"].contains(&kind.as_str()),
            "unknown kind {kind}"
        );
        let (ty, name) = coordinate.split_once('.').unwrap_or_default();
        let exists = sdl
            .objects
            .get(ty)
            .is_some_and(|fields| fields.iter().any(|f| f.name == name));
        assert!(exists, "{coordinate} is listed but not in the schema");
    }
}

// ---------------------------------------------------------------------------------
// A network of three organizations with people at every referral state
// ---------------------------------------------------------------------------------

const SENDER: &str = "Forium";
const RECEIVER: &str = "impiego di Pisa";
const OUTSIDER: &str = "CNA Pisa";

/// Referral states the people of the sender are in; `DRAFT_CANCELLED` is a draft
/// cancelled before it was ever sent.
const STATES: [&str; 12] = [
    "DRAFT",
    "DRAFT_CANCELLED",
    "SENT",
    "RECEIVED",
    "ACCEPTED",
    "IN_PROGRESS",
    "ON_HOLD",
    "COMPLETED",
    "REJECTED",
    "FAILED",
    "CANCELLED",
    "EXPIRED",
];

fn is_final(state: &str) -> bool {
    matches!(
        state,
        "DRAFT_CANCELLED" | "COMPLETED" | "REJECTED" | "FAILED" | "CANCELLED" | "EXPIRED"
    )
}

/// How an organization sees a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sees {
    Nothing,
    Shared,
    All,
}

/// One person record with the markers of its personal values.
#[derive(Clone, Debug)]
struct Record {
    /// The referral state (or `OWN` for the outsider's re-registration).
    state: &'static str,
    owner: Uuid,
    gid: String,
    cf: String,
    given: String,
    family: String,
    email: String,
    evidence: String,
    consent_gid: Option<String>,
    referral_gid: Option<String>,
    reason: String,
    event_reason: String,
    /// The owner's needs assessment of the record, and its notes.
    assessment_gid: String,
    notes: String,
    /// The owner's individual plan of the record.
    plan: Plan,
}

/// An individual plan written on a record by its owner: a LANGUAGE goal with an action
/// at the receiver's service (started by the record's referral, if any), and an
/// EMPLOYMENT goal with an action elsewhere, a review and the agreement.
#[derive(Clone, Debug)]
struct Plan {
    gid: String,
    /// The action the receiver performs.
    action_gid: String,
    /// The action another organization performs.
    other_action_gid: String,
    /// What the receiver reads once its referral is sent: its action and its goal.
    performer_markers: [String; 2],
    /// What only the lead reads: the other goal and action, the review, the agreement.
    lead_markers: [String; 4],
}

impl Record {
    /// Values only the record's organization (or the receiver, for shared ones) sees.
    fn shared_markers(&self) -> Vec<&str> {
        vec![&self.cf, &self.given, &self.family, &self.email]
    }

    fn referral_markers(&self) -> Vec<&str> {
        vec![&self.reason, &self.event_reason]
    }
}

/// Writes `Plan` rows for the record `person` of `lead`; `referral` starts the action
/// at `receiver`'s `service`, `other` is another organization's service.
async fn write_plan(
    app: &TestApp,
    tag: &str,
    person: Uuid,
    lead: Uuid,
    referral: Option<Uuid>,
    (receiver, service): (Uuid, Uuid),
    (other_org, other): (Uuid, Uuid),
) -> Plan {
    let protection = app.protection();
    let seal = |text: &str| protection.encrypt(text).expect("encrypt");
    let now = chrono::Utc::now();
    let today = now.date_naive();
    let plan = Uuid::now_v7();
    let marker = |what: &str| format!("{what}{tag}");
    app.exec(
        "INSERT INTO individual_plan (id, person_id, lead_organization_id, status, starts_on, agreement_signed_on, agreement_evidence_enc, row_version, created_at, updated_at) VALUES (?, ?, ?, 'ACTIVE', ?, ?, ?, 1, ?, ?)",
        vec![plan.into(), person.into(), lead.into(), today.into(), today.into(),
             seal(&marker("Agreement")).into(), now.into(), now.into()],
    )
    .await;
    let (language, employment) = (Uuid::now_v7(), Uuid::now_v7());
    for (goal, code, position, text) in [
        (language, "LANGUAGE", 0, marker("GoalLanguage")),
        (employment, "EMPLOYMENT", 1, marker("GoalEmployment")),
    ] {
        app.exec(
            "INSERT INTO plan_goal (id, plan_id, goal_code, description_enc, position, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            vec![goal.into(), plan.into(), code.into(), seal(&text).into(), position.into(), now.into()],
        )
        .await;
    }
    let (action, other_action) = (Uuid::now_v7(), Uuid::now_v7());
    let referred = if referral.is_some() {
        "REFERRED"
    } else {
        "PLANNED"
    };
    for (id, goal, svc, org, text, status, link) in [
        (
            action,
            language,
            service,
            receiver,
            marker("ActionHere"),
            referred,
            referral,
        ),
        (
            other_action,
            employment,
            other,
            other_org,
            marker("ActionElsewhere"),
            "PLANNED",
            None,
        ),
    ] {
        app.exec(
            "INSERT INTO plan_action (id, plan_id, goal_id, service_id, organization_id, description_enc, status, referral_id, row_version, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)",
            vec![id.into(), plan.into(), goal.into(), svc.into(), org.into(), seal(&text).into(),
                 status.into(), link.into(), now.into(), now.into()],
        )
        .await;
    }
    app.exec(
        "INSERT INTO plan_review (id, plan_id, reviewed_on, notes_enc, created_at) VALUES (?, ?, ?, ?, ?)",
        vec![Uuid::now_v7().into(), plan.into(), today.into(), seal(&marker("Review")).into(), now.into()],
    )
    .await;
    Plan {
        gid: global_id("IndividualPlan", plan),
        action_gid: global_id("PlanAction", action),
        other_action_gid: global_id("PlanAction", other_action),
        performer_markers: [marker("ActionHere"), marker("GoalLanguage")],
        lead_markers: [
            marker("ActionElsewhere"),
            marker("GoalEmployment"),
            marker("Review"),
            marker("Agreement"),
        ],
    }
}

struct Network {
    sender: Uuid,
    receiver: Uuid,
    outsider: Uuid,
    records: Vec<Record>,
    /// Whether a receiver still reads ended referrals (the access period).
    window_open: bool,
}

impl Network {
    fn sees(&self, org: Uuid, record: &Record) -> Sees {
        if org == record.owner {
            return Sees::All;
        }
        let sent = !matches!(record.state, "DRAFT" | "DRAFT_CANCELLED" | "OWN");
        let readable = !is_final(record.state) || self.window_open;
        if org == self.receiver && record.owner == self.sender && sent && readable {
            Sees::Shared
        } else {
            Sees::Nothing
        }
    }

    /// True when `org` reads the referral of `record`.
    fn reads_referral(&self, org: Uuid, record: &Record) -> bool {
        record.referral_gid.is_some() && self.sees(org, record) != Sees::Nothing
    }
}

const REGISTER: &str = "mutation($input: RegisterPersonInput!) { registerPerson(input: $input) {
  alreadyRegistered person { id givenName familyName codiceFiscale } userErrors { code } } }";

const CONSENT: &str = "mutation($input: RecordConsentInput!) { recordConsent(input: $input) {
  consent { id } userErrors { code message } } }";

const ASSESS: &str =
    "mutation($input: RecordNeedsAssessmentInput!) { recordNeedsAssessment(input: $input) {
  needsAssessment { id notes } userErrors { code message } } }";

/// Records a needs assessment of `person` as `org`; returns its ID and notes marker.
async fn assess(app: &TestApp, org: Uuid, tag: &str, person: &str) -> (String, String) {
    let token = app.token(Some(org), &[Role::Operator]);
    let notes = format!("Notes{tag}");
    let input = json!({
        "person": person,
        "needs": [{ "need": "EMPLOYMENT", "severity": "HIGH" }, { "need": "HOUSING", "severity": "URGENT" }],
        "targetGroups": ["FOREIGN_NATIONALS"],
        "notes": notes,
    });
    let (_, body) = app
        .query_as(&token, ASSESS, json!({ "input": input }))
        .await;
    let assessment = &body["data"]["recordNeedsAssessment"]["needsAssessment"];
    assert_eq!(assessment["notes"], json!(notes), "{body}");
    let gid = assessment["id"].as_str().unwrap_or_default().to_owned();
    (gid, notes)
}

async fn register(app: &TestApp, org: Uuid, tag: &str, cf: &str) -> Value {
    let token = app.token(Some(org), &[Role::Operator]);
    let input = json!({
        "organization": global_id("Organization", org),
        "codiceFiscale": cf,
        "givenName": format!("Given{tag}"),
        "familyName": format!("Family{tag}"),
        "birthDate": "1985-12-10",
        "gender": "FEMALE",
        "citizenship": "MA",
        "residenceMunicipalityIstatCode": "050026",
        "languages": ["ar", "fr"],
        "contacts": { "email": format!("mail{tag}@example.it"), "phone": "+39 050 000000" },
    });
    let (_, body) = app
        .query_as(&token, REGISTER, json!({ "input": input }))
        .await;
    assert_eq!(
        body["data"]["registerPerson"]["userErrors"],
        json!([]),
        "{body}"
    );
    body["data"]["registerPerson"].clone()
}

/// Builds the network: the sender's people at every state, referred to the receiver,
/// and the outsider re-registering the codice fiscale of the SENT one.
async fn build(app: &TestApp, window_open: bool) -> Network {
    let sender = app.organization_id(SENDER).await;
    let receiver = app.organization_id(RECEIVER).await;
    let outsider = app.organization_id(OUTSIDER).await;
    let protection = app.protection();
    let service: Uuid = {
        let backend = app.db.get_database_backend();
        let sql = if backend == sea_orm::DatabaseBackend::Postgres {
            "SELECT id FROM service WHERE organization_id = $1 ORDER BY id LIMIT 1"
        } else {
            "SELECT id FROM service WHERE organization_id = ? ORDER BY id LIMIT 1"
        };
        use sea_orm::ConnectionTrait;
        app.db
            .query_one_raw(sea_orm::Statement::from_sql_and_values(
                backend,
                sql,
                [receiver.into()],
            ))
            .await
            .expect("service")
            .expect("the receiver has a service")
            .try_get("", "id")
            .expect("id")
    };
    let (other_org, other_service): (Uuid, Uuid) = {
        let backend = app.db.get_database_backend();
        let sql = if backend == sea_orm::DatabaseBackend::Postgres {
            "SELECT id, organization_id FROM service WHERE organization_id <> $1 ORDER BY id LIMIT 1"
        } else {
            "SELECT id, organization_id FROM service WHERE organization_id <> ? ORDER BY id LIMIT 1"
        };
        use sea_orm::ConnectionTrait;
        let row = app
            .db
            .query_one_raw(sea_orm::Statement::from_sql_and_values(
                backend,
                sql,
                [receiver.into()],
            ))
            .await
            .expect("service")
            .expect("another organization has a service");
        (
            row.try_get("", "organization_id").expect("organization"),
            row.try_get("", "id").expect("id"),
        )
    };
    let sender_token = app.token(Some(sender), &[Role::Operator]);
    let now = chrono::Utc::now();
    let mut records = Vec::new();
    for (i, state) in STATES.iter().enumerate() {
        let tag = format!("S{i:02}");
        let cf = codice_fiscale(&format!("RSSMRA85T10A{i:03}"));
        let payload = register(app, sender, &tag, &cf).await;
        let gid = payload["person"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let evidence = format!("Evidence{tag}");
        let (_, body) = app
            .query_as(
                &sender_token,
                CONSENT,
                json!({ "input": {
                    "person": gid,
                    "purpose": "referral",
                    "legalBasis": "CONSENT",
                    "recipients": [global_id("Organization", receiver)],
                    "grantedAt": "2026-01-01T00:00:00Z",
                    "evidenceKind": "DOCUMENT",
                    "evidence": evidence,
                } }),
            )
            .await;
        let consent_gid = body["data"]["recordConsent"]["consent"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("consent: {body}"))
            .to_owned();
        let (assessment_gid, notes) = assess(app, sender, &tag, &gid).await;
        let referral = Uuid::now_v7();
        let reason = format!("Reason{tag}");
        let event_reason = format!("EventReason{tag}");
        let stored_state = if *state == "DRAFT_CANCELLED" {
            "CANCELLED"
        } else {
            state
        };
        let sent = !matches!(*state, "DRAFT" | "DRAFT_CANCELLED");
        let ended = is_final(state);
        let until = now
            + if window_open {
                chrono::Duration::days(90)
            } else {
                chrono::Duration::seconds(-1)
            };
        app.exec(
            "INSERT INTO referral (id, person_id, sender_organization_id, sender_operator, receiver_service_id, receiver_organization_id, needs, reason, priority, channel, status, row_version, created_at, updated_at, sent_at, receiver_access_until, consent_id) VALUES (?, ?, ?, 'op', ?, ?, 'EMPLOYMENT', ?, 'NORMAL', 'OPERATOR', ?, 1, ?, ?, ?, ?, ?)",
            vec![
                referral.into(),
                row_id(&gid).into(),
                sender.into(),
                service.into(),
                receiver.into(),
                protection.encrypt(&reason).expect("encrypt").into(),
                stored_state.into(),
                now.into(),
                now.into(),
                sent.then_some(now).into(),
                ended.then_some(until).into(),
                row_id(&consent_gid).into(),
            ],
        )
        .await;
        app.exec(
            "INSERT INTO referral_event (id, referral_id, occurred_at, actor_subject, actor_kind, actor_organization_id, action, from_status, to_status, reason_code, reason_text) VALUES (?, ?, ?, 'op', 'USER', ?, 'CREATE', NULL, ?, 'CODE', ?)",
            vec![
                Uuid::now_v7().into(),
                referral.into(),
                now.into(),
                sender.into(),
                stored_state.into(),
                protection.encrypt(&event_reason).expect("encrypt").into(),
            ],
        )
        .await;
        let plan = write_plan(
            app,
            &tag,
            row_id(&gid),
            sender,
            Some(referral),
            (receiver, service),
            (other_org, other_service),
        )
        .await;
        records.push(Record {
            plan,
            state,
            owner: sender,
            gid,
            cf,
            given: format!("Given{tag}"),
            family: format!("Family{tag}"),
            email: format!("mail{tag}@example.it"),
            evidence,
            consent_gid: Some(consent_gid),
            referral_gid: Some(global_id("Referral", referral)),
            reason,
            event_reason,
            assessment_gid,
            notes,
        });
    }
    // The outsider re-registers the SENT person's codice fiscale: a record of its own,
    // showing nothing of the sender's.
    let known = records[2].clone();
    let payload = register(app, outsider, "OWN", &known.cf).await;
    assert_eq!(payload["alreadyRegistered"], false, "{payload}");
    assert_ne!(payload["person"]["id"], json!(known.gid));
    assert_eq!(payload["person"]["givenName"], "GivenOWN", "{payload}");
    for marker in [&known.given, &known.family, &known.email] {
        assert!(!payload.to_string().contains(marker.as_str()), "{payload}");
    }
    let own_gid = payload["person"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let (assessment_gid, notes) = assess(app, outsider, "OWN", &own_gid).await;
    let plan = write_plan(
        app,
        "OWN",
        row_id(&own_gid),
        outsider,
        None,
        (receiver, service),
        (other_org, other_service),
    )
    .await;
    records.push(Record {
        plan,
        state: "OWN",
        owner: outsider,
        gid: own_gid,
        cf: known.cf.clone(),
        given: "GivenOWN".to_owned(),
        family: "FamilyOWN".to_owned(),
        email: "mailOWN@example.it".to_owned(),
        evidence: String::new(),
        consent_gid: None,
        referral_gid: None,
        reason: String::new(),
        event_reason: String::new(),
        assessment_gid,
        notes,
    });
    // The sender registering again gets its own record back.
    let again = register(app, sender, "AGAIN", &known.cf).await;
    assert_eq!(again["person"]["id"], json!(known.gid), "{again}");
    assert_eq!(again["alreadyRegistered"], true);
    Network {
        sender,
        receiver,
        outsider,
        records,
        window_open,
    }
}

// ---------------------------------------------------------------------------------
// Probes
// ---------------------------------------------------------------------------------

/// A caller: organization (if any) and role.
struct Caller {
    label: String,
    org: Option<Uuid>,
    token: Option<String>,
    /// May work on people at all (OPERATOR or ORG_ADMIN of an organization).
    works_on_people: bool,
}

const PERSON_FIELDS: &str = "id codiceFiscale givenName familyName contacts { email phone address }
  birthDate gender citizenship residenceMunicipality { id } languages { code } registeredBy { id }
  consents { id purpose evidence }
  needsAssessments { id notes targetGroups needs { need severity } }";

const ASSESSMENT_FIELDS: &str =
    "id notes targetGroups needs { need severity } person { id givenName }
  routingDecisions { need reason outcome considered { chosen } referrals { id reason } }";

const REFERRAL_FIELDS: &str = "id reason person { id codiceFiscale givenName familyName
  contacts { email phone address } birthDate gender citizenship consents { id purpose evidence }
  needsAssessments { id notes targetGroups needs { need severity } } }
  events { reasonText } reroutedFrom { id } reroutedTo { id } consent { id purpose evidence }";

async fn ask(app: &TestApp, caller: &Caller, query: &str, variables: Value) -> Value {
    match &caller.token {
        Some(token) => app.query_as(token, query, variables).await.1,
        None => app.query(query, variables).await,
    }
}

/// Asserts that `body` holds no marker of a value `caller` may not read.
fn no_leak(net: &Network, caller: &Caller, body: &Value, what: &str) {
    let text = body.to_string();
    for record in &net.records {
        let sees = caller
            .org
            .filter(|_| caller.works_on_people)
            .map_or(Sees::Nothing, |org| net.sees(org, record));
        let mut forbidden: Vec<&str> = Vec::new();
        if sees == Sees::Nothing {
            forbidden.extend(record.shared_markers());
            forbidden.extend(record.referral_markers());
        }
        if sees != Sees::All && !record.evidence.is_empty() {
            forbidden.push(&record.evidence);
        }
        if sees != Sees::All {
            forbidden.push(&record.notes);
            forbidden.extend(record.plan.lead_markers.iter().map(String::as_str));
        }
        if sees == Sees::Nothing {
            forbidden.extend(record.plan.performer_markers.iter().map(String::as_str));
        }
        for marker in forbidden.into_iter().filter(|m| !m.is_empty()) {
            // The codice fiscale of the re-registered person is both records' value.
            if marker == record.cf
                && net.records.iter().any(|r| {
                    r.cf == record.cf
                        && caller.org.is_some_and(|o| {
                            caller.works_on_people && net.sees(o, r) != Sees::Nothing
                        })
                })
            {
                continue;
            }
            assert!(
                !text.contains(marker),
                "{}: {what} leaks {marker} of the {} record: {text}",
                caller.label,
                record.state
            );
        }
    }
}

/// Checks one person object as read by `caller`.
fn check_person(net: &Network, caller: &Caller, record: &Record, person: &Value, what: &str) {
    let org = caller.org.unwrap_or_default();
    let label = &caller.label;
    match net.sees(org, record) {
        Sees::Nothing => assert!(person.is_null(), "{label}: {what} shows {person}"),
        Sees::Shared => {
            assert_eq!(person["givenName"], json!(record.given), "{label}: {what}");
            assert_eq!(person["codiceFiscale"], json!(record.cf), "{label}: {what}");
            assert_eq!(
                person["contacts"]["email"],
                json!(record.email),
                "{label}: {what}"
            );
            assert_eq!(person["gender"], Value::Null, "{label}: {what}");
            assert_eq!(person["citizenship"], Value::Null, "{label}: {what}");
            assert_eq!(person["consents"], json!([]), "{label}: {what}");
            assert_eq!(person["needsAssessments"], json!([]), "{label}: {what}");
        }
        Sees::All => {
            assert_eq!(person["givenName"], json!(record.given), "{label}: {what}");
            let assessment = &person["needsAssessments"][0];
            assert_eq!(assessment["notes"], json!(record.notes), "{label}: {what}");
            assert_eq!(
                assessment["needs"],
                json!([{ "need": "HOUSING", "severity": "URGENT" }, { "need": "EMPLOYMENT", "severity": "HIGH" }]),
                "{label}: {what}, most severe first"
            );
            assert_eq!(person["gender"], "FEMALE", "{label}: {what}");
            assert_eq!(person["citizenship"], "MA", "{label}: {what}");
            if !record.evidence.is_empty() {
                assert_eq!(
                    person["consents"][0]["evidence"],
                    json!(record.evidence),
                    "{label}: {what}"
                );
            }
        }
    }
}

/// Marks the coordinates a probe exercised.
fn cover(covered: &mut BTreeSet<String>, coordinates: &[&str]) {
    covered.extend(coordinates.iter().map(|c| (*c).to_owned()));
}

const PERSON_VALUES: [&str; 18] = [
    "Person.needsAssessments",
    "NeedsAssessment.notes",
    "NeedsAssessment.targetGroups",
    "NeedsAssessment.needs",
    "AssessedNeed.need",
    "Person.codiceFiscale",
    "Person.givenName",
    "Person.familyName",
    "Person.contacts",
    "Person.birthDate",
    "Person.gender",
    "Person.citizenship",
    "Person.residenceMunicipality",
    "Person.languages",
    "Person.consents",
    "PersonContacts.email",
    "PersonContacts.phone",
    "PersonContacts.address",
];

async fn read_probes(
    app: &TestApp,
    net: &Network,
    caller: &Caller,
    covered: &mut BTreeSet<String>,
) {
    let label = &caller.label;
    // Lists.
    let query = format!("{{ persons(first: 100) {{ totalCount nodes {{ {PERSON_FIELDS} }} }} }}");
    let body = ask(app, caller, &query, json!({})).await;
    cover(
        covered,
        &["Query.persons", "Person.consents", "Person.contacts"],
    );
    cover(covered, &PERSON_VALUES);
    cover(covered, &["Consent.purpose", "Consent.evidence"]);
    no_leak(net, caller, &body, "persons");
    if caller.works_on_people {
        let nodes = body["data"]["persons"]["nodes"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let listed: BTreeSet<String> = nodes
            .iter()
            .filter_map(|n| n["id"].as_str().map(str::to_owned))
            .collect();
        let expected: BTreeSet<String> = net
            .records
            .iter()
            .filter(|r| net.sees(caller.org.unwrap_or_default(), r) != Sees::Nothing)
            .map(|r| r.gid.clone())
            .collect();
        assert_eq!(listed, expected, "{label}: persons lists {body}");
        for node in &nodes {
            let record = net
                .records
                .iter()
                .find(|r| Some(r.gid.as_str()) == node["id"].as_str())
                .unwrap_or_else(|| panic!("unknown person {node}"));
            check_person(net, caller, record, node, "persons");
        }
    } else {
        assert!(
            ["FORBIDDEN", "UNAUTHENTICATED"].contains(&first_error_code(&body).as_str()),
            "{label}: {body}"
        );
    }

    // node and nodes, for every person, consent and referral id.
    let node_query = format!(
        "query($id: ID!) {{ node(id: $id) {{ ... on Person {{ {PERSON_FIELDS} }}
           ... on Consent {{ id purpose evidence }} ... on Referral {{ {REFERRAL_FIELDS} }}
           ... on NeedsAssessment {{ {ASSESSMENT_FIELDS} }} }} }}"
    );
    cover(covered, &["Query.node", "Query.nodes"]);
    let mut ids = Vec::new();
    for record in &net.records {
        let body = ask(app, caller, &node_query, json!({ "id": record.gid })).await;
        no_leak(net, caller, &body, "node(Person)");
        let person = if caller.works_on_people {
            body["data"]["node"].clone()
        } else {
            assert!(body["data"]["node"].is_null(), "{label}: {body}");
            Value::Null
        };
        if caller.works_on_people {
            check_person(net, caller, record, &person, "node(Person)");
        }
        ids.push(record.gid.clone());
        // The assessment: its organization alone reads it.
        let body = ask(
            app,
            caller,
            &node_query,
            json!({ "id": record.assessment_gid }),
        )
        .await;
        no_leak(net, caller, &body, "node(NeedsAssessment)");
        let owner = caller.works_on_people && caller.org == Some(record.owner);
        let node = &body["data"]["node"];
        if owner {
            assert_eq!(node["notes"], json!(record.notes), "{label}: {body}");
            assert_eq!(
                node["person"]["givenName"],
                json!(record.given),
                "{label}: {body}"
            );
        } else {
            assert!(node.is_null(), "{label}: node(NeedsAssessment) {body}");
        }
        cover(
            covered,
            &[
                "NeedsAssessment.person",
                "NeedsAssessment.routingDecisions",
                "RoutingDecision.need",
                "RoutingDecision.reason",
                "RoutingDecision.considered",
                "RoutingDecision.referrals",
            ],
        );
        ids.push(record.assessment_gid.clone());
        if let Some(consent) = &record.consent_gid {
            let body = ask(app, caller, &node_query, json!({ "id": consent })).await;
            no_leak(net, caller, &body, "node(Consent)");
            let owner = caller.works_on_people && caller.org == Some(record.owner);
            assert_eq!(
                body["data"]["node"]["evidence"].as_str(),
                owner.then_some(record.evidence.as_str()),
                "{label}: node(Consent) {body}"
            );
            ids.push(consent.clone());
        }
        if let Some(referral) = &record.referral_gid {
            let body = ask(app, caller, &node_query, json!({ "id": referral })).await;
            no_leak(net, caller, &body, "node(Referral)");
            let reads =
                caller.works_on_people && caller.org.is_some_and(|o| net.reads_referral(o, record));
            let node = &body["data"]["node"];
            if reads {
                assert_eq!(node["reason"], json!(record.reason), "{label}: {body}");
                assert_eq!(
                    node["events"][0]["reasonText"],
                    json!(record.event_reason),
                    "{label}: {body}"
                );
                check_person(
                    net,
                    caller,
                    record,
                    &node["person"],
                    &format!("node(Referral).person {body}"),
                );
            } else {
                assert!(node.is_null(), "{label}: node(Referral) {body}");
            }
            ids.push(referral.clone());
        }
    }
    cover(
        covered,
        &[
            "Referral.person",
            "Referral.consent",
            "Referral.events",
            "Referral.reroutedFrom",
            "Referral.reroutedTo",
            "Referral.reason",
            "ReferralEvent.reasonText",
        ],
    );
    let nodes_query = format!(
        "query($ids: [ID!]!) {{ nodes(ids: $ids) {{ ... on Person {{ {PERSON_FIELDS} }}
           ... on Consent {{ id evidence }} ... on Referral {{ {REFERRAL_FIELDS} }}
           ... on NeedsAssessment {{ {ASSESSMENT_FIELDS} }} }} }}"
    );
    let body = ask(app, caller, &nodes_query, json!({ "ids": ids })).await;
    no_leak(net, caller, &body, "nodes");
    let visible = body["data"]["nodes"]
        .as_array()
        .map_or(0, |n| n.iter().filter(|v| !v.is_null()).count());
    let expected = if caller.works_on_people {
        let org = caller.org.unwrap_or_default();
        net.records
            .iter()
            .map(|r| {
                usize::from(net.sees(org, r) != Sees::Nothing)
                    + usize::from(r.consent_gid.is_some() && r.owner == org)
                    + usize::from(r.owner == org)
                    + usize::from(net.reads_referral(org, r))
            })
            .sum()
    } else {
        0
    };
    assert_eq!(visible, expected, "{label}: nodes {body}");

    // Inbox and outbox with nested people.
    for direction in ["INBOX", "OUTBOX"] {
        let query = format!(
            "{{ referrals(filter: {{ direction: {direction} }}, first: 100) {{ nodes {{ {REFERRAL_FIELDS} }} }} }}"
        );
        let body = ask(app, caller, &query, json!({})).await;
        no_leak(net, caller, &body, direction);
        if !caller.works_on_people {
            continue;
        }
        let org = caller.org.unwrap_or_default();
        let listed: BTreeSet<String> = body["data"]["referrals"]["nodes"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .filter_map(|n| n["id"].as_str().map(str::to_owned))
            .collect();
        let expected: BTreeSet<String> = net
            .records
            .iter()
            .filter(|r| {
                let side = if direction == "INBOX" {
                    net.receiver
                } else {
                    net.sender
                };
                org == side && net.reads_referral(org, r)
            })
            .filter_map(|r| r.referral_gid.clone())
            .collect();
        assert_eq!(listed, expected, "{label}: {direction} {body}");
        // The consent a referral relies on is the record organization's alone.
        for node in body["data"]["referrals"]["nodes"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let Some(record) = net
                .records
                .iter()
                .find(|r| r.referral_gid.as_deref() == node["id"].as_str())
            else {
                continue;
            };
            if record.owner != org {
                assert!(node["consent"].is_null(), "{label}: {direction} {node}");
            } else if !record.evidence.is_empty() {
                assert_eq!(
                    node["consent"]["evidence"],
                    json!(record.evidence),
                    "{label}: {direction} {node}"
                );
            }
        }
    }
    cover(covered, &["Query.referrals"]);

    // Exports.
    let export = "query($id: ID!) { exportPersonData(personId: $id) }";
    for record in &net.records {
        let body = ask(app, caller, export, json!({ "id": record.gid })).await;
        no_leak(net, caller, &body, "exportPersonData");
        let org = caller.org.unwrap_or_default();
        let sees = if caller.works_on_people {
            net.sees(org, record)
        } else {
            Sees::Nothing
        };
        let data = &body["data"]["exportPersonData"];
        match sees {
            Sees::Nothing => {
                let code = first_error_code(&body);
                let expected = if caller.works_on_people {
                    "NOT_FOUND"
                } else if caller.token.is_none() {
                    "UNAUTHENTICATED"
                } else {
                    "FORBIDDEN"
                };
                assert_eq!(code, expected, "{label}: export {body}");
            }
            Sees::Shared => {
                assert_eq!(data["person"]["givenName"], json!(record.given), "{label}");
                assert!(data["person"]["gender"].is_null(), "{label}: {body}");
                assert_eq!(data["consents"], json!([]), "{label}: {body}");
                assert_eq!(
                    data["referrals"][0]["reason"],
                    json!(record.reason),
                    "{label}"
                );
            }
            Sees::All => {
                assert_eq!(data["person"]["gender"], "FEMALE", "{label}: {body}");
            }
        }
    }
    cover(covered, &["Query.exportPersonData"]);
    plan_probes(app, net, caller, covered).await;
}

const PLAN_FIELDS: &str = "id personId viewerRole status closingNote
  goals { code goal { code } description targetOn }
  actions { id description goal { code description } plan { id goals { description } } }
  reviews { notes reviewedOn nextReviewOn } agreement { signedOn evidence }
  progress { actions done }";

const PLAN_ACTION_FIELDS: &str = "id description goal { code description targetOn goal { code } }
  plan { id viewerRole goals { description } actions { description } reviews { notes } agreement { evidence } }";

/// Reads every plan and action through `node`, `nodes` and `individualPlans`: the lead
/// reads all, the receiver its action and goal once its referral is sent, nobody else
/// anything.
async fn plan_probes(
    app: &TestApp,
    net: &Network,
    caller: &Caller,
    covered: &mut BTreeSet<String>,
) {
    let label = &caller.label;
    let node_query = format!(
        "query($id: ID!) {{ node(id: $id) {{ ... on IndividualPlan {{ {PLAN_FIELDS} }}
           ... on PlanAction {{ {PLAN_ACTION_FIELDS} }} }} }}"
    );
    let list_query = format!(
        "query($person: ID, $referral: ID) {{ individualPlans(person: $person, referral: $referral) {{ {PLAN_FIELDS} }} }}"
    );
    for record in &net.records {
        let org = caller.org.unwrap_or_default();
        let sees = if caller.works_on_people {
            net.sees(org, record)
        } else {
            Sees::Nothing
        };
        let plan = &record.plan;
        let body = ask(app, caller, &node_query, json!({ "id": plan.gid })).await;
        no_leak(net, caller, &body, "node(IndividualPlan)");
        let node = &body["data"]["node"];
        let [here, language] = &plan.performer_markers;
        let [elsewhere, employment, review, agreement] = &plan.lead_markers;
        match sees {
            Sees::Nothing => assert!(node.is_null(), "{label}: node(IndividualPlan) {body}"),
            Sees::Shared => {
                assert_eq!(node["viewerRole"], "PARTICIPANT", "{label}: {body}");
                assert_eq!(
                    node["goals"],
                    json!([{ "code": "LANGUAGE", "goal": { "code": "LANGUAGE" },
                    "description": language, "targetOn": null }]),
                    "{label}: {body}"
                );
                assert_eq!(
                    node["actions"].as_array().map(Vec::len),
                    Some(1),
                    "{label}: {body}"
                );
                assert_eq!(
                    node["actions"][0]["description"],
                    json!(here),
                    "{label}: {body}"
                );
                for lead_only in ["reviews", "agreement", "progress", "closingNote"] {
                    assert!(node[lead_only].is_null(), "{label}: {lead_only} {body}");
                }
            }
            Sees::All => {
                assert_eq!(node["viewerRole"], "LEAD", "{label}: {body}");
                assert_eq!(
                    node["goals"][1]["description"],
                    json!(employment),
                    "{label}: {body}"
                );
                assert_eq!(
                    node["actions"][1]["description"],
                    json!(elsewhere),
                    "{label}: {body}"
                );
                assert_eq!(
                    node["reviews"][0]["notes"],
                    json!(review),
                    "{label}: {body}"
                );
                assert_eq!(
                    node["agreement"]["evidence"],
                    json!(agreement),
                    "{label}: {body}"
                );
                assert_eq!(node["progress"]["actions"], 2, "{label}: {body}");
            }
        }
        for (action, performed) in [(&plan.action_gid, true), (&plan.other_action_gid, false)] {
            let body = ask(app, caller, &node_query, json!({ "id": action })).await;
            no_leak(net, caller, &body, "node(PlanAction)");
            let node = &body["data"]["node"];
            let expected = match (sees, performed) {
                (Sees::All, true) => Some(here),
                (Sees::All, false) => Some(elsewhere),
                (Sees::Shared, true) => Some(here),
                _ => None,
            };
            assert_eq!(
                node["description"].as_str(),
                expected.map(String::as_str),
                "{label}: node(PlanAction) {body}"
            );
        }
        let mut lists = vec![json!({ "person": record.gid })];
        if let Some(referral) = &record.referral_gid {
            lists.push(json!({ "referral": referral }));
        }
        for variables in lists {
            let body = ask(app, caller, &list_query, variables.clone()).await;
            no_leak(net, caller, &body, "individualPlans");
            if !caller.works_on_people {
                assert!(
                    ["FORBIDDEN", "UNAUTHENTICATED"].contains(&first_error_code(&body).as_str()),
                    "{label}: {body}"
                );
                continue;
            }
            let listed: Vec<&str> = body["data"]["individualPlans"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| p["id"].as_str())
                .collect();
            let expected: Vec<&str> = if sees == Sees::Nothing {
                vec![]
            } else {
                vec![plan.gid.as_str()]
            };
            assert_eq!(
                listed, expected,
                "{label}: individualPlans({variables}) {body}"
            );
        }
    }
    let ids: Vec<&str> = net
        .records
        .iter()
        .flat_map(|r| {
            [
                r.plan.gid.as_str(),
                r.plan.action_gid.as_str(),
                r.plan.other_action_gid.as_str(),
            ]
        })
        .collect();
    let nodes_query = format!(
        "query($ids: [ID!]!) {{ nodes(ids: $ids) {{ ... on IndividualPlan {{ {PLAN_FIELDS} }}
           ... on PlanAction {{ {PLAN_ACTION_FIELDS} }} }} }}"
    );
    let body = ask(app, caller, &nodes_query, json!({ "ids": ids })).await;
    no_leak(net, caller, &body, "nodes(plans)");
    let visible = body["data"]["nodes"]
        .as_array()
        .map_or(0, |n| n.iter().filter(|v| !v.is_null()).count());
    let expected: usize = if caller.works_on_people {
        let org = caller.org.unwrap_or_default();
        net.records
            .iter()
            .map(|r| match net.sees(org, r) {
                Sees::All => 3,
                Sees::Shared => 2,
                Sees::Nothing => 0,
            })
            .sum()
    } else {
        0
    };
    assert_eq!(visible, expected, "{label}: nodes(plans) {body}");
    cover(
        covered,
        &[
            "Query.individualPlans",
            "IndividualPlan.closingNote",
            "IndividualPlan.goals",
            "IndividualPlan.actions",
            "IndividualPlan.reviews",
            "IndividualPlan.agreement",
            "IndividualPlan.progress",
            "PlanGoal.code",
            "PlanGoal.goal",
            "PlanGoal.description",
            "PlanGoal.targetOn",
            "PlanAction.description",
            "PlanAction.goal",
            "PlanAction.plan",
            "PlanReview.notes",
            "PlanReview.reviewedOn",
            "PlanReview.nextReviewOn",
            "PlanAgreement.signedOn",
            "PlanAgreement.evidence",
        ],
    );
}

/// Reads of the audit and access logs: no personal values; an organization's auditor
/// sees its own reads and the reads of its own records only.
async fn log_probes(app: &TestApp, net: &Network, covered: &mut BTreeSet<String>) {
    let everyone = Caller {
        label: "log reader".into(),
        org: None,
        token: None,
        works_on_people: false,
    };
    for token in [
        app.token(None, &[Role::RegionalAdmin]),
        app.token(None, &[Role::Auditor]),
    ] {
        let query = "{ auditLog(first: 100) { nodes { operation objectType before after } } }";
        let (_, body) = app.query_as(&token, query, json!({})).await;
        assert!(body["errors"].is_null(), "{body}");
        no_leak(net, &everyone, &body, "auditLog");
        for record in &net.records {
            assert!(
                !body.to_string().contains("1985-12-10"),
                "birth date in the audit log"
            );
            assert!(!body.to_string().contains(&record.evidence) || record.evidence.is_empty());
        }
    }
    cover(covered, &["AuditEvent.before", "AuditEvent.after"]);
    for org in [net.sender, net.receiver, net.outsider] {
        let token = app.token(Some(org), &[Role::Auditor]);
        let query =
            "{ personAccessLog(first: 100) { nodes { actorOrganizationId personId fields } } }";
        let (_, body) = app.query_as(&token, query, json!({})).await;
        no_leak(net, &everyone, &body, "personAccessLog");
        let own_records: HashSet<String> = net
            .records
            .iter()
            .filter(|r| r.owner == org)
            .map(|r| r.gid.clone())
            .collect();
        let entries = body["data"]["personAccessLog"]["nodes"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert!(!entries.is_empty() || org == net.outsider, "{body}");
        for entry in entries {
            let own_read = entry["actorOrganizationId"] == json!(global_id("Organization", org));
            let own_record = entry["personId"]
                .as_str()
                .is_some_and(|p| own_records.contains(p));
            assert!(own_read || own_record, "auditor of {org} sees {entry}");
        }
    }
    cover(covered, &["Query.personAccessLog"]);
}

/// Every mutation whose payload returns personal data, generated from the schema, as
/// callers who may not see the target: refused as unknown, nothing in the payload.
async fn mutation_probes(
    app: &TestApp,
    net: &Network,
    callers: &[Caller],
    covered: &mut BTreeSet<String>,
) {
    let sdl = parse_sdl(SCHEMA);
    let listed = personal_list();
    let mutation_fields = sdl.objects.get("Mutation").cloned().unwrap_or_default();
    for (kind, coordinate) in &listed {
        let (payload, field) = coordinate.split_once('.').unwrap_or_default();
        // The data subject's export has a probe of its own; registration answers with
        // the caller's own record, checked when the network is built.
        if kind != "path"
            || !payload.ends_with("Payload")
            || ["ExportDataSubjectPayload", "RegisterPersonPayload"].contains(&payload)
        {
            continue;
        }
        let Some(mutation) = mutation_fields.iter().find(|m| base(&m.ty) == payload) else {
            panic!("no mutation returns {payload}");
        };
        let input_type = format!("{}Input", {
            let mut name = payload.trim_end_matches("Payload").to_owned();
            if let Some(first) = name.get_mut(0..1) {
                first.make_ascii_uppercase();
            }
            name
        });
        let inputs = sdl
            .inputs
            .get(&input_type)
            .unwrap_or_else(|| panic!("no input {input_type}"));
        let selection = match base(
            &sdl.objects[payload]
                .iter()
                .find(|f| f.name == field)
                .map(|f| f.ty.clone())
                .unwrap_or_default(),
        ) {
            "Referral" => format!("{{ {REFERRAL_FIELDS} }}"),
            "Person" => format!("{{ {PERSON_FIELDS} }}"),
            "NeedsAssessment" => format!("{{ {ASSESSMENT_FIELDS} }}"),
            "IndividualPlan" => format!("{{ {PLAN_FIELDS} }}"),
            "PlanAction" => format!("{{ {PLAN_ACTION_FIELDS} }}"),
            _ => "{ id purpose evidence }".to_owned(),
        };
        let query = format!(
            "mutation($input: {input_type}!) {{ {}(input: $input) {{ {field} {selection} userErrors {{ code }} }} }}",
            mutation.name
        );
        for caller in callers.iter().filter(|c| c.works_on_people) {
            let org = caller.org.unwrap_or_default();
            for record in &net.records {
                // A target this caller may not see: the person, its consent, its referral.
                let target = match base(
                    &sdl.objects[payload]
                        .iter()
                        .find(|f| f.name == field)
                        .map(|f| f.ty.clone())
                        .unwrap_or_default(),
                ) {
                    "Referral" if !net.reads_referral(org, record) => record.referral_gid.clone(),
                    "Consent" if record.owner != org => record.consent_gid.clone(),
                    // Recording names the person (a receiver sees it and is refused
                    // as not its record); revising names the assessment.
                    "NeedsAssessment" if payload.starts_with("Record") => {
                        (net.sees(org, record) == Sees::Nothing).then(|| record.gid.clone())
                    }
                    "NeedsAssessment" if record.owner != org => Some(record.assessment_gid.clone()),
                    "Person" if net.sees(org, record) == Sees::Nothing => Some(record.gid.clone()),
                    // Creating names the person (refused unless the record is the
                    // caller's own); the other changes name the plan or the action.
                    "IndividualPlan" if payload.starts_with("Create") => {
                        (record.owner != org).then(|| record.plan.gid.clone())
                    }
                    "IndividualPlan" if net.sees(org, record) == Sees::Nothing => {
                        Some(record.plan.gid.clone())
                    }
                    "PlanAction" if net.sees(org, record) == Sees::Nothing => {
                        Some(record.plan.action_gid.clone())
                    }
                    _ => None,
                };
                let Some(target) = target else { continue };
                let input = fill(&sdl, inputs, &target, &record.gid, org);
                let body = ask(app, caller, &query, json!({ "input": input })).await;
                no_leak(net, caller, &body, &mutation.name);
                let returned = &body["data"][&mutation.name][field];
                assert!(
                    returned.is_null(),
                    "{}: {} on a record it may not see returned {body}",
                    caller.label,
                    mutation.name
                );
                if payload != "RegisterPersonPayload" {
                    let refused = !body["errors"].is_null()
                        || body["data"][&mutation.name]["userErrors"]
                            .as_array()
                            .is_some_and(|e| !e.is_empty());
                    assert!(refused, "{}: {} {body}", caller.label, mutation.name);
                    let code = first_error_code(&body);
                    assert_ne!(code, "INTERNAL_SERVER_ERROR", "{body}");
                    assert_ne!(
                        code, "FORBIDDEN",
                        "an id it may not see reads as unknown: {body}"
                    );
                }
            }
        }
        covered.insert(coordinate.clone());
    }
}

/// An input of `fields` aimed at `target`, other required fields filled from their
/// types in the schema.
fn fill(sdl: &Sdl, fields: &[Field], target: &str, person: &str, org: Uuid) -> Value {
    let mut input = serde_json::Map::new();
    for field in fields.iter().filter(|f| f.ty.ends_with('!')) {
        let ty = base(&field.ty);
        let list = field.ty.starts_with('[');
        let value = match (field.name.as_str(), ty) {
            ("id", _) => json!(target),
            ("person", _) => json!(person),
            ("organization", _) => json!(global_id("Organization", org)),
            ("codiceFiscale", _) => json!(codice_fiscale("RSSMRA85T10A999")),
            (_, "ID") => json!(target),
            (_, "String") => json!("x"),
            (_, "Int") => json!(1),
            (_, "Boolean") => json!(false),
            (_, "DateTime") => json!("2026-01-01T00:00:00Z"),
            (_, "Date") => json!("2026-01-01"),
            (_, other) => match sdl.enums.get(other) {
                Some(values) => json!(values.first().cloned().unwrap_or_default()),
                None => match sdl.inputs.get(other) {
                    Some(nested) => fill(sdl, nested, target, person, org),
                    None => panic!("cannot fill {other}"),
                },
            },
        };
        input.insert(
            field.name.clone(),
            if list { json!([value]) } else { value },
        );
    }
    Value::Object(input)
}

async fn callers(app: &TestApp, net: &Network) -> Vec<Caller> {
    let mut out = vec![
        Caller {
            label: "anonymous".into(),
            org: None,
            token: None,
            works_on_people: false,
        },
        Caller {
            label: "REGIONAL_ADMIN".into(),
            org: None,
            token: Some(app.token(None, &[Role::RegionalAdmin])),
            works_on_people: false,
        },
        Caller {
            label: "DATA_PROTECTION_OFFICER".into(),
            org: None,
            token: Some(app.token(None, &[Role::DataProtectionOfficer])),
            works_on_people: false,
        },
    ];
    for (name, org) in [
        ("sender", net.sender),
        ("receiver", net.receiver),
        ("outsider", net.outsider),
    ] {
        for (role, works) in [
            (Role::Operator, true),
            (Role::OrgAdmin, true),
            (Role::Auditor, false),
            (Role::RegionalAdmin, false),
        ] {
            out.push(Caller {
                label: format!("{role:?} of the {name}"),
                org: Some(org),
                token: Some(app.token(Some(org), &[role])),
                works_on_people: works,
            });
        }
    }
    out
}

async fn run(engine: Engine, window_open: bool) {
    let days = if window_open { 90 } else { 0 };
    let app = spawn_app_with(engine, |s| s.receiver_access_days = days).await;
    let net = build(&app, window_open).await;
    let callers = callers(&app, &net).await;
    let mut covered = BTreeSet::new();
    for caller in &callers {
        read_probes(&app, &net, caller, &mut covered).await;
    }
    log_probes(&app, &net, &mut covered).await;
    cover(&mut covered, &["RegisterPersonPayload.person"]);
    mutation_probes(&app, &net, &callers, &mut covered).await;

    // The data protection officer's network-wide export: every record of the codice
    // fiscale, with a reason; nobody else.
    let request =
        json!({ "input": { "codiceFiscale": net.records[2].cf, "reason": "request 2026/42" } });
    let query = "mutation($input: DataSubjectRequestInput!) { exportDataSubject(input: $input) { data userErrors { code } } }";
    for caller in &callers {
        let body = ask(&app, caller, query, request.clone()).await;
        if caller.label == "DATA_PROTECTION_OFFICER" {
            let records = body["data"]["exportDataSubject"]["data"]["records"]
                .as_array()
                .map_or(0, Vec::len);
            assert_eq!(records, 2, "both organizations' records: {body}");
        } else {
            no_leak(&net, caller, &body, "exportDataSubject");
            assert!(
                body["data"]["exportDataSubject"].is_null(),
                "{}: {body}",
                caller.label
            );
        }
    }
    cover(&mut covered, &["ExportDataSubjectPayload.data"]);

    // Every value and path of the list was read.
    for (kind, coordinate) in personal_list() {
        if kind != "public" {
            assert!(
                covered.contains(&coordinate),
                "{coordinate} is listed but no probe reads it"
            );
        }
    }
}

#[tokio::test]
async fn every_personal_field_follows_the_rule_for_every_role_path_and_referral_state() {
    for engine in engines() {
        run(engine, true).await;
    }
}

#[tokio::test]
async fn after_the_access_period_a_receiver_sees_nothing_of_ended_referrals() {
    for engine in engines() {
        run(engine, false).await;
    }
}
