//! `assay new`: a plugin project that builds as generated, in Rust, Python
//! or JavaScript, from the templates in host/templates/new.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};

use assay_runtime::Kind;

#[derive(Args)]
pub struct NewArgs {
    /// What the plugin is.
    #[arg(value_enum)]
    kind: NewKind,
    /// The plugin's name: lowercase letters, digits and `_`, starting with a letter.
    name: String,
    /// The language of the project.
    #[arg(long, value_enum)]
    lang: Lang,
    /// Where to create the project. Default: ./NAME.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// The Assay Rust SDK (plugins/sdk of an Assay checkout), for --lang rust.
    /// Default: the SDK of the checkout this binary was built from.
    #[arg(long, value_name = "DIR")]
    sdk_path: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
enum NewKind {
    Evaluator,
    Guard,
}

#[derive(Clone, Copy, ValueEnum)]
enum Lang {
    Rust,
    Python,
    Js,
}

/// The contract, for projects whose toolchain reads WIT (the Rust SDK carries its own).
const WIT: &str = include_str!("../../../wit/assay.wit");

macro_rules! template {
    ($path:literal) => {
        include_str!(concat!("../../templates/new/", $path))
    };
}

/// The files of a project: path in the project, template text.
fn files(kind: Kind, lang: Lang, name: &str) -> Vec<(String, &'static str)> {
    let evaluator = kind == Kind::Evaluator;
    let pick = |evaluator_text, guard_text| if evaluator { evaluator_text } else { guard_text };
    let mut files = vec![
        ("README.md".to_string(), template!("README.md")),
        (".gitignore".to_string(), template!("gitignore")),
        ("cases.jsonl".to_string(), pick(template!("evaluator.cases.jsonl"), template!("guard.cases.jsonl"))),
    ];
    files.extend(match lang {
        Lang::Rust => vec![
            ("Cargo.toml".into(), template!("rust/Cargo.toml")),
            ("build.sh".into(), template!("rust/build.sh")),
            ("src/lib.rs".into(), pick(template!("rust/evaluator.rs"), template!("rust/guard.rs"))),
        ],
        Lang::Python => vec![
            ("build.sh".into(), template!("python/build.sh")),
            ("app.py".into(), pick(template!("python/evaluator_app.py"), template!("python/guard_app.py"))),
            ("logic.py".into(), pick(template!("python/evaluator_logic.py"), template!("python/guard_logic.py"))),
            ("test_logic.py".into(), pick(template!("python/evaluator_test.py"), template!("python/guard_test.py"))),
        ],
        Lang::Js => vec![
            ("build.sh".into(), template!("js/build.sh")),
            ("package.json".into(), template!("js/package.json")),
            ("errors.js".into(), template!("js/errors.js")),
            ("componentize-cache.mjs".into(), template!("js/componentize-cache.mjs")),
            (format!("{name}.js"), pick(template!("js/evaluator.js"), template!("js/guard.js"))),
            (format!("test/{name}.test.js"), pick(template!("js/evaluator.test.js"), template!("js/guard.test.js"))),
        ],
    });
    if !matches!(lang, Lang::Rust) {
        files.push(("wit/assay.wit".into(), WIT));
    }
    files
}

pub fn new(args: NewArgs) -> Result<()> {
    let name = &args.name;
    let mut chars = name.chars();
    if !(chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
    {
        bail!(
            "{name:?}: a plugin name is lowercase letters, digits and `_`, starting with a letter (it names a Rust crate, a Python module and a file)"
        );
    }
    let kind = match args.kind {
        NewKind::Evaluator => Kind::Evaluator,
        NewKind::Guard => Kind::Guard,
    };
    let dir = args.dir.clone().unwrap_or_else(|| PathBuf::from(name));
    if dir.read_dir().is_ok_and(|mut entries| entries.next().is_some()) {
        bail!("{}: exists and is not empty; choose another --dir", dir.display());
    }
    let sdk_path = match args.lang {
        Lang::Rust => sdk_path(args.sdk_path.as_deref())?,
        _ => String::new(),
    };
    let (language, wit_note) = match args.lang {
        Lang::Rust => ("Rust", "the SDK, assay-sdk, carries the WIT"),
        Lang::Python => ("Python", "`wit/assay.wit` is a copy of it"),
        Lang::Js => ("JavaScript", "`wit/assay.wit` is a copy of it"),
    };
    let (world, run_line, record) = match kind {
        Kind::Evaluator => ("evaluator-plugin", format!("assay run EVAL_SET.jsonl -e {name}.wasm"), "sample"),
        Kind::Guard => ("guard-plugin", format!("assay guard FEEDBACK.jsonl -g {name}.wasm -o out"), "feedback record"),
    };
    for (path, template) in files(kind, args.lang, name) {
        // The packaging step is the same in every build script: one copy.
        let text = template
            .replace("{{package_step}}\n", template!("package.sh"))
            .replace("{{name}}", name)
            .replace("{{world}}", world)
            .replace("{{kind}}", &kind.to_string())
            .replace("{{language}}", language)
            .replace("{{wit_note}}", wit_note)
            .replace("{{record}}", record)
            .replace("{{run_line}}", &run_line)
            .replace("{{sdk_path}}", &sdk_path);
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().expect("a file in the project"))
            .with_context(|| format!("creating {}", dir.display()))?;
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        if path.extension().is_some_and(|e| e == "sh") {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
        }
    }
    println!("created the {language} {kind} {name} in {}; build it with {}/build.sh", dir.display(), dir.display());
    Ok(())
}

/// The SDK folder as TOML string text (escaped for a `path = "..."` value).
fn sdk_path(given: Option<&Path>) -> Result<String> {
    let built_from = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../plugins/sdk"));
    let path = given.unwrap_or(built_from);
    let path = path.canonicalize().with_context(|| {
        format!(
            "the Assay SDK is not at {}: pass --sdk-path PATH/TO/assay/plugins/sdk (it is not on crates.io)",
            path.display()
        )
    })?;
    if !path.join("Cargo.toml").is_file() {
        bail!("{}: no Cargo.toml, so not the Assay SDK (plugins/sdk of an Assay checkout)", path.display());
    }
    let text = path.to_str().context("the SDK path is not UTF-8")?;
    Ok(text.replace('\\', "\\\\").replace('"', "\\\""))
}
