//! Integration tests of the fulfilment engine at its public boundary.

mod batch;
mod brute;
mod cases;
mod instances;
mod plans;
mod props;
