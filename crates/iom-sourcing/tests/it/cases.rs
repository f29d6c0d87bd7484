//! Hand-checked cases with known optimal answers, one JSON file each under `tests/cases/`. Every case
//! runs through the heuristic and the exact solver (unless it names `solvers`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use iom_sourcing::{
    Availability, ExactOptions, Network, Node, NodeGroup, Plan, PlanRequest, PostalCentroids,
    Profile, StockRecord, plan, plan_exact,
};
use rust_decimal::Decimal;
use serde::Deserialize;

#[derive(Deserialize)]
struct Case {
    name: String,
    nodes: Vec<Node>,
    #[serde(default)]
    groups: Vec<NodeGroup>,
    stock: Vec<StockRecord>,
    #[serde(default)]
    capacity_used: BTreeMap<String, u32>,
    #[serde(default)]
    centroids_csv: Option<String>,
    #[serde(default)]
    profile: Profile,
    request: PlanRequest,
    #[serde(default = "both")]
    solvers: Vec<String>,
    expect: Expect,
}

fn both() -> Vec<String> {
    vec!["heuristic".into(), "exact".into()]
}

#[derive(Deserialize)]
struct Expect {
    assignments: Vec<ExpectAssignment>,
    #[serde(default)]
    unassigned: Vec<ExpectUnassigned>,
    cost: Decimal,
    shipments: u32,
    #[serde(default)]
    ship_date: Option<chrono::NaiveDate>,
    #[serde(default)]
    distance_km: Option<f64>,
    /// node → "verdict" or "verdict:reason"
    #[serde(default)]
    explanation: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct ExpectAssignment {
    line_no: u32,
    node: String,
    quantity: u32,
    #[serde(default)]
    relaxed: Option<bool>,
    #[serde(default)]
    profile: Option<String>,
}

#[derive(Deserialize)]
struct ExpectUnassigned {
    line_no: u32,
    quantity: u32,
    reason: String,
}

fn json_name<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .unwrap()
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn check(case: &Case, plan: &Plan, solver: &str) -> Result<(), String> {
    let e = &case.expect;
    let got: BTreeSet<(u32, String, u32)> = plan
        .assignments
        .iter()
        .map(|a| (a.line_no, a.node.clone(), a.quantity))
        .collect();
    let want: BTreeSet<(u32, String, u32)> = e
        .assignments
        .iter()
        .map(|a| (a.line_no, a.node.clone(), a.quantity))
        .collect();
    let mut errors = Vec::new();
    if got != want {
        errors.push(format!("assignments {got:?}, expected {want:?}"));
    }
    for ea in &e.assignments {
        let Some(a) = plan
            .assignments
            .iter()
            .find(|a| a.line_no == ea.line_no && a.node == ea.node)
        else {
            continue;
        };
        if ea.relaxed.is_some_and(|r| r != a.relaxed) {
            errors.push(format!(
                "line {} at {}: relaxed {}",
                a.line_no, a.node, a.relaxed
            ));
        }
        if ea.profile.as_ref().is_some_and(|p| *p != a.profile) {
            errors.push(format!(
                "line {} at {}: profile {}",
                a.line_no, a.node, a.profile
            ));
        }
    }
    let got_u: BTreeSet<(u32, u32, String)> = plan
        .unassigned
        .iter()
        .map(|u| (u.line_no, u.quantity, json_name(&u.reason)))
        .collect();
    let want_u: BTreeSet<(u32, u32, String)> = e
        .unassigned
        .iter()
        .map(|u| (u.line_no, u.quantity, u.reason.clone()))
        .collect();
    if got_u != want_u {
        errors.push(format!("unassigned {got_u:?}, expected {want_u:?}"));
    }
    if plan.cost != e.cost {
        errors.push(format!("cost {}, expected {}", plan.cost, e.cost));
    }
    if plan.shipments != e.shipments {
        errors.push(format!(
            "shipments {}, expected {}",
            plan.shipments, e.shipments
        ));
    }
    if let Some(d) = e.ship_date
        && plan.ship_date != Some(d)
    {
        errors.push(format!("ship date {:?}, expected {d}", plan.ship_date));
    }
    if let Some(d) = e.distance_km
        && (plan.distance_km - d).abs() > 0.05
    {
        errors.push(format!("distance {}, expected {d}", plan.distance_km));
    }
    for (node, want) in &e.explanation {
        let Some(x) = plan.explanation.iter().find(|x| &x.node == node) else {
            errors.push(format!("no explanation for {node}"));
            continue;
        };
        let (verdict, reason) = want
            .split_once(':')
            .map_or((want.as_str(), None), |(v, r)| (v, Some(r)));
        if json_name(&x.verdict) != verdict {
            errors.push(format!(
                "{node}: verdict {:?}, expected {verdict}",
                x.verdict
            ));
        }
        if let Some(r) = reason
            && !x.reasons.iter().any(|g| json_name(g) == r)
        {
            errors.push(format!("{node}: reasons {:?}, expected {r}", x.reasons));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(format!("{} [{solver}]: {}", case.name, errors.join("; ")))
    }
}

fn run_case(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut case: Case =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    for n in &mut case.nodes {
        if n.name.is_empty() {
            n.name = n.code.clone();
        }
    }
    let mut network = Network::new(case.nodes.clone(), case.groups.clone()).unwrap();
    if let Some(csv) = &case.centroids_csv {
        network = network.with_centroids(PostalCentroids::from_csv(csv).unwrap());
    }
    let mut avail = Availability::from_records(&network, &case.stock).unwrap();
    for (node, used) in &case.capacity_used {
        avail.set_capacity_used(&network, node, *used).unwrap();
    }
    let mut failures = Vec::new();
    for solver in &case.solvers {
        let plan = match solver.as_str() {
            "heuristic" => plan(&case.request, &network, &avail, &case.profile).unwrap(),
            "exact" => plan_exact(
                &case.request,
                &network,
                &avail,
                &case.profile,
                &ExactOptions::default(),
            )
            .unwrap(),
            other => panic!("unknown solver {other}"),
        };
        if let Err(e) = check(&case, &plan, solver) {
            failures.push(format!(
                "{}: {e}",
                path.file_name().unwrap().to_string_lossy()
            ));
        }
    }
    failures
}

#[test]
fn hand_checked_cases() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    assert!(
        paths.len() >= 20,
        "expected the case files in {}",
        dir.display()
    );
    let failures: Vec<String> = paths.iter().flat_map(|p| run_case(p)).collect();
    assert!(
        failures.is_empty(),
        "{} failing case(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}
