//! The kinds of things a caller can name by id, for "not found" answers.

/// Everything the API and the pages can look up by id or slug.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Entity {
    ActionItem,
    Agent,
    Alert,
    ApiToken,
    Change,
    ChangeRule,
    ChangeTemplate,
    ChangeWindow,
    Ticket,
    Article,
    Problem,
    RequestItem,
    TicketRoute,
    SlaAgreement,
    Import,
    Channel,
    Ci,
    CiAttribute,
    CiRelation,
    ContactMethod,
    Contract,
    Dependency,
    EscalationPolicy,
    Incident,
    IncidentTemplate,
    Integration,
    MaintenanceWindow,
    Monitor,
    NotificationRule,
    Override,
    Postmortem,
    ReportSchedule,
    Schedule,
    Series,
    Service,
    Slo,
    StatusPage,
    StatusSubscriber,
    Team,
    User,
    Vendor,
}

impl Entity {
    pub const ALL: [Entity; 41] = [
        Entity::ActionItem,
        Entity::Agent,
        Entity::Alert,
        Entity::ApiToken,
        Entity::Change,
        Entity::ChangeRule,
        Entity::ChangeTemplate,
        Entity::ChangeWindow,
        Entity::Ticket,
        Entity::Article,
        Entity::Problem,
        Entity::RequestItem,
        Entity::TicketRoute,
        Entity::SlaAgreement,
        Entity::Import,
        Entity::Channel,
        Entity::Ci,
        Entity::CiAttribute,
        Entity::CiRelation,
        Entity::ContactMethod,
        Entity::Contract,
        Entity::Dependency,
        Entity::EscalationPolicy,
        Entity::Incident,
        Entity::IncidentTemplate,
        Entity::Integration,
        Entity::MaintenanceWindow,
        Entity::Monitor,
        Entity::NotificationRule,
        Entity::Override,
        Entity::Postmortem,
        Entity::ReportSchedule,
        Entity::Schedule,
        Entity::Series,
        Entity::Service,
        Entity::Slo,
        Entity::StatusPage,
        Entity::StatusSubscriber,
        Entity::Team,
        Entity::User,
        Entity::Vendor,
    ];

    /// As people read it: `escalation policy`.
    pub fn label(self) -> &'static str {
        match self {
            Entity::ActionItem => "action item",
            Entity::Agent => "agent",
            Entity::Alert => "alert",
            Entity::ApiToken => "API token",
            Entity::Change => "change",
            Entity::ChangeRule => "approval rule",
            Entity::ChangeTemplate => "change template",
            Entity::ChangeWindow => "change window",
            Entity::Ticket => "ticket",
            Entity::Article => "article",
            Entity::Problem => "problem",
            Entity::RequestItem => "request item",
            Entity::TicketRoute => "routing rule",
            Entity::SlaAgreement => "SLA agreement",
            Entity::Import => "import",
            Entity::Channel => "channel",
            Entity::Ci => "CI",
            Entity::CiAttribute => "CI attribute",
            Entity::CiRelation => "CI relation",
            Entity::ContactMethod => "contact method",
            Entity::Contract => "contract",
            Entity::Dependency => "dependency",
            Entity::EscalationPolicy => "escalation policy",
            Entity::Incident => "incident",
            Entity::IncidentTemplate => "incident template",
            Entity::Integration => "integration",
            Entity::MaintenanceWindow => "maintenance window",
            Entity::Monitor => "monitor",
            Entity::NotificationRule => "notification rule",
            Entity::Override => "override",
            Entity::Postmortem => "postmortem",
            Entity::Schedule => "schedule",
            Entity::ReportSchedule => "report schedule",
            Entity::Series => "series",
            Entity::Service => "service",
            Entity::Slo => "SLO",
            Entity::StatusPage => "status page",
            Entity::StatusSubscriber => "status page subscriber",
            Entity::Team => "team",
            Entity::User => "user",
            Entity::Vendor => "vendor",
        }
    }

    /// The API error code when it is missing: `escalation_policy_not_found`.
    pub fn not_found_code(self) -> &'static str {
        match self {
            Entity::ActionItem => "action_item_not_found",
            Entity::Agent => "agent_not_found",
            Entity::Alert => "alert_not_found",
            Entity::ApiToken => "api_token_not_found",
            Entity::Change => "change_not_found",
            Entity::ChangeRule => "approval_rule_not_found",
            Entity::ChangeTemplate => "change_template_not_found",
            Entity::ChangeWindow => "change_window_not_found",
            Entity::Ticket => "ticket_not_found",
            Entity::Article => "article_not_found",
            Entity::Problem => "problem_not_found",
            Entity::RequestItem => "request_item_not_found",
            Entity::TicketRoute => "routing_rule_not_found",
            Entity::SlaAgreement => "sla_agreement_not_found",
            Entity::Import => "import_not_found",
            Entity::Channel => "channel_not_found",
            Entity::Ci => "ci_not_found",
            Entity::CiAttribute => "ci_attribute_not_found",
            Entity::CiRelation => "ci_relation_not_found",
            Entity::ContactMethod => "contact_method_not_found",
            Entity::Contract => "contract_not_found",
            Entity::Dependency => "dependency_not_found",
            Entity::EscalationPolicy => "escalation_policy_not_found",
            Entity::Incident => "incident_not_found",
            Entity::IncidentTemplate => "incident_template_not_found",
            Entity::Integration => "integration_not_found",
            Entity::MaintenanceWindow => "maintenance_window_not_found",
            Entity::Monitor => "monitor_not_found",
            Entity::NotificationRule => "notification_rule_not_found",
            Entity::Override => "override_not_found",
            Entity::Postmortem => "postmortem_not_found",
            Entity::Schedule => "schedule_not_found",
            Entity::ReportSchedule => "report_schedule_not_found",
            Entity::Series => "series_not_found",
            Entity::Service => "service_not_found",
            Entity::Slo => "slo_not_found",
            Entity::StatusPage => "status_page_not_found",
            Entity::StatusSubscriber => "status_page_subscriber_not_found",
            Entity::Team => "team_not_found",
            Entity::User => "user_not_found",
            Entity::Vendor => "vendor_not_found",
        }
    }
}

impl std::fmt::Display for Entity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_labels() {
        for e in Entity::ALL {
            let expected = format!("{}_not_found", e.label().to_lowercase().replace(' ', "_"));
            assert_eq!(e.not_found_code(), expected);
        }
    }
}
