//! How an async model spawns a task on its runtime: [`Spawner`] and one spawner per
//! runtime family. The tasks are the driver's; a server's connections are detached.

use std::future::Future;

use smol::LocalExecutor;

/// What a spawner runs: a task that owns what it uses and returns nothing.
pub trait Task: Future<Output = ()> + Send + 'static {}

impl<F: Future<Output = ()> + Send + 'static> Task for F {}

/// How an async model spawns a task on its runtime.
///
/// A spawned task's handle is kept until the task ends, one per task, so it is the
/// runtime's own handle, not a future wrapped around it; [`Spawner::ended`] reads what it
/// resolved to.
pub trait Spawner {
    /// The runtime's handle on a spawned task, resolving when it ends.
    type Handle: Future + 'static;

    /// Spawns `task`.
    fn spawn(&self, task: impl Task) -> Self::Handle;

    /// What a task's handle resolved to: an error if the task panicked.
    fn ended(outcome: <Self::Handle as Future>::Output) -> Result<(), String>;

    /// Spawns `task` and lets it run on its own (a server's connection).
    fn detach(&self, task: impl Task);
}

/// Spawns onto the tokio runtime the caller is inside.
pub struct TokioSpawner;

impl Spawner for TokioSpawner {
    type Handle = tokio::task::JoinHandle<()>;

    fn spawn(&self, task: impl Task) -> Self::Handle {
        tokio::spawn(task)
    }

    fn ended(outcome: Result<(), tokio::task::JoinError>) -> Result<(), String> {
        outcome.map_err(|e| e.to_string())
    }

    fn detach(&self, task: impl Task) {
        drop(tokio::spawn(task));
    }
}

/// Spawns onto the async-std loop the caller is inside (`spawn_local`). A panic in a local
/// task unwinds through the loop that runs it, so a handle that resolves reports none.
pub struct AsyncStdSpawner;

impl Spawner for AsyncStdSpawner {
    type Handle = async_std::task::JoinHandle<()>;

    fn spawn(&self, task: impl Task) -> Self::Handle {
        async_std::task::spawn_local(task)
    }

    fn ended((): ()) -> Result<(), String> {
        Ok(())
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
    type Handle = smol::Task<()>;

    /// (Like async-std's local tasks, a panic unwinds through the loop.)
    fn spawn(&self, task: impl Task) -> Self::Handle {
        self.0.spawn(task)
    }

    fn ended((): ()) -> Result<(), String> {
        Ok(())
    }

    fn detach(&self, task: impl Task) {
        self.0.spawn(task).detach();
    }
}
