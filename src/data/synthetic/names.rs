//! Readable unique identity names (first name and a two-part surname).

use super::random::TAG_NAMES;
use super::random::rng_for;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::collections::HashSet;

pub(super) const FIRST_NAMES: [&str; 48] = [
    "Ada", "Bruno", "Clara", "Dmitri", "Elena", "Felix", "Greta", "Hugo", "Ines", "Jonas", "Kira",
    "Leon", "Mira", "Nico", "Olga", "Pavel", "Rosa", "Sven", "Tara", "Uma", "Viktor", "Wanda",
    "Yara", "Zeno", "Alma", "Boris", "Cora", "Dario", "Edda", "Filip", "Gaia", "Hanna", "Ivo",
    "Jana", "Kasimir", "Lena", "Milo", "Nadia", "Otto", "Petra", "Rafael", "Selma", "Timo",
    "Ursula", "Vera", "Wim", "Xenia", "Yusuf",
];
pub(super) const SURNAME_HEADS: [&str; 18] = [
    "No", "Ka", "Ber", "Lin", "Mar", "Sol", "Da", "Vel", "Ro", "Te", "Bran", "Has", "Kor", "Mi",
    "Pe", "Stra", "Vo", "Zel",
];
pub(super) const SURNAME_TAILS: [&str; 16] = [
    "vak", "ren", "ski", "dal", "berg", "ova", "lund", "tic", "mann", "nez", "ani", "rov", "sen",
    "vic", "kas", "dero",
];

/// Readable unique names drawn in identity order from one seeded stream.
pub(super) fn identity_names(seed: u64, n: usize) -> Vec<String> {
    let mut rng = rng_for(&[seed, TAG_NAMES]);
    let mut seen = HashSet::with_capacity(n);
    let mut names = Vec::with_capacity(n);
    for _ in 0..n {
        let draw = |rng: &mut ChaCha8Rng| {
            format!(
                "{} {}{}",
                FIRST_NAMES[rng.random_range(0..FIRST_NAMES.len())],
                SURNAME_HEADS[rng.random_range(0..SURNAME_HEADS.len())],
                SURNAME_TAILS[rng.random_range(0..SURNAME_TAILS.len())]
            )
        };
        // 13 824 combinations: retries almost always find a fresh one; past that, number it.
        let mut name = draw(&mut rng);
        for _ in 0..16 {
            if !seen.contains(&name) {
                break;
            }
            name = draw(&mut rng);
        }
        let base = name.clone();
        let mut suffix = 2;
        while seen.contains(&name) {
            name = format!("{base} {suffix}");
            suffix += 1;
        }
        seen.insert(name.clone());
        names.push(name);
    }
    names
}
