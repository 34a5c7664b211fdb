//! When `watch` makes its next pass and what that pass does. It blocks on
//! the wake-up channel until a wake-up or the next deadline of its clocks
//! (tick, rescan, probe round), never polling; after a wake-up it waits a
//! short debounce and takes everything else that came meanwhile, so that a
//! burst of 10,000 new files makes a few passes, not 10,000.

use std::collections::BTreeSet;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::time::{Duration, Instant};

use super::{Missed, Wake};

/// How long a wake-up waits for the rest of its burst.
pub const DEBOUNCE: Duration = Duration::from_millis(150);

/// The clocks of a watch (wall clock, monotonic).
#[derive(Clone, Copy, Debug)]
pub struct Intervals {
    /// Between ticks; `None`: no ticks.
    pub tick: Option<Duration>,
    /// Between full rescans; a pass for any other reason counts as one.
    pub rescan: Duration,
    /// Between probe rounds (the shortest probe interval); `None`: no probes.
    pub probe: Option<Duration>,
}

/// What the next pass does, or that watch stops.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Step {
    pub stop: bool,
    pub tick: bool,
    pub probe: bool,
    /// The wake-ups this step took (0 for a timer alone).
    pub wakes: usize,
    /// How notifications fell short since the last step.
    pub missed: BTreeSet<Missed>,
}

pub struct Schedule {
    receiver: Receiver<Wake>,
    /// Kept so that the channel never disconnects (a disconnected channel
    /// would return at once, every time: a busy loop).
    sender: Sender<Wake>,
    intervals: Intervals,
    next_tick: Option<Instant>,
    next_rescan: Instant,
    next_probe: Option<Instant>,
    /// A stop seen while waiting for the lock, kept for the next step.
    stopping: bool,
}

impl Schedule {
    /// A schedule whose first step, at once, ticks and runs the probes.
    pub fn new(intervals: Intervals, now: Instant) -> Schedule {
        let (sender, receiver) = channel();
        Schedule {
            receiver,
            sender,
            intervals,
            next_tick: intervals.tick.map(|_| now),
            next_rescan: now,
            next_probe: intervals.probe.map(|_| now),
            stopping: false,
        }
    }

    /// A sender for wake-ups: file notifications, signals, a trigger.
    pub fn sender(&self) -> Sender<Wake> {
        self.sender.clone()
    }

    /// Blocks until the next step: at once when a wake-up is waiting or a
    /// deadline has passed, else until one of them.
    pub fn next_step(&mut self) -> Step {
        let mut step = Step { stop: self.stopping, ..Step::default() };
        loop {
            if step.stop {
                return step;
            }
            let now = Instant::now();
            let deadline = self.deadline();
            if deadline <= now {
                self.take_waiting(&mut step);
                break;
            }
            match self.receiver.recv_timeout(deadline - now) {
                Ok(wake) => {
                    self.take(wake, &mut step);
                    self.debounce(&mut step);
                    break;
                }
                Err(RecvTimeoutError::Timeout) => {}
                // Never: self.sender is a sender.
                Err(RecvTimeoutError::Disconnected) => step.stop = true,
            }
        }
        self.settle_clocks(&mut step, Instant::now());
        step
    }

    /// Waits up to `wait` for a stop, keeping any other wake-up for the
    /// next step: for a pass waiting on the lock that another holds.
    pub fn stop_within(&mut self, wait: Duration) -> bool {
        let until = Instant::now() + wait;
        let mut kept = Vec::new();
        while !self.stopping {
            let Some(left) = until.checked_duration_since(Instant::now()) else { break };
            match self.receiver.recv_timeout(left) {
                Ok(Wake::Stop) => self.stopping = true,
                Ok(other) => kept.push(other),
                Err(_) => break,
            }
        }
        for wake in kept {
            let _ = self.sender.send(wake);
        }
        self.stopping
    }

    fn deadline(&self) -> Instant {
        [self.next_tick, Some(self.next_rescan), self.next_probe]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(self.next_rescan)
    }

    fn take(&mut self, wake: Wake, step: &mut Step) {
        step.wakes += 1;
        match wake {
            Wake::Files | Wake::Rescan => {}
            Wake::Missed(why) => {
                step.missed.insert(why);
            }
            Wake::Tick => step.tick = true,
            Wake::ProbeNow => step.probe = true,
            Wake::Stop => step.stop = true,
        }
    }

    fn take_waiting(&mut self, step: &mut Step) {
        while let Ok(wake) = self.receiver.try_recv() {
            self.take(wake, step);
        }
    }

    /// The rest of a burst: whatever arrives within [`DEBOUNCE`] of its first
    /// wake-up (a stop ends the wait).
    fn debounce(&mut self, step: &mut Step) {
        let until = Instant::now() + DEBOUNCE;
        while !step.stop {
            let Some(left) = until.checked_duration_since(Instant::now()) else { break };
            match self.receiver.recv_timeout(left) {
                Ok(wake) => self.take(wake, step),
                Err(_) => break,
            }
        }
        self.take_waiting(step);
    }

    /// Marks the clocks that are due in `step` (or were asked for by a
    /// wake-up) and sets their next deadlines, an interval from now: a
    /// clock that fell behind (a suspended machine, a long pass) makes one
    /// step, not a burst of catch-up ticks.
    fn settle_clocks(&mut self, step: &mut Step, now: Instant) {
        fn due(next: &mut Option<Instant>, every: Option<Duration>, asked: bool, now: Instant) -> bool {
            let Some(every) = every else { return false };
            let due = asked || next.is_some_and(|at| at <= now);
            if due {
                *next = Some(now + every);
            }
            due
        }
        step.tick = due(&mut self.next_tick, self.intervals.tick, step.tick, now);
        // A probe round asked for runs even without a probe clock (the
        // round says that no probe is declared).
        step.probe = due(&mut self.next_probe, self.intervals.probe, step.probe, now) || step.probe;
        // Every pass reads all of events/: it is a rescan.
        self.next_rescan = now + self.intervals.rescan;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule(tick: Option<u64>, rescan: u64, probe: Option<u64>) -> Schedule {
        let intervals = Intervals {
            tick: tick.map(Duration::from_millis),
            rescan: Duration::from_millis(rescan),
            probe: probe.map(Duration::from_millis),
        };
        Schedule::new(intervals, Instant::now())
    }

    #[test]
    fn the_first_step_ticks_and_probes_at_once() {
        let mut schedule = schedule(Some(60_000), 60_000, Some(60_000));
        let step = schedule.next_step();
        assert!(step.tick && step.probe && !step.stop, "{step:?}");
    }

    #[test]
    fn a_burst_of_ten_thousand_wake_ups_is_one_step() {
        let mut schedule = schedule(None, 60_000, None);
        schedule.next_step();
        let sender = schedule.sender();
        for _ in 0..10_000 {
            sender.send(Wake::Files).unwrap();
        }
        let step = schedule.next_step();
        assert_eq!(step.wakes, 10_000);
        assert!(!step.tick && !step.probe && !step.stop);
    }

    #[test]
    fn the_rescan_comes_on_its_own_after_its_interval() {
        let mut schedule = schedule(None, 50, None);
        schedule.next_step();
        let started = Instant::now();
        let step = schedule.next_step();
        assert!(started.elapsed() >= Duration::from_millis(50));
        assert_eq!(step, Step::default());
    }

    #[test]
    fn a_stop_ends_the_debounce_and_wins() {
        let mut schedule = schedule(None, 60_000, None);
        schedule.next_step();
        let sender = schedule.sender();
        sender.send(Wake::Files).unwrap();
        sender.send(Wake::Stop).unwrap();
        assert!(schedule.next_step().stop);
    }

    #[test]
    fn a_stop_while_waiting_for_the_lock_is_kept_and_other_wakes_are_not_lost() {
        let mut schedule = schedule(None, 60_000, None);
        schedule.next_step();
        let sender = schedule.sender();
        sender.send(Wake::ProbeNow).unwrap();
        assert!(!schedule.stop_within(Duration::from_millis(20)));
        assert!(schedule.next_step().probe);
        sender.send(Wake::Stop).unwrap();
        assert!(schedule.stop_within(Duration::from_millis(20)));
        assert!(schedule.next_step().stop);
    }

    #[test]
    fn the_overflow_is_reported_once_per_step() {
        let mut schedule = schedule(None, 60_000, None);
        schedule.next_step();
        let sender = schedule.sender();
        sender.send(Wake::Missed(Missed::Overflow)).unwrap();
        sender.send(Wake::Missed(Missed::Overflow)).unwrap();
        let step = schedule.next_step();
        assert_eq!(step.missed.into_iter().collect::<Vec<_>>(), vec![Missed::Overflow]);
    }

    #[test]
    fn ticks_follow_their_interval() {
        let mut schedule = schedule(Some(40), 60_000, None);
        assert!(schedule.next_step().tick);
        let started = Instant::now();
        assert!(schedule.next_step().tick);
        assert!(started.elapsed() >= Duration::from_millis(40));
    }
}
