//! Byte pipes between async transfers and the blocking tar/gzip code: the
//! archive is packed or unpacked on a blocking thread while its bytes
//! stream to or from S3, a few chunks at a time (the channel is bounded, so
//! the faster side waits and memory stays small).

use std::io::{self, Read, Write};

use bytes::{Buf, Bytes, BytesMut};
use tokio::sync::mpsc::{Receiver, Sender, channel};

/// Chunks in flight in a pipe.
const DEPTH: usize = 4;
/// The size of a chunk a writer sends.
const CHUNK: usize = 1024 * 1024;

/// A pipe: the blocking writer's end and the async reader's end, or the
/// async writer's end and the blocking reader's end.
pub(crate) fn pipe() -> (Sender<Bytes>, Receiver<Bytes>) {
    channel(DEPTH)
}

/// Reads, on a blocking thread, what an async task sends.
pub(crate) struct ChannelReader {
    chunks: Receiver<Bytes>,
    current: Bytes,
}

impl ChannelReader {
    pub(crate) fn new(chunks: Receiver<Bytes>) -> ChannelReader {
        ChannelReader {
            chunks,
            current: Bytes::new(),
        }
    }
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            match self.chunks.blocking_recv() {
                Some(chunk) => self.current = chunk,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        self.current.advance(n);
        Ok(n)
    }
}

/// Writes, from a blocking thread, chunks an async task receives. Dropping
/// it ends the stream; `flush` sends what is buffered.
pub(crate) struct ChannelWriter {
    chunks: Sender<Bytes>,
    buffer: BytesMut,
}

impl ChannelWriter {
    pub(crate) fn new(chunks: Sender<Bytes>) -> ChannelWriter {
        ChannelWriter {
            chunks,
            buffer: BytesMut::with_capacity(CHUNK),
        }
    }

    fn send(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = self.buffer.split().freeze();
        self.chunks
            .blocking_send(chunk)
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the upload stopped"))
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.buffer.extend_from_slice(buf);
        if self.buffer.len() >= CHUNK {
            self.send()?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send()
    }
}
