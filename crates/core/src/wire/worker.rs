//! Wire types: worker.
