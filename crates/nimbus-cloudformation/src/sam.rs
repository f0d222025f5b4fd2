//! The SAM transform (`AWS::Serverless-2016-10-31`) by AWS's own implementation: the
//! `aws-sam-translator` package run in a Python subprocess. Being AWS's code, its output is
//! what CloudFormation itself would produce from the template.
//!
//! The interpreter: `NIMBUS_SAM_PYTHON` if set; else nimbus's cache
//! (`$XDG_CACHE_HOME/nimbus/sam-translator`, made on first use with
//! `python3 -m venv` and `pip install aws-sam-translator==1.110.0`); else any `python3` that
//! already imports `samtranslator`.

use std::path::PathBuf;
use std::process::Stdio;

use nimbus_core::RequestContext;
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;

use crate::engine::ParamInput;
use crate::errors::{validation, Result};

pub const SAM_TRANSLATOR: &str = "aws-sam-translator==1.110.0";

const SCRIPT: &str = r#"
import json, sys
from samtranslator.translator.transform import transform
from samtranslator.model.exceptions import InvalidDocumentException

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

request = json.load(sys.stdin)
try:
    out = transform(request["template"], request["parameters"], Loader())
    json.dump({"template": out}, sys.stdout)
except InvalidDocumentException as e:
    json.dump({"error": e.message}, sys.stdout)
except Exception as e:
    json.dump({"error": str(e)}, sys.stdout)
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
    let request = json!({"template": template, "parameters": parameters});
    let mut child = tokio::process::Command::new(&python)
        .args(["-c", SCRIPT])
        .env("AWS_DEFAULT_REGION", &ctx.region)
        .env("AWS_REGION", &ctx.region)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| fail(format!("could not run {python}: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(request.to_string().as_bytes()).await;
    }
    let out = child.wait_with_output().await.map_err(|e| fail(e.to_string()))?;
    let answer: Value = serde_json::from_slice(&out.stdout).map_err(|_| {
        fail(String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or("the translator failed").to_string())
    })?;
    if let Some(err) = answer.get("error").and_then(Value::as_str) {
        return Err(fail(err.to_string()));
    }
    Ok(answer["template"].clone())
}
