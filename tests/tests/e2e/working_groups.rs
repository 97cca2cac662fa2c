//! Working groups and their meetings: the lifecycle (create, members, schedule, record
//! as held with attendance and minutes, follow-up of actions), who may change what, and
//! what the public, outsiders and members read.

use melt_tests::{Role, TestApp, first_error_code, on_every_engine, user_errors};
use serde_json::{Value, json};

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

        let read = |token: Option<String>| {
            let app = &net.app;
            async move {
                let body = match token {
                    Some(token) => app.query_as(&token, LIST, json!({})).await.1,
                    None => app.query(LIST, json!({})).await,
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
                    "{ workingGroups { nodes { meetings { actions { id } } } } }",
                    json!({}),
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
