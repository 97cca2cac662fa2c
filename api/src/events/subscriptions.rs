//! Subscriptions over graphql-transport-ws (`/graphql/ws`): events as they commit, on
//! any replica. Each event is checked for the subscriber as a query would be: the
//! caller still stands (its client not revoked), and may read the subject now.

use super::hub::Published;
use super::resolvers::EventFilter;
use super::service::{self, reader_organization};
use super::types::Event;
use crate::auth::Viewer;
use crate::auth::policy;
use crate::auth::standing::{self, Standing};
use crate::catalogue::query::{self as catalogue, ServiceQuery};
use crate::catalogue::resolvers::{ServiceFilter, to_query};
use crate::catalogue::types::Service;
use crate::context::ContextExt;
use crate::error::{AppError, AppResult, GqlError, GqlResult};
use crate::pagination::{Cursor, SortKey, Window};
use async_graphql::{Context, SimpleObject, Subscription};
use entity::referral;
use futures_util::Stream;
use sea_orm::{DatabaseConnection, EntityTrait};
use std::sync::Arc;
use tokio::sync::broadcast::{self, error::RecvError};

/// A change of a service of the catalogue.
#[derive(SimpleObject)]
pub struct ServiceChange {
    /// The event (`service.created`, `service.changed`, ...).
    pub event: Event,
    /// The service as it is now; null when it no longer matches the subscription's
    /// filter (e.g. closed), so a mirror drops it.
    pub service: Option<Service>,
}

/// Event subscriptions.
#[derive(Default)]
pub struct EventSubscriptions;

/// The next event of `receiver` that `keep` maps to an item; an error ends the stream
/// after it is sent (a subscriber that fell behind resumes with `events(after:)`).
fn follow<T, F, Fut>(
    (replay, replayed_up_to): (Vec<Arc<Published>>, i64),
    receiver: broadcast::Receiver<Arc<Published>>,
    keep: F,
) -> impl Stream<Item = GqlResult<T>>
where
    T: Send + 'static,
    F: Fn(Arc<Published>) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = AppResult<Option<T>>> + Send,
{
    let keep = Arc::new(keep);
    let state = (replay.into_iter(), Some(receiver));
    futures_util::stream::unfold(state, move |(mut replay, receiver)| {
        let keep = keep.clone();
        async move {
            let mut receiver = receiver?;
            loop {
                let published = if let Some(published) = replay.next() {
                    published
                } else {
                    match receiver.recv().await {
                        Ok(published) if published.event.position <= replayed_up_to => continue,
                        Ok(published) => published,
                        Err(RecvError::Closed) => return None,
                        Err(RecvError::Lagged(missed)) => {
                            let error = AppError::Conflict(format!(
                                "the subscription fell {missed} events behind and was ended; \
                                 catch up with events(after:) and subscribe again"
                            ));
                            return Some((Err(error.into()), (replay, None)));
                        }
                    }
                };
                match keep(published).await {
                    Ok(Some(item)) => return Some((Ok(item), (replay, Some(receiver)))),
                    Ok(None) => continue,
                    Err(error) => return Some((Err(error.into()), (replay, None))),
                }
            }
        }
    })
}

/// Most events a subscription replays from its `after` cursor.
pub const MAX_REPLAY: usize = 1000;

/// The events after `after` the viewer may see (the feed's rule), oldest first, for a
/// subscription to start with: subscribe, then replay, and nothing falls in between.
/// With them, the position up to which live events are already accounted for (the
/// cursor's own, or the last replayed): a live event at or before it was seen or is
/// one the subscriber asked to start after.
async fn replay(
    db: &DatabaseConnection,
    viewer: &Viewer,
    after: Option<String>,
) -> AppResult<(Vec<Arc<Published>>, i64)> {
    let Some(mut cursor) = after else {
        return Ok((Vec::new(), i64::MIN));
    };
    let mut up_to = match Cursor::decode(&cursor)?.keys.as_slice() {
        [SortKey::Int(position)] => *position,
        _ => {
            return Err(AppError::BadUserInput(format!(
                "after: `{}` is not a cursor of `events`",
                cursor.chars().take(64).collect::<String>()
            )));
        }
    };
    let reader = reader_organization(viewer);
    let mut out = Vec::new();
    loop {
        let window = Window::new(Some(100), Some(&cursor), None, None)?;
        let (page, _) = service::feed(db, viewer, &[], &window, false).await?;
        let more = page.has_next_page;
        for (event, next) in page.items {
            cursor = next;
            up_to = up_to.max(event.position);
            // The feed showed it to the viewer: public, or in its organization's audience.
            let audience = if event.public {
                Vec::new()
            } else {
                reader.into_iter().collect()
            };
            out.push(Arc::new(Published { event, audience }));
        }
        if out.len() > MAX_REPLAY {
            return Err(AppError::BadUserInput(format!(
                "after: more than {MAX_REPLAY} events to replay; catch up with events(after:) first"
            )));
        }
        if !more {
            return Ok((out, up_to));
        }
    }
}

/// The caller still stands (checked per event, as per query).
async fn still_stands(db: &DatabaseConnection, viewer: &Viewer) -> AppResult<()> {
    match standing::check(db, viewer).await? {
        Standing::Good => Ok(()),
        Standing::Unknown | Standing::Revoked => Err(AppError::Forbidden(
            "the credentials of this subscription no longer stand".to_owned(),
        )),
    }
}

fn checked_types(filter: Option<EventFilter>, prefix: &str) -> AppResult<Vec<String>> {
    let types = filter.unwrap_or_default().types.unwrap_or_default();
    if let Some(bad) = types
        .iter()
        .find(|t| !service::TYPES.contains(&t.as_str()) || !t.starts_with(prefix))
    {
        return Err(AppError::BadUserInput(format!(
            "types: `{}` is not a {prefix}* event type",
            bad.chars().take(64).collect::<String>()
        )));
    }
    Ok(types)
}

#[Subscription]
impl EventSubscriptions {
    /// The referral events of the caller's organization as they commit, on whichever
    /// replica: for its OPERATOR and ORG_ADMIN, or its client with `events:read` or
    /// `referrals:write`. Each carries ids only: read the referral with `node(id:)`. An
    /// event is sent only while the caller may read the referral (as a query would).
    async fn referral_events(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "Only events matching every given condition; all the caller may read when omitted."
        )]
        filter: Option<EventFilter>,
        #[graphql(
            desc = "Start after this cursor of `events` (at most 1,000 events back): the events since are sent first, then the live ones, none missed nor repeated."
        )]
        after: Option<String>,
    ) -> Result<impl Stream<Item = GqlResult<Event>> + use<>, GqlError> {
        let viewer = ctx.viewer()?.clone();
        let Some(organization) = reader_organization(&viewer) else {
            return Err(
                policy::deny(&viewer, "requires OPERATOR, ORG_ADMIN or `events:read`").into(),
            );
        };
        let types = checked_types(filter, "referral.")?;
        let state = ctx.state()?;
        let db = state.db.clone();
        let receiver = state.hub.subscribe();
        let replayed = replay(&db, &viewer, after).await?;
        Ok(follow(replayed, receiver, move |published| {
            let (db, viewer, types) = (db.clone(), viewer.clone(), types.clone());
            async move {
                let event = &published.event;
                if event.subject_type != "Referral"
                    || !published.visible_to(Some(organization))
                    || (!types.is_empty() && !types.contains(&event.event_type))
                {
                    return Ok(None);
                }
                still_stands(&db, &viewer).await?;
                let readable = referral::Entity::find_by_id(event.subject_id)
                    .one(&db)
                    .await?
                    .is_some_and(|row| crate::referral::service::is_visible_to(&viewer, &row));
                Ok(readable.then(|| Event(event.clone())))
            }
        }))
    }

    /// Changes of the public catalogue's services as they commit, on whichever
    /// replica, for anyone; `filter` is the one of `services`: a change is sent when
    /// the service matches it now, and with `service: null` when a status change or
    /// closing takes it out.
    async fn service_changed(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "Only changes of services matching every given condition; all when omitted."
        )]
        filter: Option<ServiceFilter>,
        #[graphql(
            desc = "Start after this cursor of `events` (at most 1,000 events back): the changes since are sent first, then the live ones, none missed nor repeated."
        )]
        after: Option<String>,
    ) -> Result<impl Stream<Item = GqlResult<ServiceChange>> + use<>, GqlError> {
        let viewer = ctx.viewer()?.clone();
        let state = ctx.state()?;
        let db = state.db.clone();
        let query: Arc<ServiceQuery> = Arc::new(to_query(&db, filter.unwrap_or_default()).await?);
        let receiver = state.hub.subscribe();
        let replayed = replay(&db, &viewer, after).await?;
        Ok(follow(replayed, receiver, move |published| {
            let (db, viewer, query) = (db.clone(), viewer.clone(), query.clone());
            async move {
                let event = &published.event;
                if event.subject_type != "Service" || !event.public {
                    return Ok(None);
                }
                still_stands(&db, &viewer).await?;
                let service = catalogue::find_in(&db, &query, event.subject_id).await?;
                let leaving = event.event_type == "service.status_changed";
                if service.is_none() && !leaving {
                    return Ok(None);
                }
                Ok(Some(ServiceChange {
                    event: Event(event.clone()),
                    service: service.map(Service::from),
                }))
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    fn published(position: i64) -> Arc<Published> {
        Arc::new(Published {
            event: entity::event::Model {
                position,
                id: uuid::Uuid::now_v7(),
                event_type: "service.changed".to_owned(),
                subject_type: "Service".to_owned(),
                subject_id: uuid::Uuid::now_v7(),
                public: true,
                occurred_at: chrono::Utc::now(),
            },
            audience: Vec::new(),
        })
    }

    #[tokio::test]
    async fn a_live_event_at_or_before_the_after_cursor_is_not_sent_even_when_nothing_was_replayed()
    {
        let (sender, receiver) = broadcast::channel(8);
        // The hub learns late of events the subscriber asked to start after.
        for position in [4, 5, 6] {
            sender.send(published(position)).expect("a receiver");
        }
        drop(sender);
        let stream = follow((Vec::new(), 5), receiver, |p: Arc<Published>| async move {
            Ok(Some(p.event.position))
        });
        let sent: Vec<i64> = stream.map(|r| r.expect("no error")).collect().await;
        assert_eq!(sent, vec![6]);
    }

    #[tokio::test]
    async fn a_live_event_already_replayed_is_not_sent_twice() {
        let (sender, receiver) = broadcast::channel(8);
        for position in [7, 8, 9] {
            sender.send(published(position)).expect("a receiver");
        }
        drop(sender);
        let replayed = vec![published(7), published(8)];
        let stream = follow((replayed, 8), receiver, |p: Arc<Published>| async move {
            Ok(Some(p.event.position))
        });
        let sent: Vec<i64> = stream.map(|r| r.expect("no error")).collect().await;
        assert_eq!(sent, vec![7, 8, 9]);
    }
}
