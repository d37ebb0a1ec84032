//! The background work of `roster serve` beside the API: the **scheduler**, which applies due
//! scheduled changes (SPEC §3.1), and the **job runner**, which works through queued jobs
//! (§10). Both run on every server; the database makes each change and each job step happen
//! once however many servers share it (`Services::apply_due_changes`, `roster_domain::jobs`).
//!
//! They are two tasks, so that a long job never holds up a scheduled change. Each wakes every
//! `tick`. On shutdown the runner finishes its current step and gives its job back to the
//! queue, so that another server (or this one, restarted) takes it up at once; a server that
//! dies instead leaves the job to be claimed again when its lease ends.

use std::time::Duration;

use roster_domain::Services;
use roster_domain::services::{JobPace, StepResult};
use tokio::sync::watch;

/// Due scheduled changes applied per read; a tick keeps reading while reads come back full.
const SCHEDULER_BATCH: u32 = 100;

/// How the background work runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkerSettings {
    /// How often the scheduler and the idle job runner look for work.
    pub tick: Duration,
    /// The job runner's lease and step size.
    pub pace: JobPace,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self { tick: Duration::from_secs(10), pace: JobPace::default() }
    }
}

/// Runs the scheduler and the job runner until `stop` turns true.
pub async fn run(services: Services, settings: WorkerSettings, stop: watch::Receiver<bool>) {
    let runner = format!("{}-{}", std::process::id(), uuid::Uuid::now_v7());
    tracing::info!(%runner, tick_ms = settings.tick.as_millis(), "scheduler and job runner started");
    let scheduler = scheduler(services.clone(), settings.tick, stop.clone());
    let jobs = job_runner(services, runner, settings, stop);
    tokio::join!(scheduler, jobs);
}

/// Waits for the next tick; `false` when it is time to stop instead.
async fn next_tick(ticks: &mut tokio::time::Interval, stop: &mut watch::Receiver<bool>) -> bool {
    if *stop.borrow() {
        return false;
    }
    let stopped = tokio::select! {
        _ = ticks.tick() => false,
        _ = stop.wait_for(|stop| *stop) => true,
    };
    !stopped && !*stop.borrow()
}

async fn scheduler(services: Services, tick: Duration, mut stop: watch::Receiver<bool>) {
    let mut ticks = tokio::time::interval(tick);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while next_tick(&mut ticks, &mut stop).await {
        loop {
            match services.apply_due_changes(SCHEDULER_BATCH).await {
                Ok(done) => {
                    for change in &done {
                        tracing::info!(change = %change.id, user = %change.user_id, state = ?change.state, "scheduled change settled");
                    }
                    if done.len() < SCHEDULER_BATCH as usize {
                        break;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "applying scheduled changes failed; retried at the next tick");
                    break;
                }
            }
        }
    }
}

async fn job_runner(services: Services, runner: String, settings: WorkerSettings, mut stop: watch::Receiver<bool>) {
    let mut ticks = tokio::time::interval(settings.tick);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while next_tick(&mut ticks, &mut stop).await {
        'claiming: loop {
            let mut claimed = match services.claim_job(&runner, settings.pace).await {
                Ok(Some(claimed)) => claimed,
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "claiming a job failed; retried at the next tick");
                    break;
                }
            };
            let job = claimed.job().id;
            tracing::info!(%job, done = claimed.job().done, total = claimed.job().total, "job claimed");
            loop {
                if *stop.borrow() {
                    if let Err(e) = services.release_job(claimed).await {
                        tracing::warn!(%job, error = %e, "giving a job back failed; it is claimed again when its lease ends");
                    }
                    return;
                }
                match services.work_job(&runner, &mut claimed, settings.pace).await {
                    Ok(StepResult::Continue) => {}
                    Ok(StepResult::Finished) => {
                        tracing::info!(%job, state = claimed.job().state.name(), "job ended");
                        break;
                    }
                    Ok(StepResult::Lost) => {
                        tracing::warn!(%job, "another runner took the job over");
                        break;
                    }
                    Err(e) => {
                        tracing::warn!(%job, error = %e, "a job step failed and was not kept; tried again at the next tick");
                        if let Err(e) = services.release_job(claimed).await {
                            tracing::warn!(%job, error = %e, "giving a job back failed; it is claimed again when its lease ends");
                        }
                        break 'claiming;
                    }
                }
            }
        }
    }
}
