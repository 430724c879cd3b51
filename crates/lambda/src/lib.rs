//! stackfleet's Lambda functions. Each `src/bin/*.rs` is a thin `main` over a handler here; the
//! handlers are generic over core's ports, so tests call them with the fakes.

pub mod error;
pub mod gate;
pub mod heard;
pub mod input;
pub mod lister;
pub mod records;
pub mod reducer;
pub mod review;
pub mod runtime;
pub mod worker;
