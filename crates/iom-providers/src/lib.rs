//! The inbound half of iom's data pipeline: parsers that turn what channels send into the
//! canonical [`iom_domain::OrderIntake`].
