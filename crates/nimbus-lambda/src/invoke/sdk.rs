//! The AWS SDK inside functions. AWS's managed runtimes include one: boto3/botocore in the
//! Python runtimes, the AWS SDK for JavaScript v3 (`@aws-sdk/*`) in Node.js 18 and later. Code
//! deployed without it (CDK's NodejsFunction and most esbuild setups mark it external) imports
//! it from the runtime. Nimbus installs it from the package registries (pip, npm) into its own
//! cache folder, never into the user's project, and puts it on the module path where AWS's
//! `/var/runtime` is: after the code and the layers, so a copy bundled with the function wins.
//!
//! What a function needs is read from its code: a Python function whose files mention
//! boto3/botocore gets the Python SDK; a Node.js function gets each `@aws-sdk/*` package its
//! files import (AWS's image holds every client, which is hundreds of megabytes; installing the
//! ones in use keeps the first start short). The first start that needs a missing package
//! installs it (one progress line on stderr) and waits for it; `nimbus runtimes install` does
//! the same ahead of time.

use std::collections::{BTreeSet, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use nimbus_core::AwsError;
use regex::bytes::Regex;
use sha2::Digest;

/// One SDK release, shared by the runtimes that include it.
#[derive(Debug)]
pub struct Sdk {
    /// Its folder under `<cache>/sdk/`.
    pub dir: &'static str,
    pub kind: Kind,
}

#[derive(Debug)]
pub enum Kind {
    /// pip packages at exact versions: the whole dependency closure (installed with `--no-deps`).
    Python { packages: &'static [(&'static str, &'static str)] },
    /// npm packages of the `@aws-sdk` scope, all of one release: the clients and libraries
    /// released in step get `version` exactly, every other package (and every transitive
    /// dependency) the version the registry had at `before`, so the tree is reproducible.
    Node { version: &'static str, before: &'static str, common: &'static [&'static str] },
}

/// boto3 and its closure, at the botocore release nimbus's models are generated from.
pub static PYTHON_SDK: Sdk = Sdk {
    dir: "python/boto3-1.44.8",
    kind: Kind::Python {
        packages: &[
            ("boto3", "1.44.8"),
            ("botocore", "1.44.8"),
            ("s3transfer", "0.19.3"),
            ("jmespath", "1.1.0"),
            ("python-dateutil", "2.9.0.post0"),
            ("six", "1.17.0"),
            ("urllib3", "2.8.0"),
        ],
    },
};

/// The AWS SDK for JavaScript v3, release 3.1178.0 (published 2026-11-25).
pub static NODE_SDK: Sdk = Sdk {
    dir: "nodejs/aws-sdk-3.1178.0",
    kind: Kind::Node {
        version: "3.1178.0",
        before: "2026-11-26T00:00:00Z",
        // What `nimbus runtimes install nodejs…` installs when no package is named: the clients
        // of the services nimbus emulates that functions call most.
        common: &[
            "@aws-sdk/client-dynamodb",
            "@aws-sdk/lib-dynamodb",
            "@aws-sdk/client-s3",
            "@aws-sdk/client-sqs",
            "@aws-sdk/client-sns",
            "@aws-sdk/client-lambda",
            "@aws-sdk/client-sts",
            "@aws-sdk/client-secrets-manager",
            "@aws-sdk/client-ssm",
            "@aws-sdk/client-eventbridge",
            "@aws-sdk/client-kinesis",
            "@aws-sdk/client-kms",
            "@aws-sdk/client-cloudwatch-logs",
        ],
    },
};

/// The SDK each runtime includes on AWS. AWS's runtime pages no longer give one version per
/// runtime (it moves with runtime updates and differs by Region), so nimbus pins one release
/// per language here; the README says which. Python runtimes before 3.10 and Node.js runtimes
/// before 18 are deprecated (and botocore 1.44 needs Python 3.10).
pub const TABLE: &[(&str, &Sdk)] = &[
    ("python3.10", &PYTHON_SDK),
    ("python3.11", &PYTHON_SDK),
    ("python3.12", &PYTHON_SDK),
    ("python3.13", &PYTHON_SDK),
    ("python3.14", &PYTHON_SDK),
    ("python3.15", &PYTHON_SDK),
    ("nodejs18.x", &NODE_SDK),
    ("nodejs20.x", &NODE_SDK),
    ("nodejs22.x", &NODE_SDK),
    ("nodejs24.x", &NODE_SDK),
    ("nodejs26.x", &NODE_SDK),
];

/// The SDK a runtime includes, if any.
pub fn for_runtime(runtime: &str) -> Option<&'static Sdk> {
    TABLE.iter().find(|(r, _)| *r == runtime).map(|(_, sdk)| *sdk)
}

/// `what` for messages: `boto3 1.44.8, botocore 1.44.8, …` or `@aws-sdk/* 3.1178.0`.
pub fn describe(sdk: &Sdk) -> String {
    match &sdk.kind {
        Kind::Python { packages } => {
            packages[..2].iter().map(|(p, v)| format!("{p} {v}")).collect::<Vec<_>>().join(", ")
        }
        Kind::Node { version, .. } => format!("AWS SDK for JavaScript v3 {version}"),
    }
}

/// Nimbus's cache folder: `NIMBUS_CACHE_DIR`, else `$XDG_CACHE_HOME/nimbus`, else
/// `~/.cache/nimbus`.
pub fn default_cache_dir() -> PathBuf {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    var("NIMBUS_CACHE_DIR")
        .or_else(|| var("XDG_CACHE_HOME").map(|d| d.join("nimbus")))
        .or_else(|| var("HOME").map(|d| d.join(".cache/nimbus")))
        .unwrap_or_else(|| std::env::temp_dir().join("nimbus-cache"))
}

/// An `@aws-sdk` package name as a user may write it (`client-sqs` or `@aws-sdk/client-sqs`).
pub fn normalize_package(name: &str) -> Option<String> {
    let bare = name.strip_prefix("@aws-sdk/").unwrap_or(name);
    static NAME: LazyLock<regex::Regex> =
        LazyLock::new(|| regex::Regex::new(r"^[a-z0-9](?:[a-z0-9._-]*[a-z0-9])?$").expect("regex"));
    NAME.is_match(bare).then(|| format!("@aws-sdk/{bare}"))
}

/// Installed SDKs under `<cache>/sdk`, and what each function's code needs.
#[derive(Debug)]
pub struct Sdks {
    root: PathBuf,
    /// What a code folder pair (task, opt) needs, read once: code folders never change (hot
    /// reload folders are read again on every start).
    needs: parking_lot::Mutex<HashMap<(PathBuf, PathBuf), Vec<String>>>,
}

/// Written into a Python SDK folder once every package is in place.
const PYTHON_READY: &str = ".nimbus-sdk";
const INSTALL_TIMEOUT: Duration = Duration::from_secs(600);

impl Sdks {
    pub fn new(cache_dir: &Path) -> Sdks {
        Sdks { root: cache_dir.join("sdk"), needs: Default::default() }
    }

    /// The folder an SDK is installed in.
    pub fn dir(&self, sdk: &Sdk) -> PathBuf {
        self.root.join(sdk.dir)
    }

    /// The folder that goes on the module path (`PYTHONPATH` entry or `NODE_PATH` entry).
    pub fn module_path(&self, sdk: &Sdk) -> PathBuf {
        match sdk.kind {
            Kind::Python { .. } => self.dir(sdk),
            Kind::Node { .. } => self.dir(sdk).join("node_modules"),
        }
    }

    /// Before an environment of `runtime` starts: install what its code imports from the SDK
    /// and the cache lacks (the start waits), and return the folder to put on its module path
    /// (`None` when the runtime includes no SDK).
    pub async fn prepare(
        &self,
        runtime: &str,
        interpreter: &Path,
        task: &Path,
        opt: &Path,
        code_is_fixed: bool,
    ) -> Result<Option<PathBuf>, AwsError> {
        let Some(sdk) = for_runtime(runtime) else { return Ok(None) };
        let key = (task.to_path_buf(), opt.to_path_buf());
        let cached = if code_is_fixed { self.needs.lock().get(&key).cloned() } else { None };
        let needs = match cached {
            Some(needs) => needs,
            None => {
                let (sdk_kind, task, opt) = (&sdk.kind, task.to_path_buf(), opt.to_path_buf());
                let needs = match sdk_kind {
                    Kind::Python { .. } => {
                        tokio::task::spawn_blocking(move || python_needs(&task, &opt)).await.unwrap_or_default()
                    }
                    Kind::Node { .. } => {
                        tokio::task::spawn_blocking(move || node_needs(&task, &opt)).await.unwrap_or_default()
                    }
                };
                if code_is_fixed {
                    self.needs.lock().insert(key, needs.clone());
                }
                needs
            }
        };
        let path = self.module_path(sdk);
        if needs.is_empty() || self.missing(sdk, Some(interpreter), &needs).is_empty() {
            return Ok(Some(path));
        }
        let (root, interpreter) = (self.root.clone(), interpreter.to_path_buf());
        let result = tokio::task::spawn_blocking(move || install(&root, sdk, Some(&interpreter), &needs, true))
            .await
            .unwrap_or_else(|e| Err(format!("the installer stopped: {e}")));
        result.map_err(|reason| {
            AwsError::new(
                502,
                "InvalidRuntimeException",
                format!(
                    "nimbus could not install the AWS SDK that the {runtime} runtime includes ({}) into {}: {reason}. Check that the package registry can be reached and run `nimbus runtimes install {runtime}`, or bundle the SDK with the function's code.",
                    describe(sdk),
                    self.dir(sdk).display()
                ),
            )
        })?;
        Ok(Some(path))
    }

    /// Of `needs`, what is not installed yet (Python: the whole SDK, or its compiled files for
    /// this interpreter; Node: the packages not in the folder).
    pub fn missing(&self, sdk: &Sdk, interpreter: Option<&Path>, needs: &[String]) -> Vec<String> {
        missing_in(&self.dir(sdk), sdk, interpreter, needs)
    }

    /// Install an SDK (the Node packages named, or its common set) — `nimbus runtimes install`.
    pub fn install(&self, sdk: &'static Sdk, interpreter: Option<&Path>, packages: &[String]) -> Result<(), String> {
        let needs: Vec<String> = match &sdk.kind {
            Kind::Python { .. } => vec!["boto3".into()],
            Kind::Node { common, .. } if packages.is_empty() => common.iter().map(|p| p.to_string()).collect(),
            Kind::Node { .. } => packages.to_vec(),
        };
        install(&self.root, sdk, interpreter, &needs, false)
    }
}

fn missing_in(dir: &Path, sdk: &Sdk, interpreter: Option<&Path>, needs: &[String]) -> Vec<String> {
    match &sdk.kind {
        Kind::Python { .. } => {
            let ready =
                dir.join(PYTHON_READY).is_file() && interpreter.is_none_or(|i| dir.join(compiled_marker(i)).is_file());
            if ready {
                Vec::new()
            } else {
                needs.to_vec()
            }
        }
        Kind::Node { .. } => needs
            .iter()
            .filter(|p| !dir.join("node_modules").join(p.as_str()).join("package.json").is_file())
            .cloned()
            .collect(),
    }
}

/// The marker of a Python SDK folder compiled by one interpreter (its `.pyc` files sit beside
/// those of other interpreters in `__pycache__`).
fn compiled_marker(interpreter: &Path) -> String {
    let hash = sha2::Sha256::digest(interpreter.as_os_str().as_encoded_bytes());
    format!(".nimbus-compiled-{}", &hex::encode(hash)[..16])
}

/// Install under a lock file, so that nimbus processes sharing the cache install once.
fn install(
    root: &Path,
    sdk: &'static Sdk,
    interpreter: Option<&Path>,
    needs: &[String],
    first_use: bool,
) -> Result<(), String> {
    let dir = root.join(sdk.dir);
    let parent = dir.parent().unwrap_or(root);
    std::fs::create_dir_all(parent).map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    let lock_path = parent.join(format!(".{}.lock", dir.file_name().and_then(|n| n.to_str()).unwrap_or("sdk")));
    let lock = std::fs::File::create(&lock_path).map_err(|e| format!("cannot create {}: {e}", lock_path.display()))?;
    lock.lock().map_err(|e| format!("cannot lock {}: {e}", lock_path.display()))?;
    let missing = missing_in(&dir, sdk, interpreter, needs);
    if missing.is_empty() {
        return Ok(());
    }
    let when = if first_use { " (first use; `nimbus runtimes install` does this ahead of time)" } else { "" };
    match &sdk.kind {
        Kind::Python { packages } => {
            if !dir.join(PYTHON_READY).is_file() {
                eprintln!("nimbus: installing the AWS SDK for Python ({}) into {}{when}", describe(sdk), dir.display());
                let tmp =
                    parent.join(format!(".{}.partial", dir.file_name().and_then(|n| n.to_str()).unwrap_or("sdk")));
                let _ = nimbus_core::scratch::remove_tree(&tmp);
                let _ = nimbus_core::scratch::remove_tree(&dir);
                let python = find_pip(interpreter)?;
                let mut command = Command::new(&python);
                command
                    .args([
                        "-m",
                        "pip",
                        "install",
                        "--disable-pip-version-check",
                        "--no-input",
                        "--no-warn-script-location",
                    ])
                    .args(["--no-deps", "--only-binary=:all:", "--no-compile", "--retries", "2", "--timeout", "30"])
                    .arg("--target")
                    .arg(&tmp)
                    .args(packages.iter().map(|(p, v)| format!("{p}=={v}")));
                run(command, &parent.join(".pip.log"), "pip")?;
                let list: String = packages.iter().map(|(p, v)| format!("{p}=={v}\n")).collect();
                std::fs::write(tmp.join(PYTHON_READY), list).map_err(|e| e.to_string())?;
                std::fs::rename(&tmp, &dir).map_err(|e| format!("cannot move the SDK into place: {e}"))?;
            }
            if let Some(interpreter) = interpreter {
                // Compiled once per interpreter, or every cold start would compile botocore.
                let mut command = Command::new(interpreter);
                command.args(["-m", "compileall", "-q", "-j", "0"]).arg(&dir);
                // A failed compile only costs speed: imports compile in memory.
                let _ = run(command, &parent.join(".compileall.log"), "compileall");
                let _ =
                    std::fs::write(dir.join(compiled_marker(interpreter)), interpreter.as_os_str().as_encoded_bytes());
            }
            Ok(())
        }
        Kind::Node { version, before, .. } => {
            eprintln!(
                "nimbus: installing {} of the AWS SDK for JavaScript {version} into {}{when}",
                missing.join(", "),
                dir.display()
            );
            std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            let manifest = dir.join("package.json");
            if !manifest.is_file() {
                std::fs::write(&manifest, "{\n  \"name\": \"nimbus-aws-sdk\",\n  \"private\": true\n}\n")
                    .map_err(|e| e.to_string())?;
            }
            let npm = find_on_path("npm")
                .ok_or("nimbus needs npm (Node.js's package manager) on PATH to install the AWS SDK for JavaScript")?;
            let mut command = Command::new(npm);
            command
                .args(["install", "--no-audit", "--no-fund", "--save-exact", "--loglevel=error", "--fetch-retries=1"])
                .arg(format!("--before={before}"))
                .arg("--prefix")
                .arg(&dir)
                .args(missing.iter().map(|p| if lockstep(p) { format!("{p}@{version}") } else { p.clone() }));
            run(command, &parent.join(".npm.log"), "npm")?;
            let still = missing_in(&dir, sdk, None, &missing);
            if still.is_empty() {
                Ok(())
            } else {
                Err(format!("npm finished without installing {}", still.join(", ")))
            }
        }
    }
}

/// Packages released with every client, at the client's version.
fn lockstep(package: &str) -> bool {
    let bare = package.trim_start_matches("@aws-sdk/");
    bare.starts_with("client-")
        || bare.starts_with("lib-")
        || bare == "s3-request-presigner"
        || bare == "credential-providers"
}

/// A Python that has pip: the runtime's interpreter, else `python3` or `python` on PATH (the
/// packages are pure Python, one folder serves every Python version).
fn find_pip(interpreter: Option<&Path>) -> Result<PathBuf, String> {
    let candidates = interpreter
        .map(Path::to_path_buf)
        .into_iter()
        .chain(["python3", "python"].iter().filter_map(|n| find_on_path(n)));
    for candidate in candidates {
        let works = Command::new(&candidate)
            .args(["-m", "pip", "--version"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if works {
            return Ok(candidate);
        }
    }
    Err("no Python with pip found (the runtime's interpreter, python3 or python on PATH)".into())
}

pub(crate) fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(name)).find(|candidate| candidate.is_file())
}

/// Run an installer with its output in a log file; on failure, its last lines are the reason.
fn run(mut command: Command, log: &Path, what: &str) -> Result<(), String> {
    let file = std::fs::File::create(log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
    let err = file.try_clone().map_err(|e| e.to_string())?;
    let mut child =
        command.stdin(Stdio::null()).stdout(file).stderr(err).spawn().map_err(|e| format!("cannot run {what}: {e}"))?;
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() > INSTALL_TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{what} did not finish within {} s", INSTALL_TIMEOUT.as_secs()));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => return Err(format!("{what}: {e}")),
        }
    };
    if status.success() {
        return Ok(());
    }
    let mut text = String::new();
    let _ = std::fs::File::open(log).and_then(|mut f| f.read_to_string(&mut text));
    let tail: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let tail = tail[tail.len().saturating_sub(3)..].join(" / ");
    Err(format!("{what} failed ({status}): {tail}"))
}

/// Bounds on reading a function's code for SDK imports.
const MAX_FILES: usize = 200_000;
const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// Walk code folders, calling `visit` with each file whose name `wanted` accepts; folders
/// `skip` names (the SDK's own packages, when bundled) are not entered. Symlinks are not
/// followed.
fn walk(roots: &[&Path], skip: &dyn Fn(&Path) -> bool, wanted: &dyn Fn(&str) -> bool, visit: &mut dyn FnMut(&[u8])) {
    let mut stack: Vec<PathBuf> = roots.iter().map(|r| r.to_path_buf()).collect();
    let mut files = 0;
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let Ok(kind) = entry.file_type() else { continue };
            let path = entry.path();
            if kind.is_dir() {
                if !skip(&path) {
                    stack.push(path);
                }
            } else if kind.is_file() && entry.file_name().to_str().is_some_and(wanted) {
                files += 1;
                if files > MAX_FILES {
                    return;
                }
                if entry.metadata().is_ok_and(|m| m.len() <= MAX_FILE_BYTES) {
                    if let Ok(bytes) = std::fs::read(&path) {
                        visit(&bytes);
                    }
                }
            }
        }
    }
}

/// `["boto3"]` when the function's Python files use boto3/botocore and it does not bundle them.
fn python_needs(task: &Path, opt: &Path) -> Vec<String> {
    let bundled = |name: &str| {
        let mut places = vec![task.join(name), opt.join("python").join(name)];
        if let Ok(libs) = std::fs::read_dir(opt.join("python/lib")) {
            places.extend(libs.flatten().map(|l| l.path().join("site-packages").join(name)));
        }
        places.iter().any(|p| p.join("__init__.py").is_file())
    };
    if bundled("boto3") && bundled("botocore") {
        return Vec::new();
    }
    static USES: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\bboto(?:3|core)\b").expect("regex"));
    let skip = |p: &Path| p.file_name().is_some_and(|n| n == "boto3" || n == "botocore" || n == "s3transfer");
    let mut uses = false;
    walk(&[task, opt], &skip, &|name| name.ends_with(".py"), &mut |bytes| uses = uses || USES.is_match(bytes));
    if uses {
        vec!["boto3".into()]
    } else {
        Vec::new()
    }
}

/// The `@aws-sdk/*` packages the function's JavaScript imports and does not bundle.
fn node_needs(task: &Path, opt: &Path) -> Vec<String> {
    // A quoted package name, possibly with a subpath: `"@aws-sdk/client-sqs"`, `'@aws-sdk/x/y'`.
    static IMPORT: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r#"["'`]@aws-sdk/([a-z0-9](?:[a-z0-9._-]*[a-z0-9])?)["'`/]"#).expect("regex"));
    let skip = |p: &Path| {
        p.file_name().is_some_and(|n| n == "@aws-sdk" || n == "@smithy")
            && p.parent().and_then(Path::file_name).is_some_and(|n| n == "node_modules")
    };
    let wanted = |name: &str| name.ends_with(".js") || name.ends_with(".mjs") || name.ends_with(".cjs");
    let mut names = BTreeSet::new();
    walk(&[task, opt], &skip, &wanted, &mut |bytes| {
        for capture in IMPORT.captures_iter(bytes) {
            if let Ok(name) = std::str::from_utf8(&capture[1]) {
                names.insert(format!("@aws-sdk/{name}"));
            }
        }
    });
    let mut bundle_dirs = vec![task.join("node_modules"), opt.join("nodejs/node_modules")];
    if let Ok(entries) = std::fs::read_dir(opt.join("nodejs")) {
        bundle_dirs.extend(
            entries
                .flatten()
                .filter(|e| e.file_name().to_str().is_some_and(|n| n.starts_with("node")))
                .map(|e| e.path().join("node_modules")),
        );
    }
    names.into_iter().filter(|name| !bundle_dirs.iter().any(|d| d.join(name).join("package.json").is_file())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(files: &[(&str, &str)]) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("nimbus-sdk-test-{}", uuid::Uuid::new_v4().simple()));
        for (name, text) in files {
            let path = dir.join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn every_python_and_node_runtime_has_one_pinned_sdk() {
        assert_eq!(for_runtime("python3.12").map(|s| s.dir), Some("python/boto3-1.44.8"));
        assert_eq!(for_runtime("nodejs20.x").map(|s| s.dir), Some("nodejs/aws-sdk-3.1178.0"));
        assert!(for_runtime("provided.al2023").is_none());
        assert!(for_runtime("nodejs16.x").is_none());
        let Kind::Python { packages } = &PYTHON_SDK.kind else { panic!() };
        assert!(packages.iter().all(|(_, v)| !v.is_empty()));
    }

    #[test]
    fn node_imports_are_read_from_the_code_and_bundled_packages_are_left_out() {
        let task = folder(&[
            ("index.mjs", "import { SQSClient } from \"@aws-sdk/client-sqs\";\nconst x = '@aws-sdk/client-' + name;"),
            ("lib/db.js", "const { DynamoDBDocument } = require('@aws-sdk/lib-dynamodb');"),
            ("lib/s3.cjs", "require(`@aws-sdk/client-s3/dist-cjs/index.js`)"),
            ("README.md", "\"@aws-sdk/client-kms\""),
            ("node_modules/@aws-sdk/client-s3/package.json", "{}"),
            ("node_modules/@aws-sdk/client-s3/index.js", "require('@aws-sdk/client-sts')"),
            ("node_modules/other/index.js", "require(\"@aws-sdk/client-sns\")"),
        ]);
        let opt = folder(&[]);
        assert_eq!(node_needs(&task, &opt), ["@aws-sdk/client-sns", "@aws-sdk/client-sqs", "@aws-sdk/lib-dynamodb"]);
        let _ = std::fs::remove_dir_all(task);
        let _ = std::fs::remove_dir_all(opt);
    }

    #[test]
    fn python_code_needs_the_sdk_unless_it_bundles_it() {
        let uses = folder(&[("app.py", "import json\nimport boto3\n")]);
        let plain = folder(&[("app.py", "import json\n")]);
        let bundles = folder(&[("app.py", "import boto3\n"), ("boto3/__init__.py", ""), ("botocore/__init__.py", "")]);
        let layer = folder(&[("python/lib/python3.12/site-packages/helper.py", "from botocore.config import Config")]);
        let opt = folder(&[]);
        assert_eq!(python_needs(&uses, &opt), ["boto3"]);
        assert!(python_needs(&plain, &opt).is_empty());
        assert!(python_needs(&bundles, &opt).is_empty());
        assert_eq!(python_needs(&plain, &layer), ["boto3"]);
        for d in [uses, plain, bundles, layer, opt] {
            let _ = std::fs::remove_dir_all(d);
        }
    }

    #[test]
    fn package_names_are_normalized_into_the_scope() {
        assert_eq!(normalize_package("client-sqs").as_deref(), Some("@aws-sdk/client-sqs"));
        assert_eq!(normalize_package("@aws-sdk/lib-dynamodb").as_deref(), Some("@aws-sdk/lib-dynamodb"));
        assert_eq!(normalize_package("../evil"), None);
        assert_eq!(normalize_package("client-sqs@1"), None);
        assert!(lockstep("@aws-sdk/client-sqs") && lockstep("@aws-sdk/lib-dynamodb"));
        assert!(!lockstep("@aws-sdk/util-dynamodb"));
    }
}
