//! Pinned templates: the state machine deploys a template from S3, and every target of a run
//! gets the object version Discover read, whatever is written to the same key later. The run
//! record keeps that version and the content's SHA-256; the workers deploy the URL with
//! `?versionId=`, which S3 serves immutably.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::template::{TemplateError, TemplateUrl};

/// Where an S3 template URL points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Location {
    pub bucket: String,
    pub key: String,
    /// A `versionId` the URL already names.
    pub version_id: Option<String>,
}

/// An S3 object as the lister read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateObject {
    /// `None` when the bucket has never had versioning.
    pub version_id: Option<String>,
    pub body: Vec<u8>,
}

/// The template a run deploys: the URL as given, the object version read at Discover, and the
/// content's SHA-256 (hex). In the run record and the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PinnedTemplate {
    pub url: TemplateUrl,
    pub version_id: String,
    pub sha256: String,
}

impl PinnedTemplate {
    /// Pins `url` to the version `object` is. An object without a version is refused: without
    /// versioning, a write to the key mid-run would reach the later targets.
    pub fn of(url: &TemplateUrl, object: &TemplateObject) -> Result<Self, TemplateError> {
        let version_id = object
            .version_id
            .clone()
            .filter(|v| !v.is_empty() && v != "null")
            .ok_or_else(|| {
                TemplateError::Unreadable(format!(
                    "{}: the object has no version: turn versioning on for its bucket, so that \
                     each run deploys one fixed version of the template",
                    url.as_str()
                ))
            })?;
        let sha256 = Sha256::digest(&object.body)
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        Ok(Self {
            url: url.clone(),
            version_id,
            sha256,
        })
    }

    /// The URL the workers deploy: the object at this version. An error (never the unpinned
    /// URL) when the versioned URL is not one CloudFormation takes (over 1,024 characters).
    pub fn deployed_url(&self) -> Result<TemplateUrl, TemplateError> {
        let base = self
            .url
            .as_str()
            .split_once('?')
            .map_or(self.url.as_str(), |(base, _)| base);
        TemplateUrl::parse(format!("{base}?versionId={}", percent_encode(&self.version_id)))
    }
}

/// Reads bucket, key and version from the URL forms S3 and CloudFormation use:
/// `https://BUCKET.s3[.-]REGION.amazonaws.com/KEY`, `https://BUCKET.s3.amazonaws.com/KEY` and the
/// path style `https://s3[.-]REGION.amazonaws.com/BUCKET/KEY` (and `.amazonaws.com.cn`).
pub fn s3_location(url: &TemplateUrl) -> Result<S3Location, TemplateError> {
    let bad = || TemplateError::BadUrl(url.as_str().to_owned());
    let rest = url.as_str().strip_prefix("https://").ok_or_else(bad)?;
    let (rest, query) = rest.split_once('?').map_or((rest, None), |(r, q)| (r, Some(q)));
    let (host, path) = rest.split_once('/').ok_or_else(bad)?;
    let service = host
        .strip_suffix(".amazonaws.com")
        .or_else(|| host.strip_suffix(".amazonaws.com.cn"))
        .ok_or_else(bad)?;
    // Virtual-hosted: the bucket is everything before the last `.s3.` / `.s3-` (a bucket name
    // may hold dots); else path style, `s3[.-]REGION/BUCKET/KEY`.
    let virtual_at = [".s3.", ".s3-"]
        .iter()
        .filter_map(|marker| service.rfind(marker))
        .max()
        .or_else(|| service.strip_suffix(".s3").map(str::len));
    let path_style = service == "s3" || service.starts_with("s3.") || service.starts_with("s3-");
    // Access points and Object Lambda are other kinds of host: refused, not read as buckets.
    if service.contains("s3-accesspoint") || service.contains("s3-object-lambda") {
        return Err(bad());
    }
    let (bucket, key) = match virtual_at {
        Some(at) => (&service[..at], path),
        None if path_style => path.split_once('/').ok_or_else(bad)?,
        None => return Err(bad()),
    };
    if bucket.is_empty() || key.is_empty() {
        return Err(bad());
    }
    let version_id = query.and_then(|q| {
        q.split('&')
            .find_map(|pair| pair.strip_prefix("versionId="))
            .map(percent_decode)
    });
    Ok(S3Location {
        bucket: bucket.to_owned(),
        key: percent_decode(key),
        version_id,
    })
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> TemplateUrl {
        TemplateUrl::parse(text.into()).unwrap()
    }

    #[test]
    fn the_url_forms_of_s3_give_bucket_and_key() {
        for (text, bucket, key) in [
            ("https://tpl.s3.amazonaws.com/a/b.yaml", "tpl", "a/b.yaml"),
            ("https://tpl.s3.eu-west-1.amazonaws.com/b.yaml", "tpl", "b.yaml"),
            (
                "https://my.dotted.bucket.s3-eu-west-1.amazonaws.com/b.yaml",
                "my.dotted.bucket",
                "b.yaml",
            ),
            ("https://s3.amazonaws.com/tpl/dir/b.yaml", "tpl", "dir/b.yaml"),
            (
                "https://s3.us-east-1.amazonaws.com/tpl/b%20c.yaml",
                "tpl",
                "b c.yaml",
            ),
            (
                "https://tpl.s3.cn-north-1.amazonaws.com.cn/b.yaml",
                "tpl",
                "b.yaml",
            ),
        ] {
            let location = s3_location(&url(text)).unwrap();
            assert_eq!(
                (location.bucket.as_str(), location.key.as_str()),
                (bucket, key),
                "{text}"
            );
            assert_eq!(location.version_id, None);
        }
        let versioned = s3_location(&url("https://tpl.s3.amazonaws.com/b.yaml?versionId=a%2Bb")).unwrap();
        assert_eq!(versioned.version_id.as_deref(), Some("a+b"));
        for bad in [
            "https://example.com/b.yaml",
            "https://tpl.s3.amazonaws.com/",
            "https://s3.amazonaws.com/tpl",
        ] {
            assert!(s3_location(&url(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_pin_names_the_version_and_the_content_digest() {
        let object = TemplateObject {
            version_id: Some("3HL4kqtJl+40".into()),
            body: b"Resources: {}".to_vec(),
        };
        let pinned = PinnedTemplate::of(&url("https://tpl.s3.amazonaws.com/b.yaml"), &object).unwrap();
        assert_eq!(pinned.version_id, "3HL4kqtJl+40");
        assert_eq!(pinned.sha256.len(), 64);
        let deployed = pinned.deployed_url().unwrap();
        assert_eq!(
            deployed.as_str(),
            "https://tpl.s3.amazonaws.com/b.yaml?versionId=3HL4kqtJl%2B40"
        );
        assert_eq!(
            s3_location(&deployed).unwrap().version_id.as_deref(),
            Some("3HL4kqtJl+40")
        );
        let long = PinnedTemplate {
            url: url(&format!("https://tpl.s3.amazonaws.com/{}", "k".repeat(990))),
            ..pinned
        };
        assert!(long.deployed_url().is_err(), "never the unpinned URL");
        let unversioned = TemplateObject {
            version_id: Some("null".into()),
            body: vec![],
        };
        let error =
            PinnedTemplate::of(&url("https://tpl.s3.amazonaws.com/b.yaml"), &unversioned).unwrap_err();
        assert!(error.to_string().contains("turn versioning on"), "{error}");
    }
}
