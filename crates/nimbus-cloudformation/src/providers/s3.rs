//! `AWS::S3::Bucket` (name, tags, versioning) and `AWS::S3::BucketPolicy` through S3's REST
//! interface. Other bucket properties (CORS, lifecycle, encryption, notifications…) are not
//! applied yet.

use http::Method;
use serde_json::Value;

use super::{doc_string, failure, required, str_prop, tolerate_gone, Created, Cx, Outcome, Spec};
use crate::boxed;
use crate::state::Resource;

pub fn specs() -> Vec<Spec> {
    vec![
        Spec {
            type_name: "AWS::S3::Bucket",
            replace_on: &["BucketName", "ObjectLockEnabled"],
            create: boxed!(create_bucket),
            update: Some(boxed!(update_bucket, 3)),
            delete: |cx, r| Box::pin(delete_bucket(cx, r)),
            name_property: Some("BucketName"),
        },
        Spec {
            type_name: "AWS::S3::BucketPolicy",
            replace_on: &["Bucket"],
            create: boxed!(put_policy),
            update: Some(|cx, _r, p| Box::pin(put_policy(cx, p))),
            delete: |cx, r| Box::pin(delete_policy(cx, r)),
            name_property: None,
        },
    ]
}

/// What `Ref` and `Fn::GetAtt` answer for a bucket, as AWS documents them.
pub fn bucket_created(region: &str, name: &str) -> Created {
    Created::named(name)
        .attr("Arn", format!("arn:aws:s3:::{name}"))
        .attr("DomainName", format!("{name}.s3.amazonaws.com"))
        .attr("RegionalDomainName", format!("{name}.s3.{region}.amazonaws.com"))
        .attr("DualStackDomainName", format!("{name}.s3.dualstack.{region}.amazonaws.com"))
        .attr("WebsiteURL", format!("http://{name}.s3-website-{region}.amazonaws.com"))
}

fn tagging_xml(tags: &[(String, String)]) -> String {
    let mut xml = String::from("<Tagging><TagSet>");
    for (k, v) in tags {
        xml.push_str(&format!("<Tag><Key>{}</Key><Value>{}</Value></Tag>", esc(k), esc(v)));
    }
    xml.push_str("</TagSet></Tagging>");
    xml
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

async fn put_sub(cx: &Cx, name: &str, sub: &str, body: String) -> Result<(), String> {
    cx.api
        .raw(
            "s3",
            Method::PUT,
            &format!("/{name}"),
            vec![(sub.to_string(), String::new())],
            "application/xml",
            body.into_bytes(),
        )
        .await
        .map(|_| ())
        .map_err(|e| failure(&e))
}

async fn configure(cx: &Cx, name: &str, props: &Value) -> Result<(), String> {
    let tags = cx.tag_list(props);
    if !tags.is_empty() {
        put_sub(cx, name, "tagging", tagging_xml(&tags)).await?;
    }
    if let Some(status) = props.get("VersioningConfiguration").and_then(|v| str_prop(v, "Status")) {
        let xml = format!("<VersioningConfiguration><Status>{}</Status></VersioningConfiguration>", esc(&status));
        put_sub(cx, name, "versioning", xml).await?;
    }
    Ok(())
}

async fn create_bucket(cx: Cx, props: Value) -> Outcome {
    let name = str_prop(&props, "BucketName").unwrap_or_else(|| cx.generated_name(63).to_lowercase());
    cx.api
        .raw("s3", Method::PUT, &format!("/{name}"), Vec::new(), "application/xml", Vec::new())
        .await
        .map_err(|e| failure(&e))?;
    configure(&cx, &name, &props).await?;
    Ok(bucket_created(&cx.api.region, &name))
}

async fn update_bucket(cx: Cx, old: Resource, props: Value) -> Outcome {
    let name = old.physical_id.unwrap_or_default();
    configure(&cx, &name, &props).await?;
    Ok(bucket_created(&cx.api.region, &name))
}

async fn delete_bucket(cx: Cx, r: Resource) -> Result<(), String> {
    let Some(name) = r.physical_id else { return Ok(()) };
    tolerate_gone(cx.api.raw("s3", Method::DELETE, &format!("/{name}"), Vec::new(), "", Vec::new()).await.map(|_| ()))
}

async fn put_policy(cx: Cx, props: Value) -> Outcome {
    let bucket = str_prop(&props, "Bucket").ok_or_else(|| required(&props, "Bucket").err().unwrap_or_default())?;
    let doc = doc_string(required(&props, "PolicyDocument")?);
    cx.api
        .raw(
            "s3",
            Method::PUT,
            &format!("/{bucket}"),
            vec![("policy".into(), String::new())],
            "application/json",
            doc.into_bytes(),
        )
        .await
        .map_err(|e| failure(&e))?;
    Ok(Created::named(bucket))
}

async fn delete_policy(cx: Cx, r: Resource) -> Result<(), String> {
    let Some(name) = r.physical_id else { return Ok(()) };
    tolerate_gone(
        cx.api
            .raw("s3", Method::DELETE, &format!("/{name}"), vec![("policy".into(), String::new())], "", Vec::new())
            .await
            .map(|_| ()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_attributes_are_as_aws_documents_them() {
        let c = bucket_created("us-east-1", "my-bucket");
        assert_eq!(c.ref_value, Value::String("my-bucket".into()));
        assert_eq!(c.attributes["Arn"], "arn:aws:s3:::my-bucket");
        assert_eq!(c.attributes["DomainName"], "my-bucket.s3.amazonaws.com");
        assert_eq!(c.attributes["RegionalDomainName"], "my-bucket.s3.us-east-1.amazonaws.com");
        assert_eq!(c.attributes["WebsiteURL"], "http://my-bucket.s3-website-us-east-1.amazonaws.com");
    }

    #[test]
    fn tags_are_escaped_in_the_tagging_document() {
        let xml = tagging_xml(&[("a&b".into(), "<v>".into())]);
        assert_eq!(xml, "<Tagging><TagSet><Tag><Key>a&amp;b</Key><Value>&lt;v&gt;</Value></Tag></TagSet></Tagging>");
    }
}
