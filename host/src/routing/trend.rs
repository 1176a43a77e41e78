//! Waiting tasks over the last hour, sampled at a fixed interval for the
//! supervisor's chart (`GET /api/stats/history`). Kept in memory only: a
//! restart starts a new hour.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

use serde::Serialize;

use super::{Kind, Stats};

/// How often the queue is sampled.
pub const INTERVAL_MS: u64 = 15_000;

/// How far back samples are kept.
pub const WINDOW_MS: u64 = 60 * 60 * 1000;

/// The queue at one moment.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Sample {
    /// Unix ms.
    pub at: u64,
    /// Waiting tasks per channel kind.
    pub waiting: BTreeMap<Kind, usize>,
    /// Waiting tasks in all.
    pub total: usize,
}

impl Sample {
    /// The waiting counts of `stats`, taken at `at`.
    pub fn of(stats: &Stats, at: u64) -> Sample {
        let waiting: BTreeMap<Kind, usize> = stats
            .channels
            .iter()
            .map(|(k, s)| (*k, s.waiting))
            .collect();
        Sample {
            at,
            total: waiting.values().sum(),
            waiting,
        }
    }
}

/// The last hour of samples.
#[derive(Debug, Default)]
pub struct Trend {
    samples: Mutex<VecDeque<Sample>>,
}

impl Trend {
    /// Adds a sample and forgets those older than the window.
    pub fn record(&self, sample: Sample) {
        let mut samples = self.samples.lock().unwrap_or_else(|e| e.into_inner());
        let horizon = sample.at.saturating_sub(WINDOW_MS);
        while samples.front().is_some_and(|s| s.at < horizon) {
            samples.pop_front();
        }
        samples.push_back(sample);
    }

    /// The samples of the last hour, oldest first.
    pub fn samples(&self) -> Vec<Sample> {
        self.samples
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(at: u64, total: usize) -> Sample {
        Sample {
            at,
            waiting: BTreeMap::from([(Kind::Chat, total)]),
            total,
        }
    }

    #[test]
    fn keeps_one_hour() {
        let trend = Trend::default();
        for i in 0..=300u64 {
            trend.record(sample(i * INTERVAL_MS, i as usize));
        }
        let samples = trend.samples();
        assert_eq!(samples.len(), (WINDOW_MS / INTERVAL_MS) as usize + 1);
        assert_eq!(samples.last().unwrap().total, 300);
        assert_eq!(samples[0].at, 300 * INTERVAL_MS - WINDOW_MS);
    }
}
