//! `iom flow`: check flow definitions and draw them, without a server.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Subcommand, ValueEnum};
use iom_app::flow::policies::policy_set_in;
use iom_flow::policy::PolicySet;
use iom_flow::{Compiler, ExecutablePlan, NodeKind};
use iom_store::Store;

#[derive(Subcommand)]
pub enum FlowCommand {
    /// Compile a flow definition (YAML or JSON) and report every error as FILE:LINE:COL. Policy
    /// names are resolved only with `--database`: the server checks them against its stored
    /// policies when the flow is stored.
    Validate {
        file: PathBuf,
        /// Also check the policies the flow names against those stored in this database (each
        /// must exist, of the kind its use needs), e.g. `sqlite://iom.db`.
        #[arg(long, value_name = "URL")]
        database: Option<String>,
    },
    /// Print the compiled flow as a graph: Graphviz DOT, or SVG laid out without Graphviz.
    Graph {
        file: PathBuf,
        #[arg(long, value_enum, default_value_t = GraphFormat::Dot)]
        format: GraphFormat,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum GraphFormat {
    Dot,
    Svg,
}

pub async fn run(cmd: FlowCommand) -> anyhow::Result<()> {
    match cmd {
        FlowCommand::Validate { file, database } => {
            let policies = match database {
                Some(url) => {
                    let store = Store::open(&url)
                        .await
                        .with_context(|| format!("opening {url}"))?;
                    Some(store.read(policy_set_in).await?)
                }
                None => None,
            };
            let plan = compile(&file, policies.as_ref())?;
            println!("OK {}", file.display());
            println!("{}", summary(&plan));
            Ok(())
        }
        FlowCommand::Graph { file, format } => {
            let plan = compile(&file, None)?;
            match format {
                GraphFormat::Dot => {
                    print!("{}", iom_flow::graph::to_dot(&plan));
                    Ok(())
                }
                GraphFormat::Svg => {
                    print!("{}", iom_flow::graph::to_svg(&plan));
                    Ok(())
                }
            }
        }
    }
}

/// Compiles `file`, resolving policy names against `policies` when given; on errors prints each
/// as `FILE:LINE:COL: message` on stderr.
fn compile(file: &PathBuf, policies: Option<&PolicySet>) -> anyhow::Result<ExecutablePlan> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let compiler = match policies {
        Some(policies) => Compiler::with_policies(policies),
        None => Compiler::default(),
    };
    match compiler.compile(&text) {
        Ok(plan) => Ok(plan),
        Err(errors) => {
            for e in errors.iter() {
                let path = if e.path.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", e.path)
                };
                eprintln!(
                    "{}:{}:{}: {}{path}",
                    file.display(),
                    e.line,
                    e.column,
                    e.message
                );
            }
            bail!(
                "{} error{} in {}",
                errors.len(),
                if errors.len() == 1 { "" } else { "s" },
                file.display()
            )
        }
    }
}

fn summary(plan: &ExecutablePlan) -> String {
    let steps = plan
        .nodes
        .iter()
        .filter(|n| matches!(n.kind, NodeKind::Step { .. }))
        .count();
    format!(
        "flow {} ({} flow, trigger {}, priority {}): {} nodes, {steps} steps",
        plan.name,
        plan.flow_type.as_str(),
        plan.triggers.join(", "),
        plan.priority,
        plan.nodes.len()
    )
}
