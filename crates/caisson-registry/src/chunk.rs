//! The size a chunk declares (`Content-Range`, `Content-Length`) against the
//! bytes that arrive. A chunk whose headers disagree is refused before a byte
//! is written; a body that turns out longer or shorter than its range is cut
//! off with an error the handler turns into `416 RANGE_INVALID`.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::http::{header, HeaderMap};
use bytes::Bytes;
use caisson_registry_store::ByteStream;
use futures_util::Stream;

use crate::route::parse_content_range;

/// What a PATCH declares about its chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Declared {
    pub start: u64,
    /// Bytes the range covers (`end - start + 1`).
    pub len: u64,
}

/// Why a chunk's declaration is refused before reading its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DeclError {
    /// `Content-Range` present but not `[bytes ]<start>-<end>` with start ≤ end.
    Malformed(String),
    /// `Content-Range` and `Content-Length` give different sizes.
    LengthMismatch { range: u64, length: u64 },
}

/// Reads the chunk declaration of a PATCH: `None` without `Content-Range`.
pub(crate) fn declared(headers: &HeaderMap) -> Result<Option<Declared>, DeclError> {
    let Some(cr) = headers.get(header::CONTENT_RANGE) else {
        return Ok(None);
    };
    let text = cr.to_str().unwrap_or("");
    let (start, end) =
        parse_content_range(text).ok_or_else(|| DeclError::Malformed(text.to_string()))?;
    let len = end
        .checked_sub(start)
        .and_then(|n| n.checked_add(1))
        .ok_or_else(|| DeclError::Malformed(text.to_string()))?;
    let length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if let Some(length) = length {
        if length != len {
            return Err(DeclError::LengthMismatch { range: len, length });
        }
    }
    Ok(Some(Declared { start, len }))
}

/// Passes a body through while counting it; yields an error (and sets the
/// flag) as soon as it exceeds `expected` bytes, or when it ends short.
pub(crate) struct ExactLength {
    inner: ByteStream,
    expected: u64,
    seen: u64,
    done: bool,
    mismatch: Arc<AtomicBool>,
}

impl ExactLength {
    /// Wraps `inner`; the returned flag is set when the length was wrong.
    pub(crate) fn wrap(inner: ByteStream, expected: u64) -> (ByteStream, Arc<AtomicBool>) {
        let mismatch = Arc::new(AtomicBool::new(false));
        let s = ExactLength {
            inner,
            expected,
            seen: 0,
            done: false,
            mismatch: mismatch.clone(),
        };
        (Box::pin(s), mismatch)
    }

    fn fail(&mut self, msg: String) -> Poll<Option<std::io::Result<Bytes>>> {
        self.done = true;
        self.mismatch.store(true, Ordering::SeqCst);
        Poll::Ready(Some(Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            msg,
        ))))
    }
}

impl Stream for ExactLength {
    type Item = std::io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        match self.inner.as_mut().poll_next(cx) {
            Poll::Ready(Some(Ok(b))) => {
                self.seen = self.seen.saturating_add(b.len() as u64);
                if self.seen > self.expected {
                    let (seen, expected) = (self.seen, self.expected);
                    return self.fail(format!(
                        "chunk body is longer than its Content-Range ({seen}+ > {expected} bytes)"
                    ));
                }
                Poll::Ready(Some(Ok(b)))
            }
            Poll::Ready(None) if self.seen != self.expected => {
                let (seen, expected) = (self.seen, self.expected);
                self.fail(format!(
                    "chunk body is {seen} bytes, its Content-Range says {expected}"
                ))
            }
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().expect("header"));
        }
        h
    }

    #[test]
    fn declarations() {
        assert_eq!(declared(&headers(&[])), Ok(None));
        assert_eq!(
            declared(&headers(&[
                ("content-range", "10-19"),
                ("content-length", "10")
            ])),
            Ok(Some(Declared { start: 10, len: 10 }))
        );
        assert_eq!(
            declared(&headers(&[
                ("content-range", "0-99"),
                ("content-length", "50")
            ])),
            Err(DeclError::LengthMismatch {
                range: 100,
                length: 50
            })
        );
        assert!(matches!(
            declared(&headers(&[("content-range", "9-1")])),
            Err(DeclError::Malformed(_))
        ));
        assert!(matches!(
            declared(&headers(&[("content-range", "0-18446744073709551615")])),
            Err(DeclError::Malformed(_))
        ));
    }

    async fn collect(chunks: &[&'static [u8]], expected: u64) -> (Vec<u8>, bool, bool) {
        let inner: ByteStream = Box::pin(futures_util::stream::iter(
            chunks
                .iter()
                .map(|c| Ok::<_, std::io::Error>(Bytes::from_static(c)))
                .collect::<Vec<_>>(),
        ));
        let (mut s, flag) = ExactLength::wrap(inner, expected);
        let mut out = Vec::new();
        let mut errored = false;
        while let Some(item) = s.next().await {
            match item {
                Ok(b) => out.extend_from_slice(&b),
                Err(_) => errored = true,
            }
        }
        (out, errored, flag.load(Ordering::SeqCst))
    }

    #[tokio::test]
    async fn exact_length_cuts_long_and_short_bodies() {
        assert_eq!(
            collect(&[b"abc", b"de"], 5).await,
            (b"abcde".to_vec(), false, false)
        );
        let (_, err, flag) = collect(&[b"abc", b"def"], 5).await;
        assert!(err && flag, "longer");
        let (_, err, flag) = collect(&[b"abc"], 5).await;
        assert!(err && flag, "shorter");
    }
}
