//! Internal events: what a background worker did that an operator watches.
//!
//! Each observable event is one type implementing [`InternalEvent`]; its `emit` writes the log
//! line and moves the Prometheus series, so the name of a counter and the wording of its log line
//! are defined once, beside each other (the pattern of Vector's `internal_events`). The event
//! types live with the worker that emits them (`store::events`, `checks::events`,
//! `notify::events`); this trait is pure, the implementations do the IO.

pub trait InternalEvent: Sized {
    /// Logs the event and counts it.
    fn emit(self);
}
