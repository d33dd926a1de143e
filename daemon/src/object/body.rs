//! An object's data as the object layer hands it out: a stream of chunks
//! ([`ObjectBody`]), and an `AsyncRead` over one ([`body_reader`]).

use bytes::Bytes;
use futures::Stream;
use tokio::io::AsyncRead;

use super::ObjectError;
use crate::erasure::ObjectReader;
use crate::metrics::ObjectFigures;

/// An object's data as a stream of chunks. A small object kept inline in its metadata is
/// decoded whole at once (its frames are in memory already); any other is read ahead by a
/// task: the next block is read from the drives while the current one is sent, and at most
/// two blocks wait in memory.
pub struct ObjectBody {
    source: BodySource,
}

enum BodySource {
    Decoded(std::collections::VecDeque<Result<Bytes, ObjectError>>),
    ReadAhead(tokio::sync::mpsc::Receiver<Result<Bytes, ObjectError>>),
}

impl Stream for ObjectBody {
    type Item = Result<Bytes, ObjectError>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        match &mut self.source {
            BodySource::Decoded(chunks) => std::task::Poll::Ready(chunks.pop_front()),
            BodySource::ReadAhead(rx) => rx.poll_recv(cx),
        }
    }
}

/// The body of an inline object, decoded now: no task, no channel. An error before any
/// data is the read's error (an S3 error answer rather than a cut body).
pub(super) async fn decoded_body(
    mut reader: ObjectReader,
    figures: &ObjectFigures,
) -> Result<ObjectBody, ObjectError> {
    let mut chunks = std::collections::VecDeque::new();
    loop {
        match reader.next_chunk().await {
            Ok(Some(chunk)) => {
                figures.read_bytes(chunk.len() as u64);
                chunks.push_back(Ok(chunk));
            }
            Ok(None) => break,
            Err(e) if chunks.is_empty() => return Err(e.into()),
            Err(e) => {
                chunks.push_back(Err(e.into()));
                break;
            }
        }
    }
    let source = BodySource::Decoded(chunks);
    Ok(ObjectBody { source })
}

/// The body of any other object, read ahead by a task (see [`ObjectBody`]).
pub(super) fn reader_stream(mut reader: ObjectReader, figures: ObjectFigures) -> ObjectBody {
    let (tx, rx) = tokio::sync::mpsc::channel(2 * reader.data_shards());
    tokio::spawn(async move {
        loop {
            let chunk = match reader.next_chunk().await {
                Ok(Some(chunk)) => {
                    figures.read_bytes(chunk.len() as u64);
                    Ok(chunk)
                }
                Ok(None) => return,
                Err(e) => Err(ObjectError::from(e)),
            };
            let failed = chunk.is_err();
            // A closed channel: the client went away.
            if tx.send(chunk).await.is_err() || failed {
                return;
            }
        }
    });
    let source = BodySource::ReadAhead(rx);
    ObjectBody { source }
}

/// An `AsyncRead` over an object body stream.
pub fn body_reader(body: ObjectBody) -> impl AsyncRead + Unpin + Send {
    use futures::TryStreamExt;
    tokio_util::io::StreamReader::new(body.map_err(|e| std::io::Error::other(e.to_string())))
}
