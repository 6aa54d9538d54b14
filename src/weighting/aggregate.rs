//! One step of a rule on given gradients, outside any network: what `cari-mtl aggregate`
//! prints, with the same code the trainer and the loss landscape use, so anyone can hold a
//! rule against their own reference.

use super::Strategy;
use super::gram::{Gram, direction};
use super::host::{HostSetup, HostView};

/// A rule's answer for one gradient matrix.
#[derive(Clone, Debug, PartialEq)]
pub struct Aggregation {
    /// The coefficients on the tasks' gradients: the loss rules' weights, the gradient
    /// rules' λ.
    pub weights: Vec<f64>,
    /// d = Σ_i weights_i · g_i.
    pub direction: Vec<f64>,
}

/// Why a rule has no answer for the input.
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum AggregateError {
    #[error("the gradients: {0}")]
    Gradients(String),
    #[error("--losses has {given} values but there are {tasks} gradient rows (one loss per task)")]
    LossCount { given: usize, tasks: usize },
    #[error("loss {index} is {value}; losses must be finite")]
    Loss { index: usize, value: f64 },
    #[error("{rule}: {reason}")]
    Rule { rule: &'static str, reason: String },
}

/// `rule`'s weights and direction for the gradient rows `rows` (T rows of D numbers) and the
/// tasks' losses (all 1 when not given), as at a run's first step.
pub fn aggregate(
    rule: Strategy,
    rows: &[Vec<f64>],
    losses: Option<&[f64]>,
    seed: u64,
) -> Result<Aggregation, AggregateError> {
    let gram = Gram::from_rows(rows).map_err(|e| AggregateError::Gradients(e.to_string()))?;
    let tasks = rows.len();
    let losses: Vec<f64> = match losses {
        Some(l) if l.len() != tasks => {
            return Err(AggregateError::LossCount {
                given: l.len(),
                tasks,
            });
        }
        Some(l) => l.to_vec(),
        None => vec![1.0; tasks],
    };
    if let Some((index, &value)) = losses.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(AggregateError::Loss {
            index: index + 1,
            value,
        });
    }
    let refuse = |reason: String| AggregateError::Rule {
        rule: rule.key(),
        reason,
    };
    let setup = HostSetup {
        tasks,
        seed,
        lr: 1.0,
        scale: None,
        static_weights: vec![1.0 / tasks as f64; tasks],
        dwa_temperature: 2.0,
        cagrad_c: 0.4,
    };
    let mut host = super::host_rule(rule, &setup).map_err(refuse)?;
    let weights = host
        .weights(&HostView {
            step: 0,
            losses: &losses,
            gram: Some(&gram),
        })
        .map_err(refuse)?;
    if weights.iter().any(|w| !w.is_finite()) {
        return Err(refuse(format!("its weights are not finite: {weights:?}")));
    }
    let direction = direction(rows, &weights);
    Ok(Aggregation { weights, direction })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(values: &[&[f64]]) -> Vec<Vec<f64>> {
        values.iter().map(|r| r.to_vec()).collect()
    }

    #[test]
    fn every_rule_with_a_host_form_answers_or_says_why() {
        let g = rows(&[&[1.0, 2.0, -0.5], &[-1.5, 0.4, 1.0], &[0.3, -1.2, 0.8]]);
        for rule in Strategy::all() {
            match aggregate(rule, &g, Some(&[2.0, 1.0, 0.5]), 1) {
                Ok(a) => {
                    assert_eq!(a.weights.len(), 3, "{rule}");
                    assert!(a.direction.iter().all(|x| x.is_finite()), "{rule}");
                }
                Err(e) => assert!(rule.host_refusal().is_some(), "{rule}: {e}"),
            }
        }
    }

    #[test]
    fn degenerate_inputs_get_an_answer_or_an_error_never_nan() {
        let mgda = Strategy::parse("mgda").unwrap();
        // A zero row: 0 is in the hull, so MGDA's direction is 0.
        let a = aggregate(
            mgda,
            &rows(&[&[1.0, 0.0], &[0.0, 0.0], &[0.0, 1.0]]),
            None,
            1,
        )
        .unwrap();
        assert_eq!(a.direction, vec![0.0, 0.0]);
        // Two identical rows and D = 1.
        let a = aggregate(mgda, &rows(&[&[2.0], &[2.0], &[3.0]]), None, 1).unwrap();
        assert!((a.direction[0] - 2.0).abs() < 1e-12, "{a:?}");
        // NaN and ragged rows are errors that say so.
        let nan = aggregate(mgda, &rows(&[&[1.0, f64::NAN], &[0.0, 1.0]]), None, 1);
        assert!(nan.unwrap_err().to_string().contains("non-finite"));
        let ragged = aggregate(mgda, &rows(&[&[1.0, 2.0], &[0.0]]), None, 1);
        assert!(ragged.unwrap_err().to_string().contains("row 1"));
        let one = aggregate(mgda, &rows(&[&[1.0, 2.0]]), None, 1);
        assert!(one.unwrap_err().to_string().contains("tasks"));
        let losses = aggregate(mgda, &rows(&[&[1.0], &[2.0]]), Some(&[1.0]), 1);
        assert!(matches!(losses, Err(AggregateError::LossCount { .. })));
        // Nash-MTL has no bargaining solution when two gradients are exactly opposite.
        let nash = Strategy::parse("nash-mtl").unwrap();
        let e = aggregate(nash, &rows(&[&[1.0, 0.0], &[-1.0, 0.0]]), None, 1).unwrap_err();
        assert!(e.to_string().starts_with("nash-mtl:"), "{e}");
    }
}
