//! Protocols and signatories: the lifecycle DRAFT → OPEN_FOR_SIGNATURE → IN_FORCE →
//! TERMINATED, amendments as new versions, invitations, signatures and withdrawals;
//! who may do each, validation, concurrency and the audit log.

use melt_tests::{Role, TestApp, engines, first_error_code, global_id, spawn_app};
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------
// Mutations and queries
// ---------------------------------------------------------------------------------

const PROTOCOL_FIELDS: &str = "id rowVersion version status title documentSha256
    supersedes { id } scope { id }
    signatories { id rowVersion role status organization { name } }";

fn mutation(name: &str, input_type: &str, object: &str) -> String {
    let fields = if object == "protocol" {
        PROTOCOL_FIELDS
    } else {
        "id rowVersion role status signedAt signedByName signedByTitle withdrawnAt
         organization { name } protocol { id }"
    };
    format!(
        "mutation($input: {input_type}!) {{ {name}(input: $input) {{
            {object} {{ {fields} }}
            userErrors {{ field code message }}
        }} }}"
    )
}

fn create() -> String {
    mutation("createProtocol", "CreateProtocolInput", "protocol")
}
fn create_version() -> String {
    mutation(
        "createProtocolVersion",
        "CreateProtocolVersionInput",
        "protocol",
    )
}
fn open() -> String {
    mutation(
        "openProtocolForSignature",
        "OpenProtocolForSignatureInput",
        "protocol",
    )
}
fn in_force() -> String {
    mutation("putProtocolInForce", "PutProtocolInForceInput", "protocol")
}
fn terminate() -> String {
    mutation("terminateProtocol", "TerminateProtocolInput", "protocol")
}
fn invite() -> String {
    mutation("inviteSignatory", "InviteSignatoryInput", "signatory")
}
fn sign() -> String {
    mutation("signProtocol", "SignProtocolInput", "signatory")
}
fn withdraw() -> String {
    mutation("withdrawSignatory", "WithdrawSignatoryInput", "signatory")
}

const NODE: &str = "query($id: ID!) { node(id: $id) { ... on Protocol {
    id rowVersion version status title documentSha256 supersedes { id } scope { id }
    signatories { id rowVersion role status organization { name } }
} } }";

const ORG_ID: &str = "query($name: String) {
  organizations(filter: {search: $name}, first: 1) { nodes { id } }
}";

const PISA: &str = "{ municipality(istatCode: \"050026\") { id } }";

const AUDIT: &str = "query($id: ID!) {
  auditLog(filter: {object: $id}) { totalCount nodes { operation objectType before after } }
}";

/// The SHA-256 the test protocols are created with, in capitals (stored lower-case).
const DOCUMENT: &str = "ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789";

// ---------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------

/// The calls of one test: the app and the tokens of its roles.
struct Network {
    app: TestApp,
    region: String,
}

impl Network {
    async fn start(engine: melt_tests::Engine) -> Self {
        let app = spawn_app(engine).await;
        let region = app.token(None, &[Role::RegionalAdmin]);
        Self { app, region }
    }

    /// A token of `name`'s organization with `role`.
    async fn member(&self, name: &str, role: Role) -> String {
        let id = self.app.organization_id(name).await;
        self.app.token(Some(id), &[role])
    }

    async fn org(&self, name: &str) -> String {
        let data = self.app.data(ORG_ID, json!({ "name": name })).await;
        let id = data["organizations"]["nodes"][0]["id"].as_str();
        id.unwrap_or_default().to_owned()
    }

    async fn pisa(&self) -> String {
        let data = self.app.data(PISA, json!({})).await;
        data["municipality"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Runs mutation `query` as `token` and returns its payload, asserting no GraphQL
    /// errors.
    async fn call(&self, token: &str, query: &str, input: Value) -> Value {
        let (status, body) = self
            .app
            .query_as(token, query, json!({ "input": input }))
            .await;
        assert_eq!(status, 200, "[{:?}] {body}", self.app.engine);
        assert!(
            body.get("errors").is_none(),
            "[{:?}] unexpected errors: {body}",
            self.app.engine
        );
        let data = body["data"].as_object().cloned().unwrap_or_default();
        data.into_iter()
            .next()
            .map(|(_, payload)| payload)
            .unwrap_or(Value::Null)
    }

    /// Like `call`, and asserts there were no user errors.
    async fn ok(&self, token: &str, query: &str, input: Value) -> Value {
        let payload = self.call(token, query, input).await;
        assert_eq!(
            payload["userErrors"],
            json!([]),
            "[{:?}] {payload}",
            self.app.engine
        );
        payload
    }

    /// The error code of a refused call (FORBIDDEN, CONFLICT, ...).
    async fn refused(&self, token: Option<&str>, query: &str, input: Value) -> String {
        let variables = json!({ "input": input });
        let body = match token {
            Some(token) => self.app.query_as(token, query, variables).await.1,
            None => self.app.query(query, variables).await,
        };
        assert!(
            body["data"].is_null()
                || body["data"]
                    .as_object()
                    .is_some_and(|d| d.values().all(Value::is_null)),
            "[{:?}] a refused call returned data: {body}",
            self.app.engine
        );
        first_error_code(&body)
    }

    /// A protocol as read back through `node`.
    async fn protocol(&self, id: &str) -> Value {
        self.app.data(NODE, json!({ "id": id })).await["node"].clone()
    }

    /// Creates a DRAFT protocol scoped to Pisa, led by `lead`.
    async fn draft(&self, title: &str, lead: Option<&str>) -> Value {
        let lead = match lead {
            Some(name) => json!(self.org(name).await),
            None => Value::Null,
        };
        let input = json!({
            "title": title,
            "description": "Protocollo di prova",
            "validFrom": "2026-01-01",
            "validTo": "2028-12-31",
            "documentUrl": "https://example.it/protocollo.pdf",
            "documentSha256": DOCUMENT,
            "responseTimeDays": 7,
            "scope": [self.pisa().await],
            "lead": lead,
        });
        self.ok(&self.region, &create(), input).await["protocol"].clone()
    }

    /// Invites `organization` to the protocol as the region and returns the signatory.
    async fn invite(&self, protocol: &Value, organization: &str) -> Value {
        let input = json!({
            "protocol": protocol["id"],
            "organization": self.org(organization).await,
            "role": "PARTNER",
        });
        self.ok(&self.region, &invite(), input).await["signatory"].clone()
    }

    /// Opens the protocol for signature as the region.
    async fn open(&self, protocol: &Value) -> Value {
        let input = json!({ "id": protocol["id"], "expectedVersion": protocol["rowVersion"] });
        self.ok(&self.region, &open(), input).await["protocol"].clone()
    }

    /// Signs `signatory` as an administrator of `organization`.
    async fn sign(&self, signatory: &Value, organization: &str) -> Value {
        let token = self.member(organization, Role::OrgAdmin).await;
        self.ok(&token, &sign(), signature(signatory)).await["signatory"].clone()
    }

    /// Puts the protocol in force as the region.
    async fn in_force(&self, protocol: &Value) -> Value {
        let input = json!({ "id": protocol["id"], "expectedVersion": protocol["rowVersion"] });
        self.ok(&self.region, &in_force(), input).await["protocol"].clone()
    }

    /// Operations recorded in the audit log for the object `id`, oldest first.
    async fn audit(&self, id: &Value) -> Vec<Value> {
        let auditor = self.app.token(None, &[Role::Auditor]);
        let (_, body) = self
            .app
            .query_as(&auditor, AUDIT, json!({ "id": id }))
            .await;
        let mut events = body["data"]["auditLog"]["nodes"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        events.reverse();
        events
    }
}

fn signature(signatory: &Value) -> Value {
    json!({
        "id": signatory["id"],
        "expectedVersion": signatory["rowVersion"],
        "signedByName": "Andrea Bruni",
        "signedByTitle": "Presidente",
        "documentSha256": DOCUMENT.to_lowercase(),
    })
}

fn operations(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["operation"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn codes_and_fields(payload: &Value) -> Vec<(String, Value)> {
    payload["userErrors"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|e| {
            (
                e["code"].as_str().unwrap_or_default().to_owned(),
                e["field"].clone(),
            )
        })
        .collect()
}

/// The signatory of `organization` (by name) in a protocol read back.
fn signatory_of<'a>(protocol: &'a Value, organization: &str) -> &'a Value {
    protocol["signatories"]
        .as_array()
        .and_then(|all| {
            all.iter()
                .find(|s| s["organization"]["name"] == organization)
        })
        .unwrap_or(&Value::Null)
}

/// The tokens that are refused, with the expected code, besides the allowed ones.
async fn outsiders(net: &Network, own: &str) -> Vec<(Option<String>, &'static str)> {
    vec![
        (Some(net.member(own, Role::OrgAdmin).await), "FORBIDDEN"),
        (Some(net.member(own, Role::Operator).await), "FORBIDDEN"),
        (Some(net.member(own, Role::Auditor).await), "FORBIDDEN"),
        (None, "UNAUTHENTICATED"),
    ]
}

// ---------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------

#[tokio::test]
async fn a_protocol_goes_from_draft_to_in_force_and_shows_who_signed_what_and_when() {
    for engine in engines() {
        let net = Network::start(engine).await;
        let draft = net
            .draft("Protocollo pisano per l'inclusione", Some("Forium"))
            .await;
        assert_eq!(draft["status"], "DRAFT", "[{engine:?}] {draft}");
        assert_eq!(draft["version"], 1);
        assert_eq!(draft["documentSha256"], DOCUMENT.to_lowercase());
        assert_eq!(draft["scope"][0]["id"], json!(net.pisa().await));
        let lead = signatory_of(&draft, "Forium");
        assert_eq!(lead["role"], "PROMOTER", "[{engine:?}] {draft}");
        assert_eq!(lead["status"], "INVITED");

        // The lead's administrator invites its partner.
        let forium_admin = net.member("Forium", Role::OrgAdmin).await;
        let input = json!({
            "protocol": draft["id"],
            "organization": net.org("CNA Pisa").await,
            "role": "PARTNER",
        });
        let invited = net.ok(&forium_admin, &invite(), input).await["signatory"].clone();
        assert_eq!(invited["status"], "INVITED", "[{engine:?}] {invited}");
        assert_eq!(invited["role"], "PARTNER");
        assert!(invited["signedAt"].is_null());

        let opened = net.open(&draft).await;
        assert_eq!(opened["status"], "OPEN_FOR_SIGNATURE");
        assert_eq!(
            opened["rowVersion"],
            draft["rowVersion"].as_i64().unwrap_or(0) + 1
        );

        let signed = net.sign(&invited, "CNA Pisa").await;
        assert_eq!(signed["status"], "SIGNED", "[{engine:?}] {signed}");
        assert_eq!(signed["signedByName"], "Andrea Bruni");
        assert_eq!(signed["signedByTitle"], "Presidente");
        assert!(signed["signedAt"].is_string(), "{signed}");

        let in_force = net.in_force(&opened).await;
        assert_eq!(in_force["status"], "IN_FORCE", "[{engine:?}] {in_force}");

        // The public directory shows who signed what and when.
        let list = "query($search: String) { protocols(filter: {search: $search}) { nodes {
            status version
            signatories { status signedAt signedByName role organization { name } }
        } } }";
        let data = net
            .app
            .data(list, json!({ "search": "protocollo pisano" }))
            .await;
        let nodes = data["protocols"]["nodes"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(nodes.len(), 1, "[{engine:?}] {data}");
        let shown = &nodes[0];
        assert_eq!(shown["status"], "IN_FORCE");
        let cna = signatory_of(shown, "CNA Pisa");
        assert_eq!(cna["status"], "SIGNED", "{shown}");
        assert_eq!(cna["signedByName"], "Andrea Bruni");
        assert_eq!(cna["signedAt"], signed["signedAt"]);
        let forium = signatory_of(shown, "Forium");
        assert_eq!(forium["status"], "INVITED", "{shown}");
        assert!(forium["signedAt"].is_null());

        // Every change is in the audit log.
        let events = net.audit(&draft["id"]).await;
        assert_eq!(
            operations(&events),
            [
                "createProtocol",
                "openProtocolForSignature",
                "putProtocolInForce"
            ],
            "[{engine:?}]"
        );
        assert!(events.iter().all(|e| e["objectType"] == "Protocol"));
        assert_eq!(
            events[0]["after"]["scope"].as_array().map(Vec::len),
            Some(1)
        );
        assert_eq!(events[2]["before"]["status"], "OPEN_FOR_SIGNATURE");
        assert_eq!(events[2]["after"]["status"], "IN_FORCE");
        let events = net.audit(&invited["id"]).await;
        assert_eq!(
            operations(&events),
            ["inviteSignatory", "signProtocol"],
            "[{engine:?}]"
        );
        assert!(events.iter().all(|e| e["objectType"] == "Signatory"));
        assert_eq!(
            events[1]["after"]["documentSha256"],
            DOCUMENT.to_lowercase()
        );
        assert_eq!(events[1]["after"]["status"], "SIGNED");
        let events = net.audit(&lead["id"]).await;
        assert_eq!(operations(&events), ["createProtocol"], "[{engine:?}]");
    }
}

#[tokio::test]
async fn every_transition_from_a_wrong_status_is_invalid_state_and_changes_nothing() {
    for engine in engines() {
        let net = Network::start(engine).await;
        let region = net.region.clone();
        let draft = net.draft("Protocollo degli stati", None).await;
        let cna = net.invite(&draft, "CNA Pisa").await;
        let cna_admin = net.member("CNA Pisa", Role::OrgAdmin).await;

        // Each refused call: (token, mutation, input, field of the error).
        let expect_invalid = async |token: &str, query: String, input: Value, field: Value| {
            let id = input
                .get("id")
                .or_else(|| input.get("protocol"))
                .cloned()
                .unwrap_or_else(|| draft["id"].clone());
            let before = net.protocol(id.as_str().unwrap_or_default()).await;
            let payload = net.call(token, &query, input).await;
            assert_eq!(
                codes_and_fields(&payload),
                [("INVALID_STATE".to_owned(), field)],
                "[{engine:?}] {query}: {payload}"
            );
            assert!(payload["protocol"].is_null() && payload["signatory"].is_null());
            let after = net.protocol(id.as_str().unwrap_or_default()).await;
            assert_eq!(before, after, "[{engine:?}] nothing changed");
        };
        let by_id = json!(["input", "id"]);
        let versioned = |p: &Value| json!({ "id": p["id"], "expectedVersion": p["rowVersion"] });

        // DRAFT: neither in force nor terminated; nobody can sign yet.
        expect_invalid(&region, in_force(), versioned(&draft), by_id.clone()).await;
        let mut stop = versioned(&draft);
        stop["reason"] = json!("prova");
        expect_invalid(&region, terminate(), stop, by_id.clone()).await;
        let early_sign = async || {
            let payload = net.call(&cna_admin, &sign(), signature(&cna)).await;
            assert_eq!(
                codes_and_fields(&payload),
                [("INVALID_STATE".to_owned(), json!(["input", "signatory"]))],
                "[{engine:?}] {payload}"
            );
        };
        early_sign().await;

        // OPEN_FOR_SIGNATURE: cannot open again; not in force without a signature.
        let opened = net.open(&draft).await;
        expect_invalid(&region, open(), versioned(&opened), by_id.clone()).await;
        expect_invalid(&region, in_force(), versioned(&opened), by_id.clone()).await;

        // A signature cannot be signed twice.
        let signed = net.sign(&cna, "CNA Pisa").await;
        let payload = net.call(&cna_admin, &sign(), signature(&signed)).await;
        assert_eq!(
            codes_and_fields(&payload),
            [("INVALID_STATE".to_owned(), json!(["input", "signatory"]))],
            "[{engine:?}] {payload}"
        );

        // IN_FORCE: no more invitations, cannot be opened or put in force again.
        let in_force_now = net.in_force(&opened).await;
        expect_invalid(&region, open(), versioned(&in_force_now), by_id.clone()).await;
        expect_invalid(&region, in_force(), versioned(&in_force_now), by_id.clone()).await;
        let late = json!({
            "protocol": draft["id"],
            "organization": net.org("Copernico").await,
            "role": "ADHERENT",
        });
        expect_invalid(&region, invite(), late, json!(["input", "protocol"])).await;

        // TERMINATED: the end.
        let mut stop = versioned(&in_force_now);
        stop["reason"] = json!("Sostituito dalla normativa regionale");
        let ended = net.ok(&region, &terminate(), stop).await["protocol"].clone();
        assert_eq!(ended["status"], "TERMINATED", "[{engine:?}] {ended}");
        for query in [open(), in_force()] {
            expect_invalid(&region, query, versioned(&ended), by_id.clone()).await;
        }
        let mut again = versioned(&ended);
        again["reason"] = json!("ancora");
        expect_invalid(&region, terminate(), again, by_id.clone()).await;

        // A withdrawn adherence cannot be withdrawn again.
        let current = net.protocol(draft["id"].as_str().unwrap_or_default()).await;
        let cna_now = signatory_of(&current, "CNA Pisa").clone();
        let leave = |s: &Value| json!({ "id": s["id"], "expectedVersion": s["rowVersion"], "reason": "chiusura" });
        let gone = net.ok(&cna_admin, &withdraw(), leave(&cna_now)).await["signatory"].clone();
        assert_eq!(gone["status"], "WITHDRAWN", "[{engine:?}] {gone}");
        assert!(gone["withdrawnAt"].is_string());
        let payload = net.call(&cna_admin, &withdraw(), leave(&gone)).await;
        assert_eq!(
            codes_and_fields(&payload),
            [("INVALID_STATE".to_owned(), json!(["input", "signatory"]))],
            "[{engine:?}] {payload}"
        );
    }
}

#[tokio::test]
async fn only_the_regional_administration_manages_the_protocol_lifecycle() {
    for engine in engines() {
        let net = Network::start(engine).await;
        let region = net.region.clone();
        let refuse_all = async |query: String, input: Value| {
            for (token, code) in outsiders(&net, "Forium").await {
                let got = net.refused(token.as_deref(), &query, input.clone()).await;
                assert_eq!(got, code, "[{engine:?}] {query} as {token:?}");
            }
        };

        let create_input = json!({
            "title": "Protocollo dei ruoli",
            "responseTimeDays": 5,
            "scope": [net.pisa().await],
            "lead": net.org("Forium").await,
        });
        refuse_all(create(), create_input.clone()).await;
        let draft = net.ok(&region, &create(), create_input).await["protocol"].clone();
        let forium_lead = signatory_of(&draft, "Forium").clone();

        let versioned = |p: &Value| json!({ "id": p["id"], "expectedVersion": p["rowVersion"] });
        refuse_all(open(), versioned(&draft)).await;
        let opened = net.ok(&region, &open(), versioned(&draft)).await["protocol"].clone();
        assert_eq!(opened["status"], "OPEN_FOR_SIGNATURE");

        // The documentless protocol accepts any well-formed SHA-256.
        net.sign(&forium_lead, "Forium").await;
        refuse_all(in_force(), versioned(&opened)).await;
        let in_force_now =
            net.ok(&region, &in_force(), versioned(&opened)).await["protocol"].clone();
        assert_eq!(in_force_now["status"], "IN_FORCE");

        // The deprecated key name `protocol` still names the amended protocol.
        let amend = json!({ "protocol": draft["id"], "expectedVersion": in_force_now["rowVersion"],
            "title": "Protocollo dei ruoli, seconda versione" });
        refuse_all(create_version(), amend.clone()).await;
        let second = net.ok(&region, &create_version(), amend).await["protocol"].clone();
        assert_eq!(second["version"], 2, "[{engine:?}] {second}");

        let mut stop = versioned(&in_force_now);
        stop["reason"] = json!("Fine della sperimentazione");
        refuse_all(terminate(), stop.clone()).await;
        let ended = net.ok(&region, &terminate(), stop).await["protocol"].clone();
        assert_eq!(ended["status"], "TERMINATED");
        let events = net.audit(&draft["id"]).await;
        assert_eq!(
            operations(&events),
            [
                "createProtocol",
                "openProtocolForSignature",
                "putProtocolInForce",
                "terminateProtocol"
            ],
            "[{engine:?}]"
        );
        assert_eq!(events[3]["after"]["reason"], "Fine della sperimentazione");
    }
}

#[tokio::test]
async fn invitations_come_from_the_regional_administration_or_the_protocols_lead() {
    for engine in engines() {
        let net = Network::start(engine).await;
        let draft = net.draft("Protocollo degli inviti", Some("Forium")).await;
        let invite_cna = json!({
            "protocol": draft["id"],
            "organization": net.org("CNA Pisa").await,
            "role": "PARTNER",
        });
        let cases = [
            (
                Some(net.member("CNA Pisa", Role::OrgAdmin).await),
                "FORBIDDEN",
            ),
            (
                Some(net.member("Forium", Role::Operator).await),
                "FORBIDDEN",
            ),
            (Some(net.member("Forium", Role::Auditor).await), "FORBIDDEN"),
            (Some(net.app.token(None, &[Role::Auditor])), "FORBIDDEN"),
            (None, "UNAUTHENTICATED"),
        ];
        for (token, code) in cases {
            let got = net
                .refused(token.as_deref(), &invite(), invite_cna.clone())
                .await;
            assert_eq!(got, code, "[{engine:?}] {token:?}");
        }
        assert!(
            signatory_of(
                &net.protocol(draft["id"].as_str().unwrap_or_default()).await,
                "CNA Pisa"
            )
            .is_null(),
            "[{engine:?}] nobody was invited"
        );

        // The lead's administrator and the region may invite.
        let forium_admin = net.member("Forium", Role::OrgAdmin).await;
        let cna = net.ok(&forium_admin, &invite(), invite_cna.clone()).await["signatory"].clone();
        assert_eq!(cna["organization"]["name"], "CNA Pisa");
        let copernico = net.invite(&draft, "Copernico").await;
        assert_eq!(copernico["status"], "INVITED");

        // The same organization twice is taken.
        let payload = net.call(&net.region, &invite(), invite_cna.clone()).await;
        assert_eq!(
            codes_and_fields(&payload),
            [("TAKEN".to_owned(), json!(["input", "organization"]))],
            "[{engine:?}] {payload}"
        );

        // An organization that withdrew is invited again, on the same adherence.
        let cna_admin = net.member("CNA Pisa", Role::OrgAdmin).await;
        let leave = json!({ "id": cna["id"], "expectedVersion": cna["rowVersion"], "reason": "ripensamento" });
        net.ok(&cna_admin, &withdraw(), leave).await;
        let mut adherent = invite_cna.clone();
        adherent["role"] = json!("ADHERENT");
        let back = net.ok(&forium_admin, &invite(), adherent).await["signatory"].clone();
        assert_eq!(back["id"], cna["id"], "[{engine:?}] {back}");
        assert_eq!(back["status"], "INVITED");
        assert_eq!(back["role"], "ADHERENT");
        assert!(back["withdrawnAt"].is_null());
        assert_eq!(
            operations(&net.audit(&cna["id"]).await),
            ["inviteSignatory", "withdrawSignatory", "inviteSignatory"],
            "[{engine:?}]"
        );

        // Unknown organizations are reported, not invited.
        let ghost = json!({
            "protocol": draft["id"],
            "organization": global_id("Organization", uuid::Uuid::now_v7()),
            "role": "ADHERENT",
        });
        let payload = net.call(&net.region, &invite(), ghost).await;
        assert_eq!(
            codes_and_fields(&payload),
            [("NOT_FOUND".to_owned(), json!(["input", "organization"]))],
            "[{engine:?}] {payload}"
        );
    }
}

#[tokio::test]
async fn only_the_invited_organizations_admin_signs_its_invitation() {
    for engine in engines() {
        let net = Network::start(engine).await;
        let draft = net.draft("Protocollo delle firme", Some("Forium")).await;
        let cna = net.invite(&draft, "CNA Pisa").await;
        net.open(&draft).await;
        let cases = [
            // Another organization's administrator, even the lead's.
            (
                Some(net.member("Forium", Role::OrgAdmin).await),
                "FORBIDDEN",
            ),
            (
                Some(net.member("Copernico", Role::OrgAdmin).await),
                "FORBIDDEN",
            ),
            (
                Some(net.member("CNA Pisa", Role::Operator).await),
                "FORBIDDEN",
            ),
            (
                Some(net.member("CNA Pisa", Role::Auditor).await),
                "FORBIDDEN",
            ),
            (Some(net.region.clone()), "FORBIDDEN"),
            (None, "UNAUTHENTICATED"),
        ];
        for (token, code) in cases {
            let got = net
                .refused(token.as_deref(), &sign(), signature(&cna))
                .await;
            assert_eq!(got, code, "[{engine:?}] {token:?}");
        }

        // The right person, the wrong document or no names.
        let cna_admin = net.member("CNA Pisa", Role::OrgAdmin).await;
        let mut wrong = signature(&cna);
        wrong["documentSha256"] = json!("0".repeat(64));
        wrong["signedByName"] = json!("  ");
        wrong["signedByTitle"] = json!("x".repeat(201));
        let payload = net.call(&cna_admin, &sign(), wrong).await;
        let mut errors = codes_and_fields(&payload);
        errors.sort_by_key(|(_, field)| field.to_string());
        assert_eq!(
            errors,
            [
                ("INVALID".to_owned(), json!(["input", "documentSha256"])),
                ("REQUIRED".to_owned(), json!(["input", "signedByName"])),
                ("TOO_LONG".to_owned(), json!(["input", "signedByTitle"])),
            ],
            "[{engine:?}] {payload}"
        );
        assert!(
            payload["userErrors"]
                .to_string()
                .contains("different document"),
            "{payload}"
        );
        let unchanged = net.protocol(draft["id"].as_str().unwrap_or_default()).await;
        assert_eq!(signatory_of(&unchanged, "CNA Pisa")["status"], "INVITED");

        let signed = net.sign(&cna, "CNA Pisa").await;
        assert_eq!(signed["status"], "SIGNED", "[{engine:?}] {signed}");
    }
}

#[tokio::test]
async fn an_organization_or_the_region_withdraws_an_adherence() {
    for engine in engines() {
        let net = Network::start(engine).await;
        let draft = net.draft("Protocollo dei recessi", None).await;
        let cna = net.invite(&draft, "CNA Pisa").await;
        let copernico = net.invite(&draft, "Copernico").await;
        net.open(&draft).await;
        let cna = net.sign(&cna, "CNA Pisa").await;
        let leave = |s: &Value| json!({ "id": s["id"], "expectedVersion": s["rowVersion"], "reason": "recesso" });
        let cases = [
            (
                Some(net.member("Copernico", Role::OrgAdmin).await),
                "FORBIDDEN",
            ),
            (
                Some(net.member("CNA Pisa", Role::Operator).await),
                "FORBIDDEN",
            ),
            (
                Some(net.member("CNA Pisa", Role::Auditor).await),
                "FORBIDDEN",
            ),
            (None, "UNAUTHENTICATED"),
        ];
        for (token, code) in cases {
            let got = net
                .refused(token.as_deref(), &withdraw(), leave(&cna))
                .await;
            assert_eq!(got, code, "[{engine:?}] {token:?}");
        }
        let cna_admin = net.member("CNA Pisa", Role::OrgAdmin).await;
        let payload = net
            .call(
                &cna_admin,
                &withdraw(),
                json!({
            "id": cna["id"], "expectedVersion": cna["rowVersion"], "reason": " " }),
            )
            .await;
        assert_eq!(
            codes_and_fields(&payload),
            [("REQUIRED".to_owned(), json!(["input", "reason"]))],
            "[{engine:?}] {payload}"
        );

        let gone = net.ok(&cna_admin, &withdraw(), leave(&cna)).await["signatory"].clone();
        assert_eq!(gone["status"], "WITHDRAWN", "[{engine:?}] {gone}");
        let removed =
            net.ok(&net.region, &withdraw(), leave(&copernico)).await["signatory"].clone();
        assert_eq!(removed["status"], "WITHDRAWN", "[{engine:?}] {removed}");

        let events = net.audit(&cna["id"]).await;
        assert_eq!(
            operations(&events),
            ["inviteSignatory", "signProtocol", "withdrawSignatory"],
            "[{engine:?}]"
        );
        assert_eq!(events[2]["after"]["reason"], "recesso");
        assert_eq!(events[2]["before"]["status"], "SIGNED");
    }
}

#[tokio::test]
async fn a_new_version_supersedes_and_terminates_the_old_one_when_put_in_force() {
    for engine in engines() {
        let net = Network::start(engine).await;
        let region = net.region.clone();
        // The demo network's regional protocol is in force.
        let list =
            "{ protocols(filter: {statuses: [IN_FORCE], search: \"MeLT\"}) { nodes { id } } }";
        let data = net.app.data(list, json!({})).await;
        let melt_id = data["protocols"]["nodes"][0]["id"].clone();
        let melt = net.protocol(melt_id.as_str().unwrap_or_default()).await;
        assert_eq!(melt["status"], "IN_FORCE", "[{engine:?}] {melt}");

        let amend = json!({
            "protocol": melt_id,
            "expectedVersion": melt["rowVersion"],
            "title": "Protocollo MeLT, seconda versione",
            "responseTimeDays": 5,
        });
        let second = net.ok(&region, &create_version(), amend.clone()).await["protocol"].clone();
        assert_eq!(second["status"], "DRAFT", "[{engine:?}] {second}");
        assert_eq!(second["version"], melt["version"].as_i64().unwrap_or(0) + 1);
        assert_eq!(second["supersedes"]["id"], melt_id);
        assert_eq!(second["scope"], melt["scope"], "the same scope");
        assert_eq!(second["documentSha256"], melt["documentSha256"]);
        assert_eq!(
            second["signatories"],
            json!([]),
            "signatories are not copied"
        );

        // One amendment per version: the next amends the new one.
        let payload = net.call(&region, &create_version(), amend).await;
        assert_eq!(
            codes_and_fields(&payload),
            [("INVALID_STATE".to_owned(), json!(["input", "protocol"]))],
            "[{engine:?}] {payload}"
        );

        // Until the new version is in force, the old one stays in force.
        let cna = net.invite(&second, "CNA Pisa").await;
        let opened = net.open(&second).await;
        assert_eq!(
            net.protocol(melt_id.as_str().unwrap_or_default()).await["status"],
            "IN_FORCE"
        );
        let mut cna_signature = signature(&cna);
        cna_signature["documentSha256"] = melt["documentSha256"].clone();
        let cna_admin = net.member("CNA Pisa", Role::OrgAdmin).await;
        net.ok(&cna_admin, &sign(), cna_signature).await;
        let current = net.in_force(&opened).await;
        assert_eq!(current["status"], "IN_FORCE", "[{engine:?}] {current}");

        let old = net.protocol(melt_id.as_str().unwrap_or_default()).await;
        assert_eq!(old["status"], "TERMINATED", "[{engine:?}] {old}");
        assert_eq!(
            old["rowVersion"],
            melt["rowVersion"].as_i64().unwrap_or(0) + 1
        );
        let events = net.audit(&melt_id).await;
        assert_eq!(operations(&events), ["putProtocolInForce"], "[{engine:?}]");
        assert_eq!(events[0]["before"]["status"], "IN_FORCE");
        assert_eq!(events[0]["after"]["status"], "TERMINATED");
        assert!(
            events[0]["after"]["reason"]
                .as_str()
                .is_some_and(|r| r.contains("superseded by version 2")),
            "{events:?}"
        );
        assert_eq!(
            operations(&net.audit(&second["id"]).await),
            [
                "createProtocolVersion",
                "openProtocolForSignature",
                "putProtocolInForce"
            ]
        );
    }
}

#[tokio::test]
async fn invalid_protocol_input_is_reported_as_user_errors_and_changes_nothing() {
    for engine in engines() {
        let net = Network::start(engine).await;
        let count = "{ protocols { totalCount } }";
        let total = net.app.data(count, json!({})).await["protocols"]["totalCount"].clone();
        let input = json!({
            "title": "   ",
            "validFrom": "2027-01-01",
            "validTo": "2026-01-01",
            "documentUrl": "ftp://example.it/p.pdf",
            "documentSha256": "not a hash",
            "responseTimeDays": 0,
            "scope": [],
        });
        let payload = net.call(&net.region, &create(), input).await;
        let mut errors = codes_and_fields(&payload);
        errors.sort_by_key(|(_, field)| field.to_string());
        assert_eq!(
            errors,
            [
                ("INVALID".to_owned(), json!(["input", "documentSha256"])),
                ("INVALID".to_owned(), json!(["input", "documentUrl"])),
                (
                    "OUT_OF_RANGE".to_owned(),
                    json!(["input", "responseTimeDays"])
                ),
                ("REQUIRED".to_owned(), json!(["input", "scope"])),
                ("REQUIRED".to_owned(), json!(["input", "title"])),
                ("OUT_OF_RANGE".to_owned(), json!(["input", "validTo"])),
            ],
            "[{engine:?}] {payload}"
        );
        assert!(payload["protocol"].is_null());

        let input = json!({
            "title": "x".repeat(501),
            "responseTimeDays": 91,
            "scope": [net.pisa().await, global_id("Territory", uuid::Uuid::now_v7())],
            "lead": global_id("Organization", uuid::Uuid::now_v7()),
        });
        let payload = net.call(&net.region, &create(), input).await;
        let mut errors = codes_and_fields(&payload);
        errors.sort_by_key(|(_, field)| field.to_string());
        assert_eq!(
            errors,
            [
                ("NOT_FOUND".to_owned(), json!(["input", "lead"])),
                (
                    "OUT_OF_RANGE".to_owned(),
                    json!(["input", "responseTimeDays"])
                ),
                ("NOT_FOUND".to_owned(), json!(["input", "scope", "1"])),
                ("TOO_LONG".to_owned(), json!(["input", "title"])),
            ],
            "[{engine:?}] {payload}"
        );
        let after = net.app.data(count, json!({})).await["protocols"]["totalCount"].clone();
        assert_eq!(after, total, "[{engine:?}] nothing created");
    }
}

#[tokio::test]
async fn a_stale_expected_version_is_a_conflict() {
    for engine in engines() {
        let net = Network::start(engine).await;
        let draft = net.draft("Protocollo delle versioni", Some("Forium")).await;
        let lead = signatory_of(&draft, "Forium").clone();
        let opened = net.open(&draft).await;

        // The draft's version is stale now that it is open.
        let stale = json!({ "id": draft["id"], "expectedVersion": draft["rowVersion"] });
        assert_eq!(
            net.refused(Some(&net.region), &in_force(), stale.clone())
                .await,
            "CONFLICT"
        );
        let mut stop = stale;
        stop["reason"] = json!("prova");
        assert_eq!(
            net.refused(Some(&net.region), &terminate(), stop).await,
            "CONFLICT"
        );
        let amend = json!({ "id": draft["id"], "expectedVersion": draft["rowVersion"] });
        assert_eq!(
            net.refused(Some(&net.region), &create_version(), amend)
                .await,
            "CONFLICT"
        );

        // A signatory read before it signed.
        let signed = net.sign(&lead, "Forium").await;
        let forium_admin = net.member("Forium", Role::OrgAdmin).await;
        assert_eq!(
            net.refused(Some(&forium_admin), &sign(), signature(&lead))
                .await,
            "CONFLICT"
        );
        let leave =
            json!({ "id": lead["id"], "expectedVersion": lead["rowVersion"], "reason": "r" });
        assert_eq!(
            net.refused(Some(&forium_admin), &withdraw(), leave).await,
            "CONFLICT"
        );

        let now = net.protocol(draft["id"].as_str().unwrap_or_default()).await;
        assert_eq!(now["status"], "OPEN_FOR_SIGNATURE", "[{engine:?}] {now}");
        assert_eq!(now["rowVersion"], opened["rowVersion"]);
        assert_eq!(
            signatory_of(&now, "Forium")["rowVersion"],
            signed["rowVersion"]
        );
    }
}
