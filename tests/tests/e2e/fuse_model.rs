//! The reference-model test (being written).
