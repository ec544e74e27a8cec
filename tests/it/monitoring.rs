//! `examples/monitoring/`: the Prometheus alert rules and the Grafana dashboard parse as PromQL
//! (`promql-parser`, Prometheus's grammar) and name only metrics the tool really exports, read
//! from `check --format prometheus` after a verify, a scrub and a drill (so every family has a
//! sample).

use std::collections::BTreeSet;
use std::path::Path;

use crate::support::Project;

/// The metric families a real `check --format prometheus` prints.
fn exported() -> BTreeSet<String> {
    let project = Project::new(
        "[package.metadata.litestream]\nreplica = \"replica\"\n\n[package.metadata.litestream.databases]\ndefault = \"app.db\"\n",
    );
    project.sqlite("app.db").execute_batch("CREATE TABLE t(x); INSERT INTO t VALUES (1);").unwrap();
    let _daemon = project.replicate::<_, &str>([]);
    // Litestream writes its first snapshot about a second after it starts.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while project
        .run(["ltx", "-level", "9", "-json", "default"])
        .success()
        .json()
        .as_array()
        .is_none_or(Vec::is_empty)
    {
        assert!(std::time::Instant::now() < deadline, "no snapshot after 20 s");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    for command in ["verify", "scrub", "drill"] {
        project.run([command]).success();
    }
    let run = project.run(["check", "--format", "prometheus"]);
    run.stdout
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

/// The metric names an expression reads (the tool's own: `cargo_litestream_…`).
fn names_in(expr: &str) -> Vec<String> {
    expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|word| word.starts_with("cargo_litestream_"))
        .map(str::to_owned)
        .collect()
}

fn check_expr(expr: &str, what: &str, exported: &BTreeSet<String>) {
    if let Err(error) = promql_parser::parser::parse(expr) {
        panic!("{what}: `{expr}` is not PromQL: {error}");
    }
    let names = names_in(expr);
    assert!(!names.is_empty(), "{what}: `{expr}` reads none of cargo-litestream's metrics");
    for name in names {
        assert!(exported.contains(&name), "{what}: `{name}` is not exported (exported: {exported:?})");
    }
}

#[test]
fn the_alert_rules_and_the_dashboard_parse_and_use_exported_metrics() {
    let exported = exported();
    assert!(exported.len() > 10, "{exported:?}");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/monitoring");

    let rules =
        cargo_litestream_config::yaml::parse(&std::fs::read_to_string(dir.join("alerts.yml")).unwrap())
            .unwrap();
    let mut alerts = 0;
    for group in rules["groups"].as_array().expect("groups") {
        for rule in group["rules"].as_array().expect("rules") {
            let name = rule["alert"].as_str().expect("every rule is an alert");
            assert!(rule["annotations"]["summary"].is_string(), "{name}: no summary");
            assert!(
                ["critical", "warning"].contains(&rule["labels"]["severity"].as_str().unwrap_or("")),
                "{name}"
            );
            check_expr(rule["expr"].as_str().expect("expr"), name, &exported);
            alerts += 1;
        }
    }
    assert!(alerts >= 5, "{alerts} alerts");

    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("grafana-dashboard.json")).unwrap()).unwrap();
    let mut panels = 0;
    for panel in dashboard["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().expect("targets") {
            check_expr(
                target["expr"].as_str().expect("expr"),
                panel["title"].as_str().unwrap_or("?"),
                &exported,
            );
            panels += 1;
        }
    }
    assert!(panels >= 5, "{panels} panels");
}
