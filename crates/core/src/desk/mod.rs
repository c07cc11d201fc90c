//! The service desk's rules, pure: business-hours calendars ([`hours`]), SLA clocks replayed
//! from a ticket's history ([`sla`]), tickets' states and priorities ([`ticket`]), knowledge-base
//! articles ([`kb`]) and problems ([`problem`]).

pub mod hours;
pub mod kb;
pub mod kpi;
pub mod problem;
pub mod sla;
pub mod ticket;
