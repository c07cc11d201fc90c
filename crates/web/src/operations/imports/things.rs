//! Services with their escalation policy and integrations, monitors, maintenance windows.

use super::{Decision, ImportKey, Run, item_digest};
use crate::error::ApiError;
use crate::operations::{catalogue, integrations, maintenance, monitors, oncall, status_pages};
use opsdeck_core::catalogue::{ServiceInput, ServiceSpec};
use opsdeck_core::import::{IntegrationItem, MonitorItem, ObjectKind, PageItem, ServiceItem, WindowItem};
use opsdeck_core::maintenance::{WindowInput, WindowSpec};
use opsdeck_core::monitor::{MonitorInput, MonitorSpec};
use opsdeck_core::status_page::{ComponentInput, PageInput, PageSpec};
use opsdeck_core::validate;
use opsdeck_store::catalogue::Ref;
use uuid::Uuid;

fn why(e: impl Into<ApiError>) -> String {
    e.into().message
}

pub async fn services(run: &mut Run<'_>, items: &[ServiceItem]) -> Result<(), ApiError> {
    for s in items {
        let d = item_digest(&ServiceItem { integrations: vec![], ..s.clone() });
        let adopt = run.existing.services_by_slug.get(&validate::slugify(&s.name)).copied();
        let decision = run.decide(ObjectKind::Service, &s.source_id, &d, adopt);
        let mut notes = Vec::new();
        let team = s.team.as_deref().and_then(|t| match run.resolve(ObjectKind::Team, t) {
            Ok(id) => Some(id),
            Err(e) => {
                notes.push(e);
                None
            }
        });
        let policy = s.policy.as_deref().and_then(|p| match run.resolve(ObjectKind::Policy, p) {
            Ok(id) => Some(id),
            Err(e) => {
                notes.push(format!("no escalation policy: {e}"));
                None
            }
        });
        let input = ServiceInput {
            name: Some(s.name.clone()),
            description: Some(s.description.clone()),
            team_id: Some(team),
            ..ServiceInput::default()
        };
        let (state, auth) = (run.state, run.auth);
        let mut later: Vec<String> = Vec::new();
        let done = match ServiceSpec::create(input.clone()) {
            Err(e) => Err(why(e)),
            Ok(_) => {
                run.written(&decision, async {
                    let id = match decision {
                        Decision::Update(id) => {
                            let current = state.db.get_service(Ref::Id(id)).await?.service;
                            catalogue::update_service(state, auth, &current, input.clone()).await?.id
                        }
                        _ => catalogue::create_service(state, auth, input.clone()).await?.id,
                    };
                    if policy.is_some()
                        && let Err(e) = oncall::set_service_policy(state, auth, id, policy).await
                    {
                        later.push(format!("escalation policy not set: {}", e.message));
                    }
                    Ok(id)
                })
                .await
            }
        };
        if matches!(decision, Decision::Adopt(_)) {
            notes.insert(0, "a service with this slug exists: linked, not changed".into());
        }
        notes.extend(later);
        run.finish((ObjectKind::Service, &s.source_id, &s.name), &decision, &d, done, notes.join("; ")).await?;
        for i in &s.integrations {
            integration(run, s, i).await?;
        }
    }
    Ok(())
}

async fn integration(run: &mut Run<'_>, s: &ServiceItem, i: &IntegrationItem) -> Result<(), ApiError> {
    let d = item_digest(i);
    let decision = run.decide(ObjectKind::Integration, &i.source_id, &d, None);
    let service = run.resolve(ObjectKind::Service, &s.source_id);
    let (state, auth) = (run.state, run.auth);
    let mut url = None;
    let mut new_key = None;
    let done = match service {
        Err(e) => Err(e),
        Ok(service_id) => {
            run.written(&decision, async {
                Ok(match decision {
                    Decision::Update(id) => {
                        integrations::update_integration(state, auth, id, Some(&i.name), None).await?.id
                    }
                    _ => {
                        let (created, key) =
                            integrations::create_integration(state, auth, service_id, i.kind, Some(&i.name), None)
                                .await?;
                        url = Some(integrations::ingest_url(&state.link_base().await, created.kind, &key));
                        new_key = Some(key);
                        created.id
                    }
                })
            })
            .await
        }
    };
    if done.is_ok() && matches!(decision, Decision::Create) {
        run.keys.push(ImportKey {
            service: s.name.clone(),
            integration: i.name.clone(),
            old_key_hint: i.old_key.clone(),
            ingest_url: url,
            key: new_key,
        });
    }
    let note = if matches!(decision, Decision::Create) {
        "a new key: switch the senders to it".to_owned()
    } else {
        String::new()
    };
    let name = format!("{} / {}", s.name, i.name);
    run.finish((ObjectKind::Integration, &i.source_id, &name), &decision, &d, done, note).await
}

pub async fn monitors(run: &mut Run<'_>, items: &[MonitorItem]) -> Result<(), ApiError> {
    for m in items {
        let d = item_digest(m);
        // Adopted only when the existing monitor checks the same way.
        let adopt = run.existing.monitors_by_name.get(&m.name).filter(|(_, kind)| *kind == m.kind).map(|(id, _)| *id);
        let decision = run.decide(ObjectKind::Monitor, &m.source_id, &d, adopt);
        let input = MonitorInput {
            name: Some(m.name.clone()),
            kind: Some(m.kind.clone()),
            interval_seconds: Some(m.interval_seconds),
            timeout_seconds: m.timeout_seconds,
            down_after: Some(m.down_after),
            tags: Some(m.tags.clone()),
            settings: Some(m.settings.clone()),
            ..MonitorInput::default()
        };
        let (state, auth) = (run.state, run.auth);
        let done = match MonitorSpec::create(input.clone()) {
            Err(e) => Err(why(e)),
            Ok(_) => {
                run.written(&decision, async {
                    Ok(match decision {
                        Decision::Update(id) => {
                            monitors::update_monitor(state, auth, id, input.clone()).await?.monitor.id
                        }
                        _ => monitors::create_monitor(state, auth, input.clone(), m.paused).await?.monitor.id,
                    })
                })
                .await
            }
        };
        let note = match decision {
            Decision::Adopt(_) => "a monitor with this name exists: linked, not changed",
            Decision::Create if m.kind == "heartbeat" => "a new ping URL: point the sender at it",
            Decision::Create if m.paused => "created paused, as it was in the source",
            _ => "",
        };
        run.finish((ObjectKind::Monitor, &m.source_id, &m.name), &decision, &d, done, note.into()).await?;
    }
    Ok(())
}

pub async fn windows(run: &mut Run<'_>, items: &[WindowItem]) -> Result<(), ApiError> {
    for w in items {
        let d = item_digest(w);
        let decision = run.decide(ObjectKind::Maintenance, &w.source_id, &d, None);
        let mut notes = Vec::new();
        let mut ids = |kind: ObjectKind, list: &[String]| -> Vec<Uuid> {
            list.iter()
                .filter_map(|x| match run.resolve(kind, x) {
                    Ok(id) => Some(id),
                    Err(e) => {
                        notes.push(e);
                        None
                    }
                })
                .collect()
        };
        let service_ids = ids(ObjectKind::Service, &w.services);
        let monitor_ids = ids(ObjectKind::Monitor, &w.monitors);
        let input = WindowInput {
            name: Some(w.name.clone()),
            description: Some(w.description.clone()),
            starts_at: Some(w.start),
            duration_minutes: Some(w.duration_minutes),
            rrule: Some(w.rrule.clone()),
            timezone: Some(w.timezone.clone()),
            service_ids: Some(service_ids),
            monitor_ids: Some(monitor_ids),
        };
        let (state, auth) = (run.state, run.auth);
        let done = match WindowSpec::create(input.clone()) {
            Err(e) => Err(why(e)),
            Ok(spec) if spec.service_ids.is_empty() && spec.monitor_ids.is_empty() => {
                Err("covers nothing that was imported".to_owned())
            }
            Ok(_) => {
                run.written(&decision, async {
                    Ok(match decision {
                        Decision::Update(id) => {
                            let current = state.db.get_window(id).await?;
                            maintenance::update_window(state, auth, &current, input.clone()).await?.id
                        }
                        _ => maintenance::create_window(state, auth, input.clone()).await?.id,
                    })
                })
                .await
            }
        };
        run.finish((ObjectKind::Maintenance, &w.source_id, &w.name), &decision, &d, done, notes.join("; ")).await?;
    }
    Ok(())
}

/// Status pages whose components follow the imported monitors.
pub async fn pages(run: &mut Run<'_>, items: &[PageItem]) -> Result<(), ApiError> {
    for p in items {
        let d = item_digest(p);
        let adopt = run.existing.pages_by_slug.get(&p.slug).copied();
        let decision = run.decide(ObjectKind::StatusPage, &p.source_id, &d, adopt);
        let mut notes = Vec::new();
        let mut components = Vec::new();
        for c in &p.components {
            let ids: Vec<Uuid> = c
                .monitors
                .iter()
                .filter_map(|m| match run.resolve(ObjectKind::Monitor, m) {
                    Ok(id) => Some(id),
                    Err(e) => {
                        notes.push(e);
                        None
                    }
                })
                .collect();
            if !ids.is_empty() {
                components.push(ComponentInput {
                    name: c.name.clone(),
                    group: c.group.clone(),
                    monitor_ids: ids,
                    ..ComponentInput::default()
                });
            }
        }
        let input = PageInput {
            slug: Some(p.slug.clone()),
            title: Some(p.title.clone()),
            description: Some(p.description.clone()),
            components: Some(components),
            ..PageInput::default()
        };
        let (state, auth) = (run.state, run.auth);
        let done = match PageSpec::create(input.clone()) {
            Err(e) => Err(why(e)),
            Ok(_) => {
                run.written(&decision, async {
                    Ok(match decision {
                        Decision::Update(id) => {
                            let current = state.db.get_status_page(id).await?;
                            status_pages::update(state, auth, &current, input.clone()).await?.id
                        }
                        _ => status_pages::create(state, auth, input.clone(), None).await?.id,
                    })
                })
                .await
            }
        };
        if matches!(decision, Decision::Adopt(_)) {
            notes.insert(0, "a status page with this slug exists: linked, not changed".into());
        }
        run.finish((ObjectKind::StatusPage, &p.source_id, &p.title), &decision, &d, done, notes.join("; ")).await?;
    }
    Ok(())
}
