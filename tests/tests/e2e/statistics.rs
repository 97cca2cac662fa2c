//! Regional statistics: `referralStatistics`, `capacityStatistics` and `coverageGaps`
//! on both engines, checked against an independent computation in plain Rust over a
//! generated (seeded random) set of referrals, with every small cell and its
//! complement suppressed; the fact table kept by the real transitions; who may read
//! them; hostile inputs; and, on PostgreSQL, that every statement reads indexes.

use melt_tests::{
    Engine, Role, TestApp, engines, first_error_code, flow, global_id, row_id, spawn_app,
    spawn_app_with,
};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use uuid::Uuid;

const K: u64 = 5;

const STATES: [&str; 10] = [
    "SENT",
    "RECEIVED",
    "ACCEPTED",
    "REJECTED",
    "IN_PROGRESS",
    "ON_HOLD",
    "COMPLETED",
    "FAILED",
    "CANCELLED",
    "EXPIRED",
];
const OUTCOMES: [&str; 8] = [
    "ENROLLED",
    "PATHWAY_COMPLETED",
    "EMPLOYED",
    "TRAINEESHIP_STARTED",
    "NOT_ELIGIBLE",
    "UNREACHABLE",
    "REFUSED",
    "OTHER",
];

/// xorshift64*: the same data set on every run.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

async fn rows(app: &TestApp, sql: &str) -> Vec<sea_orm::QueryResult> {
    app.db
        .query_all_raw(Statement::from_string(app.db.get_database_backend(), sql))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// The network around the generated referrals, read from the database.
struct Network {
    /// municipality → province.
    province: HashMap<Uuid, Uuid>,
    /// municipality → zones / hub areas valid today.
    groupings: HashMap<(&'static str, Uuid), Vec<Uuid>>,
    /// service → (organization, its kind, its SERVICE_TYPE codes).
    services: Vec<(Uuid, Uuid, String, Vec<String>)>,
    /// organization → kind.
    organizations: Vec<(Uuid, String)>,
    rejection_reasons: Vec<String>,
    region: Uuid,
}

async fn network(app: &TestApp) -> Network {
    let mut province = HashMap::new();
    for row in rows(
        app,
        "SELECT id, parent_id FROM territory WHERE kind = 'MUNICIPALITY'",
    )
    .await
    {
        province.insert(
            row.try_get("", "id").unwrap(),
            row.try_get("", "parent_id").unwrap(),
        );
    }
    let mut groupings: HashMap<(&'static str, Uuid), Vec<Uuid>> = HashMap::new();
    for kind in ["ZONE", "HUB_AREA"] {
        let sql = format!(
            "SELECT tm.municipality_id AS m, tm.grouping_id AS g FROM territory_member tm \
             JOIN territory g ON g.id = tm.grouping_id WHERE g.kind = '{kind}' AND g.valid_to IS NULL"
        );
        for row in rows(app, &sql).await {
            let municipality: Uuid = row.try_get("", "m").unwrap();
            groupings
                .entry((kind, municipality))
                .or_default()
                .push(row.try_get("", "g").unwrap());
        }
    }
    let mut types: HashMap<Uuid, Vec<String>> = HashMap::new();
    for row in rows(app, "SELECT st.service_id AS s, t.code AS c FROM service_term st JOIN term t ON t.id = st.term_id WHERE t.taxonomy = 'SERVICE_TYPE'").await {
        types.entry(row.try_get("", "s").unwrap()).or_default().push(row.try_get("", "c").unwrap());
    }
    let services = rows(app, "SELECT s.id AS s, o.id AS o, o.kind AS k FROM service s JOIN organization o ON o.id = s.organization_id ORDER BY s.id")
        .await
        .into_iter()
        .map(|row| {
            let id: Uuid = row.try_get("", "s").unwrap();
            (id, row.try_get("", "o").unwrap(), row.try_get("", "k").unwrap(), types.get(&id).cloned().unwrap_or_default())
        })
        .collect();
    let organizations = rows(app, "SELECT id, kind FROM organization ORDER BY id")
        .await
        .into_iter()
        .map(|row| {
            (
                row.try_get("", "id").unwrap(),
                row.try_get("", "kind").unwrap(),
            )
        })
        .collect();
    let rejection_reasons = rows(
        app,
        "SELECT code FROM term WHERE taxonomy = 'REJECTION_REASON' ORDER BY code",
    )
    .await
    .into_iter()
    .map(|row| row.try_get("", "code").unwrap())
    .collect();
    let region = rows(app, "SELECT id FROM territory WHERE kind = 'REGION'").await[0]
        .try_get("", "id")
        .unwrap();
    Network {
        province,
        groupings,
        services,
        organizations,
        rejection_reasons,
        region,
    }
}

/// One generated referral's facts, as the test knows them.
#[derive(Clone, Debug)]
struct Fact {
    month: i32,
    municipality: Uuid,
    service: usize,
    sender_kind: String,
    status: &'static str,
    accepted: bool,
    reason: Option<String>,
    declined: Option<&'static str>,
    outcome: Option<&'static str>,
    minutes: [Option<i32>; 3],
}

/// Generates `count` referrals sent from January to June 2025 (with their people) and
/// their fact rows, written straight into the database.
async fn generate(app: &TestApp, net: &Network, count: usize, seed: u64) -> Vec<Fact> {
    let mut rng = Rng(seed);
    // A few busy municipalities and many quiet ones: big cells and small ones.
    let mut municipalities: Vec<Uuid> = net.province.keys().copied().collect();
    municipalities.sort();
    let busy: Vec<Uuid> = municipalities.iter().copied().step_by(37).take(4).collect();
    let quiet: Vec<Uuid> = municipalities
        .iter()
        .copied()
        .skip(5)
        .step_by(11)
        .take(20)
        .collect();
    let (sender_org, _) = net.organizations[0].clone();
    let mut people = Vec::new();
    for _ in 0..10 {
        let id = Uuid::now_v7();
        app.exec(
            "INSERT INTO person (id, created_at, updated_at, languages, contact_channel, registered_by_organization_id, residence_municipality_id, row_version) VALUES (?, ?, ?, 'it', 'EMAIL', ?, ?, 1)",
            vec![id.into(), chrono::Utc::now().into(), chrono::Utc::now().into(), sender_org.into(), busy[0].into()],
        )
        .await;
        people.push(id);
    }
    let mut facts = Vec::with_capacity(count);
    for i in 0..count {
        let month = 2025 * 12 + rng.below(6) as i32;
        let municipality = if rng.below(10) < 8 {
            busy[rng.below(busy.len())]
        } else {
            quiet[rng.below(quiet.len())]
        };
        // Most referrals go to a handful of services, the rest anywhere.
        let service = if rng.below(10) < 7 {
            rng.below(4.min(net.services.len()))
        } else {
            rng.below(net.services.len())
        };
        let sender = if rng.below(10) < 8 {
            &net.organizations[rng.below(3.min(net.organizations.len()))]
        } else {
            &net.organizations[rng.below(net.organizations.len())]
        };
        let status = STATES[rng.below(STATES.len())];
        let accepted = matches!(
            status,
            "ACCEPTED" | "IN_PROGRESS" | "ON_HOLD" | "COMPLETED" | "FAILED"
        ) || (status == "CANCELLED" && rng.below(2) == 0);
        let reason = (status == "REJECTED")
            .then(|| net.rejection_reasons[rng.below(net.rejection_reasons.len())].clone());
        let declined = (status == "REJECTED").then(|| ["PROVIDER", "PERSON"][rng.below(2)]);
        let outcome = (status == "COMPLETED").then(|| OUTCOMES[rng.below(4)]);
        let receipt = (status != "SENT").then(|| rng.below(6000) as i32);
        let acceptance = accepted.then(|| receipt.unwrap_or(0) + rng.below(3000) as i32);
        let completion =
            (status == "COMPLETED").then(|| acceptance.unwrap_or(0) + rng.below(90_000) as i32);
        let fact = Fact {
            month,
            municipality,
            service,
            sender_kind: sender.1.clone(),
            status,
            accepted,
            reason,
            declined,
            outcome,
            minutes: [receipt, acceptance, completion],
        };
        let (service_id, receiver, receiver_kind, _) = &net.services[service];
        let id = Uuid::now_v7();
        let sent_at = chrono::DateTime::from_timestamp(
            chrono::NaiveDate::from_ymd_opt(
                month / 12,
                (month % 12 + 1) as u32,
                1 + (i % 28) as u32,
            )
            .unwrap()
            .and_hms_opt(10, 0, 0)
            .unwrap()
            .and_utc()
            .timestamp(),
            0,
        )
        .unwrap();
        app.exec(
            "INSERT INTO referral (id, person_id, sender_organization_id, sender_operator, receiver_service_id, receiver_organization_id, needs, reason, priority, channel, status, row_version, created_at, updated_at, sent_at) VALUES (?, ?, ?, 'op', ?, ?, '', '', 'NORMAL', 'OPERATOR', ?, 1, ?, ?, ?)",
            vec![id.into(), people[i % people.len()].into(), sender.0.into(), (*service_id).into(), (*receiver).into(), status.into(), sent_at.into(), sent_at.into(), sent_at.into()],
        )
        .await;
        app.exec(
            "INSERT INTO referral_fact (referral_id, sent_month, municipality_id, province_id, service_id, sender_kind, receiver_kind, status, rejection_reason, declined_by, outcome, accepted, receipt_minutes, acceptance_minutes, completion_minutes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            vec![
                id.into(), month.into(), municipality.into(), net.province.get(&municipality).copied().into(),
                (*service_id).into(), fact.sender_kind.clone().into(), receiver_kind.clone().into(), status.into(),
                fact.reason.clone().into(), fact.declined.map(str::to_owned).into(), fact.outcome.map(str::to_owned).into(),
                accepted.into(), receipt.into(), acceptance.into(), completion.into(),
            ],
        )
        .await;
        facts.push(fact);
    }
    facts
}

/// A cell's key as the test writes it: period label, territory id, type code, kinds.
type CellKey = (String, Uuid, Option<String>, Option<String>, Option<String>);

/// The independent tally of one cell.
#[derive(Default, Debug)]
struct Expected {
    total: u64,
    states: BTreeMap<&'static str, u64>,
    accepted: u64,
    reasons: BTreeMap<String, u64>,
    declined: BTreeMap<&'static str, u64>,
    outcomes: BTreeMap<&'static str, u64>,
    hours: [Vec<i64>; 3],
}

struct Shape {
    period: &'static str,
    level: &'static str,
    group_by: Vec<&'static str>,
}

fn label(period: &str, month: i32) -> String {
    if period == "MONTH" {
        format!("{:04}-{:02}", month / 12, month % 12 + 1)
    } else {
        format!("{:04}-Q{}", month / 12, (month % 12) / 3 + 1)
    }
}

/// Plain Rust over the generated rows: every cell the statistics should have.
fn expected(net: &Network, facts: &[Fact], shape: &Shape) -> BTreeMap<CellKey, Expected> {
    let mut cells: BTreeMap<CellKey, Expected> = BTreeMap::new();
    for fact in facts {
        let (_, _, receiver_kind, types) = &net.services[fact.service];
        let territories: Vec<Uuid> = match shape.level {
            "REGION" => vec![net.region],
            "PROVINCE" => vec![net.province[&fact.municipality]],
            "ZONE" => net
                .groupings
                .get(&("ZONE", fact.municipality))
                .cloned()
                .unwrap_or_default(),
            _ => net
                .groupings
                .get(&("HUB_AREA", fact.municipality))
                .cloned()
                .unwrap_or_default(),
        };
        let type_keys: Vec<Option<String>> = if shape.group_by.contains(&"SERVICE_TYPE") {
            types.iter().cloned().map(Some).collect()
        } else {
            vec![None]
        };
        let sender = shape
            .group_by
            .contains(&"SENDER_KIND")
            .then(|| fact.sender_kind.clone());
        let receiver = shape
            .group_by
            .contains(&"RECEIVER_KIND")
            .then(|| receiver_kind.clone());
        for territory in &territories {
            for service_type in &type_keys {
                let key = (
                    label(shape.period, fact.month),
                    *territory,
                    service_type.clone(),
                    sender.clone(),
                    receiver.clone(),
                );
                let cell = cells.entry(key).or_default();
                cell.total += 1;
                *cell.states.entry(fact.status).or_default() += 1;
                cell.accepted += u64::from(fact.accepted);
                if let Some(reason) = &fact.reason {
                    *cell.reasons.entry(reason.clone()).or_default() += 1;
                }
                if let Some(declined) = fact.declined {
                    *cell.declined.entry(declined).or_default() += 1;
                }
                if let Some(outcome) = fact.outcome {
                    *cell.outcomes.entry(outcome).or_default() += 1;
                }
                for (slot, minutes) in fact.minutes.iter().enumerate() {
                    if let Some(minutes) = minutes {
                        cell.hours[slot].push(i64::from(*minutes / 60));
                    }
                }
            }
        }
    }
    cells
}

/// Nearest rank: the smallest value with at least `p` of the values at or below it.
fn nearest_rank(values: &[i64], numerator: usize, denominator: usize) -> i64 {
    let mut sorted = values.to_vec();
    sorted.sort();
    let rank = (sorted.len() * numerator).div_ceil(denominator).max(1);
    sorted[rank - 1]
}

const STATISTICS: &str =
    "query($input: ReferralStatisticsInput!) { referralStatistics(input: $input) {
    k rows { period territory { id } serviceType { code } senderKind receiverKind
      referrals { count suppressed } accepted { count suppressed }
      byStatus { status count { count suppressed } }
      rejectionsByReason { reason count { count suppressed } }
      rejectionsByDeclinedBy { declinedBy count { count suppressed } }
      outcomes { outcome count { count suppressed } }
      acceptanceRate { value suppressed } rejectionRate { value suppressed }
      expiryRate { value suppressed } completionRate { value suppressed }
      timeToReceipt { medianHours p90Hours suppressed }
      timeToAcceptance { medianHours p90Hours suppressed }
      timeToCompletion { medianHours p90Hours suppressed } } } }";

/// One count of the answer with the test's own value: (published, expected).
fn cells_of(row: &Value, cell: &Expected) -> Vec<(String, Value, u64)> {
    let mut out = vec![
        ("referrals".to_owned(), row["referrals"].clone(), cell.total),
        (
            "accepted".to_owned(),
            row["accepted"].clone(),
            cell.accepted,
        ),
    ];
    for s in row["byStatus"].as_array().unwrap() {
        let status = s["status"].as_str().unwrap();
        out.push((
            format!("status {status}"),
            s["count"].clone(),
            cell.states.get(status).copied().unwrap_or(0),
        ));
    }
    for r in row["rejectionsByReason"].as_array().unwrap() {
        let reason = r["reason"].as_str().unwrap();
        out.push((
            format!("reason {reason}"),
            r["count"].clone(),
            cell.reasons.get(reason).copied().unwrap_or(0),
        ));
    }
    for d in row["rejectionsByDeclinedBy"].as_array().unwrap() {
        let who = d["declinedBy"].as_str().unwrap();
        out.push((
            format!("declined {who}"),
            d["count"].clone(),
            cell.declined.get(who).copied().unwrap_or(0),
        ));
    }
    for o in row["outcomes"].as_array().unwrap() {
        let outcome = o["outcome"].as_str().unwrap();
        out.push((
            format!("outcome {outcome}"),
            o["count"].clone(),
            cell.outcomes.get(outcome).copied().unwrap_or(0),
        ));
    }
    out
}

fn hidden(count: &Value) -> bool {
    count["suppressed"].as_bool().unwrap()
}

/// What the checks saw, to prove they had something to check.
#[derive(Default, Debug)]
struct Seen {
    published: usize,
    primary: usize,
    complementary: usize,
    medians: usize,
}

/// Checks one answer against the independent computation: the same cells, every
/// published count and time right, every count from 1 to k − 1 suppressed, and no
/// line (a row's states, reasons, who declined, outcomes; a count along each grouping
/// dimension) with exactly one suppressed cell among positive ones.
fn check(
    engine: Engine,
    shape: &Shape,
    answer: &Value,
    expected: &BTreeMap<CellKey, Expected>,
    seen: &mut Seen,
) {
    let context = format!(
        "[{engine:?}] {} {} {:?}",
        shape.period, shape.level, shape.group_by
    );
    let rows = answer["rows"].as_array().unwrap();
    let mut by_key: BTreeMap<CellKey, &Value> = BTreeMap::new();
    for row in rows {
        let key = (
            row["period"].as_str().unwrap().to_owned(),
            row_id(row["territory"]["id"].as_str().unwrap()),
            row["serviceType"]["code"].as_str().map(str::to_owned),
            row["senderKind"].as_str().map(str::to_owned),
            row["receiverKind"].as_str().map(str::to_owned),
        );
        assert!(by_key.insert(key, row).is_none(), "{context}: a cell twice");
    }
    assert_eq!(
        by_key.keys().collect::<BTreeSet<_>>(),
        expected.keys().collect::<BTreeSet<_>>(),
        "{context}: the cells differ"
    );
    // (line name, cells: (hidden, expected value)).
    let mut lines: BTreeMap<String, Vec<(bool, u64)>> = BTreeMap::new();
    for (key, row) in &by_key {
        let cell = &expected[key];
        let counts = cells_of(row, cell);
        for (name, count, value) in &counts {
            if hidden(count) {
                assert!(
                    count["count"].is_null(),
                    "{context} {key:?} {name}: suppressed yet shown"
                );
                if *value >= K {
                    seen.complementary += 1;
                } else {
                    seen.primary += 1;
                }
            } else {
                assert_eq!(
                    count["count"].as_u64(),
                    Some(*value),
                    "{context} {key:?} {name}"
                );
                assert!(
                    *value == 0 || *value >= K,
                    "{context} {key:?} {name} = {value} published"
                );
                seen.published += 1;
            }
        }
        let find = |name: &str| {
            counts
                .iter()
                .find(|(n, _, _)| n == name)
                .map(|(_, c, v)| (hidden(c), *v))
                .unwrap()
        };
        let with = |total: &str, prefix: &str| {
            let mut line = vec![find(total)];
            line.extend(
                counts
                    .iter()
                    .filter(|(n, _, _)| n.starts_with(prefix))
                    .map(|(_, c, v)| (hidden(c), *v)),
            );
            line
        };
        lines.insert(format!("{key:?} states"), with("referrals", "status "));
        lines.insert(
            format!("{key:?} reasons"),
            with("status REJECTED", "reason "),
        );
        lines.insert(
            format!("{key:?} declined"),
            with("status REJECTED", "declined "),
        );
        lines.insert(
            format!("{key:?} outcomes"),
            with("status COMPLETED", "outcome "),
        );
        // Along each dimension: the key without it, and the count's name.
        let quarter = |period: &str| -> String {
            let month: u32 = period[5..7].parse().unwrap_or(1);
            format!("{}-Q{}", &period[..4], (month - 1) / 3 + 1)
        };
        for (name, count, value) in &counts {
            let mut along = Vec::new();
            if shape.period == "MONTH" {
                along.push(format!(
                    "period {:?} {name}",
                    (quarter(&key.0), key.1, &key.2, &key.3, &key.4)
                ));
            }
            if shape.level != "REGION" {
                along.push(format!(
                    "territory {:?} {name}",
                    (&key.0, &key.2, &key.3, &key.4)
                ));
            }
            if key.2.is_some() {
                along.push(format!("type {:?} {name}", (&key.0, key.1, &key.3, &key.4)));
            }
            if key.3.is_some() {
                along.push(format!(
                    "sender {:?} {name}",
                    (&key.0, key.1, &key.2, &key.4)
                ));
            }
            if key.4.is_some() {
                along.push(format!(
                    "receiver {:?} {name}",
                    (&key.0, key.1, &key.2, &key.3)
                ));
            }
            for line in along {
                lines.entry(line).or_default().push((hidden(count), *value));
            }
        }
        // Rates and times.
        let total_hidden = hidden(&row["referrals"]);
        for (field, part) in [
            ("acceptanceRate", "accepted"),
            ("rejectionRate", "status REJECTED"),
            ("expiryRate", "status EXPIRED"),
            ("completionRate", "status COMPLETED"),
        ] {
            let (part_hidden, value) = find(part);
            let rate = &row[field];
            assert_eq!(
                hidden(rate),
                part_hidden || total_hidden,
                "{context} {key:?} {field}"
            );
            if !hidden(rate) {
                let expected = value as f64 / cell.total as f64;
                assert!(
                    (rate["value"].as_f64().unwrap() - expected).abs() < 1e-9,
                    "{context} {key:?} {field}"
                );
            }
        }
        for (slot, field) in ["timeToReceipt", "timeToAcceptance", "timeToCompletion"]
            .into_iter()
            .enumerate()
        {
            let time = &row[field];
            let hours = &cell.hours[slot];
            let reached = hours.len() as u64;
            if reached > 0 && reached < K {
                assert!(
                    hidden(time),
                    "{context} {key:?} {field}: {reached} people's times shown"
                );
            }
            if !hidden(time) && !hours.is_empty() {
                assert_eq!(
                    time["medianHours"].as_i64(),
                    Some(nearest_rank(hours, 1, 2)),
                    "{context} {key:?} {field} median"
                );
                assert_eq!(
                    time["p90Hours"].as_i64(),
                    Some(nearest_rank(hours, 9, 10)),
                    "{context} {key:?} {field} p90"
                );
                seen.medians += 1;
            }
            if hidden(time) {
                assert!(
                    time["medianHours"].is_null() && time["p90Hours"].is_null(),
                    "{context} {key:?} {field}"
                );
            }
        }
    }
    for (name, line) in &lines {
        let hidden_cells = line.iter().filter(|(h, _)| *h).count();
        if hidden_cells == 1 {
            assert!(
                line.iter().all(|(h, v)| *h || *v == 0),
                "{context}: line {name} gives a suppressed cell away: {line:?}"
            );
        }
    }
}

#[tokio::test]
async fn statistics_match_an_independent_count_of_generated_referrals_with_small_cells_and_their_complements_suppressed()
 {
    for engine in engines() {
        let app = spawn_app(engine).await;
        let net = network(&app).await;
        let facts = generate(&app, &net, 700, 0x5eed_0013).await;
        let token = app.token(None, &[Role::RegionalAdmin]);
        let shapes = [
            Shape {
                period: "MONTH",
                level: "REGION",
                group_by: vec![],
            },
            Shape {
                period: "MONTH",
                level: "ZONE",
                group_by: vec!["SENDER_KIND"],
            },
            Shape {
                period: "QUARTER",
                level: "PROVINCE",
                group_by: vec!["SERVICE_TYPE", "RECEIVER_KIND"],
            },
            Shape {
                period: "QUARTER",
                level: "HUB_AREA",
                group_by: vec!["SENDER_KIND", "RECEIVER_KIND"],
            },
            Shape {
                period: "MONTH",
                level: "PROVINCE",
                group_by: vec!["SERVICE_TYPE"],
            },
        ];
        let mut seen = Seen::default();
        for shape in &shapes {
            let input = json!({ "from": "2025-01", "to": "2025-06", "period": shape.period,
                                "territoryLevel": shape.level, "groupBy": shape.group_by });
            let (status, body) = app
                .query_as(&token, STATISTICS, json!({ "input": input }))
                .await;
            assert_eq!(status, 200, "{body}");
            assert!(body["errors"].is_null(), "[{engine:?}] {body}");
            let answer = &body["data"]["referralStatistics"];
            assert_eq!(answer["k"], 5);
            check(
                engine,
                shape,
                answer,
                &expected(&net, &facts, shape),
                &mut seen,
            );
        }
        // The checks had every kind of cell to look at.
        assert!(seen.published > 100, "[{engine:?}] {seen:?}");
        assert!(seen.primary > 20, "[{engine:?}] {seen:?}");
        assert!(seen.complementary > 5, "[{engine:?}] {seen:?}");
        assert!(seen.medians > 10, "[{engine:?}] {seen:?}");

        // A cell reads the same whatever range asked for it: suppression is decided
        // on whole quarters.
        let shape = Shape {
            period: "MONTH",
            level: "ZONE",
            group_by: vec!["SENDER_KIND"],
        };
        let whole = app.query_as(&token, STATISTICS, json!({ "input": {
            "from": "2025-01", "to": "2025-03", "territoryLevel": "ZONE", "groupBy": ["SENDER_KIND"] } })).await.1;
        let february = app.query_as(&token, STATISTICS, json!({ "input": {
            "from": "2025-02", "to": "2025-02", "territoryLevel": "ZONE", "groupBy": ["SENDER_KIND"] } })).await.1;
        let of_february: Vec<&Value> = whole["data"]["referralStatistics"]["rows"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["period"] == "2025-02")
            .collect();
        let alone: Vec<&Value> = february["data"]["referralStatistics"]["rows"]
            .as_array()
            .unwrap()
            .iter()
            .collect();
        assert!(!alone.is_empty());
        assert_eq!(
            of_february, alone,
            "[{engine:?}] {} February alone differs",
            shape.level
        );
    }
}

#[tokio::test]
async fn sending_and_answering_referrals_keeps_their_fact_rows_and_four_of_them_are_all_suppressed()
{
    for engine in engines() {
        let app = spawn_app(engine).await;
        let caritas = app.token(
            Some(app.organization_id("Caritas diocesana di Pisa").await),
            &[Role::Operator],
        );
        let mut ids = Vec::new();
        for _ in 0..4 {
            let (_, referral) = flow::sent_referral_for(&app).await;
            ids.push(referral);
        }
        let act = async |mutation: &str, id: &str, extra: Value| {
            let (_, read) = app
                .query_as(
                    &caritas,
                    "query($id: ID!) { node(id: $id) { ... on Referral { rowVersion } } }",
                    json!({ "id": id }),
                )
                .await;
            let version = read["data"]["node"]["rowVersion"].clone();
            assert!(version.is_number(), "[{engine:?}] {read}");
            let mut input = json!({ "id": id, "expectedVersion": version });
            for (k, v) in extra.as_object().unwrap() {
                input[k] = v.clone();
            }
            let query = format!(
                "mutation($input: {}Input!) {{ {mutation}(input: $input) {{ referral {{ status }} userErrors {{ code message }} }} }}",
                mutation[..1].to_uppercase() + &mutation[1..]
            );
            let (_, body) = app
                .query_as(&caritas, &query, json!({ "input": input }))
                .await;
            assert!(
                body["errors"].is_null()
                    && body["data"][mutation]["userErrors"]
                        .as_array()
                        .unwrap()
                        .is_empty(),
                "[{engine:?}] {mutation}: {body}"
            );
        };
        act("acceptReferral", &ids[0], json!({})).await;
        act("startReferral", &ids[0], json!({})).await;
        act(
            "completeReferral",
            &ids[0],
            json!({ "outcome": "EMPLOYED" }),
        )
        .await;
        let reason = rows(
            &app,
            "SELECT code FROM term WHERE taxonomy = 'REJECTION_REASON' ORDER BY code",
        )
        .await[0]
            .try_get::<String>("", "code")
            .unwrap();
        act(
            "rejectReferral",
            &ids[1],
            json!({ "reasonCode": reason, "declinedBy": "PERSON" }),
        )
        .await;
        // A person's first read as receiver marks a referral RECEIVED.
        app.row_version(&caritas, &json!(ids[2])).await;

        let facts = rows(&app, "SELECT f.referral_id AS id, f.status, f.sent_month, f.municipality_id, f.sender_kind, f.receiver_kind, f.rejection_reason, f.declined_by, f.outcome, f.accepted, f.receipt_minutes, f.acceptance_minutes, f.completion_minutes, t.code AS istat FROM referral_fact f JOIN territory t ON t.id = f.municipality_id").await;
        assert_eq!(
            facts.len(),
            4,
            "[{engine:?}] one fact row per sent referral"
        );
        let fact = |id: &str| {
            facts
                .iter()
                .find(|f| f.try_get::<Uuid>("", "id").unwrap() == row_id(id))
                .unwrap()
        };
        let now = chrono::Utc::now();
        for id in &ids {
            let f = fact(id);
            assert_eq!(
                f.try_get::<String>("", "istat").unwrap(),
                "050026",
                "the person's municipality"
            );
            assert_eq!(
                f.try_get::<i32>("", "sent_month").unwrap(),
                melt_api::referral::facts::month_index(now)
            );
            assert_eq!(
                f.try_get::<String>("", "sender_kind").unwrap(),
                "EMPLOYMENT_CENTRE"
            );
        }
        let completed = fact(&ids[0]);
        assert_eq!(
            completed.try_get::<String>("", "status").unwrap(),
            "COMPLETED"
        );
        assert_eq!(
            completed
                .try_get::<Option<String>>("", "outcome")
                .unwrap()
                .as_deref(),
            Some("EMPLOYED")
        );
        assert!(completed.try_get::<bool>("", "accepted").unwrap());
        for column in [
            "receipt_minutes",
            "acceptance_minutes",
            "completion_minutes",
        ] {
            assert_eq!(
                completed.try_get::<Option<i32>>("", column).unwrap(),
                Some(0),
                "[{engine:?}] {column}"
            );
        }
        let rejected = fact(&ids[1]);
        assert_eq!(
            rejected.try_get::<String>("", "status").unwrap(),
            "REJECTED"
        );
        assert_eq!(
            rejected
                .try_get::<Option<String>>("", "rejection_reason")
                .unwrap(),
            Some(reason.clone())
        );
        assert_eq!(
            rejected
                .try_get::<Option<String>>("", "declined_by")
                .unwrap()
                .as_deref(),
            Some("PERSON")
        );
        assert!(!rejected.try_get::<bool>("", "accepted").unwrap());
        assert_eq!(
            rejected
                .try_get::<Option<i32>>("", "receipt_minutes")
                .unwrap(),
            Some(0)
        );
        assert_eq!(
            fact(&ids[2]).try_get::<String>("", "status").unwrap(),
            "RECEIVED"
        );
        let untouched = fact(&ids[3]);
        assert_eq!(untouched.try_get::<String>("", "status").unwrap(), "SENT");
        assert_eq!(
            untouched
                .try_get::<Option<i32>>("", "receipt_minutes")
                .unwrap(),
            None
        );

        // The migration's backfill, run over the same referrals and events, writes
        // the same rows.
        let all = "SELECT referral_id, sent_month, municipality_id, province_id, service_id, sender_kind, receiver_kind, status, rejection_reason, declined_by, outcome, accepted, receipt_minutes, acceptance_minutes, completion_minutes FROM referral_fact ORDER BY referral_id";
        let snapshot = |rows: Vec<sea_orm::QueryResult>| -> Vec<String> {
            rows.iter().map(|r| format!("{:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?}",
                r.try_get::<Uuid>("", "referral_id").unwrap(), r.try_get::<i32>("", "sent_month").unwrap(),
                r.try_get::<Uuid>("", "municipality_id").unwrap(), r.try_get::<Option<Uuid>>("", "province_id").unwrap(),
                r.try_get::<Uuid>("", "service_id").unwrap(), r.try_get::<String>("", "sender_kind").unwrap(),
                r.try_get::<String>("", "receiver_kind").unwrap(), r.try_get::<String>("", "status").unwrap(),
                r.try_get::<Option<String>>("", "rejection_reason").unwrap(), r.try_get::<Option<String>>("", "declined_by").unwrap(),
                r.try_get::<Option<String>>("", "outcome").unwrap(), r.try_get::<bool>("", "accepted").unwrap(),
                r.try_get::<Option<i32>>("", "receipt_minutes").unwrap(), r.try_get::<Option<i32>>("", "acceptance_minutes").unwrap(),
                r.try_get::<Option<i32>>("", "completion_minutes").unwrap())).collect()
        };
        let kept = snapshot(rows(&app, all).await);
        app.exec("DELETE FROM referral_fact", vec![]).await;
        app.db
            .execute_unprepared(&migration::statistics_backfill_sql(
                app.db.get_database_backend(),
            ))
            .await
            .unwrap();
        assert_eq!(
            snapshot(rows(&app, all).await),
            kept,
            "[{engine:?}] the backfill differs from the rows kept"
        );

        // Four referrals: every count, rate and time of the one row is withheld.
        let month = chrono::Utc::now().format("%Y-%m").to_string();
        let (_, body) = app
            .query_as(
                &app.token(None, &[Role::RegionalAdmin]),
                STATISTICS,
                json!({ "input": { "from": month, "to": month } }),
            )
            .await;
        let rows = body["data"]["referralStatistics"]["rows"]
            .as_array()
            .unwrap_or_else(|| panic!("{body}"));
        assert_eq!(rows.len(), 1, "{body}");
        assert_eq!(
            rows[0]["referrals"],
            json!({ "count": null, "suppressed": true })
        );
        for s in rows[0]["byStatus"].as_array().unwrap() {
            let zero = matches!(
                s["status"].as_str(),
                Some("ACCEPTED" | "IN_PROGRESS" | "ON_HOLD" | "FAILED" | "CANCELLED" | "EXPIRED")
            );
            assert_eq!(s["count"]["suppressed"], !zero, "{s}");
        }
        assert_eq!(
            rows[0]["completionRate"],
            json!({ "value": null, "suppressed": true })
        );
        assert_eq!(rows[0]["timeToReceipt"]["suppressed"], true);
    }
}

const ALL_THREE: &str = "{ referralStatistics(input: {from: \"2025-01\", to: \"2025-03\"}) { k }
    capacityStatistics { k } coverageGaps(input: {serviceTypes: [\"JOB_ORIENTATION\"]}) { municipality { code } } }";

#[tokio::test]
async fn only_the_regional_administration_reads_statistics_unless_they_are_public() {
    for engine in engines() {
        let app = spawn_app(engine).await;
        let pisa = app.organization_id("Centro per l'impiego di Pisa").await;
        let (status, body) = app
            .query_as(
                &app.token(None, &[Role::RegionalAdmin]),
                ALL_THREE,
                json!({}),
            )
            .await;
        assert_eq!(status, 200);
        assert!(body["errors"].is_null(), "[{engine:?}] {body}");
        for role in [
            Role::Operator,
            Role::OrgAdmin,
            Role::Auditor,
            Role::DataProtectionOfficer,
        ] {
            let (_, body) = app
                .query_as(&app.token(Some(pisa), &[role]), ALL_THREE, json!({}))
                .await;
            let errors = body["errors"].as_array().unwrap();
            assert_eq!(errors.len(), 3, "[{engine:?}] {role:?}: {body}");
            assert!(
                errors
                    .iter()
                    .all(|e| e["extensions"]["code"] == "FORBIDDEN"),
                "[{engine:?}] {role:?}: {body}"
            );
        }
        let body = app.query(ALL_THREE, json!({})).await;
        let errors = body["errors"].as_array().unwrap();
        assert_eq!(errors.len(), 3, "{body}");
        assert!(
            errors
                .iter()
                .all(|e| e["extensions"]["code"] == "UNAUTHENTICATED"),
            "{body}"
        );
    }
    for engine in engines() {
        let app = spawn_app_with(engine, |s| s.statistics_public = true).await;
        let body = app.query(ALL_THREE, json!({})).await;
        assert!(
            body["errors"].is_null(),
            "[{engine:?}] public statistics: {body}"
        );
        let pisa = app.organization_id("Centro per l'impiego di Pisa").await;
        let (_, body) = app
            .query_as(
                &app.token(Some(pisa), &[Role::Operator]),
                ALL_THREE,
                json!({}),
            )
            .await;
        assert!(body["errors"].is_null(), "[{engine:?}] {body}");
    }
}

#[tokio::test]
async fn bad_or_huge_period_ranges_and_unknown_codes_are_refused_with_a_clear_message() {
    for engine in engines() {
        let app = spawn_app(engine).await;
        let token = app.token(None, &[Role::RegionalAdmin]);
        let cases = [
            (json!({ "from": "2025-06", "to": "2025-01" }), "after"),
            (json!({ "from": "2000-01", "to": "2100-12" }), "at most 60"),
            (json!({ "from": "0001-01", "to": "9999-12" }), "YYYY-MM"),
            (json!({ "from": "2025-13", "to": "2025-12" }), "YYYY-MM"),
            (json!({ "from": "yesterday", "to": "2025-12" }), "YYYY-MM"),
            (
                json!({ "from": "2025-02", "to": "2025-06", "period": "QUARTER" }),
                "whole quarters",
            ),
            (
                json!({ "from": "2025-01", "to": "2025-03", "groupBy": ["SENDER_KIND", "SENDER_KIND"] }),
                "twice",
            ),
        ];
        for (input, words) in cases {
            let (_, body) = app
                .query_as(&token, STATISTICS, json!({ "input": input }))
                .await;
            assert_eq!(
                first_error_code(&body),
                "BAD_USER_INPUT",
                "[{engine:?}] {input}: {body}"
            );
            let message = body["errors"][0]["message"].as_str().unwrap();
            assert!(message.contains(words), "[{engine:?}] {input}: {message}");
        }
        let query = "query($input: CoverageGapsInput) { coverageGaps(input: $input) { municipality { code } } }";
        for input in [
            json!({ "serviceTypes": ["NOT_A_TYPE"] }),
            json!({ "territory": global_id("Territory", Uuid::now_v7()) }),
        ] {
            let (_, body) = app.query_as(&token, query, json!({ "input": input })).await;
            assert_eq!(
                first_error_code(&body),
                "BAD_USER_INPUT",
                "[{engine:?}] {input}: {body}"
            );
        }
    }
}

#[tokio::test]
async fn capacity_and_coverage_gaps_match_the_catalogue_counted_in_the_test() {
    for engine in engines() {
        let app = spawn_app(engine).await;
        let token = app.token(None, &[Role::RegionalAdmin]);
        // The active services, their types, areas and figures, read as rows.
        let mut types: HashMap<Uuid, Vec<String>> = HashMap::new();
        for row in rows(&app, "SELECT st.service_id AS s, t.code AS c FROM service_term st JOIN term t ON t.id = st.term_id WHERE t.taxonomy = 'SERVICE_TYPE'").await {
            types.entry(row.try_get("", "s").unwrap()).or_default().push(row.try_get("", "c").unwrap());
        }
        let mut areas: HashMap<Uuid, BTreeSet<String>> = HashMap::new();
        for row in rows(&app, "SELECT sa.service_id AS s, t.code AS c FROM service_area sa JOIN territory t ON t.id = sa.municipality_id").await {
            areas.entry(row.try_get("", "s").unwrap()).or_default().insert(row.try_get("", "c").unwrap());
        }
        let mut by_type: BTreeMap<String, (i64, i64, i64)> = BTreeMap::new();
        let mut covered: BTreeSet<(String, String)> = BTreeSet::new();
        for row in rows(
            &app,
            "SELECT id, open_places, waitlist_length FROM service WHERE status = 'ACTIVE'",
        )
        .await
        {
            let id: Uuid = row.try_get("", "id").unwrap();
            let open: Option<i32> = row.try_get("", "open_places").unwrap();
            let waiting: Option<i32> = row.try_get("", "waitlist_length").unwrap();
            for code in types.get(&id).into_iter().flatten() {
                let cell = by_type.entry(code.clone()).or_default();
                cell.0 += 1;
                cell.1 += i64::from(open.unwrap_or(0));
                cell.2 += i64::from(waiting.unwrap_or(0));
                for municipality in areas.get(&id).into_iter().flatten() {
                    covered.insert((code.clone(), municipality.clone()));
                }
            }
        }
        let (_, body) = app.query_as(&token, "{ capacityStatistics { k rows { territory { kind } serviceType { code } activeServices openPlaces waitlisted { count suppressed } } } }", json!({})).await;
        let rows_out = body["data"]["capacityStatistics"]["rows"]
            .as_array()
            .unwrap_or_else(|| panic!("{body}"));
        assert_eq!(rows_out.len(), by_type.len(), "[{engine:?}] {body}");
        for row in rows_out {
            let (services, open, waiting) = by_type[row["serviceType"]["code"].as_str().unwrap()];
            assert_eq!(row["territory"]["kind"], "REGION");
            assert_eq!(row["activeServices"].as_i64(), Some(services));
            assert_eq!(row["openPlaces"].as_i64(), Some(open));
            let w = &row["waitlisted"];
            if (1..K as i64).contains(&waiting) {
                assert_eq!(w["suppressed"], true, "{row}");
            }
            if w["suppressed"] == false {
                assert_eq!(w["count"].as_i64(), Some(waiting));
            }
        }
        let hidden_waitlists = rows_out
            .iter()
            .filter(|r| r["waitlisted"]["suppressed"] == true)
            .count();
        assert_ne!(
            hidden_waitlists, 1,
            "a lone suppressed waiting list is given away by the region's total"
        );
        let (_, body) = app
            .query_as(
                &token,
                "{ coverageGaps { serviceType { code } municipality { code } } }",
                json!({}),
            )
            .await;
        let gaps: BTreeSet<(String, String)> = body["data"]["coverageGaps"]
            .as_array()
            .unwrap_or_else(|| panic!("{body}"))
            .iter()
            .map(|g| {
                (
                    g["serviceType"]["code"].as_str().unwrap().to_owned(),
                    g["municipality"]["code"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        let type_codes: Vec<String> = rows(
            &app,
            "SELECT code FROM term WHERE taxonomy = 'SERVICE_TYPE'",
        )
        .await
        .iter()
        .map(|r| r.try_get("", "code").unwrap())
        .collect();
        let municipalities: Vec<String> = rows(
            &app,
            "SELECT code FROM territory WHERE kind = 'MUNICIPALITY'",
        )
        .await
        .iter()
        .map(|r| r.try_get("", "code").unwrap())
        .collect();
        let mut expected = BTreeSet::new();
        for code in &type_codes {
            for municipality in &municipalities {
                if !covered.contains(&(code.clone(), municipality.clone())) {
                    expected.insert((code.clone(), municipality.clone()));
                }
            }
        }
        assert!(!expected.is_empty());
        assert_eq!(gaps, expected, "[{engine:?}]");
    }
}

#[tokio::test]
async fn every_statistics_statement_reads_the_fact_table_and_the_catalogue_by_index_on_postgresql()
{
    if !engines().contains(&Engine::Postgres) {
        return;
    }
    let app = spawn_app(Engine::Postgres).await;
    let net = network(&app).await;
    generate(&app, &net, 50, 7).await;
    app.db.execute_unprepared("ANALYZE").await.unwrap();
    let token = app.token(None, &[Role::RegionalAdmin]);
    app.record_statements();
    for (level, group_by) in [
        ("REGION", json!([])),
        (
            "ZONE",
            json!(["SERVICE_TYPE", "SENDER_KIND", "RECEIVER_KIND"]),
        ),
        ("PROVINCE", json!([])),
        ("HUB_AREA", json!([])),
    ] {
        let (_, body) = app.query_as(&token, STATISTICS, json!({ "input": { "from": "2025-01", "to": "2025-06", "territoryLevel": level, "groupBy": group_by } })).await;
        assert!(body["errors"].is_null(), "{body}");
        let (_, body) = app.query_as(&token, "query($l: StatisticsTerritoryLevel!) { capacityStatistics(input: {territoryLevel: $l}) { k } }", json!({ "l": level })).await;
        assert!(body["errors"].is_null(), "{body}");
    }
    let (_, body) = app
        .query_as(
            &token,
            "{ coverageGaps { municipality { code } } }",
            json!({}),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    let statements = app.recorded_statements();
    let mut checked = 0;
    for statement in statements.iter().filter(|s| {
        s.sql.contains("referral_fact")
            || s.sql.contains("service_area")
            || s.sql.contains("FROM service s")
    }) {
        let plan = crate::indexes::explain(&app, statement).await;
        let mut faults = Vec::new();
        crate::indexes::faults(&plan, false, &mut faults);
        assert!(faults.is_empty(), "{}: {faults:?}\n{plan:#}", statement.sql);
        checked += 1;
    }
    assert!(checked >= 9, "{checked} statements checked");
}
