//! The generator's random streams: one ChaCha8 generator per (seed, tag, …) tuple, and the
//! draws every part of the face uses.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use crate::seeded::derive_seed;

/// Domain-separation tags so the identity, name and image streams never share a seed.
pub(super) const TAG_IDENTITY: u64 = 0x1D;
pub(super) const TAG_NAMES: u64 = 0x4A3E;
pub(super) const TAG_IMAGE: u64 = 0x1A6E;

pub(super) fn rng_for(parts: &[u64]) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(derive_seed(parts))
}

/// A standard normal draw.
pub(super) fn normal(rng: &mut impl Rng) -> f32 {
    StandardNormal.sample(rng)
}

pub(super) fn uniform(rng: &mut impl Rng, lo: f32, hi: f32) -> f32 {
    lo + (hi - lo) * rng.random::<f32>()
}

/// `f32::clamp` panics when `lo > hi`, which derived bounds can produce for extreme faces.
pub(super) fn clampf(v: f32, lo: f32, hi: f32) -> f32 {
    v.max(lo).min(hi)
}
