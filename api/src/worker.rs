//! A background task of a replica that stops on request (the periodic jobs, the event
//! pump and listener, the webhook dispatcher).

use std::time::Duration;

/// A background task of this replica that stops on request.
#[derive(Debug)]
pub struct Worker {
    name: &'static str,
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Worker {
    /// Starts `work`, which must return soon after its receiver turns true.
    pub fn spawn<F>(
        name: &'static str,
        work: impl FnOnce(tokio::sync::watch::Receiver<bool>) -> F,
    ) -> Self
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(work(stopped));
        Self { name, stop, task }
    }

    /// Stops the task: nothing new starts; work in progress (its own transactions) may
    /// finish within `grace`, after which it is abandoned.
    pub async fn stop(self, grace: Duration) {
        // An error means the task has already ended.
        let _ = self.stop.send(true);
        match tokio::time::timeout(grace, self.task).await {
            Ok(_) => tracing::info!(worker = self.name, "background worker stopped"),
            Err(_) => tracing::warn!(
                worker = self.name,
                "background worker did not stop within the grace period"
            ),
        }
    }
}
