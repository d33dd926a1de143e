//! Object and bucket tags: the `x-amz-tagging` header of PUT, CreateMultipartUpload and
//! CopyObject, `x-amz-tagging-count` on GET and HEAD, and the Put/Get/DeleteObjectTagging and
//! Put/Get/DeleteBucketTagging operations.
//!
//! An object's tags are one stored header ([`TAGGING`]) in the `x-amz-tagging` form
//! (`k1=v1&k2=v2`, percent-encoded), so they travel with the object through copies, heal
//! and listings, and changing them rewrites no data (a metadata update: the ETag and
//! Last-Modified stay). A bucket's tags are in its record. Tag sets keep S3's limits: at most
//! 10 tags on an object and 50 on a bucket, keys of 1 to 128 characters, values of at most
//! 256, no key twice, none starting with `aws:`; anything else is `InvalidTag`.

use std::collections::BTreeMap;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

use super::error::{s3_err, to_s3};
use crate::object::{MetadataUpdate, ObjectAttrs, ObjectInfo, ObjectLayer};

/// The stored header holding an object's tags.
pub const TAGGING: &str = "x-amz-tagging";
/// The most tags an object may have.
const OBJECT_TAGS: usize = 10;
/// The most tags a bucket may have.
const BUCKET_TAGS: usize = 50;
const MAX_KEY_CHARS: usize = 128;
const MAX_VALUE_CHARS: usize = 256;

/// What the stored form leaves unencoded: RFC 3986's unreserved characters.
const ENCODED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// A checked tag set, in the order it was given.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Tags(Vec<(String, String)>);

fn invalid(message: String) -> S3Error {
    s3_err(S3ErrorCode::InvalidTag, message)
}

impl Tags {
    /// Tags from pairs, checked against S3's limits with at most `max` tags.
    fn checked(pairs: Vec<(String, String)>, max: usize) -> Result<Self, S3Error> {
        if pairs.len() > max {
            return Err(invalid(format!("at most {max} tags are allowed")));
        }
        let mut seen = std::collections::HashSet::new();
        for (key, value) in &pairs {
            let chars = key.chars().count();
            if chars == 0 || chars > MAX_KEY_CHARS {
                return Err(invalid(format!(
                    "a tag key must have 1 to {MAX_KEY_CHARS} characters: {key:?}"
                )));
            }
            if value.chars().count() > MAX_VALUE_CHARS {
                return Err(invalid(format!(
                    "the value of tag {key:?} is longer than {MAX_VALUE_CHARS} characters"
                )));
            }
            if key.starts_with("aws:") {
                return Err(invalid(format!(
                    "tag keys starting with aws: are reserved: {key:?}"
                )));
            }
            if !seen.insert(key.as_str()) {
                return Err(invalid(format!("the tag key {key:?} is given twice")));
            }
        }
        Ok(Self(pairs))
    }

    /// The tags of an `x-amz-tagging` header (a URL query: `k1=v1&k2=v2`).
    pub fn from_header(header: &str) -> Result<Self, S3Error> {
        let decode = |s: &str| {
            let s = s.replace('+', " ");
            percent_decode_str(&s)
                .decode_utf8()
                .map(|c| c.into_owned())
                .map_err(|_| invalid("x-amz-tagging is not UTF-8 once decoded".into()))
        };
        let pairs = (header.split('&'))
            .filter(|p| !p.is_empty())
            .map(|pair| {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                Ok((decode(k)?, decode(v)?))
            })
            .collect::<Result<_, S3Error>>()?;
        Self::checked(pairs, OBJECT_TAGS)
    }

    /// The tags of a Tagging document, with at most `max` tags.
    fn from_set(set: TagSet, max: usize) -> Result<Self, S3Error> {
        let pairs = set
            .into_iter()
            .map(|t| (t.key.unwrap_or_default(), t.value.unwrap_or_default()))
            .collect();
        Self::checked(pairs, max)
    }

    /// The tags stored as `stored` (nothing stored: none).
    pub fn stored(stored: Option<&String>) -> Self {
        // Stored forms were checked when written.
        stored
            .and_then(|s| Self::from_header(s).ok())
            .unwrap_or_default()
    }

    /// The stored form; `None` for no tags.
    pub fn encode(&self) -> Option<String> {
        let pair = |(k, v): &(String, String)| {
            format!(
                "{}={}",
                utf8_percent_encode(k, ENCODED),
                utf8_percent_encode(v, ENCODED)
            )
        };
        (!self.0.is_empty()).then(|| self.0.iter().map(pair).collect::<Vec<_>>().join("&"))
    }

    fn to_set(&self) -> TagSet {
        (self.0.iter())
            .map(|(k, v)| Tag {
                key: Some(k.clone()),
                value: Some(v.clone()),
            })
            .collect()
    }
}

/// The number of tags of an object, for `x-amz-tagging-count` (none when it has no tags).
pub fn count(info: &ObjectInfo) -> Option<i32> {
    let n = Tags::stored(info.headers.get(TAGGING)).0.len();
    (n > 0).then_some(n as i32)
}

/// Sets the tags of a write's `x-amz-tagging` header on `attrs` (none: no tags).
pub fn set_from_header(attrs: &mut ObjectAttrs, header: Option<&str>) -> Result<(), S3Error> {
    let tags = header
        .map(Tags::from_header)
        .transpose()?
        .unwrap_or_default();
    set(&mut attrs.headers, &tags);
    Ok(())
}

fn set(headers: &mut BTreeMap<String, String>, tags: &Tags) {
    match tags.encode() {
        Some(stored) => headers.insert(TAGGING.to_string(), stored),
        None => headers.remove(TAGGING),
    };
}

/// Gives a copy's target (`attrs`) the source's tags, unless the tagging directive is
/// REPLACE: then those of `x-amz-tagging`.
pub fn copy_tags(
    attrs: &mut ObjectAttrs,
    source: &ObjectInfo,
    directive: Option<&TaggingDirective>,
    header: Option<&str>,
) -> Result<(), S3Error> {
    if directive.is_some_and(|d| d.as_str() == TaggingDirective::REPLACE) {
        set_from_header(attrs, header)
    } else {
        set(
            &mut attrs.headers,
            &Tags::stored(source.headers.get(TAGGING)),
        );
        Ok(())
    }
}

/// The metadata update that gives an object `tags`.
fn update(tags: &Tags) -> MetadataUpdate {
    MetadataUpdate {
        headers: BTreeMap::from([(TAGGING.to_string(), tags.encode())]),
        ..Default::default()
    }
}

pub async fn put_object_tagging(
    layer: &ObjectLayer,
    req: S3Request<PutObjectTaggingInput>,
) -> S3Result<S3Response<PutObjectTaggingOutput>> {
    let i = req.input;
    let tags = Tags::from_set(i.tagging.tag_set, OBJECT_TAGS)?;
    let at = (i.bucket.as_str(), i.key.as_str(), i.version_id.as_deref());
    let info = change_tags(layer, at, &update(&tags)).await?;
    Ok(S3Response::new(PutObjectTaggingOutput {
        version_id: super::convert::version_id(&info),
    }))
}

pub async fn get_object_tagging(
    layer: &ObjectLayer,
    req: S3Request<GetObjectTaggingInput>,
) -> S3Result<S3Response<GetObjectTaggingOutput>> {
    let i = req.input;
    let info = (layer.head_version(&i.bucket, &i.key, i.version_id.as_deref()))
        .await
        .map_err(to_s3)?;
    Ok(S3Response::new(GetObjectTaggingOutput {
        tag_set: Tags::stored(info.headers.get(TAGGING)).to_set(),
        version_id: super::convert::version_id(&info),
    }))
}

pub async fn delete_object_tagging(
    layer: &ObjectLayer,
    req: S3Request<DeleteObjectTaggingInput>,
) -> S3Result<S3Response<DeleteObjectTaggingOutput>> {
    let i = req.input;
    let at = (i.bucket.as_str(), i.key.as_str(), i.version_id.as_deref());
    let info = change_tags(layer, at, &update(&Tags::default())).await?;
    Ok(S3Response::new(DeleteObjectTaggingOutput {
        version_id: super::convert::version_id(&info),
    }))
}

/// Changes the tags of an object's current version, or of the version named.
async fn change_tags(
    layer: &ObjectLayer,
    (bucket, key, version): (&str, &str, Option<&str>),
    change: &MetadataUpdate,
) -> S3Result<ObjectInfo> {
    let changed = match version {
        None => layer.update_object_metadata(bucket, key, change).await,
        Some(v) => layer.update_version_headers((bucket, key, v), change).await,
    };
    changed.map_err(to_s3)
}

pub async fn put_bucket_tagging(
    layer: &ObjectLayer,
    req: S3Request<PutBucketTaggingInput>,
) -> S3Result<S3Response<PutBucketTaggingOutput>> {
    let i = req.input;
    let tags = Tags::from_set(i.tagging.tag_set, BUCKET_TAGS)?;
    (layer.set_bucket_tags(&i.bucket, tags.encode()))
        .await
        .map_err(to_s3)?;
    Ok(S3Response::new(PutBucketTaggingOutput::default()))
}

pub async fn get_bucket_tagging(
    layer: &ObjectLayer,
    req: S3Request<GetBucketTaggingInput>,
) -> S3Result<S3Response<GetBucketTaggingOutput>> {
    let stored = (layer.bucket_tags(&req.input.bucket))
        .await
        .map_err(to_s3)?;
    let Some(stored) = stored else {
        return Err(s3_err(
            S3ErrorCode::NoSuchTagSet,
            "The TagSet does not exist",
        ));
    };
    Ok(S3Response::new(GetBucketTaggingOutput {
        tag_set: Tags::stored(Some(&stored)).to_set(),
    }))
}

pub async fn delete_bucket_tagging(
    layer: &ObjectLayer,
    req: S3Request<DeleteBucketTaggingInput>,
) -> S3Result<S3Response<DeleteBucketTaggingOutput>> {
    (layer.set_bucket_tags(&req.input.bucket, None))
        .await
        .map_err(to_s3)?;
    Ok(S3Response::new(DeleteBucketTaggingOutput::default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_tags_round_trip_through_the_stored_form() {
        let tags = Tags::from_header("project=alpha%20one&empty=&k%C3%A9y=v%2Bw+x").unwrap();
        assert_eq!(
            tags.0,
            [
                ("project".into(), "alpha one".into()),
                ("empty".into(), String::new()),
                ("kéy".into(), "v+w x".into())
            ]
        );
        let stored = tags.encode().unwrap();
        assert_eq!(Tags::stored(Some(&stored)), tags);
        assert_eq!(Tags::from_header("").unwrap().encode(), None);
    }

    #[test]
    fn tag_sets_outside_s3_limits_are_invalid_tags() {
        let code = |h: &str| Tags::from_header(h).unwrap_err().code().clone();
        let eleven: Vec<String> = (0..11).map(|i| format!("k{i}=v")).collect();
        assert_eq!(code(&eleven.join("&")), S3ErrorCode::InvalidTag);
        assert_eq!(code("a=1&a=2"), S3ErrorCode::InvalidTag);
        assert_eq!(code("=v"), S3ErrorCode::InvalidTag);
        assert_eq!(
            code(&format!("{}=v", "k".repeat(129))),
            S3ErrorCode::InvalidTag
        );
        assert_eq!(
            code(&format!("k={}", "é".repeat(257))),
            S3ErrorCode::InvalidTag
        );
        assert_eq!(code("aws:x=1"), S3ErrorCode::InvalidTag);
        assert!(Tags::from_header(&format!("{}={}", "k".repeat(128), "é".repeat(256))).is_ok());
        let fifty: TagSet = (0..50)
            .map(|i| Tag {
                key: Some(format!("k{i}")),
                value: Some("v".into()),
            })
            .collect();
        assert!(Tags::from_set(fifty.clone(), BUCKET_TAGS).is_ok());
        assert!(Tags::from_set(fifty, OBJECT_TAGS).is_err());
    }
}
