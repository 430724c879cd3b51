//! S3 behind core's `RunStore` (one bucket, the run's records under a prefix, every call made
//! only if the bucket belongs to the expected account) and `TemplateObjects` (template reads).

use aws_config::SdkConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;
use stackfleet_core::pinned::{S3Location, TemplateObject};
use stackfleet_core::ports::{Page, PortError, PortResult, RunStore, TemplateObjects};

use crate::errors::classify;

/// An S3 client addressing buckets path-style: what local emulators answer, and harmless
/// against AWS.
fn path_style_client(config: &SdkConfig) -> Client {
    Client::from_conf(
        aws_sdk_s3::config::Builder::from(config)
            .force_path_style(true)
            .build(),
    )
}

#[derive(Debug, Clone)]
pub struct S3Store {
    client: Client,
    bucket: String,
    /// Sent as `ExpectedBucketOwner` on every call: S3 refuses the call (403) when the bucket
    /// belongs to another account, so a bucket name that was deleted and taken by somebody else,
    /// or a tag pointing elsewhere, never receives or serves run records.
    expected_owner: Option<String>,
}

impl S3Store {
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
            expected_owner: None,
        }
    }

    /// Every call asks S3 to check that `account` owns the bucket.
    pub fn with_expected_owner(mut self, account: impl Into<String>) -> Self {
        self.expected_owner = Some(account.into());
        self
    }

    pub fn expected_owner(&self) -> Option<&str> {
        self.expected_owner.as_deref()
    }

    /// Path-style addressing: what local emulators answer, and harmless against AWS.
    pub fn from_config(config: &SdkConfig, bucket: impl Into<String>) -> Self {
        Self::new(path_style_client(config), bucket)
    }
}

impl RunStore for S3Store {
    async fn put(&self, key: &str, body: String, content_type: &str) -> PortResult<()> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .set_expected_bucket_owner(self.expected_owner.clone())
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(body.into_bytes()))
            .send()
            .await
            .map_err(|e| classify(&e))?;
        Ok(())
    }

    async fn put_new(&self, key: &str, body: String, content_type: &str) -> PortResult<bool> {
        let answer = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .set_expected_bucket_owner(self.expected_owner.clone())
            .key(key)
            .content_type(content_type)
            .if_none_match("*")
            .body(ByteStream::from(body.into_bytes()))
            .send()
            .await;
        match answer {
            Ok(_) => Ok(true),
            // 412: an object is there; 409: another conditional write of it is under way.
            Err(error) => match classify(&error) {
                PortError::Rejected { code, .. }
                    if code == "PreconditionFailed" || code == "ConditionalRequestConflict" =>
                {
                    Ok(false)
                }
                other => Err(other),
            },
        }
    }

    async fn get(&self, key: &str) -> PortResult<Option<String>> {
        let answer = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .set_expected_bucket_owner(self.expected_owner.clone())
            .key(key)
            .send()
            .await
        {
            Ok(answer) => answer,
            Err(error) => {
                if error.as_service_error().is_some_and(|e| e.is_no_such_key()) {
                    return Ok(None);
                }
                return Err(classify(&error));
            }
        };
        let bytes = answer
            .body
            .collect()
            .await
            .map_err(|e| PortError::Transport(format!("reading s3://{}/{key}: {e}", self.bucket)))?;
        String::from_utf8(bytes.to_vec())
            .map(Some)
            .map_err(|_| PortError::Transport(format!("s3://{}/{key} is not UTF-8", self.bucket)))
    }

    async fn list(&self, prefix: &str, page: Option<&str>) -> PortResult<Page<String>> {
        let answer = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .set_expected_bucket_owner(self.expected_owner.clone())
            .prefix(prefix)
            .set_continuation_token(page.map(str::to_owned))
            .send()
            .await
            .map_err(|e| classify(&e))?;
        Ok(Page {
            items: answer
                .contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_owned))
                .collect(),
            next_page: answer.next_continuation_token().map(str::to_owned),
        })
    }
}

/// Template objects read with the caller's credentials (the lister's role).
#[derive(Debug, Clone)]
pub struct S3Templates {
    client: Client,
}

impl S3Templates {
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    /// Path-style addressing, as `S3Store`.
    pub fn from_config(config: &SdkConfig) -> Self {
        Self::new(path_style_client(config))
    }
}

impl TemplateObjects for S3Templates {
    async fn read(&self, location: &S3Location) -> PortResult<TemplateObject> {
        let name = format!("s3://{}/{}", location.bucket, location.key);
        let answer = self
            .client
            .get_object()
            .bucket(&location.bucket)
            .key(&location.key)
            .set_version_id(location.version_id.clone())
            .send()
            .await
            .map_err(|e| match classify(&e) {
                PortError::Rejected { code, message } => PortError::Rejected {
                    code,
                    message: format!("{name}: {message}"),
                },
                other => other,
            })?;
        let version_id = answer.version_id().map(str::to_owned);
        let body = answer
            .body
            .collect()
            .await
            .map_err(|e| PortError::Transport(format!("reading {name}: {e}")))?;
        Ok(TemplateObject {
            version_id,
            body: body.to_vec(),
        })
    }
}
