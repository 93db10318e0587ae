//! What a plugin may hand back, and how much of it.
//!
//! Everything a plugin says is untrusted data: names become keys of result
//! files and columns of tables, messages reach terminals and CI files, and
//! statistics are kept by the host until the end of a run. Each is bounded
//! here, at the boundary, once for every caller. A plugin that passes a
//! bound gets an `invalid-output` failure that names the bound; the host
//! never truncates an answer and calls it a success. SECURITY.md lists every
//! bound and what a breach costs the plugin.

use std::collections::BTreeSet;

use crate::failure::{Failure, clip};
use crate::plugin::{Info, MetricInfo, MetricLevel};

/// The most metrics a plugin may declare; each is a column of every line of
/// `samples.jsonl` and a row of every table.
pub const MAX_METRICS: usize = 256;
/// The longest name of a plugin or a metric, in bytes.
pub const MAX_NAME_BYTES: usize = 128;
/// The longest version, in bytes: it is in every metric's signature.
pub const MAX_VERSION_BYTES: usize = 64;
/// The longest description of a plugin or a metric, in bytes.
pub const MAX_DESCRIPTION_BYTES: usize = 4096;
/// The longest message a plugin may give: an error of any call, or a guard's
/// reason. Each is written beside its record, so it is short.
pub const MAX_MESSAGE_BYTES: usize = 4096;
/// The most settings `configure` may report; they are in every signature.
pub const MAX_SETTINGS: usize = 32;
/// The longest key or value of a setting, in bytes.
pub const MAX_SETTING_BYTES: usize = 256;
/// The longest statistic name, or name of a family member from `finalize`.
/// Such names carry data (a class label), so they are longer than metric names.
pub const MAX_STATISTIC_NAME_BYTES: usize = 256;
/// The most distinct statistic names of one plugin, in one call and in a
/// whole run: the host keeps one sum per name until the run ends.
pub const MAX_STATISTIC_NAMES: usize = 32_768;
/// The most corpus values (family members included) one `finalize` may give.
pub const MAX_CORPUS_VALUES: usize = 65_536;

/// A plugin's own error message, or an `invalid-output` failure when it is
/// longer than [`MAX_MESSAGE_BYTES`].
pub(crate) fn plugin_error(message: String, context: &str) -> Failure {
    match message_within_bounds(&message, "an error message") {
        Ok(()) if context.is_empty() => Failure::PluginError(message),
        Ok(()) => Failure::PluginError(format!("{context}: {message}")),
        Err(failure) => failure,
    }
}

/// Checks the length of one message (an error or a reason).
pub(crate) fn message_within_bounds(message: &str, what: &str) -> Result<(), Failure> {
    if message.len() <= MAX_MESSAGE_BYTES {
        return Ok(());
    }
    Err(Failure::InvalidOutput(format!(
        "gave {what} of {} bytes, over the {MAX_MESSAGE_BYTES} byte limit; it begins {:?}",
        message.len(),
        clip(message, 64)
    )))
}

/// Checks the settings `configure` reported: they are repeated in every
/// metric's signature, so there are few and they are short.
pub(crate) fn check_settings(settings: &[(String, String)]) -> Result<(), Failure> {
    if settings.len() > MAX_SETTINGS {
        return Err(Failure::InvalidOutput(format!(
            "`configure` reported {} settings; the most is {MAX_SETTINGS}",
            settings.len()
        )));
    }
    for (key, value) in settings {
        let long = key.len().max(value.len());
        if long > MAX_SETTING_BYTES || key.is_empty() || key.chars().chain(value.chars()).any(char::is_control) {
            return Err(Failure::InvalidOutput(format!(
                "`configure` reported the setting {:?}: keys and values are 1 to {MAX_SETTING_BYTES} bytes \
                 without control characters",
                clip(key, 64)
            )));
        }
    }
    Ok(())
}

/// Checks the statistic names of one call: each non-empty and at most
/// [`MAX_STATISTIC_NAME_BYTES`], and at most [`MAX_STATISTIC_NAMES`] distinct.
pub(crate) fn check_statistic_names<'a>(names: impl Iterator<Item = &'a str> + Clone) -> Result<(), Failure> {
    let mut count = 0;
    for name in names.clone() {
        count += 1;
        if name.is_empty() || name.len() > MAX_STATISTIC_NAME_BYTES {
            return Err(Failure::InvalidOutput(format!(
                "gave a statistic name of {} bytes; names are 1 to {MAX_STATISTIC_NAME_BYTES} bytes",
                name.len()
            )));
        }
    }
    // Most calls give far fewer statistics than the bound, so only a call
    // that could pass it pays for counting distinct names.
    if count > MAX_STATISTIC_NAMES {
        let distinct = names.collect::<std::collections::HashSet<_>>().len();
        if distinct > MAX_STATISTIC_NAMES {
            return Err(statistic_names_exceeded(distinct, "one call"));
        }
    }
    Ok(())
}

/// The failure of a plugin that gave more than [`MAX_STATISTIC_NAMES`]
/// distinct statistic names over `span` ("one call", "the run").
pub fn statistic_names_exceeded(distinct: usize, span: &str) -> Failure {
    Failure::InvalidOutput(format!(
        "gave {distinct} distinct statistic names in {span}, over the limit of {MAX_STATISTIC_NAMES}"
    ))
}

/// Checks the number of corpus values of one `finalize` and their names'
/// lengths; that each is declared and finite is the caller's check.
pub(crate) fn check_corpus_values(values: &[(String, f64)]) -> Result<(), Failure> {
    if values.len() > MAX_CORPUS_VALUES {
        return Err(Failure::InvalidOutput(format!(
            "`finalize` returned {} values; the most is {MAX_CORPUS_VALUES}",
            values.len()
        )));
    }
    if let Some((name, _)) = values.iter().find(|(name, _)| name.len() > MAX_STATISTIC_NAME_BYTES) {
        return Err(Failure::InvalidOutput(format!(
            "`finalize` returned a name of {} bytes, over the {MAX_STATISTIC_NAME_BYTES} byte limit; it begins {:?}",
            name.len(),
            clip(name, 64)
        )));
    }
    Ok(())
}

/// Checks what `describe` and `metrics` said against the contract and the
/// host's bounds. Names become keys of result files and columns of tables, so
/// they are identifiers; everything a plugin says is bounded, because names
/// and versions are repeated on every line and in every signature.
pub(crate) fn check_description(info: &Info, metrics: &[MetricInfo]) -> Result<(), String> {
    let name_chars = |name: &str, extra: &str| name.chars().all(|c| c.is_ascii_alphanumeric() || extra.contains(c));
    if info.name.is_empty() || info.name.len() > MAX_NAME_BYTES || !name_chars(&info.name, "_-") {
        return Err(format!(
            "`describe` gave the name {:?}: use 1 to {MAX_NAME_BYTES} letters, digits, `_` and `-`",
            clip(&info.name, MAX_NAME_BYTES)
        ));
    }
    if info.version.len() > MAX_VERSION_BYTES || info.version.chars().any(char::is_control) {
        return Err(format!(
            "`describe` gave a version of {} bytes or with control characters; the most is {MAX_VERSION_BYTES}",
            info.version.len()
        ));
    }
    if info.description.len() > MAX_DESCRIPTION_BYTES {
        return Err(format!(
            "`describe` gave a description of {} bytes; the most is {MAX_DESCRIPTION_BYTES}",
            info.description.len()
        ));
    }
    if metrics.len() > MAX_METRICS {
        return Err(format!("`metrics` declared {} metrics; the most is {MAX_METRICS}", metrics.len()));
    }
    let mut seen = BTreeSet::new();
    for metric in metrics {
        let name = clip(&metric.name, MAX_NAME_BYTES);
        if metric.name.is_empty() || metric.name.len() > MAX_NAME_BYTES || !name_chars(&metric.name, "_-.[]*") {
            return Err(format!(
                "metric name {name:?}: use 1 to {MAX_NAME_BYTES} letters, digits, `_`, `-`, `.`, `[`, `]` and `*`"
            ));
        }
        if !seen.insert(metric.name.as_str()) {
            return Err(format!("metric name {name:?} is declared twice"));
        }
        if metric.name.contains('*') && (metric.level == MetricLevel::Sample || metric.name.matches('*').count() > 1) {
            return Err(format!("metric {name:?}: only corpus-level names may declare a family, with a single `*`"));
        }
        if metric.description.len() > MAX_DESCRIPTION_BYTES {
            return Err(format!(
                "metric {name:?} has a description of {} bytes; the most is {MAX_DESCRIPTION_BYTES}",
                metric.description.len()
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_are_bounded_and_names_are_identifiers() {
        let info =
            |name: &str, version: &str| Info { name: name.into(), version: version.into(), description: String::new() };
        let metric = |name: &str, level| MetricInfo {
            name: name.into(),
            description: String::new(),
            higher_is_better: true,
            level,
        };
        let ok = info("rouge", "0.1.0");
        let fine = [
            metric("rougeL_f", MetricLevel::Sample),
            metric("f1[*]", MetricLevel::Corpus),
            metric("p.1", MetricLevel::Sample),
        ];
        assert_eq!(check_description(&ok, &fine), Ok(()));
        let refused = |info: &Info, metrics: &[MetricInfo]| check_description(info, metrics).unwrap_err();
        assert!(refused(&info("a b", "1"), &[]).contains("the name \"a b\""));
        assert!(refused(&info("p", &"9".repeat(65)), &[]).contains("version of 65 bytes"));
        assert!(refused(&info("p", "1\u{1b}[2J"), &[]).contains("control characters"));
        assert!(refused(&ok, &[metric("| forged\n## heading", MetricLevel::Sample)]).contains("letters, digits"));
        assert!(refused(&ok, &[metric(&"m".repeat(129), MetricLevel::Sample)]).contains("1 to 128"));
        assert!(refused(&ok, &[metric("f1[*]", MetricLevel::Sample)]).contains("family"));
        assert!(refused(&ok, &[metric("a", MetricLevel::Sample), metric("a", MetricLevel::Corpus)]).contains("twice"));
        let many: Vec<MetricInfo> = (0..257).map(|i| metric(&format!("m{i}"), MetricLevel::Sample)).collect();
        assert!(refused(&ok, &many).contains("declared 257 metrics"));
        let wordy = MetricInfo { description: "x".repeat(4097), ..metric("m", MetricLevel::Sample) };
        assert!(refused(&ok, &[wordy]).contains("description of 4097 bytes"));
    }

    #[test]
    fn answers_past_a_bound_are_invalid_output_naming_it() {
        let kind = |failure: Failure| (failure.kind(), failure.to_string());
        assert_eq!(
            plugin_error("no".into(), "rejected its configuration").to_string(),
            "rejected its configuration: no"
        );
        let (k, message) = kind(plugin_error("x".repeat(MAX_MESSAGE_BYTES + 1), ""));
        assert_eq!(k, "invalid-output");
        assert!(message.contains("4097 bytes, over the 4096 byte limit") && message.len() < 200, "{message}");
        assert!(message_within_bounds(&"x".repeat(MAX_MESSAGE_BYTES), "a reason").is_ok());

        let setting = |k: &str, v: &str| (k.to_string(), v.to_string());
        assert!(check_settings(&[setting("stemmer", "true")]).is_ok());
        assert!(check_settings(&[setting("k", "a\u{1b}[2J")]).is_err());
        assert!(check_settings(&[setting("k", &"v".repeat(257))]).is_err());
        assert!(check_settings(&vec![setting("k", "v"); MAX_SETTINGS + 1]).is_err());

        assert!(check_statistic_names(["a", "b"].into_iter()).is_ok());
        assert!(check_statistic_names([""].into_iter()).is_err());
        let long = "s".repeat(MAX_STATISTIC_NAME_BYTES + 1);
        assert!(check_statistic_names([long.as_str()].into_iter()).is_err());
        let names: Vec<String> = (0..=MAX_STATISTIC_NAMES).map(|i| i.to_string()).collect();
        let (k, message) = kind(check_statistic_names(names.iter().map(String::as_str)).unwrap_err());
        assert_eq!(k, "invalid-output");
        assert!(message.contains("32769 distinct statistic names in one call"), "{message}");
        let repeated = vec!["same"; MAX_STATISTIC_NAMES * 2];
        assert!(check_statistic_names(repeated.into_iter()).is_ok(), "the bound is on distinct names");

        let values: Vec<(String, f64)> = (0..=MAX_CORPUS_VALUES).map(|i| (format!("f1[{i}]"), 0.0)).collect();
        assert!(check_corpus_values(&values).unwrap_err().to_string().contains("65537 values"));
        assert!(check_corpus_values(&values[..10]).is_ok());
        assert!(check_corpus_values(&[(format!("f1[{long}]"), 0.0)]).is_err());
    }
}
