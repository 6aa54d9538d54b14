//! The task losses: cross-entropy over the images a task sees, and the centre loss on a branch's
//! embedding with the centres moved by the α-update (not by gradient).

use candle_core::{D, Result, Tensor};

/// Mean cross-entropy over the rows where `mask` is 1 (`mask` `[batch]` of 0/1, `count` its
/// sum). A task that sees no image in this batch has loss 0.
pub fn masked_cross_entropy(
    logits: &Tensor,
    labels: &Tensor,
    mask: &Tensor,
    count: usize,
) -> Result<Tensor> {
    let log_probs = candle_nn::ops::log_softmax(logits, D::Minus1)?;
    let picked = log_probs.gather(&labels.unsqueeze(1)?, 1)?.squeeze(1)?;
    let total = (picked * mask)?.sum_all()?;
    total.affine(-1.0 / count.max(1) as f64, 0.0)
}

/// Mean over the batch of ½‖e − c_y‖², `centres_of_batch` `[batch, dim]` holding each row's
/// class centre (a constant: centres are not trained by gradient).
pub fn centre_loss(embeddings: &Tensor, centres_of_batch: &Tensor) -> Result<Tensor> {
    let batch = embeddings.dim(0)?;
    (embeddings - centres_of_batch)?.sqr()?.sum_all()? * (0.5 / batch.max(1) as f64)
}

/// [`centre_loss`] over the rows where `mask` is 1, divided by `count` (their number): the
/// centre term of a branch that sees only photos or only caricatures. 0 when it sees none.
pub fn masked_centre_loss(
    embeddings: &Tensor,
    centres_of_batch: &Tensor,
    mask: &Tensor,
    count: usize,
) -> Result<Tensor> {
    let per_row = (embeddings - centres_of_batch)?.sqr()?.sum(1)?;
    (per_row * mask)?.sum_all()? * (0.5 / count.max(1) as f64)
}

/// The centre update of the authors' code: for each class j in the batch,
/// c_j ← c_j − (1 − α)·(c_j − mean of the batch's embeddings of class j).
pub fn update_centres(
    centres: &mut [f32],
    dim: usize,
    embeddings: &[f32],
    labels: &[usize],
    alpha: f32,
) {
    let classes = centres.len() / dim.max(1);
    let mut sums = std::collections::BTreeMap::<usize, (Vec<f32>, usize)>::new();
    for (row, &label) in labels.iter().enumerate() {
        if label >= classes {
            continue;
        }
        let entry = sums.entry(label).or_insert_with(|| (vec![0.0; dim], 0));
        for (acc, x) in entry
            .0
            .iter_mut()
            .zip(&embeddings[row * dim..(row + 1) * dim])
        {
            *acc += x;
        }
        entry.1 += 1;
    }
    for (label, (sum, count)) in sums {
        let centre = &mut centres[label * dim..(label + 1) * dim];
        for (c, s) in centre.iter_mut().zip(sum) {
            let mean = s / count as f32;
            *c -= (1.0 - alpha) * (*c - mean);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};

    #[test]
    fn masked_cross_entropy_matches_reference() {
        // Reference (python3, numpy):
        //   import numpy as np
        //   x=np.array([[1.,2.,3.],[1.,0.,0.],[0.5,0.5,2.]]); y=[2,0,1]; m=[1,0,1]
        //   lp=x-np.log(np.exp(x).sum(1,keepdims=True))
        //   print(-(lp[0,2]+lp[2,1])/2)   # 1.138294
        let dev = Device::Cpu;
        let logits = Tensor::new(&[[1f32, 2., 3.], [1., 0., 0.], [0.5, 0.5, 2.]], &dev).unwrap();
        let labels = Tensor::new(&[2u32, 0, 1], &dev).unwrap();
        let mask = Tensor::new(&[1f32, 0., 1.], &dev).unwrap();
        let loss = masked_cross_entropy(&logits, &labels, &mask, 2)
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        let lp0 = 3.0 - (1f32.exp() + 2f32.exp() + 3f32.exp()).ln();
        let lp2 = 0.5 - (0.5f32.exp() * 2.0 + 2f32.exp()).ln();
        assert!((loss + (lp0 + lp2) / 2.0).abs() < 1e-6, "{loss}");
        assert!((loss - 1.138_294).abs() < 1e-5, "{loss}");
        let none = masked_cross_entropy(&logits, &labels, &mask.zeros_like().unwrap(), 0).unwrap();
        assert_eq!(none.to_scalar::<f32>().unwrap(), 0.0);
        let _ = DType::F32;
    }

    #[test]
    fn centre_update_moves_halfway_with_alpha_half() {
        // Class 0 centre (0, 0); batch rows of class 0 at (1, 0) and (0, 1): mean (0.5, 0.5),
        // α = 0.5 → c = (0.25, 0.25). Class 1 untouched.
        let mut centres = vec![0.0, 0.0, 9.0, 9.0];
        update_centres(&mut centres, 2, &[1.0, 0.0, 0.0, 1.0], &[0, 0], 0.5);
        assert_eq!(centres, vec![0.25, 0.25, 9.0, 9.0]);
    }

    #[test]
    fn masked_centre_loss_counts_only_the_rows_seen() {
        // rows (1,0), (0,2), (3,0) against centre 0; rows 0 and 2 seen: ½(1 + 9)/2 = 2.5
        let dev = Device::Cpu;
        let e = Tensor::new(&[[1f32, 0.], [0., 2.], [3., 0.]], &dev).unwrap();
        let c = Tensor::zeros((3, 2), DType::F32, &dev).unwrap();
        let mask = Tensor::new(&[1f32, 0., 1.], &dev).unwrap();
        let loss = masked_centre_loss(&e, &c, &mask, 2).unwrap();
        assert_eq!(loss.to_scalar::<f32>().unwrap(), 2.5);
        let none = masked_centre_loss(&e, &c, &mask.zeros_like().unwrap(), 0).unwrap();
        assert_eq!(none.to_scalar::<f32>().unwrap(), 0.0);
    }

    #[test]
    fn centre_loss_value() {
        // rows (1,0) and (0,1), centres (0,0) and (0,0): ½(1 + 1)/2 = 0.5
        let dev = Device::Cpu;
        let e = Tensor::new(&[[1f32, 0.], [0., 1.]], &dev).unwrap();
        let c = Tensor::zeros((2, 2), DType::F32, &dev).unwrap();
        assert_eq!(
            centre_loss(&e, &c).unwrap().to_scalar::<f32>().unwrap(),
            0.5
        );
    }
}
