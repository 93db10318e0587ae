//! What the sandbox gives a plugin through each interface it may import.
//!
//! One table both enforces and explains: loading refuses a component that
//! imports anything not listed here, and `assay inspect` prints each row a
//! plugin uses, with the setting (if any) that grants more. There is no
//! second list to drift from this one.

/// What the sandbox gives a plugin through an interface it imports, and the
/// configuration key, if any, that gives it more.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Capability {
    /// What the plugin gets without any grant.
    pub default: &'static str,
    /// The configuration that grants more, when something can.
    pub grant: Option<&'static str>,
}

const fn provides(default: &'static str, grant: Option<&'static str>) -> Capability {
    Capability { default, grant }
}

const REAL_CLOCK: Option<&str> = Some("[run] real_clock = true (the run is then not reproducible)");

/// The interfaces a plugin may import, by name prefix: the WASI 0.2
/// interfaces that language toolchains link by default, and the contract's
/// types. Linking one grants nothing by itself. Sockets in particular are
/// linked, because Rust's std and componentize-py import them whether or not
/// a plugin opens a connection, but no configuration enables them: refusing
/// them would refuse most components for code they never run.
const PROVIDED_IMPORTS: &[(&str, Capability)] = &[
    ("wasi:cli/environment@0.2", provides("no environment variables, no arguments", None)),
    ("wasi:cli/exit@0.2", provides("exiting ends the call as a trap", None)),
    ("wasi:cli/stdin@0.2", provides("an empty input", None)),
    ("wasi:cli/stdout@0.2", provides("the plugin's log, as stderr: shown by `assay run -v` and `assay test`", None)),
    (
        "wasi:cli/stderr@0.2",
        provides("the plugin's log, kept up to limits.max_log_bytes per call and quoted in the plugin's errors", None),
    ),
    ("wasi:cli/terminal-", provides("no terminal", None)),
    ("wasi:io/", provides("streams and polling over what the other interfaces give", None)),
    ("wasi:clocks/wall-clock@0.2", provides("a clock stopped at 2000-01-01T00:00:00Z", REAL_CLOCK)),
    (
        "wasi:clocks/monotonic-clock@0.2",
        provides("a clock that never advances; sleeping waits, under the call's deadline", REAL_CLOCK),
    ),
    (
        "wasi:filesystem/",
        provides("no files at all", Some("[plugins.NAME] grants = [\"HOST_DIR:GUEST_PATH\"] (read-only)")),
    ),
    ("wasi:random/", provides("numbers from [run] seed, reseeded before every call", None)),
    ("wasi:sockets/", provides("linked, every operation denied; no setting grants network access", None)),
    ("assay:plugin/types@0.1", provides("the contract's shared types", None)),
    (
        "assay:plugin/model@0.1",
        provides(
            "no model: every request fails `not-granted`",
            Some(
                "[plugins.NAME] models = [\"ALIAS\"] with a [models.ALIAS] table (the eval set's text is then sent \
                 to that provider; the key stays with the host)",
            ),
        ),
    ),
];

/// What the sandbox gives through `import`, or `None` when it does not
/// provide that interface (and refuses components that import it).
pub fn capability(import: &str) -> Option<Capability> {
    PROVIDED_IMPORTS.iter().find(|(prefix, _)| import.starts_with(prefix)).map(|(_, capability)| *capability)
}

/// Said of an interface the sandbox does not provide.
pub(crate) const NOT_PROVIDED: &str = "; no setting grants it: a plugin may import only the WASI 0.2 interfaces \
    (wasi:cli, wasi:clocks, wasi:filesystem, wasi:io, wasi:random, wasi:sockets), assay:plugin/types and \
    assay:plugin/model; \
    `assay inspect` lists what each gives";
