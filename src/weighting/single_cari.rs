//! `single-cari`: only the caricature-identification loss (w = 0, 0, 1): the single-task baseline the paper's Table I and
//! `compare`'s paired differences hold the multi-task rules against.

use super::fixed::{Fixed, single_task_host};
use super::rule::{HostSupport, Needs, RuleSpec};

pub static SPEC: RuleSpec = RuleSpec {
    key: "single-cari",
    description: "only the caricature-identification loss (w = 0, 0, 1)",
    needs: Needs::Losses,
    default_scale: None,
    build: |_settings, _env| Ok(Box::new(Fixed::new([0.0, 0.0, 1.0]))),
    host: HostSupport::Runs(|setup| single_task_host(setup, 2)),
    label: None,
};
