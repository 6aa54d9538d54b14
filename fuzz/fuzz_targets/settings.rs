//! Fuzz the window's settings loader (settings and lesson files, or a run's config.json): any
//! bytes must give settings or an error, never a panic; loaded settings must pass validation.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok((settings, _notes)) = cari_mtl::ui::settings::Settings::from_json_text(text) {
        assert!(settings.validate().is_ok(), "loaded settings must be valid");
    }
});
