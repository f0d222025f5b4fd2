//! The SAM transform (`AWS::Serverless-2016-10-31`) by AWS's own implementation: the
//! `aws-sam-translator` package, run in a long-lived Python worker process. Being AWS's code, its output is
//! what CloudFormation itself would produce from the template.
//!
//! The interpreter: `NIMBUS_SAM_PYTHON` if set; else nimbus's cache
//! (`$XDG_CACHE_HOME/nimbus/sam-translator`, made on first use with
//! `python3 -m venv` and `pip install aws-sam-translator==1.110.0`); else any `python3` that
//! already imports `samtranslator`.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use nimbus_core::RequestContext;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout};

use crate::engine::ParamInput;
use crate::errors::{validation, Result};

pub const SAM_TRANSLATOR: &str = "aws-sam-translator==1.110.0";

/// The translator as a long-lived worker: one JSON request per line on stdin, one JSON answer
/// per line on stdout. Importing the translator takes a second or more; a worker pays that once
/// per nimbus process instead of once per template.
const SCRIPT: &str = r#"
import json, os, sys
try:
    import boto3
    from samtranslator.translator.transform import transform
    from samtranslator.model.exceptions import InvalidDocumentException
except Exception as e:
    print(json.dumps({"error": "could not import samtranslator: %s" % e}), flush=True)
    sys.exit(1)

class Policies(dict):
    # AWS managed policies by name: SAM asks IAM for the list; nimbus answers every name.
    def __contains__(self, name):
        return isinstance(name, str)
    def __getitem__(self, name):
        return "arn:aws:iam::aws:policy/" + name
    def get(self, name, default=None):
        return self[name]

class Loader:
    def load(self):
        return Policies()

for line in sys.stdin:
    request = json.loads(line)
    # The translator reads the region from a fresh boto3 session each time it needs it.
    os.environ["AWS_DEFAULT_REGION"] = os.environ["AWS_REGION"] = request["region"]
    boto3.DEFAULT_SESSION = None
    try:
        answer = {"template": transform(request["template"], request["parameters"], Loader())}
    except InvalidDocumentException as e:
        answer = {"error": e.message}
    except Exception as e:
        answer = {"error": str(e)}
    sys.stdout.write(json.dumps(answer) + "\n")
    sys.stdout.flush()
"#;

fn cache_dir() -> PathBuf {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("nimbus").join("sam-translator")
}

async fn imports_samtranslator(python: &str) -> bool {
    tokio::process::Command::new(python)
        // Finding the package is enough (importing it costs a second or more).
        .args(["-c", "import importlib.util, sys; sys.exit(importlib.util.find_spec('samtranslator') is None)"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await
        .is_ok_and(|s| s.success())
}

/// The interpreter that runs the translator (found once per process: probing imports the
/// translator, which takes a second or more).
async fn python() -> std::result::Result<String, String> {
    static FOUND: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    FOUND.get_or_try_init(find_python).await.cloned()
}

/// Find, or install into nimbus's cache, an interpreter that imports the translator.
async fn find_python() -> std::result::Result<String, String> {
    if let Ok(p) = std::env::var("NIMBUS_SAM_PYTHON") {
        return Ok(p);
    }
    let venv = cache_dir();
    let cached = venv.join("bin").join("python");
    if imports_samtranslator(&cached.to_string_lossy()).await {
        return Ok(cached.to_string_lossy().into_owned());
    }
    if imports_samtranslator("python3").await {
        return Ok("python3".into());
    }
    tracing::info!(dir = %venv.display(), "installing {SAM_TRANSLATOR} for the SAM transform (first use)");
    let made = tokio::process::Command::new("python3").arg("-m").arg("venv").arg(&venv).status().await;
    if !made.is_ok_and(|s| s.success()) {
        return Err("could not create a Python virtual environment (python3 -m venv)".into());
    }
    let pip =
        tokio::process::Command::new(&cached).args(["-m", "pip", "install", "--quiet", SAM_TRANSLATOR]).status().await;
    if !pip.is_ok_and(|s| s.success()) {
        return Err(format!("could not install {SAM_TRANSLATOR} with pip"));
    }
    Ok(cached.to_string_lossy().into_owned())
}

/// The longest one template may take; past it the worker is taken for hung and replaced.
const TRANSLATE_TIMEOUT: Duration = Duration::from_secs(120);

struct Worker {
    /// Held so the worker is killed when it is dropped.
    _child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Worker {
    fn spawn(python: &str) -> std::result::Result<Worker, String> {
        let mut child = tokio::process::Command::new(python)
            .args(["-c", SCRIPT])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("could not run {python}: {e}"))?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err("the translator's pipes were not opened".into());
        };
        Ok(Worker { _child: child, stdin, stdout: BufReader::new(stdout) })
    }

    /// One request, one answer line (`None`: the worker died or broke the protocol).
    async fn ask(&mut self, request: &Value) -> Option<Value> {
        let mut line = request.to_string();
        line.push('\n');
        self.stdin.write_all(line.as_bytes()).await.ok()?;
        self.stdin.flush().await.ok()?;
        let mut answer = String::new();
        match tokio::time::timeout(TRANSLATE_TIMEOUT, self.stdout.read_line(&mut answer)).await {
            Ok(Ok(n)) if n > 0 => serde_json::from_str(&answer).ok(),
            _ => None,
        }
    }
}

/// The one worker (templates are translated one at a time, as one interpreter would anyway).
static WORKER: tokio::sync::Mutex<Option<Worker>> = tokio::sync::Mutex::const_new(None);

async fn ask_worker(python: &str, request: &Value) -> std::result::Result<Value, String> {
    let mut slot = WORKER.lock().await;
    // A worker that died since the last template (or hangs) is replaced once.
    for _ in 0..2 {
        let worker = match slot.as_mut() {
            Some(w) => w,
            None => slot.insert(Worker::spawn(python)?),
        };
        if let Some(answer) = worker.ask(request).await {
            // An import failure is the worker's last answer: the next template starts a new one.
            if answer["error"].as_str().is_some_and(|e| e.starts_with("could not import")) {
                *slot = None;
            }
            return Ok(answer);
        }
        *slot = None;
    }
    Err("the translator stopped without answering".into())
}

pub async fn translate(template: Value, ctx: &RequestContext, params: &[ParamInput]) -> Result<Value> {
    let fail = |m: String| validation(format!("Transform AWS::Serverless-2016-10-31 failed with: {m}"));
    let python = python().await.map_err(fail)?;
    let mut parameters = serde_json::Map::new();
    for p in params {
        if let Some(v) = &p.value {
            parameters.insert(p.key.clone(), json!(v));
        }
    }
    parameters.insert("AWS::Region".into(), json!(ctx.region));
    parameters.insert("AWS::AccountId".into(), json!(ctx.account));
    parameters.insert("AWS::Partition".into(), json!("aws"));
    let request = json!({"template": template, "parameters": parameters, "region": ctx.region});
    let answer = ask_worker(&python, &request).await.map_err(fail)?;
    if let Some(err) = answer.get("error").and_then(Value::as_str) {
        return Err(fail(err.to_string()));
    }
    Ok(answer["template"].clone())
}
