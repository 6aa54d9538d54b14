//! `static`: fixed weights the user sets (sliders, `--static-weights`), normalised to sum 1.

use super::fixed::Fixed;
use super::host::FixedHost;
use super::math::normalised;
use super::rule::{HostSupport, Needs, RuleSpec};

pub static SPEC: RuleSpec = RuleSpec {
    key: "static",
    description: "fixed weights you set with the sliders",
    needs: Needs::Losses,
    default_scale: None,
    build: |settings, _env| Ok(Box::new(Fixed::new(normalised(settings.static_weights)))),
    // The toy checks and normalises its own list of weights (any number of tasks).
    host: HostSupport::Runs(|setup| Ok(Box::new(FixedHost(setup.static_weights.clone())))),
    label: Some(|settings| {
        let w = normalised(settings.static_weights);
        format!("static({:.2}/{:.2}/{:.2})", w[0], w[1], w[2])
    }),
};
