//! `AWS::ECR::Repository`, stored only: nimbus has no container registry, so the repository
//! exists in the stack alone (CDK's bootstrap template declares one for container assets and
//! never pushes to it unless an app has Docker image assets). Ref and GetAtt answer what AWS
//! answers, so templates that pass the URI around still resolve.

use serde_json::Value;

use super::{str_prop, Created, Cx, Outcome, Spec};
use crate::state::Resource;

pub fn specs() -> Vec<Spec> {
    vec![Spec {
        type_name: "AWS::ECR::Repository",
        replace_on: &["RepositoryName", "EncryptionConfiguration"],
        create: |cx, props| Box::pin(create(cx, props)),
        update: Some(|cx, current, _props| Box::pin(update(cx, current))),
        delete: |_cx, _r| Box::pin(async { Ok(()) }),
        name_property: Some("RepositoryName"),
    }]
}

/// Generated names are lower case: ECR allows only `[a-z0-9._/-]`.
fn repository(cx: &Cx, name: &str) -> Created {
    let (account, region) = (&cx.api.account, &cx.api.region);
    Created::named(name)
        .attr("Arn", format!("arn:aws:ecr:{region}:{account}:repository/{name}"))
        .attr("RepositoryUri", format!("{account}.dkr.ecr.{region}.amazonaws.com/{name}"))
}

async fn create(cx: Cx, props: Value) -> Outcome {
    let name = match str_prop(&props, "RepositoryName") {
        Some(name) => name,
        None => cx.generated_name(256).to_ascii_lowercase(),
    };
    if !valid_name(&name) {
        return Err(format!(
            "1 validation error detected: Value '{name}' at 'repositoryName' failed to satisfy constraint: Member \
             must satisfy regular expression pattern: (?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*"
        ));
    }
    Ok(repository(&cx, &name))
}

async fn update(cx: Cx, current: Resource) -> Outcome {
    Ok(repository(&cx, &current.physical_id.unwrap_or_default()))
}

/// ECR's repository name rule: 2–256 characters of lower-case components joined by `/`.
fn valid_name(name: &str) -> bool {
    let component = |c: &str| {
        !c.is_empty()
            && c.split(['.', '_', '-'])
                .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
    };
    (2..=256).contains(&name.len()) && name.split('/').all(component)
}

#[cfg(test)]
mod tests {
    use super::valid_name;

    #[test]
    fn repository_names_follow_ecr_rules() {
        assert!(valid_name("cdk-hnb659fds-container-assets-000000000000-us-east-1"));
        assert!(valid_name("team/app.web_1"));
        assert!(!valid_name("Upper"));
        assert!(!valid_name("a"));
        assert!(!valid_name("trailing-"));
        assert!(!valid_name("double//slash"));
    }
}
