//! The locks every module of the daemon uses, re-exported from one place so a model checker
//! (or a different runtime) can replace them. Async code only: these are tokio's locks.

pub use tokio::sync::{Mutex, OwnedRwLockReadGuard, OwnedRwLockWriteGuard, RwLock};
