//! `single-visual`: only the photo-identification loss (w = 0, 1, 0): the single-task baseline the paper's Table I and
//! `compare`'s paired differences hold the multi-task rules against.

use super::fixed::{Fixed, single_task_host};
use super::rule::{HostSupport, Needs, RuleSpec};

pub static SPEC: RuleSpec = RuleSpec {
    key: "single-visual",
    description: "only the photo-identification loss (w = 0, 1, 0)",
    needs: Needs::Losses,
    default_scale: None,
    build: |_settings, _env| Ok(Box::new(Fixed::new([0.0, 1.0, 0.0]))),
    host: HostSupport::Runs(|setup| single_task_host(setup, 1)),
    label: None,
};
