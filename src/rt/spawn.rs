//! How an async model spawns a task on its runtime: [`Spawner`] and one spawner per
//! runtime family. The tasks are the driver's; a server's connections are detached.

use std::future::Future;

use smol::LocalExecutor;

/// What a spawner runs: a task that owns what it uses and returns nothing.
pub trait Task: Future<Output = ()> + Send + 'static {}

impl<F: Future<Output = ()> + Send + 'static> Task for F {}

/// How an async model spawns a task on its runtime.
pub trait Spawner {
    /// Spawns `task`; the returned future resolves when it ends, with an error if it panicked.
    fn spawn(&self, task: impl Task) -> impl Future<Output = Result<(), String>> + 'static;

    /// Spawns `task` and lets it run on its own (a server's connection).
    fn detach(&self, task: impl Task);
}

/// The end of a task whose handle reports no panic (a panic in a local task unwinds
/// through the loop that runs it).
async fn ended(handle: impl Future<Output = ()>) -> Result<(), String> {
    handle.await;
    Ok(())
}

/// Spawns onto the tokio runtime the caller is inside.
pub struct TokioSpawner;

impl Spawner for TokioSpawner {
    fn spawn(&self, task: impl Task) -> impl Future<Output = Result<(), String>> + 'static {
        let handle = tokio::spawn(task);
        async move { handle.await.map_err(|e| e.to_string()) }
    }

    fn detach(&self, task: impl Task) {
        drop(tokio::spawn(task));
    }
}

/// Spawns onto the async-std loop the caller is inside (`spawn_local`).
pub struct AsyncStdSpawner;

impl Spawner for AsyncStdSpawner {
    fn spawn(&self, task: impl Task) -> impl Future<Output = Result<(), String>> + 'static {
        ended(async_std::task::spawn_local(task))
    }

    fn detach(&self, task: impl Task) {
        drop(async_std::task::spawn_local(task));
    }
}

thread_local! {
    /// The executor of this thread's smol loop, reachable from code that spawns a helper
    /// task (a database connection's driver) without a handle passed down.
    pub static EXECUTOR: LocalExecutor<'static> = const { LocalExecutor::new() };
}

/// Spawns onto a smol `LocalExecutor`.
pub struct SmolSpawner<'a, 'ex>(pub &'a LocalExecutor<'ex>);

impl Spawner for SmolSpawner<'_, '_> {
    fn spawn(&self, task: impl Task) -> impl Future<Output = Result<(), String>> + 'static {
        ended(self.0.spawn(task))
    }

    fn detach(&self, task: impl Task) {
        self.0.spawn(task).detach();
    }
}
