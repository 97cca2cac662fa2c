//! How a replica learns of committed events: a wake-up (PostgreSQL `LISTEN` on the
//! channel every event-writing transaction notifies at commit, the end of a request on
//! this replica, or the poll interval) and a pump that reads the outbox past the last
//! position it saw and broadcasts each event to this replica's subscriptions.

use crate::worker::Worker;
use entity::{event, event_audience};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, broadcast};
use uuid::Uuid;

use super::service::CHANNEL;
/// Events read from the outbox at once.
const BATCH: u64 = 500;
/// Events a slow subscription may fall behind before it is closed.
const CAPACITY: usize = 4096;

/// One committed event, with the organizations entitled to it.
#[derive(Debug)]
pub struct Published {
    /// The event.
    pub event: event::Model,
    /// Its audience (empty for a public event).
    pub audience: Vec<Uuid>,
}

impl Published {
    /// True when `organization` may see it (public events: everyone).
    pub fn visible_to(&self, organization: Option<Uuid>) -> bool {
        self.event.public || organization.is_some_and(|o| self.audience.contains(&o))
    }
}

/// The replica's event hub (cheap to clone).
#[derive(Clone)]
pub struct Hub {
    sender: broadcast::Sender<Arc<Published>>,
    pump: Arc<Notify>,
    dispatcher: Arc<Notify>,
}

impl Default for Hub {
    fn default() -> Self {
        Self {
            sender: broadcast::channel(CAPACITY).0,
            pump: Arc::default(),
            dispatcher: Arc::default(),
        }
    }
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("subscribers", &self.sender.receiver_count())
            .finish()
    }
}

impl Hub {
    /// Something may have committed: the pump and the webhook dispatcher look now.
    pub fn wake(&self) {
        self.pump.notify_one();
        self.dispatcher.notify_one();
    }

    /// The events committed from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Published>> {
        self.sender.subscribe()
    }

    /// What wakes the webhook dispatcher.
    pub fn dispatcher_wake(&self) -> Arc<Notify> {
        self.dispatcher.clone()
    }
}

/// The events after `after`, oldest first, with their audiences (two statements).
async fn read_after(db: &DatabaseConnection, after: i64) -> Result<Vec<Published>, sea_orm::DbErr> {
    let events = event::Entity::find()
        .filter(event::Column::Position.gt(after))
        .order_by_asc(event::Column::Position)
        .limit(BATCH)
        .all(db)
        .await?;
    let private: Vec<i64> = events
        .iter()
        .filter(|e| !e.public)
        .map(|e| e.position)
        .collect();
    let mut audiences: HashMap<i64, Vec<Uuid>> = HashMap::new();
    if !private.is_empty() {
        for row in event_audience::Entity::find()
            .filter(event_audience::Column::Position.is_in(private))
            .all(db)
            .await?
        {
            audiences
                .entry(row.position)
                .or_default()
                .push(row.organization_id);
        }
    }
    Ok(events
        .into_iter()
        .map(|event| Published {
            audience: audiences.remove(&event.position).unwrap_or_default(),
            event,
        })
        .collect())
}

/// Starts the pump (and, on PostgreSQL, the listener that wakes it); none when
/// `poll` is zero.
pub fn spawn(
    db: DatabaseConnection,
    hub: Hub,
    poll: Duration,
    database_url: Option<String>,
) -> Vec<Worker> {
    if poll.is_zero() {
        return Vec::new();
    }
    let mut workers = Vec::new();
    if let Some(url) = database_url {
        let woken = hub.clone();
        workers.push(Worker::spawn("event listener", move |stopped| {
            listen(url, woken, stopped)
        }));
    }
    workers.push(Worker::spawn("event pump", move |mut stopped| async move {
        let mut last = match super::service::latest_position(&db).await {
            Ok(position) => position,
            Err(error) => {
                tracing::error!(error = ?error, "event pump cannot read the outbox");
                0
            }
        };
        loop {
            tokio::select! {
                () = tokio::time::sleep(poll) => {}
                () = hub.pump.notified() => {}
                _ = stopped.changed() => break,
            }
            loop {
                match read_after(&db, last).await {
                    Ok(batch) => {
                        let full = batch.len() as u64 == BATCH;
                        for published in batch {
                            last = published.event.position;
                            // No subscriber is not an error.
                            let _ = hub.sender.send(Arc::new(published));
                        }
                        if !full {
                            break;
                        }
                    }
                    Err(error) => {
                        tracing::error!(error = %error, "event pump cannot read the outbox");
                        break;
                    }
                }
            }
            if *stopped.borrow() {
                break;
            }
        }
    }));
    workers
}

/// Wakes the hub on every notification of [`CHANNEL`]; reconnects after a loss (the
/// poll interval covers what was missed meanwhile).
async fn listen(url: String, hub: Hub, mut stopped: tokio::sync::watch::Receiver<bool>) {
    use sea_orm::sqlx::postgres::PgListener;
    loop {
        let mut listener = match PgListener::connect(&url).await {
            Ok(mut listener) => match listener.listen(CHANNEL).await {
                Ok(()) => listener,
                Err(error) => {
                    tracing::warn!(error = %error, "cannot LISTEN for events; polling");
                    tokio::select! {
                        () = tokio::time::sleep(Duration::from_secs(5)) => continue,
                        _ = stopped.changed() => return,
                    }
                }
            },
            Err(error) => {
                tracing::warn!(error = %error, "cannot connect to LISTEN for events; polling");
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_secs(5)) => continue,
                    _ = stopped.changed() => return,
                }
            }
        };
        loop {
            tokio::select! {
                received = listener.try_recv() => match received {
                    Ok(Some(_)) => hub.wake(),
                    // The connection was lost: it reconnects; look at the outbox anyway.
                    Ok(None) => hub.wake(),
                    Err(error) => {
                        tracing::warn!(error = %error, "event listener lost its connection");
                        hub.wake();
                        break;
                    }
                },
                _ = stopped.changed() => return,
            }
        }
    }
}
