//! The service desk's rules, pure: business-hours calendars ([`hours`]), SLA clocks replayed
//! from a ticket's history ([`sla`]), and tickets' states and priorities ([`ticket`]).

pub mod hours;
pub mod sla;
pub mod ticket;
