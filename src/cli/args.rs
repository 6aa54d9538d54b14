//! Parsing helpers shared by the subcommands' arguments.

use anyhow::{Result, bail};

/// Parses a comma-separated list of finite numbers such as `"2,1,0.5"` (spaces allowed) for the
/// command-line option `option`; errors name the option and the item.
pub fn parse_list(option: &str, text: &str) -> Result<Vec<f64>> {
    if text.trim().is_empty() {
        bail!("{option}: empty list; expected comma-separated numbers such as 2,1,0.5");
    }
    text.split(',')
        .enumerate()
        .map(|(i, item)| {
            let item = item.trim();
            if item.is_empty() {
                bail!(
                    "{option}: item {} is empty (stray comma?) in `{text}`",
                    i + 1
                );
            }
            let Ok(value) = item.parse::<f64>() else {
                bail!("{option}: item {} `{item}` is not a number", i + 1);
            };
            if !value.is_finite() {
                bail!("{option}: item {} `{item}` is not finite", i + 1);
            }
            Ok(value)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_and_their_errors() {
        assert_eq!(
            parse_list("--losses", "2,1,0.5").unwrap(),
            vec![2.0, 1.0, 0.5]
        );
        assert_eq!(
            parse_list("--losses", " 2 , 1e-1 ").unwrap(),
            vec![2.0, 0.1]
        );
        let m = parse_list("--rates", "0.1,x").unwrap_err().to_string();
        assert!(
            m.contains("--rates") && m.contains("item 2") && m.contains("`x`"),
            "{m}"
        );
        let m = parse_list("--floors", "").unwrap_err().to_string();
        assert!(m.contains("--floors") && m.contains("empty"), "{m}");
        let m = parse_list("--floors", "1,,2").unwrap_err().to_string();
        assert!(m.contains("item 2 is empty"), "{m}");
        let m = parse_list("--losses", "1,inf").unwrap_err().to_string();
        assert!(m.contains("not finite"), "{m}");
    }
}
