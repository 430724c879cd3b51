//! Every shape that crosses a process boundary (the state machine's states, the run store): one
//! Rust type each, with a JSON fixture in tests/fixtures round-tripped through serde.

pub mod lister;
pub mod reduce;
pub mod worker;
