//! A plan as a graph for `iom flow graph`: Graphviz DOT, or SVG laid out by `layout-rs` (a
//! pure-Rust layered layout), so no Graphviz needs to be installed.

use std::collections::HashMap;
use std::fmt::Write;

use layout::backends::svg::SVGWriter;
use layout::core::base::Orientation;
use layout::core::color::Color;
use layout::core::style::{LineStyleKind, StyleAttr};
use layout::std_shapes::render::get_shape_size;
use layout::std_shapes::shapes::{Arrow, Element, LineEndKind, ShapeKind};
use layout::topo::layout::VisualGraph;

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
        .unwrap_or_default()
        + &filter_line(node)
            .map(|f| format!("\\n{f}"))
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

/// "filter a, b" for a node with filter policies.
fn filter_line(node: &PlanNode) -> Option<String> {
    (!node.filters.is_empty()).then(|| format!("filter {}", node.filters.join(", ")))
}

/// How an edge is drawn.
#[derive(Clone, Copy)]
enum Line {
    Normal,
    /// What a failure or a timeout leads to.
    Dashed,
    /// Where a node is skipped to.
    Dotted,
}

/// The plan's nodes and edges, drawn by [`to_svg`]: the same picture as [`to_dot`].
struct Drawing {
    dir: Orientation,
    graph: VisualGraph,
    ids: HashMap<String, layout::adt::dag::NodeHandle>,
}

impl Drawing {
    fn new() -> Self {
        let dir = Orientation::TopToBottom;
        Drawing {
            dir,
            graph: VisualGraph::new(dir),
            ids: HashMap::new(),
        }
    }

    fn node(&mut self, id: &str, shape: ShapeKind, fill: &str, rounded: usize) {
        // Shapes are sized across the direction the graph grows in, as `layout-rs` does for DOT.
        let dir = self.dir.flip();
        let font = 13;
        let size = get_shape_size(
            dir,
            &shape,
            font,
            matches!(shape, ShapeKind::Circle(_) | ShapeKind::DoubleCircle(_)),
        );
        let look = StyleAttr::new(
            Color::fast("black"),
            1,
            Some(Color::fast(fill)),
            rounded,
            font,
        );
        let handle = self.graph.add_node(Element::create(shape, look, dir, size));
        self.ids.insert(id.to_owned(), handle);
    }

    fn edge(&mut self, from: &str, to: &str, label: &str, line: Line) {
        let (Some(from), Some(to)) = (self.ids.get(from), self.ids.get(to)) else {
            return;
        };
        let (style, color) = match line {
            Line::Normal => (LineStyleKind::Normal, "black"),
            Line::Dashed => (LineStyleKind::Dashed, "firebrick"),
            Line::Dotted => (LineStyleKind::Dotted, "gray"),
        };
        let look = StyleAttr::new(Color::fast(color), 1, None, 0, 11);
        let arrow = Arrow::new(
            LineEndKind::None,
            LineEndKind::Arrow,
            style,
            label,
            &look,
            &None,
            &None,
        );
        self.graph.add_edge(arrow, *from, *to);
    }
}

fn target_key(target: &Target) -> String {
    match target {
        Target::Step(id) => id.to_string(),
        Target::Join(id) => format!("{id}/join"),
        Target::End => "end".to_owned(),
    }
}

/// The plan as an SVG document: the nodes and edges of [`to_dot`], laid out top to bottom.
pub fn to_svg(plan: &ExecutablePlan) -> String {
    let mut d = Drawing::new();
    d.node("start", ShapeKind::Circle("start".into()), "white", 0);
    for node in &plan.nodes {
        let id = node.id.as_str();
        let mut label = match &node.kind {
            NodeKind::Step { uses, .. } => format!("{id}\n{uses}"),
            NodeKind::Branch { condition, .. } => format!("{id}\nif {}", condition.source()),
            NodeKind::Parallel { .. } => format!("{id} (parallel)"),
            NodeKind::Goto { target } => format!("goto {target}"),
        };
        if let Some(when) = &node.when {
            let _ = write!(label, "\nwhen {}", when.source());
        }
        if let Some(filter) = filter_line(node) {
            let _ = write!(label, "\n{filter}");
        }
        let fill = match &node.kind {
            NodeKind::Step { .. } => "white",
            NodeKind::Branch { .. } => "lightyellow",
            NodeKind::Parallel { .. } => "lightgray",
            NodeKind::Goto { .. } => "whitesmoke",
        };
        d.node(id, ShapeKind::Box(label), fill, 8);
        if let NodeKind::Parallel { .. } = node.kind {
            d.node(
                &format!("{id}/join"),
                ShapeKind::Box("join".into()),
                "lightgray",
                0,
            );
        }
    }
    d.node("end", ShapeKind::DoubleCircle("end".into()), "white", 0);

    d.edge("start", &target_key(&plan.start), "", Line::Normal);
    for node in &plan.nodes {
        let id = node.id.as_str();
        let next = target_key(&node.next);
        match &node.kind {
            NodeKind::Step {
                on_failure,
                on_timeout,
                terminal,
                ..
            } => {
                d.edge(
                    id,
                    if *terminal { "end" } else { next.as_str() },
                    "",
                    Line::Normal,
                );
                for (name, action) in [
                    ("failure", Some(on_failure)),
                    ("timeout", on_timeout.as_ref()),
                ] {
                    let Some(action) = action else { continue };
                    let (to, label) = match action {
                        FailureAction::Fail => continue,
                        FailureAction::Continue => (next.clone(), format!("{name}: continue")),
                        FailureAction::Goto(step) => (step.to_string(), format!("{name}: goto")),
                        FailureAction::Hold(reason) => {
                            ("end".to_owned(), format!("{name}: hold {reason}"))
                        }
                        FailureAction::Cancel(reason) => {
                            ("end".to_owned(), format!("{name}: cancel {reason}"))
                        }
                        FailureAction::Backorder => {
                            ("end".to_owned(), format!("{name}: backorder"))
                        }
                    };
                    d.edge(id, &to, &label, Line::Dashed);
                }
            }
            NodeKind::Branch {
                then, otherwise, ..
            } => {
                d.edge(id, &target_key(then), "then", Line::Normal);
                d.edge(id, &target_key(otherwise), "else", Line::Normal);
            }
            NodeKind::Parallel { branches } => {
                for branch in branches {
                    d.edge(id, &target_key(&branch.start), &branch.name, Line::Normal);
                }
                d.edge(&format!("{id}/join"), &next, "", Line::Normal);
            }
            NodeKind::Goto { target } => d.edge(id, target.as_str(), "", Line::Normal),
        }
        if (node.when.is_some() || !node.filters.is_empty())
            && !matches!(node.kind, NodeKind::Step { .. })
        {
            d.edge(id, &next, "skipped", Line::Dotted);
        }
    }
    let mut svg = SVGWriter::new();
    d.graph.do_it(false, false, false, &mut svg);
    svg.finalize()
}
