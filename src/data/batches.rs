//! Turning stored `u8` images into training batches: seeded sampling, normalisation, labels
//! and the per-modality masks of the visual and caricature losses.

use candle_core::{Device, Result, Tensor};
use rand::Rng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use super::{Dataset, Modality};

/// Pixel normalisation: (x/255 − 0.5)/0.25, so inputs are roughly zero-mean, unit-range.
pub fn normalise_pixel(x: u8) -> f32 {
    (x as f32 / 255.0 - 0.5) * 4.0
}

/// The class index of every identity (None for identities that are not trained on).
pub fn class_of_identity(dataset: &Dataset) -> Vec<Option<usize>> {
    let mut classes = vec![None; dataset.images.identities.len()];
    for (class, &identity) in dataset.splits.train_identities.iter().enumerate() {
        classes[identity] = Some(class);
    }
    classes
}

/// Draws training batches as epochs of a seeded shuffle of the training images.
#[derive(Clone, Debug)]
pub struct BatchSampler {
    order: Vec<usize>,
    position: usize,
    rng: ChaCha8Rng,
}

impl BatchSampler {
    pub fn new(train: &[usize], rng: ChaCha8Rng) -> Self {
        let mut sampler = BatchSampler {
            order: train.to_vec(),
            position: train.len(),
            rng,
        };
        sampler.refill_if_needed();
        sampler
    }

    fn refill_if_needed(&mut self) {
        if self.position >= self.order.len() {
            self.order.shuffle(&mut self.rng);
            self.position = 0;
        }
    }

    /// The next `size` sample indices (crossing epoch boundaries as needed).
    pub fn next_batch(&mut self, size: usize) -> Vec<usize> {
        let mut out = Vec::with_capacity(size);
        if self.order.is_empty() {
            return out;
        }
        while out.len() < size {
            self.refill_if_needed();
            out.push(self.order[self.position]);
            self.position += 1;
        }
        out
    }

    /// Its random generator, for draws that must follow the batch order (perturbations).
    pub fn rng(&mut self) -> &mut ChaCha8Rng {
        &mut self.rng
    }

    pub fn random_class(&mut self, classes: usize) -> usize {
        self.rng.random_range(0..classes.max(1))
    }
}

/// A batch as host data.
pub struct HostBatch {
    /// `[n, 3, s, s]` normalised pixels.
    pub pixels: Vec<f32>,
    pub size: usize,
    pub image_size: usize,
    pub modalities: Vec<Modality>,
    /// Class label per image (0 for images of identities not trained on).
    pub labels: Vec<usize>,
}

impl HostBatch {
    pub fn gather(dataset: &Dataset, indices: &[usize], classes: &[Option<usize>]) -> HostBatch {
        let s = dataset.images.image_size;
        let plane = s * s;
        let mut pixels = vec![0f32; indices.len() * 3 * plane];
        for (row, &index) in indices.iter().enumerate() {
            let hwc = dataset.images.image(index);
            let out = &mut pixels[row * 3 * plane..(row + 1) * 3 * plane];
            for p in 0..plane {
                for c in 0..3 {
                    out[c * plane + p] = normalise_pixel(hwc[p * 3 + c]);
                }
            }
        }
        HostBatch {
            pixels,
            size: indices.len(),
            image_size: s,
            modalities: indices
                .iter()
                .map(|&i| dataset.images.samples[i].modality)
                .collect(),
            labels: indices
                .iter()
                .map(|&i| classes[dataset.images.samples[i].identity].unwrap_or(0))
                .collect(),
        }
    }

    pub fn images(&self, device: &Device) -> Result<Tensor> {
        Tensor::from_slice(
            &self.pixels,
            (self.size, 3, self.image_size, self.image_size),
            device,
        )
    }

    /// 1.0 where the image is of `modality` (all ones for `None`), and how many.
    pub fn mask(&self, modality: Option<Modality>) -> (Vec<f32>, usize) {
        let mask: Vec<f32> = self
            .modalities
            .iter()
            .map(|&m| {
                if modality.is_none_or(|want| want == m) {
                    1.0
                } else {
                    0.0
                }
            })
            .collect();
        let count = mask.iter().filter(|&&x| x > 0.0).count();
        (mask, count)
    }

    /// Add N(0, σ²) noise to the images selected by `mask`.
    pub fn add_noise(&mut self, mask: &[f32], sigma: f32, rng: &mut ChaCha8Rng) {
        let per_image = 3 * self.image_size * self.image_size;
        for (row, &m) in mask.iter().enumerate() {
            if m == 0.0 {
                continue;
            }
            for x in &mut self.pixels[row * per_image..(row + 1) * per_image] {
                let noise: f32 = StandardNormal.sample(rng);
                *x += sigma * noise;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn sampler_covers_an_epoch_before_repeating_and_is_seeded() {
        let train: Vec<usize> = (0..10).collect();
        let mut a = BatchSampler::new(&train, ChaCha8Rng::seed_from_u64(3));
        let mut b = BatchSampler::new(&train, ChaCha8Rng::seed_from_u64(3));
        let first = a.next_batch(10);
        let mut sorted = first.clone();
        sorted.sort();
        assert_eq!(sorted, train);
        assert_eq!(first, b.next_batch(10));
        assert_eq!(a.next_batch(4).len(), 4);
    }

    #[test]
    fn normalisation_range() {
        assert_eq!(normalise_pixel(0), -2.0);
        assert_eq!(normalise_pixel(255), 2.0);
    }
}
