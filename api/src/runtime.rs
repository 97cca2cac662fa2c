//! Where database work runs: on the application's own Tokio runtime, never on the
//! runtime of the actix worker that received the request.
//!
//! actix-web runs each worker on a single-threaded runtime of its own, and on a graceful
//! shutdown it stops idle workers at once, dropping their runtimes, while busy workers
//! finish their requests. A pooled database connection (and a pooled HTTP connection of
//! the JWKS client) is bound to the runtime that opened it: a connection opened while
//! serving a request on worker A dies with A's runtime, so a request still in flight on
//! worker B that took that connection from the pool failed with "A Tokio 1.x context
//! was found, but it is being shutdown". Running every operation that touches the pool
//! on the application runtime (which lives until the server has stopped) means every
//! connection belongs to a runtime that outlives all requests.

use crate::error::AppError;
use async_graphql::futures_util::stream::BoxStream;
use async_graphql::{Data, Executor, Request, Response};
use futures_util::StreamExt;
use std::future::Future;
use std::sync::Arc;

/// A handle on the application runtime.
#[derive(Clone, Debug)]
pub struct AppRuntime(tokio::runtime::Handle);

impl AppRuntime {
    /// The runtime of the caller: call it from the application's runtime (where
    /// [`crate::startup::Application::build`] runs).
    pub fn current() -> Self {
        Self(tokio::runtime::Handle::current())
    }

    /// Runs `work` on the application runtime, in the caller's span (so its spans and
    /// log lines stay in the request's), and waits for it.
    pub async fn run<F, T>(&self, work: F) -> Result<T, AppError>
    where
        F: Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        use tracing::Instrument as _;
        self.0
            .spawn(work.instrument(tracing::Span::current()))
            .await
            .map_err(AppError::internal)
    }
}

/// A GraphQL executor that runs every operation on the application runtime (used by
/// the websocket transport, which async-graphql drives on the worker's runtime).
#[derive(Clone)]
pub struct AppExecutor<E> {
    inner: E,
    runtime: AppRuntime,
}

impl<E: Executor> AppExecutor<E> {
    /// Wraps `inner`.
    pub fn new(inner: E, runtime: AppRuntime) -> Self {
        Self { inner, runtime }
    }
}

fn internal_response(error: AppError) -> Response {
    let error: async_graphql::Error = crate::error::GqlError::from(error).into();
    Response::from_errors(vec![error.into_server_error(async_graphql::Pos::default())])
}

impl<E: Executor> Executor for AppExecutor<E> {
    async fn execute(&self, request: Request) -> Response {
        let inner = self.inner.clone();
        self.runtime
            .run(async move { inner.execute(request).await })
            .await
            .unwrap_or_else(internal_response)
    }

    fn execute_stream(
        &self,
        request: Request,
        session_data: Option<Arc<Data>>,
    ) -> BoxStream<'static, Response> {
        let (sender, receiver) = tokio::sync::mpsc::channel(16);
        let mut stream = self.inner.execute_stream(request, session_data);
        self.runtime.0.spawn(async move {
            while let Some(response) = stream.next().await {
                if sender.send(response).await.is_err() {
                    // The client went away.
                    break;
                }
            }
        });
        futures_util::stream::unfold(receiver, |mut receiver| async move {
            receiver.recv().await.map(|response| (response, receiver))
        })
        .boxed()
    }
}
