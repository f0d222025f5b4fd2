//! Start a real nimbus on an ephemeral port and build real AWS SDK clients for it.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use aws_sdk_lambda::config::{BehaviorVersion, Credentials, Region};

pub const ACCOUNT: &str = "000000000000";
pub const REGION: &str = "us-east-1";

pub struct Server {
    child: Child,
    pub port: u16,
}

impl Server {
    pub fn start() -> Server {
        Self::start_with(&[])
    }

    pub fn start_with_data_dir(dir: &Path) -> Server {
        Self::start_with(&["--data-dir", dir.to_str().unwrap()])
    }

    pub fn start_with(args: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_nimbus"))
            .args(["--port", "0", "--log", "warn"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start nimbus");
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).expect("read nimbus banner");
        let port = line
            .trim()
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("unexpected banner: {line:?}"));
        Server { child, port }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Kill the process the hard way (`kill -9`), as a crash would.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn lambda(&self) -> aws_sdk_lambda::Client {
        self.lambda_as("AKIDEXAMPLE", REGION)
    }

    pub fn lambda_as(&self, access_key: &str, region: &str) -> aws_sdk_lambda::Client {
        let config = aws_sdk_lambda::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .endpoint_url(self.endpoint())
            .region(Region::new(region.to_string()))
            .credentials_provider(Credentials::new(access_key, "secret", None, None, "test"))
            .http_client(aws_smithy_http_client::Builder::new().build_http())
            .build();
        aws_sdk_lambda::Client::from_conf(config)
    }

    pub fn iam(&self) -> aws_sdk_iam::Client {
        let config = aws_sdk_iam::Config::builder()
            .behavior_version(aws_sdk_iam::config::BehaviorVersion::latest())
            .endpoint_url(self.endpoint())
            .region(aws_sdk_iam::config::Region::new(REGION))
            .credentials_provider(aws_sdk_iam::config::Credentials::new("AKIDEXAMPLE", "secret", None, None, "test"))
            .http_client(aws_smithy_http_client::Builder::new().build_http())
            .build();
        aws_sdk_iam::Client::from_conf(config)
    }

    pub fn sts_as(&self, access_key: &str, secret: &str, token: Option<String>) -> aws_sdk_sts::Client {
        let config = aws_sdk_sts::Config::builder()
            .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
            .endpoint_url(self.endpoint())
            .region(aws_sdk_sts::config::Region::new(REGION))
            .credentials_provider(aws_sdk_sts::config::Credentials::new(access_key, secret, token, None, "test"))
            .http_client(aws_smithy_http_client::Builder::new().build_http())
            .build();
        aws_sdk_sts::Client::from_conf(config)
    }

    /// A raw HTTP request, for what the SDK refuses to send.
    pub async fn raw(&self, method: &str, path: &str, body: Vec<u8>) -> (u16, Vec<(String, String)>, String) {
        let client = reqwest::Client::new();
        let response = client
            .request(method.parse().unwrap(), format!("{}{}", self.endpoint(), path))
            .header(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/us-east-1/lambda/aws4_request, SignedHeaders=host, Signature=0",
            )
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("raw request");
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_string()))
            .collect();
        (status, headers, response.text().await.unwrap_or_default())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub const ROLE: &str = "arn:aws:iam::000000000000:role/lambda-role";

/// A zip with one Python handler file.
pub fn python_zip(body: &str) -> Vec<u8> {
    zip_of(&[("index.py", body.as_bytes())])
}

pub fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    use std::io::Write;
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut w = zip::ZipWriter::new(&mut buf);
        for (name, data) in entries {
            w.start_file(*name, zip::write::SimpleFileOptions::default()).unwrap();
            w.write_all(data).unwrap();
        }
        w.finish().unwrap();
    }
    buf.into_inner()
}

pub async fn create_python_function(lambda: &aws_sdk_lambda::Client, name: &str) -> aws_sdk_lambda::operation::create_function::CreateFunctionOutput {
    use aws_sdk_lambda::primitives::Blob;
    use aws_sdk_lambda::types::{FunctionCode, Runtime};
    lambda
        .create_function()
        .function_name(name)
        .runtime(Runtime::Python312)
        .role(ROLE)
        .handler("index.handler")
        .code(FunctionCode::builder().zip_file(Blob::new(python_zip("def handler(event, context):\n    return event\n"))).build())
        .send()
        .await
        .expect("create function")
}
