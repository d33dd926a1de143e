use bytes::Bytes;
use http_body::Frame;
use http_body_util::BodyExt;
use prost::Message;
use tonic::Status;
use tonic::body::Body;

use super::END_SIGNATURE;
use crate::chain;
use crate::object::{PutObjectHeader, PutObjectRequest, put_object_request::Msg};

const SECRET: &str = "secret";
const SIGNATURE: &str = "00aa";

fn framed(message: &impl Message) -> Vec<u8> {
    let payload = message.encode_to_vec();
    let mut m = vec![0];
    m.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    m.extend_from_slice(&payload);
    m
}

/// An upload's body as tonic sends it: a header message, then `parts` data messages.
fn upload(parts: &[&[u8]]) -> Vec<u8> {
    let header = PutObjectRequest {
        msg: Some(Msg::Header(PutObjectHeader {
            bucket: "b".into(),
            key: "k".into(),
            ..Default::default()
        })),
    };
    let mut wire = framed(&header);
    for part in parts {
        let data = PutObjectRequest {
            msg: Some(Msg::Data(Bytes::copy_from_slice(part))),
        };
        wire.extend(framed(&data));
    }
    wire
}

fn body(frames: Vec<Frame<Bytes>>) -> Body {
    let frames = frames.into_iter().map(Ok::<_, Status>);
    Body::new(http_body_util::StreamBody::new(futures::stream::iter(
        frames,
    )))
}

/// `wire` cut every `cut` bytes into data frames.
fn cut(wire: &[u8], cut: usize) -> Body {
    body(
        wire.chunks(cut)
            .map(|c| Frame::data(Bytes::copy_from_slice(c)))
            .collect(),
    )
}

/// A body's frames: its data as one piece, and its trailers.
async fn frames(body: Body) -> Result<(Vec<u8>, Option<tonic::codegen::http::HeaderMap>), Status> {
    let collected = body.collect().await?;
    let trailers = collected.trailers().cloned();
    Ok((collected.to_bytes().to_vec(), trailers))
}

async fn signed(wire: &[u8]) -> (Vec<u8>, tonic::codegen::http::HeaderMap) {
    let (data, trailers) = frames(chain::signed(cut(wire, 1 << 20), SECRET, SIGNATURE))
        .await
        .unwrap();
    (data, trailers.expect("the end signature"))
}

/// The messages of a gRPC body.
fn messages(mut wire: &[u8]) -> Vec<PutObjectRequest> {
    let mut out = Vec::new();
    while !wire.is_empty() {
        let len = u32::from_be_bytes(wire[1..5].try_into().unwrap()) as usize;
        out.push(PutObjectRequest::decode(&wire[5..5 + len]).unwrap());
        wire = &wire[5 + len..];
    }
    out
}

fn with_trailers(wire: &[u8], each: usize, trailers: tonic::codegen::http::HeaderMap) -> Body {
    let mut frames: Vec<_> = wire
        .chunks(each)
        .map(|c| Frame::data(Bytes::copy_from_slice(c)))
        .collect();
    frames.push(Frame::trailers(trailers));
    body(frames)
}

async fn verified(
    wire: &[u8],
    each: usize,
    trailers: tonic::codegen::http::HeaderMap,
) -> Result<Vec<u8>, Status> {
    let checked = chain::verified(with_trailers(wire, each, trailers), SECRET, SIGNATURE);
    Ok(frames(checked).await?.0)
}

#[tokio::test]
async fn signed_bodies_verify_however_they_are_cut_and_decode_unchanged() {
    let wire = upload(&[b"one", &[7; 3000], b"", b"three"]);
    let (sent, trailers) = signed(&wire).await;
    assert!(trailers.contains_key(END_SIGNATURE));
    // Every message after the first grew by its link; the services decode them unchanged.
    assert_eq!(sent.len(), wire.len() + 4 * 34);
    assert_eq!(messages(&sent), messages(&wire));
    for each in [1, 4, 5, 6, 39, 40, 41, 1000, sent.len()] {
        let got = verified(&sent, each, trailers.clone()).await;
        assert_eq!(got.unwrap(), sent, "cut every {each} bytes");
    }
}

#[tokio::test]
async fn changed_dropped_reordered_or_added_data_is_refused() {
    let wire = upload(&[b"first part", b"second part", b"third part"]);
    let (sent, trailers) = signed(&wire).await;
    let refused = |r: Result<Vec<u8>, Status>| {
        let e = r.expect_err("refused");
        assert_eq!(e.code(), tonic::Code::Unauthenticated, "{e}");
    };
    // One byte of a data message changed (its length kept).
    let at = sent.windows(6).position(|w| w == b"second").unwrap();
    let mut changed = sent.clone();
    changed[at] = b'S';
    refused(verified(&changed, 7, trailers.clone()).await);
    // The last message dropped (cut short between messages).
    let last = sent.len() - (5 + messages(&wire)[3].encoded_len() + 34);
    refused(verified(&sent[..last], 7, trailers.clone()).await);
    // Two data messages swapped.
    let msgs = split(&sent);
    let swapped = [msgs[0], msgs[2], msgs[1], msgs[3]].concat();
    refused(verified(&swapped, 7, trailers.clone()).await);
    // A data message repeated.
    let added = [msgs[0], msgs[1], msgs[2], msgs[3], msgs[3]].concat();
    refused(verified(&added, 7, trailers.clone()).await);
    // No end signature, or another one.
    let checked = chain::verified(cut(&sent, 7), SECRET, SIGNATURE);
    refused(frames(checked).await.map(|(d, _)| d));
    let mut other = trailers.clone();
    other.insert(END_SIGNATURE, "00".parse().unwrap());
    refused(verified(&sent, 7, other).await);
    // Another secret, or another call's signature.
    let checked = chain::verified(
        with_trailers(&sent, 7, trailers.clone()),
        "other",
        SIGNATURE,
    );
    refused(frames(checked).await.map(|(d, _)| d));
    let checked = chain::verified(with_trailers(&sent, 7, trailers.clone()), SECRET, "00ab");
    refused(frames(checked).await.map(|(d, _)| d));
    // Unchained data after a signed header.
    refused(verified(&wire, 7, trailers).await);
}

#[tokio::test]
async fn a_unary_body_and_an_empty_one_carry_only_the_end_signature() {
    let wire = upload(&[]);
    let (sent, trailers) = signed(&wire).await;
    assert_eq!(sent, wire);
    assert_eq!(verified(&sent, 3, trailers.clone()).await.unwrap(), wire);
    // The end signature counts the messages: a unary call's cannot end an empty body.
    refused_empty(trailers).await;
    let (sent, trailers) = signed(&[]).await;
    assert!(sent.is_empty());
    assert!(verified(&sent, 3, trailers).await.unwrap().is_empty());
}

async fn refused_empty(trailers: tonic::codegen::http::HeaderMap) {
    let e = verified(&[], 3, trailers).await.unwrap_err();
    assert_eq!(e.code(), tonic::Code::Unauthenticated);
}

/// The framed messages of a body, each with its prefix.
fn split(mut wire: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while !wire.is_empty() {
        let len = u32::from_be_bytes(wire[1..5].try_into().unwrap()) as usize;
        out.push(&wire[..5 + len]);
        wire = &wire[5 + len..];
    }
    out
}
