//! The seeded generator both stable fuzz drivers draw their cases from, so
//! that a printed seed reproduces a case, and how long a driver runs.

use std::time::{Duration, Instant};

/// A driver's run: its first two arguments, else `FUZZ_SECONDS` and
/// `FUZZ_SEED`, else 10 s and a seed from the clock.
pub struct Run {
    pub seconds: f64,
    pub seed: u64,
}

impl Run {
    pub fn from_args() -> Run {
        let args: Vec<String> = std::env::args().collect();
        let setting = |at: usize, var: &str| args.get(at).cloned().or_else(|| std::env::var(var).ok());
        let seconds = setting(1, "FUZZ_SECONDS").and_then(|s| s.parse().ok()).unwrap_or(10.0);
        let seed = setting(2, "FUZZ_SEED").and_then(|s| s.parse().ok()).unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
        Run { seconds, seed }
    }

    /// When a run started now ends (between 0.1 s and an hour).
    pub fn deadline(&self) -> Instant {
        Instant::now() + Duration::from_secs_f64(self.seconds.clamp(0.1, 3600.0))
    }

    /// The generator this run's seed starts.
    pub fn rng(&self) -> Rng {
        Rng(self.seed | 1)
    }
}

/// xorshift64*.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}
