//! Probe runners.
