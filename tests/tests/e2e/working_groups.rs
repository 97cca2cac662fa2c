//! Working groups and their meetings: the lifecycle (create, members, schedule, record
//! as held with attendance and minutes, follow-up of actions), who may change what, and
//! what the public, outsiders and members read.

use melt_tests::{
    Role, TestApp, codice_fiscale, first_error_code, flow, on_every_engine, user_errors,
};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

const GROUP_FIELDS: &str = "id rowVersion name purpose status territory { name } lead { name }
    members { role organization { name } }
    meetings { id rowVersion status startsAt place link minutesUrl minutesSha256
               topics { position title need { code } }
               attendance { organization { name } participants { name role } }
               actions { id rowVersion kind description status dueOn owner { name } } }";

fn mutation(name: &str, input: &str, object: &str, fields: &str) -> String {
    format!(
        "mutation($input: {input}!) {{ {name}(input: $input) {{
            {object} {{ {fields} }} userErrors {{ field code message }} }} }}"
    )
}

const MEETING_FIELDS: &str = "id rowVersion status place minutesSha256
    topics { title } attendance { organization { name } participants { name } }
    actions { id rowVersion status owner { name } }";

const LIST: &str = "query($org: ID) { workingGroups(filter: {organization: $org}) {
    totalCount nodes { id name viewerCanReadDetails members { role organization { name } }
      meetings { startsAt status topics { title } place link minutesUrl attendance { participants { name } } actions { description } } } } }";

/// The SHA-256 of the test minutes.
const MINUTES: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

struct Network {
    app: TestApp,
    region: String,
}

impl Network {
    async fn token(&self, name: &str, role: Role) -> String {
        let id = self.app.organization_id(name).await;
        self.app.token(Some(id), &[role])
    }

    async fn org(&self, name: &str) -> String {
        let query =
            "query($s: String) { organizations(filter: {search: $s}, first: 1) { nodes { id } } }";
        let data = self.app.data(query, json!({ "s": name })).await;
        data["organizations"]["nodes"][0]["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    async fn territory(&self, kind: &str, name: &str) -> String {
        let query = "query($k: [TerritoryKind!], $s: String) {
            territories(filter: {kinds: $k, search: $s}, first: 1) { nodes { id } } }";
        let data = self
            .app
            .data(query, json!({ "k": [kind], "s": name }))
            .await;
        data["territories"]["nodes"][0]["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    async fn need(&self) -> String {
        let query = "{ terms(filter: {taxonomies: [NEED]}, first: 1) { nodes { code } } }";
        let data = self.app.data(query, json!({})).await;
        data["terms"]["nodes"][0]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Runs a mutation as `token`: its payload, asserting no GraphQL errors.
    async fn call(&self, token: &str, query: &str, input: Value) -> Value {
        let (status, body) = self
            .app
            .query_as(token, query, json!({ "input": input }))
            .await;
        assert_eq!(status, 200, "{body}");
        assert!(body.get("errors").is_none(), "unexpected errors: {body}");
        let data = body["data"].as_object().cloned().unwrap_or_default();
        data.into_iter()
            .next()
            .map(|(_, payload)| payload)
            .unwrap_or(Value::Null)
    }

    async fn ok(&self, token: &str, query: &str, input: Value) -> Value {
        let payload = self.call(token, query, input).await;
        assert_eq!(payload["userErrors"], json!([]), "{payload}");
        payload
    }

    async fn refused(&self, token: Option<&str>, query: &str, input: Value) -> String {
        let variables = json!({ "input": input });
        let body = match token {
            Some(token) => self.app.query_as(token, query, variables).await.1,
            None => self.app.query(query, variables).await,
        };
        first_error_code(&body)
    }

    /// A group of the Pisa hub area led by the SdS zona pisana, with CNA Pisa as a
    /// member and Caritas of Pisa as an observer.
    async fn group(&self) -> Value {
        let input = json!({
            "name": "Tavolo MeLT zona pisana",
            "purpose": "Inclusione lavorativa delle persone straniere",
            "territory": self.territory("HUB_AREA", "Area Pisa").await,
            "lead": self.org("Società della Salute zona pisana").await,
            "startsOn": "2026-01-01",
            "endsOn": "2026-12-31",
            "members": [
                { "organization": self.org("CNA Pisa").await, "role": "MEMBER" },
                { "organization": self.org("Caritas diocesana di Pisa").await, "role": "OBSERVER" },
            ],
        });
        let create = mutation(
            "createWorkingGroup",
            "CreateWorkingGroupInput",
            "workingGroup",
            GROUP_FIELDS,
        );
        self.ok(&self.region, &create, input).await["workingGroup"].clone()
    }

    /// A meeting of `group` that started an hour ago, with one topic from a need.
    async fn meeting(&self, token: &str, group: &Value) -> Value {
        let input = json!({
            "workingGroup": group["id"],
            "startsAt": (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339(),
            "place": "Sala riunioni, via Saragat 24, Pisa",
            "link": "https://meet.example.it/tavolo-pisa",
            "topics": [
                { "title": "Corsi di lingua italiana", "need": self.need().await },
                { "title": "Orientamento al lavoro", "description": "Calendario degli sportelli" },
            ],
        });
        let schedule = mutation(
            "scheduleMeeting",
            "ScheduleMeetingInput",
            "meeting",
            MEETING_FIELDS,
        );
        self.ok(token, &schedule, input).await["meeting"].clone()
    }

    async fn record(&self, token: &str, meeting: &Value) -> Value {
        let input = json!({
            "id": meeting["id"],
            "expectedVersion": meeting["rowVersion"],
            "attendance": [
                { "organization": self.org("Società della Salute zona pisana").await,
                  "participants": [{ "name": "Anna Bianchi", "role": "Coordinatrice" }] },
                { "organization": self.org("CNA Pisa").await,
                  "participants": [{ "name": "Marco Verdi" }] },
            ],
            "minutesUrl": "https://example.it/verbale-1.pdf",
            "minutesSha256": MINUTES.to_uppercase(),
            "actions": [
                { "kind": "ACTION", "description": "Mappare i corsi di lingua della zona",
                  "owner": self.org("CNA Pisa").await, "dueOn": "2026-12-20" },
                { "kind": "DECISION", "description": "Riunioni mensili" },
            ],
        });
        let record = mutation(
            "recordMeeting",
            "RecordMeetingInput",
            "meeting",
            MEETING_FIELDS,
        );
        self.ok(token, &record, input).await["meeting"].clone()
    }
}

async fn network(app: TestApp) -> Network {
    let region = app.token(None, &[Role::RegionalAdmin]);
    Network { app, region }
}

#[tokio::test]
async fn a_working_group_meets_records_attendance_and_minutes_and_follows_up_its_actions() {
    on_every_engine(async |engine, app| {
        let net = network(app).await;
        let group = net.group().await;
        assert_eq!(group["status"], "ACTIVE", "[{engine:?}]");
        assert_eq!(group["territory"]["name"], "Area Pisa", "[{engine:?}]");
        let roles: Vec<(String, String)> = group["members"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|m| {
                (
                    m["organization"]["name"].as_str().unwrap_or_default().to_owned(),
                    m["role"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        assert_eq!(roles.len(), 3, "[{engine:?}] {roles:?}");
        assert!(roles.contains(&("Società della Salute zona pisana".into(), "LEAD".into())));
        assert!(roles.contains(&("CNA Pisa".into(), "MEMBER".into())));
        assert!(roles.contains(&("Caritas diocesana di Pisa".into(), "OBSERVER".into())));

        // The lead's administrator schedules and records the meeting.
        let lead = net.token("Società della Salute zona pisana", Role::OrgAdmin).await;
        let meeting = net.meeting(&lead, &group).await;
        assert_eq!(meeting["status"], "PLANNED", "[{engine:?}]");
        assert_eq!(meeting["topics"].as_array().map(Vec::len), Some(2));
        let held = net.record(&lead, &meeting).await;
        assert_eq!(held["status"], "HELD", "[{engine:?}]");
        assert_eq!(held["minutesSha256"], MINUTES, "stored lower-case [{engine:?}]");
        let attendance = held["attendance"].as_array().cloned().unwrap_or_default();
        assert_eq!(attendance.len(), 2, "[{engine:?}] {held}");
        let actions = held["actions"].as_array().cloned().unwrap_or_default();
        assert_eq!(actions.len(), 2, "[{engine:?}] {held}");
        let action = actions
            .iter()
            .find(|a| a["owner"]["name"] == "CNA Pisa")
            .cloned()
            .unwrap_or_default();
        assert_eq!(action["status"], "OPEN");

        // A held meeting is not recorded twice.
        let again = net
            .call(
                &lead,
                &mutation("recordMeeting", "RecordMeetingInput", "meeting", "id"),
                json!({ "id": held["id"], "expectedVersion": held["rowVersion"] }),
            )
            .await;
        let codes: Vec<String> = user_errors(&again).into_iter().map(|(_, c)| c).collect();
        assert_eq!(codes, ["INVALID_STATE"], "[{engine:?}] {again}");

        // The owner of the action (an operator of CNA Pisa) marks it done.
        let set_status = mutation(
            "setMeetingActionStatus",
            "SetMeetingActionStatusInput",
            "action",
            "status rowVersion",
        );
        let outsider = net.token("Comune di Firenze", Role::OrgAdmin).await;
        let input = json!({ "id": action["id"], "expectedVersion": action["rowVersion"], "status": "DONE" });
        assert_eq!(
            net.refused(Some(&outsider), &set_status, input.clone()).await,
            "FORBIDDEN",
            "[{engine:?}]"
        );
        let owner = net.token("CNA Pisa", Role::Operator).await;
        let done = net.ok(&owner, &set_status, input.clone()).await;
        assert_eq!(done["action"]["status"], "DONE", "[{engine:?}]");
        // A stale version is a conflict.
        assert_eq!(
            net.refused(Some(&owner), &set_status, input).await,
            "CONFLICT",
            "[{engine:?}]"
        );

        // Closing the group: no more meetings.
        let update = mutation(
            "updateWorkingGroup",
            "UpdateWorkingGroupInput",
            "workingGroup",
            "status rowVersion",
        );
        let version = net
            .app
            .data(
                "query($id: ID!) { node(id: $id) { ... on WorkingGroup { rowVersion } } }",
                json!({ "id": group["id"] }),
            )
            .await["node"]["rowVersion"]
            .clone();
        let closed = net
            .ok(
                &lead,
                &update,
                json!({ "id": group["id"], "expectedVersion": version, "status": "CLOSED" }),
            )
            .await;
        assert_eq!(closed["workingGroup"]["status"], "CLOSED");
        let schedule = mutation("scheduleMeeting", "ScheduleMeetingInput", "meeting", "id");
        let refused = net
            .call(
                &lead,
                &schedule,
                json!({ "workingGroup": group["id"], "startsAt": "2027-01-10T10:00:00Z" }),
            )
            .await;
        let codes: Vec<String> = user_errors(&refused).into_iter().map(|(_, c)| c).collect();
        assert_eq!(codes, ["INVALID_STATE"], "[{engine:?}] {refused}");
    })
    .await;
}

#[tokio::test]
async fn the_public_reads_a_groups_summary_and_only_members_read_its_meetings_details() {
    on_every_engine(async |engine, app| {
        let net = network(app).await;
        let group = net.group().await;
        let lead = net
            .token("Società della Salute zona pisana", Role::OrgAdmin)
            .await;
        let meeting = net.meeting(&lead, &group).await;
        net.record(&lead, &meeting).await;

        // The demo network has a group of its own: read this one, through its lead.
        let lead_org = net.org("Società della Salute zona pisana").await;
        let read = |token: Option<String>| {
            let app = &net.app;
            let variables = json!({ "org": lead_org });
            async move {
                let body = match token {
                    Some(token) => app.query_as(&token, LIST, variables).await.1,
                    None => app.query(LIST, variables).await,
                };
                assert!(body.get("errors").is_none(), "{body}");
                body["data"]["workingGroups"]["nodes"][0].clone()
            }
        };
        let outsiders = [
            ("anonymous", None),
            (
                "another organization's administrator",
                Some(net.token("Comune di Firenze", Role::OrgAdmin).await),
            ),
        ];
        for (who, token) in outsiders {
            let group = read(token).await;
            assert_eq!(
                group["name"], "Tavolo MeLT zona pisana",
                "[{engine:?}] {who}"
            );
            assert_eq!(group["viewerCanReadDetails"], false, "[{engine:?}] {who}");
            assert_eq!(group["members"].as_array().map(Vec::len), Some(3));
            let meeting = &group["meetings"][0];
            assert_eq!(meeting["status"], "HELD", "[{engine:?}] {who}");
            assert_eq!(meeting["topics"].as_array().map(Vec::len), Some(2));
            for field in ["place", "link", "minutesUrl", "attendance", "actions"] {
                assert!(
                    meeting[field].is_null(),
                    "[{engine:?}] {who} read {field}: {meeting}"
                );
            }
        }
        let members = [
            (
                "an operator of a member",
                net.token("CNA Pisa", Role::Operator).await,
            ),
            (
                "an observer",
                net.token("Caritas diocesana di Pisa", Role::Operator).await,
            ),
            ("the regional administration", net.region.clone()),
        ];
        for (who, token) in members {
            let group = read(Some(token)).await;
            assert_eq!(group["viewerCanReadDetails"], true, "[{engine:?}] {who}");
            let meeting = &group["meetings"][0];
            assert!(
                meeting["place"].is_string(),
                "[{engine:?}] {who}: {meeting}"
            );
            assert_eq!(meeting["attendance"].as_array().map(Vec::len), Some(2));
            assert_eq!(meeting["actions"].as_array().map(Vec::len), Some(2));
        }

        // An action read by id: absent for an outsider, present for a member.
        let action_id = {
            let token = net.token("CNA Pisa", Role::Operator).await;
            let body = net
                .app
                .query_as(
                    &token,
                    "query($org: ID) { workingGroups(filter: {organization: $org}) {
                        nodes { meetings { actions { id } } } } }",
                    json!({ "org": lead_org }),
                )
                .await
                .1;
            body["data"]["workingGroups"]["nodes"][0]["meetings"][0]["actions"][0]["id"].clone()
        };
        let node = "query($id: ID!) { node(id: $id) { ... on MeetingAction { description } } }";
        let outsider = net.token("Comune di Firenze", Role::OrgAdmin).await;
        let (_, body) = net
            .app
            .query_as(&outsider, node, json!({ "id": action_id }))
            .await;
        assert!(body["data"]["node"].is_null(), "[{engine:?}] {body}");
        let member = net.token("CNA Pisa", Role::Operator).await;
        let (_, body) = net
            .app
            .query_as(&member, node, json!({ "id": action_id }))
            .await;
        assert!(
            body["data"]["node"]["description"].is_string(),
            "[{engine:?}] {body}"
        );

        // Filtered by a member organization: the group is listed for CNA, not for Firenze.
        for (name, expected) in [("CNA Pisa", 1), ("Comune di Firenze", 0)] {
            let org = net.org(name).await;
            let data = net.app.data(LIST, json!({ "org": org })).await;
            assert_eq!(
                data["workingGroups"]["totalCount"], expected,
                "[{engine:?}] {name}"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn only_the_leads_administrators_and_the_region_manage_a_group() {
    on_every_engine(async |engine, app| {
        let net = network(app).await;
        let group = net.group().await;
        let schedule = mutation("scheduleMeeting", "ScheduleMeetingInput", "meeting", "id");
        let input = json!({ "workingGroup": group["id"], "startsAt": "2027-02-01T09:00:00Z" });
        let refusals = [
            (None, "UNAUTHENTICATED"),
            (
                Some(net.token("CNA Pisa", Role::OrgAdmin).await),
                "FORBIDDEN",
            ),
            (
                Some(
                    net.token("Società della Salute zona pisana", Role::Operator)
                        .await,
                ),
                "FORBIDDEN",
            ),
            (
                Some(net.token("Comune di Firenze", Role::OrgAdmin).await),
                "FORBIDDEN",
            ),
        ];
        for (token, code) in refusals {
            assert_eq!(
                net.refused(token.as_deref(), &schedule, input.clone())
                    .await,
                code,
                "[{engine:?}]"
            );
        }
        // An organization's administrator creates groups it leads, not others'.
        let create = mutation(
            "createWorkingGroup",
            "CreateWorkingGroupInput",
            "workingGroup",
            "id",
        );
        let cna = net.token("CNA Pisa", Role::OrgAdmin).await;
        let hub = net.territory("HUB_AREA", "Area Pisa").await;
        let led_by =
            |lead: String| json!({ "name": "Gruppo formazione", "territory": hub, "lead": lead });
        net.ok(&cna, &create, led_by(net.org("CNA Pisa").await))
            .await;
        assert_eq!(
            net.refused(
                Some(&cna),
                &create,
                led_by(net.org("Comune di Firenze").await)
            )
            .await,
            "FORBIDDEN",
            "[{engine:?}]"
        );
        // The region schedules for any group.
        net.ok(&net.region, &schedule, input).await;
    })
    .await;
}

#[tokio::test]
async fn bad_group_and_meeting_input_is_refused_with_user_errors() {
    on_every_engine(async |engine, app| {
        let net = network(app).await;
        let create = mutation(
            "createWorkingGroup",
            "CreateWorkingGroupInput",
            "workingGroup",
            "id",
        );
        let lead = net.org("Società della Salute zona pisana").await;
        let pisa = net.territory("MUNICIPALITY", "Pisa").await;
        let payload = net
            .call(
                &net.region,
                &create,
                json!({
                    "name": "Tavolo\nMeLT",
                    "territory": pisa,
                    "lead": lead,
                    "startsOn": "2026-05-01",
                    "endsOn": "2026-01-01",
                    "members": [{ "organization": lead, "role": "MEMBER" }],
                }),
            )
            .await;
        assert!(payload["workingGroup"].is_null(), "[{engine:?}] {payload}");
        let mut errors: Vec<(String, String)> = user_errors(&payload)
            .into_iter()
            .map(|(field, code)| (field.to_string(), code))
            .collect();
        errors.sort();
        let expected = [
            (r#"["input","endsOn"]"#, "OUT_OF_RANGE"),
            (r#"["input","members","0","organization"]"#, "TAKEN"),
            (r#"["input","name"]"#, "INVALID"),
            (r#"["input","territory"]"#, "INVALID"),
        ];
        let expected: Vec<(String, String)> = expected
            .iter()
            .map(|(f, c)| ((*f).to_owned(), (*c).to_owned()))
            .collect();
        assert_eq!(errors, expected, "[{engine:?}] {payload}");

        let group = net.group().await;
        let schedule = mutation("scheduleMeeting", "ScheduleMeetingInput", "meeting", "id");
        let payload = net
            .call(
                &net.region,
                &schedule,
                json!({
                    "workingGroup": group["id"],
                    "startsAt": "2027-01-10T10:00:00Z",
                    "link": "javascript:alert(1)",
                    "topics": [{ "title": "x".repeat(201), "need": "NO_SUCH_NEED" }],
                }),
            )
            .await;
        let mut codes: Vec<String> = user_errors(&payload).into_iter().map(|(_, c)| c).collect();
        codes.sort();
        assert_eq!(
            codes,
            ["INVALID", "NOT_FOUND", "TOO_LONG"],
            "[{engine:?}] {payload}"
        );

        // A future meeting cannot be recorded as held, and minutes need their hash.
        let meeting = net
            .ok(
                &net.region,
                &schedule,
                json!({ "workingGroup": group["id"], "startsAt": "2099-01-10T10:00:00Z" }),
            )
            .await["meeting"]
            .clone();
        let version = net
            .app
            .data(
                "query($id: ID!) { node(id: $id) { ... on Meeting { rowVersion } } }",
                json!({ "id": meeting["id"] }),
            )
            .await["node"]["rowVersion"]
            .clone();
        let record = mutation("recordMeeting", "RecordMeetingInput", "meeting", "id");
        let payload = net
            .call(
                &net.region,
                &record,
                json!({ "id": meeting["id"], "expectedVersion": version,
                        "minutesUrl": "https://example.it/verbale.pdf" }),
            )
            .await;
        let mut codes: Vec<String> = user_errors(&payload).into_iter().map(|(_, c)| c).collect();
        codes.sort();
        assert_eq!(
            codes,
            ["INVALID_STATE", "REQUIRED"],
            "[{engine:?}] {payload}"
        );
    })
    .await;
}

#[tokio::test]
async fn the_audit_log_records_meetings_by_organization_without_staff_names() {
    on_every_engine(async |engine, app| {
        let net = network(app).await;
        let group = net.group().await;
        let lead = net
            .token("Società della Salute zona pisana", Role::OrgAdmin)
            .await;
        let meeting = net.meeting(&lead, &group).await;
        net.record(&lead, &meeting).await;
        let auditor = net.region.clone();
        let (_, body) = net
            .app
            .query_as(
                &auditor,
                "query($id: ID!) { auditLog(filter: {object: $id}) { nodes { operation after } } }",
                json!({ "id": meeting["id"] }),
            )
            .await;
        let nodes = body["data"]["auditLog"]["nodes"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let operations: Vec<&str> = nodes
            .iter()
            .filter_map(|n| n["operation"].as_str())
            .collect();
        assert!(operations.contains(&"recordMeeting"), "[{engine:?}] {body}");
        assert!(
            operations.contains(&"scheduleMeeting"),
            "[{engine:?}] {body}"
        );
        let text = body.to_string();
        for name in ["Anna Bianchi", "Marco Verdi"] {
            assert!(
                !text.contains(name),
                "[{engine:?}] the audit log holds {name}: {text}"
            );
        }
    })
    .await;
}

/// The k-anonymity threshold of the test settings (`MELT_STATISTICS_K` unset).
const K: usize = 5;

const TOPICS: &str = "query($id: ID!) { node(id: $id) { ... on WorkingGroup {
    viewerCanReadDetails
    suggestedTopics(months: MONTHS) { need { code } peopleAssessed { count suppressed }
      peopleReferred { count suppressed } uncoveredMunicipalities municipalities onAgenda } } } }";

impl Network {
    /// A person registered by `org`'s operator, living in the municipality `istat`:
    /// their global ID.
    async fn person(&self, org: &str, cf: &str, istat: &str) -> Value {
        let token = self.token(org, Role::Operator).await;
        let register = "mutation($input: RegisterPersonInput!) { registerPerson(input: $input) {
            person { id } userErrors { field code message } } }";
        let input = json!({
            "organization": self.org(org).await, "codiceFiscale": cf,
            "givenName": "Amina", "familyName": "Haddad", "languages": ["ar", "it"],
            "residenceMunicipalityIstatCode": istat,
        });
        self.ok(&token, register, input).await["person"]["id"].clone()
    }

    /// An assessment by `org` of `person` recording `needs`, on `on` (today when None).
    async fn assess(&self, org: &str, person: &Value, needs: &[&str], on: Option<&str>) {
        let token = self.token(org, Role::Operator).await;
        let record =
            "mutation($input: RecordNeedsAssessmentInput!) { recordNeedsAssessment(input: $input) {
            needsAssessment { id } userErrors { field code message } } }";
        let needs: Vec<Value> = needs
            .iter()
            .map(|n| json!({ "need": n, "severity": "HIGH" }))
            .collect();
        let mut input = json!({ "person": person, "needs": needs });
        if let Some(on) = on {
            input["assessedOn"] = json!(on);
        }
        self.ok(&token, record, input).await;
    }

    /// `suggestedTopics(months:)` of `group` as `token` (anonymous when None): the
    /// whole response.
    async fn topics(&self, token: Option<&str>, group: &Value, months: i32) -> Value {
        let query = TOPICS.replace("MONTHS", &months.to_string());
        let variables = json!({ "id": group["id"] });
        match token {
            Some(token) => self.app.query_as(token, &query, variables).await.1,
            None => self.app.query(&query, variables).await,
        }
    }

    /// The municipalities of `territory` that no active service of any of the service
    /// types addressing `need` covers, from `coverageGaps` (the regional view), and
    /// how many municipalities `territory` has.
    async fn uncovered(&self, territory: &str, need: &str) -> (usize, usize) {
        let types = self
            .app
            .data(
                "{ terms(filter: {taxonomies: [NEED]}, first: 100) { nodes { code serviceTypes { code } } } }",
                json!({}),
            )
            .await;
        let types: Vec<String> = types["terms"]["nodes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|n| n["code"] == need)
            .flat_map(|n| n["serviceTypes"].as_array().cloned().unwrap_or_default())
            .filter_map(|t| t["code"].as_str().map(str::to_owned))
            .collect();
        let all = self
            .app
            .data(
                "query($id: ID!) { node(id: $id) { ... on Territory {
                    municipalitiesConnection(first: 100) { totalCount } } } }",
                json!({ "id": territory }),
            )
            .await;
        let municipalities = all["node"]["municipalitiesConnection"]["totalCount"]
            .as_u64()
            .unwrap_or_default() as usize;
        if types.is_empty() {
            return (municipalities, municipalities);
        }
        let gaps = "query($t: [String!], $in: ID) { coverageGaps(input: {serviceTypes: $t, territory: $in}) {
            serviceType { code } municipality { code } } }";
        let (_, body) = self
            .app
            .query_as(&self.region, gaps, json!({ "t": types, "in": territory }))
            .await;
        assert!(body.get("errors").is_none(), "{body}");
        let mut by_municipality: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for gap in body["data"]["coverageGaps"]
            .as_array()
            .into_iter()
            .flatten()
        {
            by_municipality
                .entry(
                    gap["municipality"]["code"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                )
                .or_default()
                .insert(
                    gap["serviceType"]["code"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                );
        }
        let uncovered = by_municipality
            .values()
            .filter(|missing| missing.len() == types.len())
            .count();
        (uncovered, municipalities)
    }
}

/// A codice fiscale of the generated people, the `i`-th.
fn generated_cf(i: usize) -> String {
    let letter = |n: usize| char::from(b'A' + u8::try_from(n % 26).unwrap_or_default());
    codice_fiscale(&format!("TPC{}{}A80A41G702", letter(i / 26), letter(i)))
}

#[tokio::test]
async fn topics_are_suggested_from_generated_assessments_with_small_cells_suppressed() {
    on_every_engine(async |engine, app| {
        let net = network(app).await;
        let group = net.group().await;
        let hub = net.territory("HUB_AREA", "Area Pisa").await;
        let (pisa, firenze) = ("050026", "048017");
        let (forium, cpi) = ("Forium", "Centro per l'impiego di Pisa");

        // LANGUAGE for K people of Pisa; the first also assessed by a second
        // organization (one person, two records: counted once).
        let mut cf = (0..).map(generated_cf);
        let mut language = Vec::new();
        for _ in 0..K {
            let code = cf.next().unwrap_or_default();
            let person = net.person(forium, &code, pisa).await;
            net.assess(forium, &person, &["LANGUAGE"], None).await;
            language.push((code, person));
        }
        let again = net.person(cpi, &language[0].0, pisa).await;
        net.assess(cpi, &again, &["language"], None).await;
        // One more, erased: not counted.
        let erased = net
            .person(forium, &cf.next().unwrap_or_default(), pisa)
            .await;
        net.assess(forium, &erased, &["LANGUAGE"], None).await;
        let erase =
            "mutation($input: ErasePersonInput!) { erasePerson(input: $input) { person { id } } }";
        let token = net.token(forium, Role::Operator).await;
        let version = net.app.row_version(&token, &erased).await;
        net.call(
            &token,
            erase,
            json!({ "id": erased, "expectedVersion": version }),
        )
        .await;

        // HOUSING for 2 people of Pisa (under k); 3 more living in Firenze, outside the
        // hub area, and 3 of the LANGUAGE people two years ago, outside the window:
        // counted, either would make HOUSING 5.
        for _ in 0..2 {
            let person = net
                .person(forium, &cf.next().unwrap_or_default(), pisa)
                .await;
            net.assess(forium, &person, &["HOUSING"], None).await;
        }
        for _ in 0..3 {
            let person = net
                .person(forium, &cf.next().unwrap_or_default(), firenze)
                .await;
            net.assess(forium, &person, &["HOUSING", "LANGUAGE"], None)
                .await;
        }
        let two_years_ago = (chrono::Utc::now().date_naive() - chrono::Duration::days(730))
            .format("%Y-%m-%d")
            .to_string();
        for (_, person) in &language[1..4] {
            net.assess(forium, person, &["HOUSING"], Some(&two_years_ago))
                .await;
        }

        // EMPLOYMENT: K people of Pisa referred (sent); one more with a draft only.
        for _ in 0..K {
            flow::sent_referral_for(&net.app).await;
        }
        flow::draft_referral_as(&net.app, &cf.next().unwrap_or_default()).await;

        // LANGUAGE is on the agenda of a meeting of the group.
        let lead = net
            .token("Società della Salute zona pisana", Role::OrgAdmin)
            .await;
        let schedule = mutation("scheduleMeeting", "ScheduleMeetingInput", "meeting", "id");
        let input = json!({ "workingGroup": group["id"], "startsAt": "2027-02-01T09:00:00Z",
            "topics": [{ "title": "Corsi di italiano", "need": "LANGUAGE" }] });
        net.ok(&lead, &schedule, input).await;

        let member = net.token("CNA Pisa", Role::Operator).await;
        for (who, token) in [("a member", &member), ("the region", &net.region)] {
            let body = net.topics(Some(token.as_str()), &group, 12).await;
            assert!(body.get("errors").is_none(), "[{engine:?}] {who}: {body}");
            let topics = body["data"]["node"]["suggestedTopics"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let find = |code: &str| {
                topics
                    .iter()
                    .find(|t| t["need"]["code"] == code)
                    .cloned()
                    .unwrap_or(Value::Null)
            };
            let codes: Vec<&str> = topics
                .iter()
                .filter_map(|t| t["need"]["code"].as_str())
                .collect();
            assert_eq!(
                codes.get(..2),
                Some(&["LANGUAGE", "EMPLOYMENT"][..]),
                "[{engine:?}] {who}: most assessed, then most referred: {codes:?}"
            );
            let language = find("LANGUAGE");
            assert_eq!(
                language["peopleAssessed"],
                json!({ "count": K, "suppressed": false }),
                "[{engine:?}] {who}: {language}"
            );
            assert_eq!(
                language["peopleReferred"],
                json!({ "count": 0, "suppressed": false })
            );
            assert_eq!(language["onAgenda"], true, "[{engine:?}] {who}");
            let employment = find("EMPLOYMENT");
            assert_eq!(
                employment["peopleReferred"],
                json!({ "count": K, "suppressed": false }),
                "[{engine:?}] {who}: {employment}"
            );
            assert_eq!(
                employment["peopleAssessed"],
                json!({ "count": 0, "suppressed": false })
            );
            assert_eq!(employment["onAgenda"], false);
            let housing = find("HOUSING");
            assert_eq!(
                housing["peopleAssessed"],
                json!({ "count": null, "suppressed": true }),
                "[{engine:?}] {who}: 2 people, under k: {housing}"
            );
            assert_eq!(housing["onAgenda"], false);

            // Coverage as the regional view computes it, need by need.
            for topic in &topics {
                let code = topic["need"]["code"].as_str().unwrap_or_default();
                let (uncovered, municipalities) = net.uncovered(&hub, code).await;
                assert_eq!(
                    topic["uncoveredMunicipalities"], uncovered,
                    "[{engine:?}] {who}: {code}"
                );
                assert_eq!(
                    topic["municipalities"], municipalities,
                    "[{engine:?}] {code}"
                );
                assert!(municipalities > 0);
            }
            // Every need left out has no one counted and no gap.
            let needs = net
                .app
                .data(
                    "{ terms(filter: {taxonomies: [NEED]}, first: 100) { nodes { code } } }",
                    json!({}),
                )
                .await;
            for need in needs["terms"]["nodes"].as_array().into_iter().flatten() {
                let code = need["code"].as_str().unwrap_or_default();
                if !codes.contains(&code) {
                    assert_eq!(net.uncovered(&hub, code).await.0, 0, "[{engine:?}] {code}");
                }
            }
        }

        // One month back: the two-year-old assessments are still out, the counts the same.
        let body = net.topics(Some(&member), &group, 1).await;
        let first = &body["data"]["node"]["suggestedTopics"][0];
        assert_eq!(first["need"]["code"], "LANGUAGE", "[{engine:?}] {body}");
        assert_eq!(first["peopleAssessed"]["count"], K);

        // Outsiders read null; a bad number of months is refused.
        let firenze_admin = net.token("Comune di Firenze", Role::OrgAdmin).await;
        for (who, token) in [
            ("anonymous", None),
            ("an outsider", Some(firenze_admin.as_str())),
        ] {
            let body = net.topics(token, &group, 12).await;
            assert!(body.get("errors").is_none(), "[{engine:?}] {who}: {body}");
            assert_eq!(body["data"]["node"]["viewerCanReadDetails"], false);
            assert!(
                body["data"]["node"]["suggestedTopics"].is_null(),
                "[{engine:?}] {who}: {body}"
            );
        }
        for months in [0, 61] {
            let body = net.topics(Some(net.region.as_str()), &group, months).await;
            assert_eq!(
                first_error_code(&body),
                "BAD_USER_INPUT",
                "[{engine:?}] {months}: {body}"
            );
            assert!(body.to_string().contains("between 1 and 60"), "{body}");
        }
    })
    .await;
}

const GROUP_TOPICS: &str = "query($n: Int) { workingGroups(first: $n) { nodes { id
    territory { municipalitiesConnection(first: 1) { totalCount } }
    suggestedTopics(months: 12) { need { code } peopleAssessed { count suppressed }
      peopleReferred { count suppressed } uncoveredMunicipalities municipalities onAgenda } } } }";

#[tokio::test]
async fn a_page_of_groups_reads_its_suggested_topics_in_one_batch_each_as_it_reads_alone() {
    on_every_engine(async |engine, app| {
        let net = network(app).await;
        // A group on every kind of territory a group may have; the Florence area holds
        // none of the people below.
        let lead = net.org("Società della Salute zona pisana").await;
        let create = mutation(
            "createWorkingGroup",
            "CreateWorkingGroupInput",
            "workingGroup",
            "id",
        );
        let territories = [
            ("REGION", "Toscana"),
            ("ZONE", "Zona pisana"),
            ("HUB_AREA", "Area Pisa"),
            ("HUB_AREA", "Area Firenze"),
        ];
        for (kind, name) in territories {
            let territory = net.territory(kind, name).await;
            assert!(!territory.is_empty(), "[{engine:?}] {kind} {name}");
            let input = json!({ "name": format!("Tavolo {kind} {name}"), "territory": territory,
                "lead": lead });
            net.ok(&net.region, &create, input).await;
        }
        // LANGUAGE for K people of Pisa: counted by every group but the Florence area's.
        let mut cf = (100..).map(generated_cf);
        for _ in 0..K {
            let person = net
                .person("Forium", &cf.next().unwrap_or_default(), "050026")
                .await;
            net.assess("Forium", &person, &["LANGUAGE"], None).await;
        }

        let page = async |n: usize| {
            let before = net.app.statement_count();
            let (_, body) = net
                .app
                .query_as(&net.region, GROUP_TOPICS, json!({ "n": n }))
                .await;
            assert!(body.get("errors").is_none(), "[{engine:?}] {body}");
            let nodes = body["data"]["workingGroups"]["nodes"].as_array().cloned();
            (
                nodes.unwrap_or_default(),
                net.app.statement_count() - before,
            )
        };
        let (two, small) = page(2).await;
        let (groups, large) = page(100).await;
        assert_eq!(two.len(), 2, "[{engine:?}]");
        assert!(groups.len() > territories.len(), "[{engine:?}] {groups:?}");
        assert_eq!(
            small,
            large,
            "[{engine:?}] 2 groups: {small} statements, {} groups: {large}",
            groups.len()
        );

        let mut pisa_language = 0;
        for group in &groups {
            let topics = group["suggestedTopics"].as_array().cloned();
            let topics = topics.unwrap_or_default();
            assert!(!topics.is_empty(), "[{engine:?}] {group}");
            // The same as the group read alone.
            let alone = net.topics(Some(net.region.as_str()), group, 12).await;
            assert_eq!(
                alone["data"]["node"]["suggestedTopics"], group["suggestedTopics"],
                "[{engine:?}] {}",
                group["id"]
            );
            // Over the municipalities of the group's own territory.
            let municipalities = &group["territory"]["municipalitiesConnection"]["totalCount"];
            for topic in &topics {
                assert_eq!(
                    &topic["municipalities"], municipalities,
                    "[{engine:?}] {group}"
                );
            }
            let language = topics.iter().find(|t| t["need"]["code"] == "LANGUAGE");
            if language.is_some_and(|l| l["peopleAssessed"]["count"] == K) {
                pisa_language += 1;
            }
        }
        // Every group whose territory holds Pisa counts the K people; the Florence area's not.
        assert_eq!(
            pisa_language,
            territories.len() - 1,
            "[{engine:?}] {groups:?}"
        );
    })
    .await;
}
