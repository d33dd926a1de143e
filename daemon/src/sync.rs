//! The locks every module of the daemon uses, re-exported from one place so a model checker
//! (or a different runtime) can replace them. Async code only: these are tokio's locks.

pub use tokio::sync::{Mutex, OwnedRwLockReadGuard, OwnedRwLockWriteGuard, RwLock};

/// A blocking lock, for state that synchronous callbacks read (rustls's certificate
/// resolver); never held across an await.
pub use std::sync::RwLock as BlockingRwLock;
