//! The vocabulary of iom: identifiers, money, addresses, orders and their lines, the status machines
//! with every allowed transition in one table, and the business events that announce changes.
//!
//! Nothing here does I/O. Constructors check their input ("parse, don't validate"): a value of these
//! types that exists is a valid one.

pub mod actor;
pub mod address;
pub mod error;
pub mod event;
pub mod flow_status;
pub mod ids;
pub mod intake;
pub mod money;
pub mod order;
pub mod refund;
pub mod return_policy;
pub mod returns;
pub mod status;

pub use actor::{Actor, ActorKind};
pub use address::{Address, CountryCode, GeoPoint, LocatedBy};
pub use error::{DomainError, FieldError};
pub use event::{EventDraft, EventType};
pub use flow_status::{RunStatus, StepStatus, TaskStatus};
pub use ids::OrderId;
pub use intake::{AmendmentIntake, CustomerIntake, LineIntake, OrderIntake};
pub use money::Currency;
pub use order::{
    AmendedLine, Amendment, Customer, Delivery, Hold, LineQuantity, LineSourcing, NO_INVENTORY,
    Order, OrderLine, Payment, PaymentStatus, ReturnRef, Shipment, ShipmentLabel, ShipmentRequest,
    Totals, TrackingStatus,
};
pub use return_policy::ReturnPolicy;
pub use returns::{ReturnOrder, ReturnOrigin};
pub use status::{LineStatus, OrderStatus, ReturnStatus};
