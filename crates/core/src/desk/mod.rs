//! The service desk's rules, pure: business-hours calendars ([`hours`]), SLA clocks replayed
//! from a ticket's history ([`sla`]), tickets' states and priorities ([`ticket`]), knowledge-base
//! articles ([`kb`]), problems ([`problem`]), the portal's request items ([`request_item`]) and
//! routing rules ([`routing`]) and SLA agreements for some services or requesters ([`agreement`]).

pub mod agreement;
pub mod holidays;
pub mod hours;
pub mod kb;
pub mod kpi;
pub mod mail;
pub mod problem;
pub mod request_item;
pub mod routing;
pub mod sla;
pub mod ticket;
pub mod upload;
