//! How an async model spawns a task on its runtime: [`Spawner`] and one spawner per
//! runtime family. The tasks are the driver's; a server's connections are detached.

use std::future::Future;

use smol::LocalExecutor;

/// How an async model spawns a task on its runtime.
pub trait Spawner {
    /// Spawns `task`; the returned future resolves when it ends, with an error if it panicked.
    fn spawn<F>(&self, task: F) -> impl Future<Output = Result<(), String>> + 'static
    where
        F: Future<Output = ()> + Send + 'static;

    /// Spawns `task` and lets it run on its own (a server's connection).
    fn detach<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static;
}

/// Spawns onto the tokio runtime the caller is inside.
pub struct TokioSpawner;

impl Spawner for TokioSpawner {
    fn spawn<F>(&self, task: F) -> impl Future<Output = Result<(), String>> + 'static
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let handle = tokio::spawn(task);
        async move { handle.await.map_err(|e| e.to_string()) }
    }

    fn detach<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        drop(tokio::spawn(task));
    }
}

/// Spawns onto the async-std loop the caller is inside (`spawn_local`).
pub struct AsyncStdSpawner;

impl Spawner for AsyncStdSpawner {
    fn spawn<F>(&self, task: F) -> impl Future<Output = Result<(), String>> + 'static
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let handle = async_std::task::spawn_local(task);
        async move {
            handle.await;
            Ok(())
        }
    }

    fn detach<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
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
    fn spawn<F>(&self, task: F) -> impl Future<Output = Result<(), String>> + 'static
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let task = self.0.spawn(task);
        async move {
            task.await;
            Ok(())
        }
    }

    fn detach<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.0.spawn(task).detach();
    }
}
