//! `equal`: w = 1/T for every task, the baseline every weighting paper compares against.

use super::fixed::Fixed;
use super::host::{FixedHost, uniform};
use super::rule::{HostSupport, Needs, RuleSpec};
use crate::task::TASKS;

pub static SPEC: RuleSpec = RuleSpec {
    key: "equal",
    description: "w = 1/3 for every task",
    needs: Needs::Losses,
    default_scale: None,
    build: |_settings, _env| Ok(Box::new(Fixed::new([1.0 / TASKS as f32; TASKS]))),
    host: HostSupport::Runs(|setup| Ok(Box::new(FixedHost(uniform(setup.tasks))))),
    label: None,
};
