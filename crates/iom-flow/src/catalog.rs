//! The step catalogue: every step a flow can `use`, with the schema of its `with` arguments.

use serde::{Deserialize, Serialize};

/// The kind of business object a flow works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlowType {
    Order,
    Inventory,
    Return,
}

impl FlowType {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "order" => Some(Self::Order),
            "inventory" => Some(Self::Inventory),
            "return" => Some(Self::Return),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Order => "order",
            Self::Inventory => "inventory",
            Self::Return => "return",
        }
    }

    /// Order and return flows act on an order; inventory flows only know their event.
    pub fn has_order(self) -> bool {
        self != Self::Inventory
    }
}

/// The type of one argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgKind {
    /// A non-empty string.
    Text,
    /// An integer within bounds.
    Int {
        min: i64,
        max: i64,
    },
    Bool,
    /// A duration such as `500ms`, `30s`, `5m`, `2h`, `7d` or `1h30m`.
    Duration,
    /// A business event type or pattern (`order.released`, `inventory.*`).
    EventType,
    /// A CEL expression over the order (and `event`), type-checked.
    Expression,
    /// A mapping of free-form values.
    Object,
    /// Any JSON value.
    Any,
    /// One of a fixed list of words.
    Choice(&'static [&'static str]),
    /// A mapping of free-form keys to one of a fixed list of words.
    ChoiceMap(&'static [&'static str]),
}

impl ArgKind {
    pub fn describe(self) -> &'static str {
        match self {
            ArgKind::Text => "a string",
            ArgKind::Int { .. } => "an integer",
            ArgKind::Bool => "a boolean",
            ArgKind::Duration => "a duration such as 30s, 5m or 2h",
            ArgKind::EventType => "an event type such as order.released",
            ArgKind::Expression => "a CEL expression",
            ArgKind::Object => "a mapping",
            ArgKind::Any => "any value",
            ArgKind::Choice(_) => "one of the allowed words",
            ArgKind::ChoiceMap(_) => "a mapping to allowed words",
        }
    }
}

/// A default value of an argument, filled in when the definition leaves it out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultValue {
    Text(&'static str),
    Int(i64),
    Bool(bool),
}

impl DefaultValue {
    pub fn to_json(self) -> serde_json::Value {
        match self {
            DefaultValue::Text(s) => s.into(),
            DefaultValue::Int(i) => i.into(),
            DefaultValue::Bool(b) => b.into(),
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Arg {
    pub name: &'static str,
    pub kind: ArgKind,
    pub required: bool,
    pub default: Option<DefaultValue>,
    pub doc: &'static str,
}

const fn arg(name: &'static str, kind: ArgKind, doc: &'static str) -> Arg {
    Arg {
        name,
        kind,
        required: false,
        default: None,
        doc,
    }
}

const fn required(name: &'static str, kind: ArgKind, doc: &'static str) -> Arg {
    Arg {
        name,
        kind,
        required: true,
        default: None,
        doc,
    }
}

const fn with_default(
    name: &'static str,
    kind: ArgKind,
    default: DefaultValue,
    doc: &'static str,
) -> Arg {
    Arg {
        name,
        kind,
        required: false,
        default: Some(default),
        doc,
    }
}

/// How a step relates to time and to the rest of the flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepNature {
    /// Does its work and finishes.
    Action,
    /// Waits for something outside the run (an event, a person, a released hold): a loop through
    /// such a step cannot spin.
    Waits,
    /// Ends the run when it succeeds; nothing after it in the same list can run.
    Terminal,
}

#[derive(Debug, Clone, Copy)]
pub struct StepSpec {
    pub name: &'static str,
    pub summary: &'static str,
    pub args: &'static [Arg],
    pub nature: StepNature,
    /// Flow types the step can be used in.
    pub flow_types: &'static [FlowType],
    /// Attempts when the definition gives no `retry`: steps that call other systems retry.
    pub default_attempts: u32,
}

const ORDER_FLOWS: &[FlowType] = &[FlowType::Order, FlowType::Return];
const ALL_FLOWS: &[FlowType] = &[FlowType::Order, FlowType::Inventory, FlowType::Return];

/// Every step of the catalogue.
pub const CATALOG: &[StepSpec] = &[
    StepSpec {
        name: "validate-order",
        summary: "Checks the order can be fulfilled: lines, quantities, a ship-to address.",
        args: &[with_default(
            "require_ship_to",
            ArgKind::Bool,
            DefaultValue::Bool(true),
            "fail when the order has no ship-to address",
        )],
        nature: StepNature::Action,
        flow_types: ORDER_FLOWS,
        default_attempts: 1,
    },
    StepSpec {
        name: "hold",
        summary: "Puts the order on hold; with `wait`, continues once the hold is released.",
        args: &[
            with_default(
                "reason",
                ArgKind::Text,
                DefaultValue::Text("manual"),
                "the hold code, the order's status_reason (preorder, credit, review, …)",
            ),
            arg("note", ArgKind::Text, "free text kept with the hold"),
            with_default(
                "wait",
                ArgKind::Bool,
                DefaultValue::Bool(true),
                "wait until the hold is released before going on",
            ),
        ],
        nature: StepNature::Waits,
        flow_types: ORDER_FLOWS,
        default_attempts: 1,
    },
    StepSpec {
        name: "risk-score",
        summary: "Scores the order's fraud risk (0–100) into the attribute risk_score; fails above a threshold.",
        args: &[with_default(
            "fail_above",
            ArgKind::Int { min: 0, max: 100 },
            DefaultValue::Int(80),
            "fail the step when the score is above this",
        )],
        nature: StepNature::Action,
        flow_types: ORDER_FLOWS,
        default_attempts: 1,
    },
    StepSpec {
        name: "manual-review",
        summary: "Opens a manual task and waits for its decision: approve succeeds, reject fails.",
        args: &[
            with_default(
                "queue",
                ArgKind::Text,
                DefaultValue::Text("review"),
                "the task queue",
            ),
            arg("reason", ArgKind::Text, "what the reviewer is asked"),
        ],
        nature: StepNature::Waits,
        flow_types: ORDER_FLOWS,
        default_attempts: 1,
    },
    StepSpec {
        name: "plan-fulfillment",
        summary: "Chooses nodes for the lines with a fulfilment profile; fails when nothing can be sourced.",
        args: &[
            with_default(
                "profile",
                ArgKind::Text,
                DefaultValue::Text("default"),
                "the fulfilment profile",
            ),
            with_default(
                "allow_partial",
                ArgKind::Bool,
                DefaultValue::Bool(false),
                "succeed when only some lines can be sourced",
            ),
        ],
        nature: StepNature::Action,
        flow_types: ORDER_FLOWS,
        default_attempts: 1,
    },
    StepSpec {
        name: "reserve-inventory",
        summary: "Reserves the planned quantities at their nodes; fails when stock is gone.",
        args: &[arg(
            "expires_in",
            ArgKind::Duration,
            "reservations expire after this unless released to a node",
        )],
        nature: StepNature::Action,
        flow_types: ORDER_FLOWS,
        default_attempts: 1,
    },
    StepSpec {
        name: "release-to-nodes",
        summary: "Releases the lines to their nodes (the node's provider action, if any).",
        args: &[],
        nature: StepNature::Action,
        flow_types: ORDER_FLOWS,
        default_attempts: 3,
    },
    StepSpec {
        name: "wait-for-event",
        summary: "Waits for a business event about this run's subject, optionally one matching a condition.",
        args: &[
            required("event", ArgKind::EventType, "the event type or pattern"),
            arg(
                "match",
                ArgKind::Expression,
                "a condition on `event` (and `order`) the event must meet",
            ),
        ],
        nature: StepNature::Waits,
        flow_types: ALL_FLOWS,
        default_attempts: 1,
    },
    StepSpec {
        name: "emit-event",
        summary: "Announces a business event.",
        args: &[
            required("type", ArgKind::EventType, "the event type"),
            arg("data", ArgKind::Object, "the event's data"),
        ],
        nature: StepNature::Action,
        flow_types: ALL_FLOWS,
        default_attempts: 1,
    },
    StepSpec {
        name: "call-provider",
        summary: "Runs an outbound action of a provider instance.",
        args: &[
            required("provider", ArgKind::Text, "the provider instance"),
            required("action", ArgKind::Text, "the action of that provider"),
            arg("payload", ArgKind::Object, "extra input of the action"),
        ],
        nature: StepNature::Action,
        flow_types: ALL_FLOWS,
        default_attempts: 5,
    },
    StepSpec {
        name: "buy-label",
        summary: "Buys a carrier label for each node's released lines (the cheapest rate that keeps the lines' promise, or the service the order's ship method maps to) and records it as the shipment.",
        args: &[arg(
            "provider",
            ArgKind::Text,
            "the carrier instance; optional when exactly one exists",
        )],
        nature: StepNature::Action,
        flow_types: ORDER_FLOWS,
        default_attempts: 5,
    },
    StepSpec {
        name: "calculate-tax",
        summary: "Taxes an order that arrived without tax through the tax instance serving its channel (AvaTax): the lines' tax and the totals become the service's. Passed over without a record when none serves it.",
        args: &[],
        nature: StepNature::Action,
        flow_types: ORDER_FLOWS,
        default_attempts: 10,
    },
    StepSpec {
        name: "commit-tax",
        summary: "Waits until nothing of the order is left to ship, then commits its tax document (adjusted to what shipped), or voids it when nothing shipped. Passed over without a record when no tax instance serves the order's channel.",
        args: &[],
        nature: StepNature::Waits,
        flow_types: ORDER_FLOWS,
        default_attempts: 10,
    },
    StepSpec {
        name: "authorize-payment",
        summary: "Authorises the order's total with manual capture through the payment instance serving its channel (against attributes.payment_method); passed over without a record when none serves it. A refused card fails the step for good.",
        args: &[],
        nature: StepNature::Action,
        flow_types: ORDER_FLOWS,
        default_attempts: 10,
    },
    StepSpec {
        name: "capture-payment",
        summary: "Captures each shipment's amount (its lines with their share of discount and tax, shipping on the first) as the order ships, and lets the rest of the authorisation go once nothing is left to ship; waits for shipments until then. Passed over without a record when no payment instance serves the order's channel.",
        args: &[],
        nature: StepNature::Waits,
        flow_types: ORDER_FLOWS,
        default_attempts: 10,
    },
    StepSpec {
        name: "set-attribute",
        summary: "Sets an order attribute to a value, or to the result of an expression.",
        args: &[
            required("name", ArgKind::Text, "the attribute"),
            arg("value", ArgKind::Any, "the value (give this or `expr`)"),
            arg(
                "expr",
                ArgKind::Expression,
                "an expression computing the value",
            ),
        ],
        nature: StepNature::Action,
        flow_types: ORDER_FLOWS,
        default_attempts: 1,
    },
    StepSpec {
        name: "cancel-order",
        summary: "Cancels the whole order and ends the run.",
        args: &[with_default(
            "reason",
            ArgKind::Text,
            DefaultValue::Text("flow"),
            "the cancellation reason",
        )],
        nature: StepNature::Terminal,
        flow_types: ORDER_FLOWS,
        default_attempts: 1,
    },
    StepSpec {
        name: "apply-policy",
        summary: "Runs an execution policy: applies its set-value actions; fails when a critical check fails.",
        args: &[
            required("policy", ArgKind::Text, "the policy's name"),
            arg(
                "version",
                ArgKind::Int {
                    min: 1,
                    max: u32::MAX as i64,
                },
                "a version to use; by default the newest when the run started",
            ),
        ],
        nature: StepNature::Action,
        flow_types: ORDER_FLOWS,
        default_attempts: 1,
    },
    StepSpec {
        name: "resume-backorders",
        summary: "Resumes backordered orders that have lines of the event's SKU, oldest first.",
        args: &[with_default(
            "limit",
            ArgKind::Int {
                min: 1,
                max: 10_000,
            },
            DefaultValue::Int(100),
            "most orders resumed per event",
        )],
        nature: StepNature::Action,
        flow_types: &[FlowType::Inventory],
        default_attempts: 1,
    },
    // ------------------------------------------------------------ return flows
    StepSpec {
        name: "create-return-label",
        summary: "Asks for a return label: through the provider of the node the return goes to, else as the event return.label_requested.",
        args: &[with_default(
            "action",
            ArgKind::Text,
            DefaultValue::Text("return_label"),
            "the provider action that makes the label",
        )],
        nature: StepNature::Action,
        flow_types: RETURN_FLOWS,
        default_attempts: 3,
    },
    StepSpec {
        name: "await-receipt",
        summary: "Waits until the return is received (return.received); fails when it is cancelled instead.",
        args: &[],
        nature: StepNature::Waits,
        flow_types: RETURN_FLOWS,
        default_attempts: 1,
    },
    StepSpec {
        name: "inspect",
        summary: "Decides the disposition of units received without one: by condition, then by reason, else the default.",
        args: &[
            arg(
                "by_condition",
                ArgKind::ChoiceMap(DISPOSITIONS),
                "disposition by the units' condition (damaged: scrap)",
            ),
            arg(
                "by_reason",
                ArgKind::ChoiceMap(DISPOSITIONS),
                "disposition by the return reason (defective: return_to_vendor)",
            ),
            with_default(
                "default",
                ArgKind::Choice(DISPOSITIONS),
                DefaultValue::Text("restock"),
                "the disposition when no rule applies",
            ),
        ],
        nature: StepNature::Action,
        flow_types: RETURN_FLOWS,
        default_attempts: 1,
    },
    StepSpec {
        name: "disposition",
        summary: "Carries out what inspection decided: restocked units go on-hand at the receiving node through the inventory ledger.",
        args: &[],
        nature: StepNature::Action,
        flow_types: RETURN_FLOWS,
        default_attempts: 1,
    },
    StepSpec {
        name: "refund",
        summary: "Records the refund of the received units (never more than was paid), unless it was recorded already.",
        args: &[],
        nature: StepNature::Action,
        flow_types: RETURN_FLOWS,
        default_attempts: 1,
    },
    StepSpec {
        name: "close",
        summary: "Closes the return (return.closed), unless it is closed already.",
        args: &[],
        nature: StepNature::Action,
        flow_types: RETURN_FLOWS,
        default_attempts: 1,
    },
];

const RETURN_FLOWS: &[FlowType] = &[FlowType::Return];

/// What may become of returned units (`iom_domain::returns::Disposition`).
pub const DISPOSITIONS: &[&str] = &["restock", "scrap", "refurbish", "return_to_vendor"];

pub fn step(name: &str) -> Option<&'static StepSpec> {
    CATALOG.iter().find(|s| s.name == name)
}

/// The closest known name, for "did you mean" hints.
pub fn suggest<'a>(name: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    known
        .into_iter()
        .map(|k| (edit_distance(name, k), k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}
