//! Wire types: reduce.
