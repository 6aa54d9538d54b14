//! `single-verif`: only the verification loss (w = 1, 0, 0): the single-task baseline the paper's Table I and
//! `compare`'s paired differences hold the multi-task rules against.

use super::fixed::{Fixed, single_task_host};
use super::rule::{HostSupport, Needs, RuleSpec};

pub static SPEC: RuleSpec = RuleSpec {
    key: "single-verif",
    description: "only the verification loss (w = 1, 0, 0)",
    needs: Needs::Losses,
    default_scale: None,
    build: |_settings, _env| Ok(Box::new(Fixed::new([1.0, 0.0, 0.0]))),
    host: HostSupport::Runs(|setup| single_task_host(setup, 0)),
    label: None,
};
