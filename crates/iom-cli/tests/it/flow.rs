//! `iom flow validate` and `iom flow graph` on files, as a user runs them.

use std::process::Command;

fn iom(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_iom"))
        .args(args)
        .env("IOM_LOG", "warn")
        .output()
        .expect("run iom")
}

#[test]
fn validate_accepts_a_good_flow_and_summarises_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("flow.yaml");
    std::fs::write(&file, iom_flow::DEFAULT_ORDER_FLOW).unwrap();
    let out = iom(&["flow", "validate", file.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.starts_with("OK "), "{stdout}");
    assert!(
        stdout.contains("flow default-order (order flow, trigger order.received"),
        "{stdout}"
    );
}

#[test]
fn validate_reports_each_error_at_its_place_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.yaml");
    std::fs::write(
        &file,
        "name: bad\ntype: order\ntrigger: order.received\nsteps:\n  - id: a\n    uses: validate-ordr\n  - id: b\n    uses: hold\n    when: order.chanel == 'web'\n",
    )
    .unwrap();
    let path = file.to_str().unwrap();
    let out = iom(&["flow", "validate", path]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    let lines: Vec<&str> = stderr.lines().collect();
    assert!(
        lines[0].starts_with(&format!("{path}:6:11: unknown step `validate-ordr`")),
        "{stderr}"
    );
    assert!(
        lines[1].starts_with(&format!("{path}:9:17: order has no field `chanel`")),
        "{stderr}"
    );
}

#[test]
fn graph_prints_dot() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("flow.yaml");
    std::fs::write(&file, iom_flow::DEFAULT_ORDER_FLOW).unwrap();
    let out = iom(&["flow", "graph", file.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    let dot = String::from_utf8(out.stdout).unwrap();
    assert!(dot.starts_with("digraph \"default-order\" {"), "{dot}");
    assert!(
        dot.contains("\"preorder\" -> \"preorder-hold\" [label=\"then\"];"),
        "{dot}"
    );
}

#[test]
fn graph_draws_svg_with_a_node_per_step() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("flow.yaml");
    std::fs::write(&file, iom_flow::DEFAULT_ORDER_FLOW).unwrap();
    let out = iom(&["flow", "graph", file.to_str().unwrap(), "--format", "svg"]);
    assert!(out.status.success(), "{out:?}");
    let svg = String::from_utf8(out.stdout).unwrap();
    // Well-formed XML whose root is an `svg` element; the text of every `tspan`, in order.
    let mut reader = quick_xml::Reader::from_str(&svg);
    let mut root = None;
    let mut texts = Vec::new();
    let mut in_tspan = false;
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Start(e)) => {
                let name: String = e.name().as_ref().to_owned();
                in_tspan = name == "tspan";
                root.get_or_insert(name);
            }
            Ok(quick_xml::events::Event::Text(t)) if in_tspan => {
                texts.push(t.xml10_content().into_owned());
            }
            Ok(quick_xml::events::Event::End(_)) => in_tspan = false,
            Ok(quick_xml::events::Event::Eof) => break,
            Ok(_) => {}
            Err(e) => panic!(
                "not well-formed at {}: {e}\n{svg}",
                reader.buffer_position()
            ),
        }
    }
    assert_eq!(root.as_deref(), Some("svg"), "{svg}");
    let plan = iom_flow::compile(iom_flow::DEFAULT_ORDER_FLOW).unwrap();
    let steps: Vec<(&str, &str)> = plan
        .nodes
        .iter()
        .filter_map(|n| match &n.kind {
            iom_flow::NodeKind::Step { uses, .. } => Some((n.id.as_str(), uses.as_str())),
            _ => None,
        })
        .collect();
    assert!(steps.len() >= 4, "{steps:?}");
    for (id, uses) in steps {
        // Each step is one box whose first two lines are its id and the step it uses.
        let boxes = texts
            .windows(2)
            .filter(|w| w[0] == id && w[1] == uses)
            .count();
        assert_eq!(boxes, 1, "{id} ({uses}) in {texts:?}");
    }
}

/// With `--database`, the policies a flow names are checked against those stored there, as the
/// server checks them when the flow is stored.
#[tokio::test]
async fn validate_resolves_policy_names_against_a_database() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("iom.db").display());
    {
        let store = iom_store::Store::open(&url).await.unwrap();
        let executor = iom_app::flow::Executor::new(
            store,
            std::sync::Arc::new(iom_app::flow::NoOutbound),
            Default::default(),
        );
        executor
            .put_policy(
                "vip-orders",
                "name: vip-orders\nkind: filter\nrule: order.customer.group == \"vip\"\n",
                "yaml",
            )
            .await
            .unwrap();
    }
    let flow = "name: vip\ntype: order\ntrigger: order.received\nfilter: vip-orders\nsteps:\n  - id: a\n    uses: validate-order\n";
    let good = dir.path().join("good.yaml");
    std::fs::write(&good, flow).unwrap();
    let out = iom(&[
        "flow",
        "validate",
        good.to_str().unwrap(),
        "--database",
        &url,
    ]);
    assert!(out.status.success(), "{out:?}");

    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        flow.replace("filter: vip-orders", "filter: vip-order"),
    )
    .unwrap();
    let path = bad.to_str().unwrap();
    let out = iom(&["flow", "validate", path, "--database", &url]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.starts_with(&format!(
            "{path}:4:9: unknown policy `vip-order` (did you mean `vip-orders`?)"
        )),
        "{stderr}"
    );
    // Without a database the name is not resolved.
    assert!(iom(&["flow", "validate", path]).status.success());
}
