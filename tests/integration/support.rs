//! Services shared by the tests.

use std::time::Duration;

use microsim::{Context, Distribution, Service, ServiceError};

/// Spends a drawn processing time, then answers `()`.
pub struct Worker {
    pub work: Distribution,
}

impl Worker {
    pub fn exponential(mean: Duration) -> Self {
        Worker {
            work: Distribution::exponential(mean),
        }
    }

    pub fn constant(work: Duration) -> Self {
        Worker {
            work: Distribution::constant(work),
        }
    }
}

impl Service for Worker {
    type Request = ();
    type Response = ();
    type State = ();

    fn init_state(&self) {}

    async fn handle(&self, ctx: &Context<Self>, _: ()) -> Result<(), ServiceError> {
        ctx.work(&self.work).await;
        Ok(())
    }
}

/// Never answers: its handler waits on a future that never resolves.
pub struct Stuck;

impl Service for Stuck {
    type Request = ();
    type Response = ();
    type State = ();

    fn init_state(&self) {}

    async fn handle(&self, _: &Context<Self>, _: ()) -> Result<(), ServiceError> {
        std::future::pending::<()>().await;
        Ok(())
    }
}

pub fn us(micros: u64) -> Duration {
    Duration::from_micros(micros)
}

pub fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

/// Relative error of `actual` against `expected`.
pub fn relative_error(actual: f64, expected: f64) -> f64 {
    (actual - expected).abs() / expected
}

/// Calls `backend` once per request, after `work` of its own.
pub struct Caller {
    pub backend: microsim::ServiceHandle<Worker>,
    pub work: Duration,
}

impl Service for Caller {
    type Request = ();
    type Response = ();
    type State = ();

    fn init_state(&self) {}

    async fn handle(&self, ctx: &Context<Self>, _: ()) -> Result<(), ServiceError> {
        ctx.work_for(self.work).await;
        ctx.call(&self.backend, ()).await?;
        Ok(())
    }
}

/// Answers at once after sending one one-way message to `to`.
pub struct Notifier<T: Service<Request = ()>> {
    pub to: microsim::ServiceHandle<T>,
}

impl<T: Service<Request = ()>> Service for Notifier<T> {
    type Request = ();
    type Response = ();
    type State = ();

    fn init_state(&self) {}

    async fn handle(&self, ctx: &Context<Self>, _: ()) -> Result<(), ServiceError> {
        ctx.send(&self.to, ())?;
        Ok(())
    }
}

/// Runs the `microsim` command with `args`, in the package's folder (where `scenarios/` is),
/// and returns what it did.
#[cfg(feature = "cli")]
pub fn microsim<I, S>(args: I) -> std::process::Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    std::process::Command::new(env!("CARGO_BIN_EXE_microsim"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the microsim command runs")
}

/// A scenario file written to a folder of its own under the system's temporary folder
/// (named after `name` and the process), removed when dropped.
#[cfg(feature = "cli")]
pub struct TempFile {
    dir: std::path::PathBuf,
    pub path: std::path::PathBuf,
}

#[cfg(feature = "cli")]
impl TempFile {
    pub fn new(name: &str, text: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("microsim-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}.toml"));
        std::fs::write(&path, text).unwrap();
        TempFile { dir, path }
    }
}

#[cfg(feature = "cli")]
impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
