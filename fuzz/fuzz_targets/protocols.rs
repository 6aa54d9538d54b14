//! Fuzz the protocol-file parsers through the public loader: the input is split into a
//! WebCaricature View 2 pair list, C2P gallery and probe folds, a landmark file and a CaVI pair
//! list, written into small prepared trees, and both trees are loaded. Any panic is a bug;
//! errors and reported problems are fine.
#![no_main]

use cari_mtl::data::{DatasetSpec, LoadOptions, load_real};
use libfuzzer_sys::fuzz_target;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

struct Trees {
    web: PathBuf,
    cavi: PathBuf,
    cache: PathBuf,
}

fn tiny_png(path: &Path, shade: u8) {
    let img = image::RgbImage::from_pixel(12, 12, image::Rgb([shade, 100, 200]));
    img.save(path).expect("write a fixture image");
}

fn trees() -> &'static Trees {
    static TREES: OnceLock<Trees> = OnceLock::new();
    TREES.get_or_init(|| {
        let root = std::env::temp_dir().join(format!("cari-mtl-fuzz-{}", std::process::id()));
        let web = root.join("web");
        for (k, person) in ["Ada Novak", "Bo Lind", "Cy Moor"].iter().enumerate() {
            let dir = web.join("OriginalImages").join(person);
            std::fs::create_dir_all(&dir).expect("fixture folder");
            tiny_png(&dir.join("C00001.png"), 40 * k as u8);
            tiny_png(&dir.join("P00001.png"), 40 * k as u8 + 10);
            std::fs::create_dir_all(web.join("FacialPoints").join(person)).expect("fixture folder");
        }
        std::fs::create_dir_all(web.join("EvaluationProtocols/FaceVerification/Restricted"))
            .expect("fixture folder");
        std::fs::create_dir_all(web.join("EvaluationProtocols/FaceIdentification/C2P"))
            .expect("fixture folder");
        let cavi = root.join("cavi");
        for (k, person) in ["Ada", "Bo", "Cy"].iter().enumerate() {
            for (folder, tag) in [("Caricature", "c"), ("Real", "r")] {
                let dir = cavi.join("CaVI_Dataset").join(folder).join(person);
                std::fs::create_dir_all(&dir).expect("fixture folder");
                tiny_png(&dir.join(format!("{person}_{tag}_1.png")), 50 * k as u8);
            }
        }
        let cache = root.join("cache");
        Trees { web, cavi, cache }
    })
}

fuzz_target!(|data: &[u8]| {
    let t = trees();
    let text = String::from_utf8_lossy(data);
    let mut parts = text.split('\u{0}');
    let mut next = || parts.next().unwrap_or("").to_string();
    let write = |path: PathBuf, body: String| {
        let _ = std::fs::write(path, body);
    };
    write(
        t.web
            .join("EvaluationProtocols/FaceVerification/Restricted/RestrictedView2.txt"),
        next(),
    );
    write(
        t.web
            .join("EvaluationProtocols/FaceIdentification/C2P/FR_Gallery_C2P1.txt"),
        next(),
    );
    write(
        t.web
            .join("EvaluationProtocols/FaceIdentification/C2P/FR_Probe_C2P1.txt"),
        next(),
    );
    write(t.web.join("FacialPoints/Ada Novak/C00001.txt"), next());
    write(t.cavi.join("CaVI_Dataset/pairs.txt"), next());
    let options = LoadOptions {
        image_size: 16,
        cache_dir: Some(t.cache.clone()),
        use_cache: false,
        ..LoadOptions::default()
    };
    let _ = load_real(
        &DatasetSpec::WebCaricature(t.web.clone()),
        &options,
        &|_| {},
    );
    let _ = load_real(&DatasetSpec::Cavi(t.cavi.clone()), &options, &|_| {});
});
