//! A plan as a Graphviz DOT graph, for `iom flow graph`.

use std::fmt::Write;

use crate::plan::{ExecutablePlan, FailureAction, NodeKind, PlanNode, Target};

fn quote(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

fn target_id(target: &Target) -> String {
    match target {
        Target::Step(id) => quote(id.as_str()),
        Target::Join(id) => quote(&format!("{id}/join")),
        Target::End => quote("end"),
    }
}

/// The plan as DOT: one box per step, diamonds for conditions, bars for forks and joins, dashed
/// edges for what failures and timeouts lead to.
pub fn to_dot(plan: &ExecutablePlan) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "digraph {} {{", quote(&plan.name));
    out.push_str("  rankdir=TB;\n  node [fontname=\"Helvetica\", fontsize=11];\n");
    out.push_str(
        "  \"start\" [shape=circle, label=\"\", width=0.25, style=filled, fillcolor=black];\n",
    );
    out.push_str(
        "  \"end\" [shape=doublecircle, label=\"\", width=0.2, style=filled, fillcolor=black];\n",
    );
    let _ = writeln!(out, "  \"start\" -> {};", target_id(&plan.start));
    for node in &plan.nodes {
        write_node(&mut out, node);
    }
    out.push_str("}\n");
    out
}

fn write_node(out: &mut String, node: &PlanNode) {
    let id = quote(node.id.as_str());
    let guard = node
        .when
        .as_ref()
        .map(|w| format!("\\nwhen {}", w.source().replace('"', "'")))
        .unwrap_or_default();
    match &node.kind {
        NodeKind::Step {
            uses,
            on_failure,
            on_timeout,
            terminal,
            ..
        } => {
            // Lines are separated by DOT's own `\n`, so the label is quoted without escaping it.
            let label = format!("\"{}\\n{uses}{guard}\"", node.id);
            let _ = writeln!(out, "  {id} [shape=box, style=rounded, label={label}];");
            if *terminal {
                let _ = writeln!(out, "  {id} -> \"end\";");
            } else {
                let _ = writeln!(out, "  {id} -> {};", target_id(&node.next));
            }
            for (name, action) in [
                ("failure", Some(on_failure)),
                ("timeout", on_timeout.as_ref()),
            ] {
                let Some(action) = action else { continue };
                let (to, label) = match action {
                    FailureAction::Fail => continue,
                    FailureAction::Continue => (target_id(&node.next), format!("{name}: continue")),
                    FailureAction::Goto(step) => (quote(step.as_str()), format!("{name}: goto")),
                    FailureAction::Hold(reason) => {
                        ("\"end\"".to_owned(), format!("{name}: hold {reason}"))
                    }
                    FailureAction::Cancel(reason) => {
                        ("\"end\"".to_owned(), format!("{name}: cancel {reason}"))
                    }
                    FailureAction::Backorder => {
                        ("\"end\"".to_owned(), format!("{name}: backorder"))
                    }
                };
                let _ = writeln!(
                    out,
                    "  {id} -> {to} [style=dashed, label={}];",
                    quote(&label)
                );
            }
        }
        NodeKind::Branch {
            condition,
            then,
            otherwise,
        } => {
            let _ = writeln!(
                out,
                "  {id} [shape=diamond, label={}];",
                quote(&condition.source().replace('"', "'"))
            );
            let _ = writeln!(out, "  {id} -> {} [label=\"then\"];", target_id(then));
            let _ = writeln!(out, "  {id} -> {} [label=\"else\"];", target_id(otherwise));
        }
        NodeKind::Parallel { branches } => {
            let join = quote(&format!("{}/join", node.id));
            let _ = writeln!(
                out,
                "  {id} [shape=box, style=filled, fillcolor=black, fontcolor=white, height=0.1, label={}];",
                quote(&format!("{} (parallel)", node.id))
            );
            let _ = writeln!(
                out,
                "  {join} [shape=box, style=filled, fillcolor=black, fontcolor=white, height=0.1, label=\"join\"];"
            );
            for branch in branches {
                let _ = writeln!(
                    out,
                    "  {id} -> {} [label={}];",
                    target_id(&branch.start),
                    quote(&branch.name)
                );
            }
            let _ = writeln!(out, "  {join} -> {};", target_id(&node.next));
        }
        NodeKind::Goto { target } => {
            let _ = writeln!(
                out,
                "  {id} [shape=plain, label={}];",
                quote(&format!("goto {target}"))
            );
            let _ = writeln!(out, "  {id} -> {};", quote(target.as_str()));
        }
    }
    if node.when.is_some() && !matches!(node.kind, NodeKind::Step { .. }) {
        let _ = writeln!(
            out,
            "  {id} -> {} [style=dotted, label=\"skipped\"];",
            target_id(&node.next)
        );
    }
}
