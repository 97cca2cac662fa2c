//! Routing rules: set by the region or a protocol's lead, evaluated when an assessment
//! is recorded; PROPOSE makes drafts in the explained order, SEND sends the best match
//! or falls back to PROPOSE saying why; re-recording proposes nothing new; every
//! decision is kept.

use super::matching::{LIVORNO, MATCH, NEED, PISA, TYPE, names, three_services};
use melt_tests::{
    Role, TestApp, admin_of, codice_fiscale, first_error_code, flow, on_every_engine, user_errors,
};
use serde_json::{Value, json};

const SENDER: &str = "Centro per l'impiego di Pisa";

const CREATE_RULE: &str = "mutation($input: CreateRoutingRuleInput!) {
  createRoutingRule(input: $input) { routingRule { id rowVersion name mode need minSeverity
    serviceTypes protocol { title } priority }
    userErrors { field code message } } }";
const UPDATE_RULE: &str = "mutation($input: UpdateRoutingRuleInput!) {
  updateRoutingRule(input: $input) { routingRule { id rowVersion mode validTo }
    userErrors { field code message } } }";
const RECORD: &str = "mutation($input: RecordNeedsAssessmentInput!) {
  recordNeedsAssessment(input: $input) { needsAssessment { id rowVersion
    routingDecisions { need mode outcome reason rule { id name }
      considered { rank chosen score excludedBy service { name } }
      referrals { id status channel routingRule { id } receiverService { name } needs { code } priority } } }
    userErrors { field code message } } }";

fn rule(name: &str, mode: &str) -> Value {
    json!({
        "name": name, "need": NEED, "minSeverity": "MEDIUM", "serviceTypes": [TYPE],
        "mode": mode, "maxProposals": 2,
    })
}

async fn create_rule(app: &TestApp, token: &str, rule: Value) -> Value {
    let (_, body) = app
        .query_as(token, CREATE_RULE, json!({ "input": { "rule": rule } }))
        .await;
    body
}

/// A person of the Pisa employment centre living in `istat`, speaking `languages`,
/// with (or without) a consent to share with Forium.
async fn person(app: &TestApp, cf: &str, istat: &str, languages: &[&str], consent: bool) -> Value {
    let token = operator(app).await;
    let register = "mutation($input: RegisterPersonInput!) { registerPerson(input: $input) { person { id } userErrors { message } } }";
    let person = flow::ok(app, &token, register, json!({
        "organization": flow::gid(app, SENDER).await, "codiceFiscale": cf,
        "givenName": "Samir", "familyName": "Benali", "birthDate": birth_date(cf),
        "languages": languages, "contactChannel": "PHONE", "residenceMunicipalityIstatCode": istat,
    }))
    .await["registerPerson"]["person"]["id"]
        .clone();
    if consent {
        let record = "mutation($input: RecordConsentInput!) { recordConsent(input: $input) { userErrors { message } } }";
        flow::ok(app, &token, record, json!({
            "person": person, "purpose": "Invio ai servizi di mobilità", "legalBasis": "CONSENT",
            "recipients": [flow::gid(app, "Forium").await], "grantedAt": "2026-01-01T00:00:00Z",
            "evidenceKind": "DOCUMENT", "evidence": "Modulo firmato",
        }))
        .await;
    }
    person
}

async fn operator(app: &TestApp) -> String {
    app.token(Some(app.organization_id(SENDER).await), &[Role::Operator])
}

async fn assess(app: &TestApp, person: &Value, severity: &str) -> Value {
    let token = operator(app).await;
    let input = json!({ "person": person, "needs": [{ "need": NEED, "severity": severity }] });
    let (_, body) = app
        .query_as(&token, RECORD, json!({ "input": input }))
        .await;
    let payload = &body["data"]["recordNeedsAssessment"];
    assert_eq!(payload["userErrors"], json!([]), "{body}");
    payload["needsAssessment"].clone()
}

/// The birth date a codice fiscale encodes (these tests' people were born in the 1980s
/// and 1990s; a day above 40 is a woman's).
fn birth_date(cf: &str) -> String {
    let month = "ABCDEHLMPRST".find(&cf[8..9]).unwrap_or(0) + 1;
    let day: u32 = cf[9..11].parse().unwrap_or(1);
    format!(
        "19{}-{month:02}-{:02}",
        &cf[6..8],
        if day > 40 { day - 40 } else { day }
    )
}

fn receivers(referrals: &Value) -> Vec<String> {
    referrals
        .as_array()
        .map(|r| {
            r.iter()
                .map(|r| {
                    r["receiverService"]["name"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned()
                })
                .collect()
        })
        .unwrap_or_default()
}

async fn referral_count(app: &TestApp, person: &Value) -> u64 {
    let token = operator(app).await;
    let query =
        "query($p: ID) { referrals(filter: {direction: OUTBOX, person: $p}) { totalCount } }";
    let (_, body) = app.query_as(&token, query, json!({ "p": person })).await;
    body["data"]["referrals"]["totalCount"]
        .as_u64()
        .unwrap_or(u64::MAX)
}

#[tokio::test]
async fn a_propose_rule_turns_an_assessment_into_drafts_in_the_explained_order_once() {
    on_every_engine(async |engine, app| {
        three_services(&app).await;
        let admin = app.token(None, &[Role::RegionalAdmin]);
        let body = create_rule(&app, &admin, rule("Mobilità: proponi", "PROPOSE")).await;
        let created = &body["data"]["createRoutingRule"]["routingRule"];
        assert_eq!(created["mode"], "PROPOSE", "[{engine:?}] {body}");
        assert!(created["protocol"].is_null(), "[{engine:?}] region-wide");
        let rule_id = created["id"].clone();

        let samir = person(&app, &codice_fiscale("BNLSMR88C01Z330"), PISA, &["ar"], true).await;
        // Below the rule's severity nothing fires.
        let low = assess(&app, &samir, "LOW").await;
        assert_eq!(low["routingDecisions"], json!([]), "[{engine:?}] {low}");

        let assessed = assess(&app, &samir, "HIGH").await;
        let decisions = assessed["routingDecisions"].as_array().cloned().unwrap_or_default();
        assert_eq!(decisions.len(), 1, "[{engine:?}] {assessed}");
        let decision = &decisions[0];
        assert_eq!(decision["outcome"], "PROPOSED", "[{engine:?}] {decision}");
        assert_eq!(decision["rule"]["id"], rule_id);
        assert_eq!(decision["need"], NEED);
        // The order matchServices explains for the same person: Arabic first.
        let expected = app
            .data(MATCH, json!({ "input": { "needs": [NEED], "municipalityIstatCode": PISA, "languages": ["ar"] } }))
            .await;
        let order = names(&expected["matchServices"]);
        assert_eq!(order, ["Lingua", "Vicino", "Presto"], "[{engine:?}] {expected}");
        assert_eq!(receivers(&decision["referrals"]), order[..2].to_vec(), "[{engine:?}] at most maxProposals, best first: {decision}");
        for referral in decision["referrals"].as_array().into_iter().flatten() {
            assert_eq!(referral["status"], "DRAFT", "[{engine:?}] {referral}");
            assert_eq!(referral["channel"], "AUTOMATED_RULE");
            assert_eq!(referral["routingRule"]["id"], rule_id);
            assert_eq!(referral["needs"], json!([{ "code": NEED }]));
            assert_eq!(referral["priority"], "HIGH", "[{engine:?}] from the severity");
        }
        let considered = decision["considered"].as_array().cloned().unwrap_or_default();
        let chosen: Vec<(&Value, &Value)> = considered.iter().map(|c| (&c["rank"], &c["chosen"])).collect();
        assert_eq!(
            chosen,
            vec![(&json!(1), &json!(true)), (&json!(2), &json!(true)), (&json!(3), &json!(false))],
            "[{engine:?}] every candidate considered, the third not chosen: {decision}"
        );

        // Recording the same assessment again proposes nothing new, and says so.
        let before = referral_count(&app, &samir).await;
        assert_eq!(before, 2, "[{engine:?}]");
        let again = assess(&app, &samir, "HIGH").await;
        assert_eq!(again["routingDecisions"][0]["outcome"], "ALREADY_OPEN", "[{engine:?}] {again}");
        assert_eq!(referral_count(&app, &samir).await, before, "[{engine:?}]");

        // Another organization cannot read the decisions: the assessment is not theirs.
        let other = app.token(Some(app.organization_id("CNA Pisa").await), &[Role::Operator]);
        let (_, body) = app
            .query_as(&other, "query($id: ID!) { node(id: $id) { ... on NeedsAssessment { routingDecisions { need } } } }", json!({ "id": assessed["id"] }))
            .await;
        assert!(body["data"]["node"].is_null(), "[{engine:?}] {body}");
    })
    .await;
}

#[tokio::test]
async fn a_send_rule_sends_the_best_match_and_without_consent_falls_back_to_propose() {
    on_every_engine(async |engine, app| {
        three_services(&app).await;
        let admin = app.token(None, &[Role::RegionalAdmin]);
        create_rule(&app, &admin, rule("Mobilità: invia", "SEND")).await;

        // With consent: the best match (nearest for an Italian speaker) is SENT.
        let with = person(&app, &codice_fiscale("BNLSMR88C01Z330"), PISA, &["it"], true).await;
        let assessed = assess(&app, &with, "URGENT").await;
        let decision = &assessed["routingDecisions"][0];
        assert_eq!(decision["outcome"], "SENT", "[{engine:?}] {assessed}");
        assert_eq!(decision["mode"], "SEND");
        assert_eq!(receivers(&decision["referrals"]), ["Vicino"], "[{engine:?}] {decision}");
        assert_eq!(decision["referrals"][0]["status"], "SENT");
        assert_eq!(decision["referrals"][0]["channel"], "AUTOMATED_RULE");
        assert!(decision["reason"].is_null(), "[{engine:?}] {decision}");
        // Forium receives it.
        let forium = app.token(Some(app.organization_id("Forium").await), &[Role::Operator]);
        let (_, body) = app
            .query_as(&forium, "{ referrals(filter: {direction: INBOX}) { nodes { channel routingRule { name } } } }", json!({}))
            .await;
        assert_eq!(
            body["data"]["referrals"]["nodes"],
            json!([{ "channel": "AUTOMATED_RULE", "routingRule": { "name": "Mobilità: invia" } }]),
            "[{engine:?}] {body}"
        );

        // Without consent: the gate refuses, the rule proposes instead and says why.
        let without = person(&app, &codice_fiscale("HDDMNA90D42G702"), LIVORNO, &["it"], false).await;
        let assessed = assess(&app, &without, "HIGH").await;
        let decision = &assessed["routingDecisions"][0];
        assert_eq!(decision["outcome"], "FELL_BACK_TO_PROPOSE", "[{engine:?}] {assessed}");
        assert!(
            decision["reason"].as_str().unwrap_or_default().contains("NO_VALID_CONSENT"),
            "[{engine:?}] {decision}"
        );
        assert_eq!(receivers(&decision["referrals"]), ["Presto", "Lingua"], "[{engine:?}] {decision}");
        let statuses: Vec<&Value> = decision["referrals"].as_array().map(|r| r.iter().map(|r| &r["status"]).collect()).unwrap_or_default();
        assert_eq!(statuses, [&json!("DRAFT"), &json!("DRAFT")], "[{engine:?}]");
    })
    .await;
}

#[tokio::test]
async fn rules_are_set_by_the_region_or_a_protocols_lead_checked_and_versioned() {
    on_every_engine(async |engine, app| {
        let melt = app
            .data("{ protocols(filter: {search: \"MeLT\", statuses: [IN_FORCE]}) { nodes { id title } } }", json!({}))
            .await["protocols"]["nodes"][0]
            .clone();
        let within = |name: &str| {
            let mut r = rule(name, "PROPOSE");
            r["protocol"] = melt["id"].clone();
            r
        };
        // Region-wide: the regional administration only.
        for token in [
            operator(&app).await,
            admin_of(&app, "Regione Toscana").await,
            admin_of(&app, "Forium").await,
        ] {
            let body = create_rule(&app, &token, rule("Regionale", "PROPOSE")).await;
            assert_eq!(first_error_code(&body), "FORBIDDEN", "[{engine:?}] {body}");
        }
        let body = app.query(CREATE_RULE, json!({ "input": { "rule": rule("Anonima", "PROPOSE") } })).await;
        assert_eq!(first_error_code(&body), "UNAUTHENTICATED", "[{engine:?}] {body}");
        // Within the protocol: also its lead organization's administrator, not a partner's.
        let body = create_rule(&app, &admin_of(&app, "Forium").await, within("Del protocollo")).await;
        assert_eq!(first_error_code(&body), "FORBIDDEN", "[{engine:?}] {body}");
        let lead = admin_of(&app, "Regione Toscana").await;
        let body = create_rule(&app, &lead, within("Del protocollo")).await;
        let created = body["data"]["createRoutingRule"]["routingRule"].clone();
        assert_eq!(created["protocol"]["title"], melt["title"], "[{engine:?}] {body}");
        // The lead may not take it out of the protocol (make it region-wide).
        let update = |version: &Value, rule: Value| json!({ "input": { "id": created["id"], "expectedVersion": version, "rule": rule } });
        let (_, body) = app.query_as(&lead, UPDATE_RULE, update(&created["rowVersion"], rule("Fuori", "SEND"))).await;
        assert_eq!(first_error_code(&body), "FORBIDDEN", "[{engine:?}] {body}");
        let mut ended = within("Del protocollo");
        ended["mode"] = json!("SEND");
        ended["validTo"] = json!("2026-01-31");
        let (_, body) = app.query_as(&lead, UPDATE_RULE, update(&created["rowVersion"], ended.clone())).await;
        let updated = &body["data"]["updateRoutingRule"]["routingRule"];
        assert_eq!((updated["rowVersion"].clone(), updated["mode"].clone()), (json!(2), json!("SEND")), "[{engine:?}] {body}");
        let (_, body) = app.query_as(&lead, UPDATE_RULE, update(&created["rowVersion"], ended)).await;
        assert_eq!(first_error_code(&body), "CONFLICT", "[{engine:?}] stale version: {body}");

        // Field by field.
        let admin = app.token(None, &[Role::RegionalAdmin]);
        let mut bad = rule(" ", "PROPOSE");
        bad["need"] = json!("NOT_A_NEED");
        bad["serviceTypes"] = json!([]);
        bad["minAge"] = json!(40);
        bad["maxAge"] = json!(20);
        bad["maxProposals"] = json!(11);
        bad["targetGroup"] = json!("NOBODY");
        bad["validFrom"] = json!("2026-12-31");
        bad["validTo"] = json!("2026-01-01");
        let body = create_rule(&app, &admin, bad).await;
        let mut errors = user_errors(&body["data"]["createRoutingRule"]);
        errors.sort_by_key(|(field, _)| field.to_string());
        let fields: Vec<String> = errors.iter().map(|(f, c)| format!("{}={c}", f[1].as_str().unwrap_or_default())).collect();
        assert_eq!(
            fields,
            [
                "maxAge=OUT_OF_RANGE", "maxProposals=OUT_OF_RANGE", "name=REQUIRED", "need=INVALID",
                "serviceTypes=REQUIRED", "targetGroup=INVALID", "validTo=OUT_OF_RANGE",
            ],
            "[{engine:?}] {body}"
        );

        // Listed, public, by name; filters by need and by scope.
        let list = "query($f: RoutingRuleFilter) { routingRules(filter: $f) { totalCount nodes { name } } }";
        let all = app.data(list, json!({ "f": { "need": NEED.to_lowercase() } })).await;
        assert_eq!(all["routingRules"]["totalCount"], 1, "[{engine:?}] {all}");
        let regional = app.data(list, json!({ "f": { "regionWide": true } })).await;
        assert_eq!(regional["routingRules"]["totalCount"], 0, "[{engine:?}] {regional}");
        // Changes are audited.
        let auditor = app.token(None, &[Role::Auditor]);
        let (_, body) = app
            .query_as(&auditor, "query($o: ID) { auditLog(filter: {object: $o}) { nodes { operation } } }", json!({ "o": created["id"] }))
            .await;
        assert_eq!(
            body["data"]["auditLog"]["nodes"],
            json!([{ "operation": "updateRoutingRule" }, { "operation": "createRoutingRule" }]),
            "[{engine:?}] {body}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_rule_fires_only_for_people_meeting_its_conditions_and_the_highest_priority_wins() {
    on_every_engine(async |engine, app| {
        three_services(&app).await;
        let admin = app.token(None, &[Role::RegionalAdmin]);
        let pisa_province = app
            .data(
                "{ territories(filter: {search: \"Pisa\", kinds: [PROVINCE]}) { nodes { id } } }",
                json!({}),
            )
            .await["territories"]["nodes"][0]["id"]
            .clone();
        let mut in_pisa = rule("Solo provincia di Pisa", "PROPOSE");
        in_pisa["territory"] = pisa_province;
        in_pisa["priority"] = json!(10);
        create_rule(&app, &admin, in_pisa).await;
        let mut young = rule("Solo giovani", "PROPOSE");
        young["maxAge"] = json!(29);
        young["priority"] = json!(20);
        create_rule(&app, &admin, young).await;
        let mut fallback = rule("Per tutti", "PROPOSE");
        fallback["maxProposals"] = json!(1);
        create_rule(&app, &admin, fallback).await;
        // A 38-year-old in Pisa: the young people's rule (priority 20) does not apply,
        // the Pisa one (10) wins over the one for everyone (0).
        let samir = person(
            &app,
            &codice_fiscale("BNLSMR88C01Z330"),
            PISA,
            &["it"],
            true,
        )
        .await;
        let assessed = assess(&app, &samir, "MEDIUM").await;
        let fired: Vec<&Value> = assessed["routingDecisions"]
            .as_array()
            .map(|d| d.iter().map(|d| &d["rule"]["name"]).collect())
            .unwrap_or_default();
        assert_eq!(
            fired,
            [&json!("Solo provincia di Pisa")],
            "[{engine:?}] {assessed}"
        );
        // In Livorno: the rule for everyone.
        let amina = person(
            &app,
            &codice_fiscale("HDDMNA90D42G702"),
            LIVORNO,
            &["it"],
            true,
        )
        .await;
        let assessed = assess(&app, &amina, "MEDIUM").await;
        assert_eq!(
            assessed["routingDecisions"][0]["rule"]["name"], "Per tutti",
            "[{engine:?}] {assessed}"
        );
        assert_eq!(
            receivers(&assessed["routingDecisions"][0]["referrals"]).len(),
            1
        );
    })
    .await;
}
