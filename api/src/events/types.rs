//! GraphQL types of the event feed.

use crate::graphql::relay::subject_global_id;
use crate::graphql::scalars::Timestamp;
use async_graphql::{ID, Object};
use entity::event;

/// Something that changed and matters to another party: its type and the id of what
/// changed, never personal values (fetch the object through the API, as far as you
/// may read it).
#[derive(Clone, Debug)]
pub struct Event(pub event::Model);

impl From<event::Model> for Event {
    fn from(model: event::Model) -> Self {
        Self(model)
    }
}

/// Something that changed and matters to another party: its type and the id of what
/// changed, never personal values.
#[Object]
impl Event {
    /// Unique id of the event (the `webhook-id` of its deliveries).
    async fn event_id(&self) -> String {
        self.0.id.to_string()
    }
    /// Its type, e.g. `referral.sent` (see `events(types:)`).
    #[graphql(name = "type")]
    async fn event_type(&self) -> &str {
        &self.0.event_type
    }
    /// GraphQL type of what changed (`Referral`, `Service`, ...).
    async fn subject_type(&self) -> &str {
        &self.0.subject_type
    }
    /// Global ID of what changed: read it with `node(id:)`.
    async fn subject_id(&self) -> ID {
        subject_global_id(&self.0.subject_type, self.0.subject_id)
    }
    /// When it happened.
    async fn occurred_at(&self) -> Timestamp {
        Timestamp(self.0.occurred_at)
    }
}

crate::connection!(EventConnection, EventEdge, Event, "events");
