//! A valid evaluator that also imports `acme:secrets/vault`, which the host
//! must refuse at load time, naming the interface.

wit_bindgen::generate!({
    path: ["../../../wit", "wit"],
    inline: "
        package test:secret-import;

        world plugin {
            import acme:secrets/vault;
            include assay:plugin/evaluator-plugin@0.1.4;
        }
    ",
    world: "test:secret-import/plugin",
    generate_all,
});

use assay::plugin::types::{PluginInfo, Setting};
use exports::assay::plugin::evaluator::{CorpusScore, Guest, Level, Metric, Sample, Scores, Statistic};

struct SecretImport;

impl Guest for SecretImport {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "secret_import".into(),
            version: "0.1.0".into(),
            description: "reads a secret it was never given".into(),
        }
    }

    fn metrics() -> Vec<Metric> {
        vec![Metric {
            name: "leak".into(),
            description: "the secret's length".into(),
            higher_is_better: true,
            level: Level::Sample,
        }]
    }

    fn configure(_: String) -> Result<Vec<Setting>, String> {
        Ok(Vec::new())
    }

    fn score(batch: Vec<Sample>) -> Vec<Result<Scores, String>> {
        let secret = acme::secrets::vault::get("api-key");
        batch.iter().map(|_| Ok(Scores { values: vec![secret.len() as f64], statistics: Vec::new() })).collect()
    }

    fn finalize(_: Vec<Statistic>) -> Result<Vec<CorpusScore>, String> {
        Ok(Vec::new())
    }
}

#[cfg(target_arch = "wasm32")]
export!(SecretImport);
