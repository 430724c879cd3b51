//! The S3 adapters at the SDK seam: the run store names the bucket's expected owner on every
//! call, and a template read returns the object's version.

use aws_sdk_s3::operation::get_object::{GetObjectInput, GetObjectOutput};
use aws_sdk_s3::operation::list_objects_v2::{ListObjectsV2Input, ListObjectsV2Output};
use aws_sdk_s3::operation::put_object::{PutObjectInput, PutObjectOutput};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client as S3;
use aws_smithy_mocks::{mock, mock_client, RuleMode};
use stackfleet_aws::{S3Store, S3Templates};
use stackfleet_core::pinned::S3Location;
use stackfleet_core::ports::{RunStore, TemplateObjects};

const OWNER: &str = "111111111111";

#[tokio::test]
async fn every_run_store_call_names_the_expected_owner() {
    let owned = |bucket: Option<&str>, owner: Option<&str>| bucket == Some("runs") && owner == Some(OWNER);
    let put = mock!(S3::put_object)
        .match_requests(move |r: &PutObjectInput| owned(r.bucket(), r.expected_bucket_owner()))
        .then_output(|| PutObjectOutput::builder().build());
    let get = mock!(S3::get_object)
        .match_requests(move |r: &GetObjectInput| owned(r.bucket(), r.expected_bucket_owner()))
        .then_output(|| {
            GetObjectOutput::builder()
                .body(ByteStream::from_static(b"{}"))
                .build()
        });
    let list = mock!(S3::list_objects_v2)
        .match_requests(move |r: &ListObjectsV2Input| owned(r.bucket(), r.expected_bucket_owner()))
        .then_output(|| ListObjectsV2Output::builder().build());
    let client = mock_client!(aws_sdk_s3, RuleMode::MatchAny, &[&put, &get, &list]);
    let store = S3Store::new(client, "runs").with_expected_owner(OWNER);
    store
        .put("runs/r/x.json", "{}".into(), "application/json")
        .await
        .unwrap();
    assert_eq!(store.get("runs/r/x.json").await.unwrap().as_deref(), Some("{}"));
    store.list("runs/r/", None).await.unwrap();
    assert_eq!((put.num_calls(), get.num_calls(), list.num_calls()), (1, 1, 1));
}

#[tokio::test]
async fn a_template_read_asks_for_the_version_the_url_names_and_returns_the_version_read() {
    let read = mock!(S3::get_object)
        .match_requests(|r: &GetObjectInput| {
            r.bucket() == Some("templates")
                && r.key() == Some("federation/template.yaml")
                && r.version_id() == Some("v7")
        })
        .then_output(|| {
            GetObjectOutput::builder()
                .version_id("v7")
                .body(ByteStream::from_static(b"Resources: {}"))
                .build()
        });
    let templates = S3Templates::new(mock_client!(aws_sdk_s3, RuleMode::MatchAny, &[&read]));
    let object = templates
        .read(&S3Location {
            bucket: "templates".into(),
            key: "federation/template.yaml".into(),
            version_id: Some("v7".into()),
        })
        .await
        .unwrap();
    assert_eq!(
        (object.version_id.as_deref(), object.body.as_slice()),
        (Some("v7"), &b"Resources: {}"[..])
    );
}
