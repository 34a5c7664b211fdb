//! given/when/then for testing the fold without IO, after cqrs-es: given
//! the inputs so far, when one more arrives, then expect what `apply` said
//! and what the state shows.
//!
//! Inputs are written as steps: [`pass`] (a pass starts), [`at`] (an event
//! line at its place in the processing order) and [`rejected`] (a refused
//! line). [`given`] is the short form for a single pass over one file.

use super::{Applied, Engine, EventStats, Input, Rules};
use crate::event::{Event, Parsed, parse_event};

pub fn event(json: &str) -> Event {
    match parse_event(json.as_bytes()) {
        Parsed::Event(e) => e,
        other => panic!("test event did not parse: {other:?}"),
    }
}

/// The engine after one pass over `lines`, read from one file in order.
pub fn given(lines: &[&str]) -> Engine {
    let steps: Vec<Step> =
        std::iter::once(pass()).chain(lines.iter().zip(0..).map(|(line, n)| at("given.jsonl", n, line))).collect();
    given_steps(&steps).engine
}

/// One input, as a test writes it.
#[derive(Clone, Copy, Debug)]
pub enum Step<'a> {
    Pass,
    Event { line: &'a str, file: &'a str, position: u64 },
    Rejected,
}

/// A pass starts.
pub fn pass() -> Step<'static> {
    Step::Pass
}

/// An event line at `position` in `file`.
pub fn at<'a>(file: &'a str, position: u64, line: &'a str) -> Step<'a> {
    Step::Event { line, file, position }
}

/// A line the boundary refused.
pub fn rejected() -> Step<'static> {
    Step::Rejected
}

pub struct Given {
    engine: Engine,
    rules: Rules,
}

pub fn given_steps(steps: &[Step]) -> Given {
    given_steps_with(Rules::default(), steps)
}

/// [`given_steps`] under other rules.
pub fn given_steps_with(rules: Rules, steps: &[Step]) -> Given {
    let mut given = Given { engine: Engine::default(), rules };
    for step in steps {
        apply(&mut given.engine, *step, &given.rules);
    }
    given
}

impl Given {
    pub fn when(mut self, step: Step) -> Then {
        let applied = apply(&mut self.engine, step, &self.rules);
        Then { engine: self.engine, applied }
    }
}

pub struct Then {
    pub engine: Engine,
    applied: Applied,
}

impl Then {
    pub fn then_expect(self, applied: Applied) -> Then {
        assert_eq!(self.applied, applied, "what apply said");
        self
    }

    /// Checks the event statistics (`runtime-summary.events`).
    pub fn and_stats(self, check: impl FnOnce(&EventStats)) -> Then {
        check(&self.engine.stats);
        self
    }
}

fn apply(engine: &mut Engine, step: Step, rules: &Rules) -> Applied {
    match step {
        Step::Pass => engine.apply(Input::PassStarted, rules),
        Step::Event { line, file, position } => {
            engine.apply(Input::Event { event: &event(line), file, position }, rules)
        }
        Step::Rejected => engine.apply(Input::LineRejected, rules),
    }
}
