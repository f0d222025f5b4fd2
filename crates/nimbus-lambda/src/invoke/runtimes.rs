//! Which program runs a runtime: interpreters found on `PATH` (overridable), the bootstraps
//! that ship inside nimbus, or the function's own `bootstrap` for `provided.*`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use nimbus_core::AwsError;

const PYTHON_BOOTSTRAP: &str = include_str!("../../runtimes/python/bootstrap.py");
const NODE_BOOTSTRAP: &str = include_str!("../../runtimes/node/bootstrap.mjs");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Python,
    Node,
    Provided,
}

pub fn family(runtime: &str) -> Option<Family> {
    if runtime.starts_with("python3") {
        Some(Family::Python)
    } else if runtime.starts_with("nodejs") {
        Some(Family::Node)
    } else if runtime == "provided" || runtime.starts_with("provided.") {
        Some(Family::Provided)
    } else {
        None
    }
}

/// The environment variable that overrides the interpreter for a runtime:
/// `python3.12` → `NIMBUS_RUNTIME_PYTHON3_12`.
pub fn override_variable(runtime: &str) -> String {
    let id: String =
        runtime.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' }).collect();
    format!("NIMBUS_RUNTIME_{id}")
}

/// Interpreters and bootstrap files, resolved once per nimbus process.
#[derive(Debug)]
pub struct Runtimes {
    /// Explicit runtime → program mappings (`--runtime python3.12=/usr/bin/python3`).
    overrides: HashMap<String, String>,
    dir: PathBuf,
    /// Interpreters already found, by runtime (probing costs a process start).
    found: parking_lot::Mutex<HashMap<String, PathBuf>>,
}

/// A program line to start a runtime with.
#[derive(Debug, Clone)]
pub struct Launch {
    pub program: PathBuf,
    pub args: Vec<String>,
    /// Started through `AWS_LAMBDA_EXEC_WRAPPER`: `args[0]` is the interpreter, and the
    /// interpreter's own flags go after it.
    pub wrapper: bool,
}

impl Runtimes {
    pub fn new(dir: &Path, overrides: HashMap<String, String>) -> std::io::Result<Runtimes> {
        std::fs::create_dir_all(dir.join("python"))?;
        std::fs::create_dir_all(dir.join("node"))?;
        std::fs::write(dir.join("python/bootstrap.py"), PYTHON_BOOTSTRAP)?;
        std::fs::write(dir.join("node/bootstrap.mjs"), NODE_BOOTSTRAP)?;
        Ok(Runtimes { overrides, dir: dir.to_path_buf(), found: Default::default() })
    }

    /// Interpreter lookup only (no bootstrap files), for commands that run no function.
    pub fn probe_only(overrides: HashMap<String, String>) -> Runtimes {
        Runtimes { overrides, dir: PathBuf::new(), found: Default::default() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// How to start `runtime` for code unpacked at `task`.
    pub fn launch(&self, runtime: &str, task: &Path) -> Result<Launch, AwsError> {
        let family = family(runtime).ok_or_else(|| {
            invalid_runtime(format!(
                "nimbus cannot run {runtime} functions yet: it runs python3.x, nodejs*.x and provided.* natively. The function's configuration is stored; invoking it needs a supported runtime."
            ))
        })?;
        match family {
            Family::Provided => {
                let bootstrap = task.join("bootstrap");
                if !bootstrap.is_file() {
                    return Err(invalid_entrypoint(
                        "Couldn't find valid bootstrap(s): [/var/task/bootstrap /opt/bootstrap]",
                    ));
                }
                Ok(Launch { program: bootstrap, args: Vec::new(), wrapper: false })
            }
            Family::Python => {
                let program = self.interpreter_for(runtime)?;
                Ok(Launch {
                    program,
                    args: vec![self.dir.join("python/bootstrap.py").display().to_string()],
                    wrapper: false,
                })
            }
            Family::Node => {
                let program = self.interpreter_for(runtime)?;
                Ok(Launch {
                    program,
                    args: vec![self.dir.join("node/bootstrap.mjs").display().to_string()],
                    wrapper: false,
                })
            }
        }
    }

    /// The interpreter that runs a Python or Node.js runtime.
    pub fn interpreter_for(&self, runtime: &str) -> Result<PathBuf, AwsError> {
        match family(runtime) {
            Some(Family::Python) => {
                self.interpreter(runtime, &[runtime, "python3"], "import sys; print(sys.executable)")
            }
            Some(Family::Node) => self.interpreter(runtime, &["node"], "console.log(process.execPath)"),
            _ => Err(invalid_runtime(format!("{runtime} has no interpreter"))),
        }
    }

    /// Find a working interpreter: an explicit override, else the first candidate on `PATH` that
    /// really runs (version-manager shims can exist without a version behind them). The probe
    /// prints the interpreter's real path, which also skips the shim on every start.
    fn interpreter(&self, runtime: &str, candidates: &[&str], probe: &str) -> Result<PathBuf, AwsError> {
        let variable = override_variable(runtime);
        if let Some(explicit) = self.overrides.get(runtime).cloned().or_else(|| std::env::var(&variable).ok()) {
            return Ok(PathBuf::from(explicit));
        }
        if let Some(found) = self.found.lock().get(runtime) {
            return Ok(found.clone());
        }
        let found = candidates.iter().filter_map(|name| find_on_path(name)).find_map(|candidate| {
            let flag = if probe.starts_with("import") { "-c" } else { "-e" };
            let output = std::process::Command::new(&candidate).arg(flag).arg(probe).output().ok()?;
            let real = String::from_utf8(output.stdout).ok()?.trim().to_string();
            (output.status.success() && !real.is_empty()).then(|| PathBuf::from(real))
        });
        if let Some(path) = &found {
            self.found.lock().insert(runtime.to_string(), path.clone());
        }
        found.ok_or_else(|| {
            invalid_runtime(format!(
                "nimbus found no interpreter for {runtime}: install one of [{}] on PATH, or point {variable} (or --runtime {runtime}=PATH) at it.",
                candidates.join(", ")
            ))
        })
    }
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(name)).find(|candidate| candidate.is_file())
}

fn invalid_runtime(message: String) -> AwsError {
    AwsError::new(502, "InvalidRuntimeException", message)
}

fn invalid_entrypoint(message: &str) -> AwsError {
    AwsError::new(502, "InvalidRuntimeException", message)
}
