//! S3 behind core's `RunStore`: one bucket, the run's records under a prefix.

use aws_config::SdkConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;
use stackfleet_core::ports::{Page, PortError, PortResult, RunStore};

use crate::errors::classify;

#[derive(Debug, Clone)]
pub struct S3Store {
    client: Client,
    bucket: String,
}

impl S3Store {
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
        }
    }

    /// Path-style addressing: what local emulators answer, and harmless against AWS.
    pub fn from_config(config: &SdkConfig, bucket: impl Into<String>) -> Self {
        let s3 = aws_sdk_s3::config::Builder::from(config)
            .force_path_style(true)
            .build();
        Self::new(Client::from_conf(s3), bucket)
    }
}

impl RunStore for S3Store {
    async fn put(&self, key: &str, body: String, content_type: &str) -> PortResult<()> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(body.into_bytes()))
            .send()
            .await
            .map_err(|e| classify(&e))?;
        Ok(())
    }

    async fn get(&self, key: &str) -> PortResult<Option<String>> {
        let answer = match self
            .client
            .get_object()
            .bucket(&self.bucket)
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
