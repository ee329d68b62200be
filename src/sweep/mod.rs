//! Sweeps: a scenario run at every combination of some of its keys' values, each point
//! replicated over several seeds, in parallel -- the figures of each point with their 95%
//! confidence intervals across replications, and the capacity of a swept load.
//!
//! **Common random numbers.** Every point runs the same seeds: replication 0 with the file's
//! seed, replication `r` with a seed derived from it (the same in every process). Two points
//! then differ by what the sweep changed, not by their luck, so the difference between two
//! points is far less noisy than either point's own interval suggests.
//!
//! **Parallel and deterministic.** Each run is a simulation of its own, on its own thread and
//! single-threaded runtime ([`Sweep::jobs`]); the results are put in point and replication
//! order, so any number of jobs gives the same bytes.
//!
//! **Shards.** [`Sweep::shard`] runs every N-th point only; [`SweepReport::merge`] puts the
//! shards' reports together into the report of the whole sweep, the same bytes as one process
//! would have written. A point is never split between shards.
//!
//! ```
//! use microsim::sweep::{Axis, Sweep};
//!
//! let file = r#"
//! [simulation]
//! duration = "20s"
//! warmup = "2s"
//!
//! [services.api]
//! workers = 1
//! work = { exponential = { mean = "1ms" } }
//!
//! [workloads.load]
//! target = "api"
//! open = { rate = 300.0 }
//! "#;
//! let report = Sweep::new(file, "mm1.toml")
//!     .axis(Axis::parse("workloads.load.open.rate=300,600")?)
//!     .seeds(3)
//!     .jobs(2)
//!     .run()?;
//! assert_eq!(report.points.len(), 2);
//! let (light, heavy) = (&report.points[0], &report.points[1]);
//! // M/M/1: a mean response of 1/(mu - lambda): 1.43 ms at 300/s, 2.5 ms at 600/s.
//! let mean = |point: &microsim::sweep::PointReport| point.workloads["load"].mean_ms.mean;
//! assert!(mean(light) < mean(heavy));
//! assert_eq!(light.replications.len(), 3);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod axis;
mod capacity;
mod diff;
mod table;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::{Deserialize, Serialize};

pub use axis::Axis;
pub use capacity::{Capacity, Knee};

use crate::Report;
use crate::scenario::{Override, Scenario, ScenarioError};
use crate::stats::Estimate;

/// The confidence level of a sweep's intervals.
pub const LEVEL: f64 = 0.95;

/// Which points a process runs: the `index`th of every `count` (from 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// From 1 to `count`.
    pub index: usize,
    /// How many shards the sweep is cut into.
    pub count: usize,
}

impl Shard {
    /// Reads `I/N` (1 <= I <= N), or `auto/N`: the index from a Kubernetes Indexed Job
    /// (`JOB_COMPLETION_INDEX`, from 0) or a Slurm array (`SLURM_ARRAY_TASK_ID`, from
    /// `SLURM_ARRAY_TASK_MIN`, 0 if unset), looked up with `env`.
    ///
    /// ```
    /// use microsim::sweep::Shard;
    ///
    /// assert_eq!(Shard::parse("2/4", |_| None)?, Shard { index: 2, count: 4 });
    /// let kubernetes = |name: &str| (name == "JOB_COMPLETION_INDEX").then(|| "3".to_string());
    /// assert_eq!(Shard::parse("auto/4", kubernetes)?, Shard { index: 4, count: 4 });
    /// assert!(Shard::parse("5/4", |_| None).is_err());
    /// # Ok::<(), String>(())
    /// ```
    ///
    /// # Errors
    /// A message saying what is wrong: not `I/N`, `I` out of range, or no index in the
    /// environment for `auto`.
    pub fn parse(text: &str, env: impl Fn(&str) -> Option<String>) -> Result<Shard, String> {
        let usage = || format!("--shard {text}: expected I/N (1 <= I <= N) or auto/N");
        let (index, count) = text.split_once('/').ok_or_else(usage)?;
        let count: usize = count.trim().parse().map_err(|_| usage())?;
        if count == 0 {
            return Err(format!("--shard {text}: N must be at least 1"));
        }
        let index = if index.trim() == "auto" {
            let number = |name: &str| -> Result<Option<usize>, String> {
                env(name)
                    .map(|value| {
                        value.trim().parse::<usize>().map_err(|_| {
                            format!("--shard {text}: {name}={value} is not a whole number")
                        })
                    })
                    .transpose()
            };
            if let Some(index) = number("JOB_COMPLETION_INDEX")? {
                index + 1
            } else if let Some(task) = number("SLURM_ARRAY_TASK_ID")? {
                let first = number("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
                task.checked_sub(first).ok_or_else(|| {
                    format!("--shard {text}: SLURM_ARRAY_TASK_ID {task} is below SLURM_ARRAY_TASK_MIN {first}")
                })? + 1
            } else {
                return Err(format!(
                    "--shard {text}: neither JOB_COMPLETION_INDEX (a Kubernetes Indexed Job) nor \
                     SLURM_ARRAY_TASK_ID (a Slurm array) is set; give the index as I/N"
                ));
            }
        } else {
            index.trim().parse().map_err(|_| usage())?
        };
        if !(1..=count).contains(&index) {
            return Err(format!(
                "--shard {text}: the index {index} is outside 1..={count}"
            ));
        }
        Ok(Shard { index, count })
    }

    /// Whether this shard runs point `point` (from 0).
    fn runs(self, point: usize) -> bool {
        point % self.count == self.index - 1
    }
}

/// A sweep to run (see the [module](self)).
#[derive(Clone, Debug)]
pub struct Sweep {
    text: String,
    origin: String,
    overrides: Vec<Override>,
    axes: Vec<Axis>,
    seeds: usize,
    jobs: usize,
    shard: Option<Shard>,
    keep_reports: bool,
    interrupt: crate::InterruptHandle,
}

/// What went wrong before a sweep could run, or in one of its runs.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SweepError {
    /// A point's scenario is invalid (the message names the point's settings).
    #[error("point {point} ({settings}): {source}")]
    Scenario {
        /// Its number, from 1.
        point: usize,
        /// Its settings, `KEY=VALUE, ...`.
        settings: String,
        /// What is wrong.
        source: Box<ScenarioError>,
    },
    /// A run failed.
    #[error("point {point} ({settings}), seed {seed}: the run failed: {message}")]
    Run {
        /// Its number, from 1.
        point: usize,
        /// Its settings.
        settings: String,
        /// The replication's seed.
        seed: u64,
        /// Why.
        message: String,
    },
    /// The settings themselves are not a sweep (no seeds, two axes of one key, ...).
    #[error("{0}")]
    Invalid(String),
}

/// One workload's figures in one run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RunFigures {
    /// Requests sent in the measured window.
    pub sent: u64,
    /// Mean latency of the completed ones, ms.
    pub mean_ms: f64,
    /// Their median, ms.
    pub p50_ms: f64,
    /// Their p99, ms.
    pub p99_ms: f64,
    /// Completed per measured second.
    pub throughput_per_s: f64,
    /// Failed over sent (0 when none were sent).
    pub failure_rate: f64,
    /// The warm-up the run needed by MSER-5 ([`crate::report::warmup`]), when estimated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warmup_needed_s: Option<f64>,
    /// Whether the run's warm-up was too short for it
    /// ([`WarmupEstimate::is_short`](crate::report::warmup::WarmupEstimate::is_short)).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub warmup_short: bool,
}

/// One run of a point.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Replication {
    /// Its seed.
    pub seed: u64,
    /// Per workload, by name.
    pub workloads: BTreeMap<String, RunFigures>,
}

/// A workload's figures at a point, as means across replications with their intervals.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct WorkloadEstimates {
    /// Mean latency.
    pub mean_ms: Estimate,
    /// Median latency.
    pub p50_ms: Estimate,
    /// p99 latency.
    pub p99_ms: Estimate,
    /// Throughput.
    pub throughput_per_s: Estimate,
    /// Failed over sent.
    pub failure_rate: Estimate,
}

/// A threshold at a point: its metric's value estimated over the replications, and whether
/// it holds with confidence -- the whole interval within its bounds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ThresholdEstimate {
    /// The metric's path in the report.
    pub metric: String,
    /// Its lower bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// Its upper bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// The metric over the replications.
    pub value: Estimate,
    /// Whether the interval lies within the bounds (with one replication: its value does),
    /// the metric found in every replication.
    pub holds: bool,
    /// Why the metric was not found in some replication (the first such), if it was not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl ThresholdEstimate {
    /// The estimate of each threshold over the replications' verdicts on it (`verdicts[r][t]`:
    /// replication `r`'s verdict on threshold `t`, every replication judged by the same
    /// thresholds).
    fn over(verdicts: &[Vec<crate::report::ThresholdResult>]) -> Vec<ThresholdEstimate> {
        let Some(first) = verdicts.first() else {
            return Vec::new();
        };
        (0..first.len())
            .map(|t| {
                let results: Vec<&crate::report::ThresholdResult> =
                    verdicts.iter().filter_map(|run| run.get(t)).collect();
                let values: Vec<f64> = results.iter().filter_map(|r| r.value).collect();
                let error = results.iter().find_map(|r| r.error.clone()).or_else(|| {
                    (values.len() < results.len())
                        .then(|| format!("{}: no number in some replication", first[t].metric))
                });
                let value = Estimate::of(&values, LEVEL);
                let (min, max) = (first[t].min, first[t].max);
                let holds = error.is_none()
                    && !values.is_empty()
                    && min.is_none_or(|min| value.low() >= min)
                    && max.is_none_or(|max| value.high() <= max);
                ThresholdEstimate {
                    metric: first[t].metric.clone(),
                    min,
                    max,
                    value,
                    holds,
                    error,
                }
            })
            .collect()
    }
}

/// One point of a sweep: its settings, each replication's figures, and their estimates.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PointReport {
    /// Its number, from 0, in the order of the cross product (the last axis changes
    /// fastest).
    pub index: usize,
    /// Its value of each axis, in the axes' order.
    pub settings: Vec<String>,
    /// Its runs, in seed order.
    pub replications: Vec<Replication>,
    /// Per workload, the estimates over the replications.
    pub workloads: BTreeMap<String, WorkloadEstimates>,
    /// The scenario's thresholds, each estimated over the replications.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub thresholds: Vec<ThresholdEstimate>,
    /// The runs' reports, in seed order, unless the sweep was told not to keep them
    /// ([`Sweep::keep_reports`]); not in the JSON.
    #[serde(skip)]
    pub reports: Vec<Report>,
}

/// The outcome of a sweep, or of one shard of it (see the [module](self)).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SweepReport {
    /// The scenario file's name.
    pub file: String,
    /// The settings applied at every point, as `KEY=VALUE`.
    pub overrides: Vec<String>,
    /// The swept keys and their values.
    pub axes: Vec<Axis>,
    /// The seeds every point ran with, in order.
    pub seeds: Vec<u64>,
    /// The confidence level of the intervals.
    pub level: f64,
    /// How many points the whole sweep has.
    pub points_total: usize,
    /// The shard this report is of, if it is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<Shard>,
    /// The points run, in order.
    pub points: Vec<PointReport>,
    /// Where the swept load reaches its limits, per workload, for a whole sweep whose first
    /// axis is a load ([`capacity`](Self::capacity)).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub capacity: BTreeMap<String, Capacity>,
    /// Set when the sweep was stopped ([`Sweep::interrupt_handle`]): `points` holds only
    /// those whose every replication had finished, and no capacity is given. Absent from the
    /// JSON otherwise.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub interrupted: bool,
}

impl Sweep {
    /// A sweep of the scenario `text` (named `origin` in messages), with no axes yet: one
    /// point, one seed, all cores.
    pub fn new(text: &str, origin: &str) -> Self {
        Sweep {
            text: text.to_string(),
            origin: origin.to_string(),
            overrides: Vec::new(),
            axes: Vec::new(),
            seeds: 1,
            jobs: std::thread::available_parallelism().map_or(1, usize::from),
            shard: None,
            keep_reports: true,
            interrupt: crate::InterruptHandle::default(),
        }
    }

    /// Adds a swept key. An axis of one value is a setting of every point.
    #[must_use]
    pub fn axis(mut self, axis: Axis) -> Self {
        self.axes.push(axis);
        self
    }

    /// Applies `setting` at every point, before the axes.
    #[must_use]
    pub fn set(mut self, setting: Override) -> Self {
        self.overrides.push(setting);
        self
    }

    /// Runs each point `seeds` times (at least 2 for confidence intervals).
    #[must_use]
    pub fn seeds(mut self, seeds: usize) -> Self {
        self.seeds = seeds;
        self
    }

    /// Runs at most `jobs` simulations at once (default: the machine's cores).
    #[must_use]
    pub fn jobs(mut self, jobs: usize) -> Self {
        self.jobs = jobs;
        self
    }

    /// Runs only the points of `shard`.
    #[must_use]
    pub fn shard(mut self, shard: Shard) -> Self {
        self.shard = Some(shard);
        self
    }

    /// Whether each point keeps its runs' full reports (default: yes); a large sweep keeps
    /// memory low without them.
    #[must_use]
    pub fn keep_reports(mut self, keep: bool) -> Self {
        self.keep_reports = keep;
        self
    }

    /// A handle that stops the sweep from another thread (a Ctrl-C handler): the runs in
    /// progress stop at their current instant, no more start, and the sweep returns the
    /// points whose every replication had finished, marked
    /// [`interrupted`](SweepReport::interrupted).
    ///
    /// ```
    /// use microsim::sweep::{Axis, Sweep};
    ///
    /// let file = r#"
    /// [services.api]
    /// work = { constant = "1ms" }
    ///
    /// [workloads.load]
    /// target = "api"
    /// open = { rate = 100.0 }
    /// "#;
    /// let sweep = Sweep::new(file, "api.toml").axis(Axis::parse("workloads.load.open.rate=100,200")?);
    /// sweep.interrupt_handle().interrupt(); // before it starts: nothing runs
    /// let report = sweep.run()?;
    /// assert!(report.interrupted && report.points.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn interrupt_handle(&self) -> crate::InterruptHandle {
        self.interrupt.clone()
    }

    /// How many points the whole sweep has: the product of the axes' lengths.
    pub fn points_total(&self) -> usize {
        self.axes.iter().map(|axis| axis.values.len()).product()
    }

    /// How many runs this process makes: its points times the seeds.
    pub fn runs(&self) -> usize {
        self.my_points().len() * self.seeds
    }

    fn my_points(&self) -> Vec<usize> {
        (0..self.points_total())
            .filter(|&point| self.shard.is_none_or(|shard| shard.runs(point)))
            .collect()
    }

    /// Point `point`'s value index on each axis (the last axis changes fastest).
    fn coordinates(&self, point: usize) -> Vec<usize> {
        let mut rest = point;
        let mut coordinates = vec![0; self.axes.len()];
        for (i, axis) in self.axes.iter().enumerate().rev() {
            coordinates[i] = rest % axis.values.len();
            rest /= axis.values.len();
        }
        coordinates
    }

    fn settings(&self, point: usize) -> Vec<String> {
        self.coordinates(point)
            .iter()
            .zip(&self.axes)
            .map(|(&i, axis)| axis.values[i].clone())
            .collect()
    }

    fn describe(&self, point: usize) -> String {
        self.axes
            .iter()
            .zip(self.settings(point))
            .map(|(axis, value)| format!("{}={value}", axis.key))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The scenario of `point`: the file with the sweep's settings and the point's values.
    fn scenario(&self, point: usize) -> Result<Scenario, SweepError> {
        let mut overrides = self.overrides.clone();
        overrides.extend(
            self.coordinates(point)
                .iter()
                .zip(&self.axes)
                .map(|(&i, axis)| axis.setting(i)),
        );
        Scenario::parse_with_overrides(&self.text, &self.origin, &overrides).map_err(|source| {
            SweepError::Scenario {
                point: point + 1,
                settings: self.describe(point),
                source: Box::new(source),
            }
        })
    }

    fn check(&self) -> Result<(), SweepError> {
        if self.seeds == 0 {
            return Err(SweepError::Invalid(
                "--seeds must be at least 1 (2 or more for confidence intervals)".into(),
            ));
        }
        if self.jobs == 0 {
            return Err(SweepError::Invalid("--jobs must be at least 1".into()));
        }
        for (i, axis) in self.axes.iter().enumerate() {
            if self.axes[..i].iter().any(|other| other.key == axis.key) {
                return Err(SweepError::Invalid(format!(
                    "{} is swept twice: give its values once, as {}=V1,V2,...",
                    axis.key, axis.key
                )));
            }
        }
        if let Some(shard) = self.shard
            && shard.count > self.points_total()
        {
            return Err(SweepError::Invalid(format!(
                "--shard {}/{}: the sweep has {} points, fewer than the {} shards: some shards \
                 would run nothing",
                shard.index,
                shard.count,
                self.points_total(),
                shard.count
            )));
        }
        Ok(())
    }

    /// Runs the sweep (see the [module](self)).
    ///
    /// # Errors
    /// [`SweepError`]: every point's scenario is checked before any runs, and the first
    /// failed run (in point and seed order) stops the sweep.
    pub fn run(&self) -> Result<SweepReport, SweepError> {
        self.run_with_progress(&|_, _| {})
    }

    /// As [`run`](Self::run), calling `progress(done, runs)` as each run ends.
    ///
    /// # Errors
    /// As [`run`](Self::run).
    pub fn run_with_progress(
        &self,
        progress: &(dyn Fn(usize, usize) + Sync),
    ) -> Result<SweepReport, SweepError> {
        self.check()?;
        let points = self.my_points();
        // Every point is checked before anything runs.
        let scenarios: Vec<Scenario> = points
            .iter()
            .map(|&point| self.scenario(point))
            .collect::<Result<_, _>>()?;
        let base = scenarios
            .first()
            .and_then(Scenario::seed)
            .unwrap_or_default();
        let seeds: Vec<u64> = (0..self.seeds)
            .map(|r| crate::random::replication_seed(base, r))
            .collect();
        let runs: Vec<(usize, usize)> = (0..points.len())
            .flat_map(|p| (0..self.seeds).map(move |r| (p, r)))
            .collect();
        let done = AtomicUsize::new(0);
        let total = runs.len();
        // `None`: stopped (the sweep's interrupt) before or while it ran.
        let one = |&(p, r): &(usize, usize)| -> Result<Option<Report>, SweepError> {
            if self.interrupt.is_interrupted() {
                return Ok(None);
            }
            let failed = |message: String| SweepError::Run {
                point: points[p] + 1,
                settings: self.describe(points[p]),
                seed: seeds[r],
                message,
            };
            let mut simulation = scenarios[p]
                .to_simulation(Some(seeds[r]))
                .map_err(|error| failed(error.to_string()))?;
            simulation.stop_with(self.interrupt.clone());
            let mut report = simulation
                .run()
                .map_err(|error| failed(error.to_string()))?;
            if report.interrupted_at.is_some() {
                return Ok(None);
            }
            scenarios[p].check_thresholds(&mut report);
            progress(done.fetch_add(1, Ordering::Relaxed) + 1, total);
            Ok(Some(report))
        };
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(self.jobs)
            .build()
            .map_err(|error| SweepError::Invalid(format!("could not start threads: {error}")))?;
        // Each thread takes the next run as it finishes one, in order: runs differ in length
        // (a higher load is a longer run), and a thread that finishes early must not wait
        // while another still has several to go, as with a split of the runs into halves.
        let next = AtomicUsize::new(0);
        let finished = std::sync::Mutex::new(Vec::with_capacity(total));
        pool.scope(|scope| {
            for _ in 0..self.jobs.min(total) {
                scope.spawn(|_| {
                    loop {
                        let index = next.fetch_add(1, Ordering::Relaxed);
                        let Some(run) = runs.get(index) else {
                            return;
                        };
                        let report = one(run);
                        finished
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .push((index, report));
                    }
                });
            }
        });
        let mut finished = finished
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Back in point and seed order, whichever thread ran each.
        finished.sort_unstable_by_key(|(index, _)| *index);
        let mut reports = finished.into_iter().map(|(_, report)| report);
        let mut out = Vec::with_capacity(points.len());
        let mut interrupted = false;
        for &point in &points {
            let mut replications = Vec::with_capacity(self.seeds);
            let mut verdicts = Vec::with_capacity(self.seeds);
            let mut kept = Vec::new();
            let runs: Vec<Option<Report>> = (0..self.seeds)
                .map(|_| reports.next().expect("one report per run"))
                .collect::<Result<_, _>>()?;
            // A point is whole or not there: one stopped run drops it.
            let Some(runs) = runs.into_iter().collect::<Option<Vec<Report>>>() else {
                interrupted = true;
                continue;
            };
            for (report, &seed) in runs.into_iter().zip(&seeds) {
                verdicts.push(report.thresholds.clone());
                replications.push(Replication {
                    seed,
                    workloads: report
                        .workloads
                        .iter()
                        .map(|(name, workload)| {
                            (
                                name.clone(),
                                RunFigures::of(workload, report.warmup.get(name)),
                            )
                        })
                        .collect(),
                });
                if self.keep_reports {
                    kept.push(report);
                }
            }
            let mut point = PointReport::new(point, self.settings(point), replications, kept);
            point.thresholds = ThresholdEstimate::over(&verdicts);
            out.push(point);
        }
        let mut report = SweepReport {
            file: self.origin.clone(),
            overrides: self.overrides.iter().map(ToString::to_string).collect(),
            axes: self.axes.clone(),
            seeds,
            level: LEVEL,
            points_total: self.points_total(),
            shard: self.shard,
            points: out,
            capacity: BTreeMap::new(),
            interrupted,
        };
        report.finish();
        Ok(report)
    }
}

impl RunFigures {
    fn of(
        workload: &crate::report::WorkloadReport,
        warmup: Option<&crate::report::warmup::WarmupEstimate>,
    ) -> Self {
        let counts = &workload.counts;
        RunFigures {
            sent: counts.sent,
            mean_ms: workload.latency_ms.mean,
            p50_ms: workload.latency_ms.p50,
            p99_ms: workload.latency_ms.p99,
            throughput_per_s: workload.throughput_per_s,
            failure_rate: if counts.sent == 0 {
                0.0
            } else {
                counts.failed as f64 / counts.sent as f64
            },
            warmup_needed_s: warmup.map(|estimate| estimate.needed_s),
            warmup_short: warmup.is_some_and(crate::report::warmup::WarmupEstimate::is_short),
        }
    }
}

impl PointReport {
    fn new(
        index: usize,
        settings: Vec<String>,
        replications: Vec<Replication>,
        reports: Vec<Report>,
    ) -> Self {
        let mut names: Vec<&String> = replications
            .iter()
            .flat_map(|r| r.workloads.keys())
            .collect();
        names.sort();
        names.dedup();
        let workloads = names
            .into_iter()
            .map(|name| {
                let of = |figure: fn(&RunFigures) -> f64| {
                    let values: Vec<f64> = replications
                        .iter()
                        .filter_map(|r| r.workloads.get(name).map(figure))
                        .collect();
                    Estimate::of(&values, LEVEL)
                };
                let estimates = WorkloadEstimates {
                    mean_ms: of(|f| f.mean_ms),
                    p50_ms: of(|f| f.p50_ms),
                    p99_ms: of(|f| f.p99_ms),
                    throughput_per_s: of(|f| f.throughput_per_s),
                    failure_rate: of(|f| f.failure_rate),
                };
                (name.clone(), estimates)
            })
            .collect();
        PointReport {
            index,
            settings,
            replications,
            workloads,
            thresholds: Vec::new(),
            reports,
        }
    }
}

impl SweepReport {
    /// The report as pretty JSON, the same bytes for the same sweep however it was run
    /// (jobs, shards merged).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a sweep report always serialises")
    }

    /// Reads a report written by [`to_json`](Self::to_json).
    ///
    /// # Errors
    /// The JSON error, if `text` is not such a report.
    pub fn from_json(text: &str) -> Result<SweepReport, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// Whether this is the report of a whole sweep: every point, not one shard's.
    pub fn is_whole(&self) -> bool {
        self.shard.is_none() && !self.interrupted && self.points.len() == self.points_total
    }

    /// Computes what needs every point (the capacity), for a whole sweep.
    fn finish(&mut self) {
        self.capacity = if self.is_whole() {
            capacity::of(self)
        } else {
            BTreeMap::new()
        };
    }

    /// Puts shards' reports together into the report of the whole sweep: the same bytes as
    /// the one-process sweep's.
    ///
    /// # Errors
    /// A message if the shards are not of one sweep (file, settings, axes or seeds differ),
    /// overlap, or miss points.
    pub fn merge(shards: Vec<SweepReport>) -> Result<SweepReport, String> {
        let mut shards = shards.into_iter();
        let Some(mut whole) = shards.next() else {
            return Err("nothing to merge".to_string());
        };
        let same = |a: &SweepReport, b: &SweepReport| {
            a.file == b.file
                && a.overrides == b.overrides
                && a.axes == b.axes
                && a.seeds == b.seeds
                && a.level == b.level
                && a.points_total == b.points_total
        };
        let refuse_interrupted = |shard: &SweepReport| {
            if shard.interrupted {
                Err(format!(
                    "a report of {} was interrupted: it lacks points; run that shard again",
                    shard.file
                ))
            } else {
                Ok(())
            }
        };
        refuse_interrupted(&whole)?;
        for shard in shards {
            refuse_interrupted(&shard)?;
            if !same(&whole, &shard) {
                return Err(format!(
                    "the reports are not of one sweep: {} with {} and {} points differ in their \
                     file, settings, axes or seeds",
                    shard.file,
                    shard.axes.len(),
                    shard.points_total
                ));
            }
            whole.points.extend(shard.points);
        }
        whole.points.sort_by_key(|point| point.index);
        if let Some(pair) = whole
            .points
            .windows(2)
            .find(|pair| pair[0].index == pair[1].index)
        {
            return Err(format!(
                "point {} is in two of the reports: merge each shard once",
                pair[0].index + 1
            ));
        }
        let missing: Vec<String> = (0..whole.points_total)
            .filter(|i| whole.points.binary_search_by_key(i, |p| p.index).is_err())
            .map(|i| (i + 1).to_string())
            .collect();
        if !missing.is_empty() {
            return Err(format!(
                "points {} of {} are in none of the reports: a shard is missing",
                missing.join(", "),
                whole.points_total
            ));
        }
        whole.shard = None;
        whole.finish();
        Ok(whole)
    }
}
