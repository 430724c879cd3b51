//! Wire types: lister.
