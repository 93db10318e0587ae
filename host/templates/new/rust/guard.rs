//! `{{name}}`: rejects feedback that tries to instruct the model.

use assay_sdk::guard::{Decision, Feedback, Guard, Scope};
use assay_sdk::{NoConfig, PluginInfo};

pub struct Plugin;

const PHRASE: &str = "ignore previous instructions";

/// The field of the record that contains the phrase, if any.
pub fn injected(correction: Option<&str>, comment: Option<&str>) -> Option<&'static str> {
    let hit = |text: Option<&str>| text.is_some_and(|t| t.to_lowercase().contains(PHRASE));
    if hit(correction) {
        Some("correction")
    } else if hit(comment) {
        Some("comment")
    } else {
        None
    }
}

impl Guard for Plugin {
    // NoConfig accepts only `{}`: any key is an error that names it.
    type Config = NoConfig;

    fn describe() -> PluginInfo {
        assay_sdk::plugin_info!("{{name}}", "rejects feedback that says to ignore previous instructions")
    }

    // Each decision reads the record alone, so a run may be split into
    // shards (`assay guard --shard K/N`). A guard that keeps state in `self`
    // (counts per user) leaves this out: the default is `Scope::Run`.
    fn scope() -> Scope {
        Scope::Record
    }

    fn new(_: NoConfig) -> Result<Self, String> {
        Ok(Plugin)
    }

    fn screen(&mut self, record: &Feedback) -> Result<Decision, String> {
        Ok(match injected(record.correction.as_deref(), record.comment.as_deref()) {
            Some(field) => Decision::reject(format!("the {field} says to {PHRASE}")),
            None => Decision::accept(),
        })
    }
}

assay_sdk::export_guard!(Plugin);

#[cfg(test)]
mod tests {
    use super::injected;

    #[test]
    fn finds_the_phrase_in_any_case() {
        assert_eq!(injected(None, Some("Ignore previous instructions!")), Some("comment"));
        assert_eq!(injected(Some("fine"), Some("thanks")), None);
    }
}
