//! Individual plans across three organizations: the lead's plan with goals and actions,
//! actions started by referrals and moved by them (sent → REFERRED, accepted → STARTED,
//! completed → DONE, rejected → STOPPED), the plan's progress, and what each
//! organization sees: the lead all of it, a performing organization its own actions
//! and their goals from the moment its referral is sent, everyone else nothing; exports
//! and erasure include plans.

use melt_tests::flow::gid;
use melt_tests::{Role, TestApp, first_error_code, on_every_engine, user_errors};
use serde_json::{Value, json};

const LEAD: &str = "Centro per l'impiego di Pisa";
const LANGUAGE_SCHOOL: &str = "Caritas diocesana di Pisa";
const TRAINER: &str = "Forium";
const OUTSIDER: &str = "CNA Pisa";

const PLAN_FIELDS: &str = "id rowVersion personId status viewerRole
    leadOrganization { name }
    goals { code description goal { code } }
    actions { id rowVersion status outcome referralId description organization { name } goal { code } }
    reviews { notes reviewedOn }
    agreement { signedOn evidence }
    progress { actions planned referred started done stopped }";

struct Pathway {
    app: TestApp,
    person: Value,
}

async fn operator(app: &TestApp, name: &str) -> String {
    app.token(Some(app.organization_id(name).await), &[Role::Operator])
}

async fn first_service(app: &TestApp, provider: &str) -> Value {
    let data = app
        .data(
            "query($o: ID) { services(filter: {provider: $o, statuses: [ACTIVE]}, first: 1) { nodes { id } } }",
            json!({ "o": gid(app, provider).await }),
        )
        .await;
    let id = data["services"]["nodes"][0]["id"].clone();
    assert!(id.is_string(), "{provider} has no active service: {data}");
    id
}

/// Runs a mutation as `token`; returns its payload (asserting no GraphQL errors).
async fn mutate(
    app: &TestApp,
    token: &str,
    name: &str,
    input_type: &str,
    fields: &str,
    input: Value,
) -> Value {
    let query = format!(
        "mutation($input: {input_type}!) {{ {name}(input: $input) {{ {fields} userErrors {{ field code message }} }} }}"
    );
    let (_, body) = app.query_as(token, &query, json!({ "input": input })).await;
    assert!(body.get("errors").is_none(), "{name}: {body}");
    body["data"][name].clone()
}

async fn node(app: &TestApp, token: &str, id: &Value) -> Value {
    let query = format!(
        "query($id: ID!) {{ node(id: $id) {{ ... on IndividualPlan {{ {PLAN_FIELDS} }}
            ... on PlanAction {{ id rowVersion status plan {{ id }} }} }} }}"
    );
    let (_, body) = app.query_as(token, &query, json!({ "id": id })).await;
    assert!(body.get("errors").is_none(), "{body}");
    body["data"]["node"].clone()
}

impl Pathway {
    /// A person of the lead with consent for the language school and the trainer.
    async fn new(app: TestApp) -> Self {
        let lead = operator(&app, LEAD).await;
        let person = mutate(
            &app,
            &lead,
            "registerPerson",
            "RegisterPersonInput",
            "person { id }",
            json!({
                "organization": gid(&app, LEAD).await, "codiceFiscale": "RSSMRA85T10A562S",
                "givenName": "Amina", "familyName": "Diallo", "languages": ["fr"],
                "contactChannel": "PHONE", "residenceMunicipalityIstatCode": "050026"
            }),
        )
        .await["person"]["id"]
            .clone();
        let recipients = json!([gid(&app, LANGUAGE_SCHOOL).await, gid(&app, TRAINER).await]);
        let consent = mutate(
            &app,
            &lead,
            "recordConsent",
            "RecordConsentInput",
            "consent { id }",
            json!({
                "person": person, "purpose": "Percorso individualizzato", "legalBasis": "CONSENT",
                "recipients": recipients, "grantedAt": "2026-01-01T00:00:00Z",
                "evidenceKind": "DOCUMENT", "evidence": "Modulo firmato"
            }),
        )
        .await;
        assert!(consent["consent"]["id"].is_string(), "{consent}");
        Self { app, person }
    }

    async fn plan(&self) -> Value {
        let lead = operator(&self.app, LEAD).await;
        let created = mutate(
            &self.app,
            &lead,
            "createIndividualPlan",
            "CreateIndividualPlanInput",
            &format!("plan {{ {PLAN_FIELDS} }}"),
            json!({
                "person": self.person, "startsOn": "2026-02-01",
                "goals": [
                    { "goal": "LANGUAGE", "description": "Livello A2 di italiano" },
                    { "goal": "EMPLOYMENT", "description": "Un tirocinio in cucina", "targetOn": "2026-12-31" }
                ]
            }),
        )
        .await;
        assert_eq!(user_errors(&created), vec![], "{created}");
        created["plan"].clone()
    }

    async fn add_action(
        &self,
        plan: &Value,
        goal: &str,
        provider: &str,
        description: &str,
    ) -> Value {
        let lead = operator(&self.app, LEAD).await;
        let current = node(&self.app, &lead, &plan["id"]).await;
        let added = mutate(
            &self.app,
            &lead,
            "addPlanAction",
            "AddPlanActionInput",
            "action { id rowVersion status organization { name } }",
            json!({
                "plan": plan["id"], "expectedVersion": current["rowVersion"], "goal": goal,
                "service": first_service(&self.app, provider).await, "description": description
            }),
        )
        .await;
        assert_eq!(user_errors(&added), vec![], "{added}");
        assert_eq!(added["action"]["status"], "PLANNED");
        added["action"].clone()
    }

    /// A referral of the person starting `action`, for the action's service, as a draft.
    async fn referral_for(&self, action: &Value, provider: &str, need: &str) -> Value {
        let lead = operator(&self.app, LEAD).await;
        let created = mutate(
            &self.app,
            &lead,
            "createReferral",
            "CreateReferralInput",
            "referral { id rowVersion }",
            json!({
                "person": self.person, "receiverService": first_service(&self.app, provider).await,
                "needs": [need], "reason": "Azione del piano", "priority": "NORMAL",
                "planAction": action["id"]
            }),
        )
        .await;
        assert_eq!(user_errors(&created), vec![], "{created}");
        created["referral"].clone()
    }

    /// Moves a referral by `action` (a mutation name) as `token`, with `extra` input.
    async fn step(&self, token: &str, mutation: &str, referral: &Value, extra: Value) -> Value {
        let version = self.app.row_version(token, &referral["id"]).await;
        let mut input = json!({ "id": referral["id"], "expectedVersion": version });
        if let (Some(input), Some(extra)) = (input.as_object_mut(), extra.as_object()) {
            input.extend(extra.clone());
        }
        let input_type = format!(
            "{}{}Input",
            mutation[..1].to_ascii_uppercase(),
            &mutation[1..]
        );
        let moved = mutate(
            &self.app,
            token,
            mutation,
            &input_type,
            "referral { status }",
            input,
        )
        .await;
        assert_eq!(user_errors(&moved), vec![], "{mutation}: {moved}");
        moved
    }
}

fn codes(list: &Value, key: &str) -> Vec<String> {
    list.as_array()
        .map(|items| {
            items
                .iter()
                .map(|i| i[key].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn a_pathway_of_three_organizations_moves_with_its_referrals_and_each_sees_exactly_its_part()
{
    on_every_engine(async |engine, app| {
        let pathway = Pathway::new(app).await;
        let app = &pathway.app;
        let lead = operator(app, LEAD).await;
        let school = operator(app, LANGUAGE_SCHOOL).await;
        let trainer = operator(app, TRAINER).await;
        let outsider = operator(app, OUTSIDER).await;

        let plan = pathway.plan().await;
        assert_eq!(plan["status"], "ACTIVE");
        assert_eq!(plan["viewerRole"], "LEAD");
        assert_eq!(codes(&plan["goals"], "code"), ["LANGUAGE", "EMPLOYMENT"]);
        let course = pathway.add_action(&plan, "LANGUAGE", LANGUAGE_SCHOOL, "Corso serale A2").await;
        let traineeship = pathway.add_action(&plan, "EMPLOYMENT", TRAINER, "Tirocinio in cucina").await;

        // Before any referral is sent, nobody but the lead sees the plan or its actions.
        for token in [&school, &trainer, &outsider] {
            assert!(node(app, token, &plan["id"]).await.is_null(), "[{engine:?}]");
            assert!(node(app, token, &course["id"]).await.is_null(), "[{engine:?}]");
        }
        let course_referral = pathway.referral_for(&course, LANGUAGE_SCHOOL, "LANGUAGE").await;
        // A draft is the sender's alone: the receiver of the draft sees nothing yet.
        assert!(node(app, &school, &plan["id"]).await.is_null(), "[{engine:?}] draft");
        let read = node(app, &lead, &plan["id"]).await;
        assert_eq!(read["actions"][0]["status"], "PLANNED", "[{engine:?}] {read}");
        assert_eq!(read["actions"][0]["referralId"], course_referral["id"]);

        pathway.step(&lead, "sendReferral", &course_referral, json!({})).await;
        let seen = node(app, &school, &plan["id"]).await;
        assert_eq!(seen["viewerRole"], "PARTICIPANT", "[{engine:?}] {seen}");
        assert_eq!(codes(&seen["actions"], "id"), [course["id"].as_str().unwrap_or_default()]);
        assert_eq!(seen["actions"][0]["status"], "REFERRED");
        assert_eq!(seen["actions"][0]["description"], "Corso serale A2");
        assert_eq!(codes(&seen["goals"], "code"), ["LANGUAGE"], "[{engine:?}] {seen}");
        assert_eq!(seen["goals"][0]["description"], "Livello A2 di italiano");
        for lead_only in ["reviews", "agreement", "progress"] {
            assert!(seen[lead_only].is_null(), "[{engine:?}] {lead_only}: {seen}");
        }
        assert!(node(app, &school, &traineeship["id"]).await.is_null(), "[{engine:?}]");
        // Found through the referral, too.
        let (_, by_referral) = app
            .query_as(
                &school,
                "query($r: ID) { individualPlans(referral: $r) { id actions { id } } }",
                json!({ "r": course_referral["id"] }),
            )
            .await;
        assert_eq!(by_referral["data"]["individualPlans"][0]["id"], plan["id"], "{by_referral}");
        for token in [&trainer, &outsider] {
            assert!(node(app, token, &plan["id"]).await.is_null(), "[{engine:?}]");
            let (_, listed) = app
                .query_as(
                    token,
                    "query($r: ID) { individualPlans(referral: $r) { id } }",
                    json!({ "r": course_referral["id"] }),
                )
                .await;
            assert_eq!(listed["data"]["individualPlans"], json!([]), "[{engine:?}] {listed}");
        }

        // The school takes the person in: the action starts, then is done.
        pathway.step(&school, "acceptReferral", &course_referral, json!({})).await;
        let read = node(app, &lead, &plan["id"]).await;
        assert_eq!(read["actions"][0]["status"], "STARTED", "[{engine:?}] {read}");
        pathway.step(&school, "startReferral", &course_referral, json!({})).await;
        pathway
            .step(&school, "completeReferral", &course_referral, json!({ "outcome": "PATHWAY_COMPLETED" }))
            .await;

        // The trainer's action is referred next; the trainer then declines it.
        let traineeship_referral = pathway.referral_for(&traineeship, TRAINER, "EMPLOYMENT").await;
        pathway.step(&lead, "sendReferral", &traineeship_referral, json!({})).await;
        let seen = node(app, &trainer, &plan["id"]).await;
        assert_eq!(codes(&seen["actions"], "id"), [traineeship["id"].as_str().unwrap_or_default()], "[{engine:?}] {seen}");
        assert_eq!(codes(&seen["goals"], "code"), ["EMPLOYMENT"]);
        let seen = node(app, &school, &plan["id"]).await;
        assert_eq!(codes(&seen["actions"], "id"), [course["id"].as_str().unwrap_or_default()], "[{engine:?}] {seen}");
        pathway
            .step(
                &trainer,
                "rejectReferral",
                &traineeship_referral,
                json!({ "reasonCode": "NO_CAPACITY", "declinedBy": "PROVIDER" }),
            )
            .await;

        let read = node(app, &lead, &plan["id"]).await;
        assert_eq!(read["actions"][0]["status"], "DONE", "[{engine:?}] {read}");
        assert_eq!(read["actions"][0]["outcome"], "PATHWAY_COMPLETED");
        assert_eq!(read["actions"][1]["status"], "STOPPED");
        assert_eq!(
            read["progress"],
            json!({ "actions": 2, "planned": 0, "referred": 0, "started": 0, "done": 1, "stopped": 1 }),
            "[{engine:?}]"
        );

        // Reviews and the agreement are the lead's.
        let reviewed = mutate(
            app,
            &lead,
            "recordPlanReview",
            "RecordPlanReviewInput",
            "plan { rowVersion reviews { notes } }",
            json!({ "plan": plan["id"], "expectedVersion": read["rowVersion"],
                    "reviewedOn": "2026-06-01", "notes": "Corso concluso, cercare un altro tirocinio" }),
        )
        .await;
        assert_eq!(reviewed["plan"]["reviews"][0]["notes"], "Corso concluso, cercare un altro tirocinio", "{reviewed}");
        let signed = mutate(
            app,
            &lead,
            "recordPlanAgreement",
            "RecordPlanAgreementInput",
            "plan { agreement { signedOn evidence } }",
            json!({ "plan": plan["id"], "expectedVersion": reviewed["plan"]["rowVersion"],
                    "signedOn": "2026-02-03", "evidence": "Protocollo 2026/118" }),
        )
        .await;
        assert_eq!(signed["plan"]["agreement"], json!({ "signedOn": "2026-02-03", "evidence": "Protocollo 2026/118" }), "{signed}");
        assert!(node(app, &school, &plan["id"]).await["agreement"].is_null());

        // Exports: the lead's holds the whole plan, the school's only its action.
        let export = "query($id: ID!) { exportPersonData(personId: $id) }";
        let (_, body) = app.query_as(&lead, export, json!({ "id": pathway.person })).await;
        let plans = &body["data"]["exportPersonData"]["individualPlans"];
        assert_eq!(plans[0]["actions"].as_array().map(Vec::len), Some(2), "[{engine:?}] {body}");
        assert_eq!(plans[0]["agreement"]["evidence"], "Protocollo 2026/118");
        let (_, body) = app.query_as(&school, export, json!({ "id": pathway.person })).await;
        let plans = &body["data"]["exportPersonData"]["individualPlans"];
        assert_eq!(codes(&plans[0]["actions"], "id"), [melt_tests::row_id(course["id"].as_str().unwrap_or_default()).to_string()], "[{engine:?}] {body}");
        assert!(plans[0].get("agreement").is_none(), "{body}");
        assert!(!body.to_string().contains("Tirocinio in cucina"), "{body}");

        // Erasure takes the plan's free text with the person's.
        let version = app.row_version(&lead, &pathway.person).await;
        let erased = mutate(
            app,
            &lead,
            "erasePerson",
            "ErasePersonInput",
            "person { id }",
            json!({ "id": pathway.person, "expectedVersion": version }),
        )
        .await;
        assert_eq!(user_errors(&erased), vec![], "{erased}");
        let read = node(app, &lead, &plan["id"]).await;
        assert!(read["goals"][0]["description"].is_null(), "[{engine:?}] {read}");
        assert!(read["actions"][0]["description"].is_null());
        assert!(read["agreement"]["evidence"] == "" || read["agreement"].is_null() || read["agreement"]["evidence"].is_null(), "{read}");
        assert!(read["reviews"][0]["notes"].is_null(), "{read}");
        assert_eq!(codes(&read["goals"], "code"), ["LANGUAGE", "EMPLOYMENT"]);
    })
    .await;
}

#[tokio::test]
async fn only_the_lead_changes_a_plan_and_mistakes_come_back_as_user_errors() {
    on_every_engine(async |engine, app| {
        let pathway = Pathway::new(app).await;
        let app = &pathway.app;
        let lead = operator(app, LEAD).await;
        let school = operator(app, LANGUAGE_SCHOOL).await;
        let outsider = operator(app, OUTSIDER).await;
        let plan = pathway.plan().await;

        // One active plan per record; goals must be PLAN_GOAL codes, once each.
        let again = mutate(
            app,
            &lead,
            "createIndividualPlan",
            "CreateIndividualPlanInput",
            "plan { id }",
            json!({ "person": pathway.person, "goals": [{ "goal": "HOUSING" }, { "goal": "NOPE" }, { "goal": "HOUSING" }] }),
        )
        .await;
        let fields: Vec<Value> = user_errors(&again).into_iter().map(|(f, _)| f).collect();
        assert!(again["plan"].is_null(), "[{engine:?}] {again}");
        for field in [
            json!(["input", "person"]),
            json!(["input", "goals"]),
            json!(["input", "goals", "2", "goal"]),
        ] {
            assert!(fields.contains(&field), "[{engine:?}] {field} in {again}");
        }
        // Someone else's record reads as unknown.
        let foreign = mutate(
            app,
            &outsider,
            "createIndividualPlan",
            "CreateIndividualPlanInput",
            "plan { id }",
            json!({ "person": pathway.person, "goals": [{ "goal": "HOUSING" }] }),
        )
        .await;
        assert_eq!(user_errors(&foreign).len(), 1, "{foreign}");
        assert_eq!(foreign["userErrors"][0]["code"], "NOT_FOUND", "{foreign}");

        let course = pathway.add_action(&plan, "LANGUAGE", LANGUAGE_SCHOOL, "Corso").await;
        let referral = pathway.referral_for(&course, LANGUAGE_SCHOOL, "LANGUAGE").await;
        pathway.step(&lead, "sendReferral", &referral, json!({})).await;

        // The participant reads its part but changes nothing; an outsider's change of
        // the plan reads as an unknown plan.
        let version = node(app, &lead, &plan["id"]).await["rowVersion"].clone();
        let add = "mutation($input: AddPlanActionInput!) { addPlanAction(input: $input) { action { id } } }";
        let input = json!({ "input": { "plan": plan["id"], "expectedVersion": version, "goal": "EMPLOYMENT",
                                       "service": first_service(app, TRAINER).await } });
        let (_, body) = app.query_as(&school, add, input.clone()).await;
        assert_eq!(first_error_code(&body), "FORBIDDEN", "[{engine:?}] {body}");
        let (_, body) = app.query_as(&outsider, add, input.clone()).await;
        assert_eq!(first_error_code(&body), "NOT_FOUND", "[{engine:?}] {body}");
        // A stale version is a conflict.
        let mut stale = input.clone();
        stale["input"]["expectedVersion"] = json!(1);
        let (_, body) = app.query_as(&lead, add, stale).await;
        assert_eq!(first_error_code(&body), "CONFLICT", "[{engine:?}] {body}");

        // A goal the plan does not have, and an action already referred.
        let wrong_goal = mutate(
            app,
            &lead,
            "addPlanAction",
            "AddPlanActionInput",
            "action { id }",
            json!({ "plan": plan["id"], "expectedVersion": version, "goal": "HOUSING",
                    "service": first_service(app, TRAINER).await }),
        )
        .await;
        assert_eq!(wrong_goal["userErrors"][0]["field"], json!(["input", "goal"]), "[{engine:?}] {wrong_goal}");
        let twice = mutate(
            app,
            &lead,
            "createReferral",
            "CreateReferralInput",
            "referral { id }",
            json!({ "person": pathway.person, "receiverService": first_service(app, LANGUAGE_SCHOOL).await,
                    "needs": ["LANGUAGE"], "reason": "Di nuovo", "priority": "NORMAL", "planAction": course["id"] }),
        )
        .await;
        assert_eq!(twice["userErrors"][0]["field"], json!(["input", "planAction"]), "[{engine:?}] {twice}");
        let manual = mutate(
            app,
            &lead,
            "setPlanActionStatus",
            "SetPlanActionStatusInput",
            "action { status }",
            json!({ "id": course["id"], "expectedVersion": node(app, &lead, &course["id"]).await["rowVersion"], "status": "DONE", "outcome": "ENROLLED" }),
        )
        .await;
        assert!(manual["action"].is_null(), "[{engine:?}] an action with an open referral follows it: {manual}");

        // Closing cancels what has not started; a closed plan takes no more changes.
        let version = node(app, &lead, &plan["id"]).await["rowVersion"].clone();
        let closed = mutate(
            app,
            &lead,
            "closeIndividualPlan",
            "CloseIndividualPlanInput",
            &format!("plan {{ {PLAN_FIELDS} closedOn closingNote }}"),
            json!({ "plan": plan["id"], "expectedVersion": version, "note": "Trasferita" }),
        )
        .await;
        assert_eq!(closed["plan"]["status"], "CLOSED", "[{engine:?}] {closed}");
        assert_eq!(closed["plan"]["closingNote"], "Trasferita");
        assert_eq!(closed["plan"]["actions"][0]["status"], "REFERRED");
        let version = closed["plan"]["rowVersion"].clone();
        let late = mutate(
            app,
            &lead,
            "recordPlanReview",
            "RecordPlanReviewInput",
            "plan { id }",
            json!({ "plan": plan["id"], "expectedVersion": version, "notes": "Tardi" }),
        )
        .await;
        assert_eq!(late["userErrors"][0]["field"], json!(["input", "plan"]), "[{engine:?}] {late}");
        // After closing, a new plan may start.
        let next = mutate(
            app,
            &lead,
            "createIndividualPlan",
            "CreateIndividualPlanInput",
            "plan { id }",
            json!({ "person": pathway.person, "goals": [{ "goal": "HOUSING" }] }),
        )
        .await;
        assert_eq!(user_errors(&next), vec![], "[{engine:?}] {next}");
    })
    .await;
}

/// The access-log entries of the pathway's person, as `(organization name, fields)`.
async fn reads_of(pathway: &Pathway) -> Vec<(String, String)> {
    let app = &pathway.app;
    let auditor = app.token(None, &[Role::Auditor]);
    let (_, body) = app
        .query_as(
            &auditor,
            "query($p: ID) { personAccessLog(first: 100, filter: {person: $p}) { \
             nodes { actorOrganizationId fields } } }",
            json!({ "p": pathway.person }),
        )
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    let mut names = std::collections::HashMap::new();
    for name in [LEAD, LANGUAGE_SCHOOL, TRAINER, OUTSIDER] {
        names.insert(json!(gid(app, name).await), name.to_owned());
    }
    body["data"]["personAccessLog"]["nodes"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|n| {
            let who = names
                .get(&n["actorOrganizationId"])
                .cloned()
                .unwrap_or_default();
            (who, n["fields"].to_string())
        })
        .collect()
}

#[tokio::test]
async fn every_read_of_a_plans_free_text_is_written_to_the_persons_access_log() {
    on_every_engine(async |engine, app| {
        let pathway = Pathway::new(app).await;
        let app = &pathway.app;
        let lead = operator(app, LEAD).await;
        let school = operator(app, LANGUAGE_SCHOOL).await;
        let plan = pathway.plan().await;
        let course = pathway
            .add_action(&plan, "LANGUAGE", LANGUAGE_SCHOOL, "Corso serale A2")
            .await;
        let referral = pathway
            .referral_for(&course, LANGUAGE_SCHOOL, "LANGUAGE")
            .await;
        pathway
            .step(&lead, "sendReferral", &referral, json!({}))
            .await;
        let version = node(app, &lead, &plan["id"]).await["rowVersion"].clone();
        let reviewed = mutate(
            app,
            &lead,
            "recordPlanReview",
            "RecordPlanReviewInput",
            "plan { rowVersion }",
            json!({ "plan": plan["id"], "expectedVersion": version,
                    "reviewedOn": "2026-06-01", "notes": "Frequenta con costanza" }),
        )
        .await;
        let signed = mutate(
            app,
            &lead,
            "recordPlanAgreement",
            "RecordPlanAgreementInput",
            "plan { rowVersion }",
            json!({ "plan": plan["id"], "expectedVersion": reviewed["plan"]["rowVersion"],
                    "signedOn": "2026-02-03", "evidence": "Protocollo 2026/118" }),
        )
        .await;
        assert!(
            signed["plan"]["rowVersion"].is_number(),
            "[{engine:?}] {signed}"
        );

        let before = reads_of(&pathway).await;
        let texts = "query($id: ID!) { node(id: $id) { ... on IndividualPlan { closingNote \
             goals { description } actions { description } reviews { notes } \
             agreement { evidence } } } }";
        let (_, read) = app
            .query_as(&lead, texts, json!({ "id": plan["id"] }))
            .await;
        let plan_read = &read["data"]["node"];
        assert_eq!(
            plan_read["reviews"][0]["notes"], "Frequenta con costanza",
            "[{engine:?}] {read}"
        );
        assert_eq!(plan_read["agreement"]["evidence"], "Protocollo 2026/118");
        let (_, seen) = app
            .query_as(&school, texts, json!({ "id": plan["id"] }))
            .await;
        assert_eq!(
            seen["data"]["node"]["actions"][0]["description"], "Corso serale A2",
            "{seen}"
        );
        let (_, action) = app
            .query_as(
                &school,
                "query($id: ID!) { node(id: $id) { ... on PlanAction { description } } }",
                json!({ "id": course["id"] }),
            )
            .await;
        assert_eq!(
            action["data"]["node"]["description"], "Corso serale A2",
            "{action}"
        );

        let mut added = reads_of(&pathway).await;
        for entry in &before {
            let at = added.iter().position(|e| e == entry);
            added.remove(at.unwrap_or_else(|| panic!("[{engine:?}] {entry:?} left the log")));
        }
        added.sort();
        let expected = [
            (LANGUAGE_SCHOOL, "planAction.description"),
            (LANGUAGE_SCHOOL, "planAction.description"),
            (LANGUAGE_SCHOOL, "planGoal.description"),
            (LEAD, "planAction.description"),
            (LEAD, "planAgreement.evidence"),
            (LEAD, "planGoal.description"),
            (LEAD, "planGoal.description"),
            (LEAD, "planReview.notes"),
        ];
        let expected: Vec<(String, String)> = expected
            .iter()
            .map(|(who, field)| ((*who).to_owned(), json!([field]).to_string()))
            .collect();
        assert_eq!(added, expected, "[{engine:?}]");
    })
    .await;
}
