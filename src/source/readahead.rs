//! Decompressing on a thread of its own, ahead of the parser.
//!
//! Inflating a gzip archive costs about as much CPU as parsing what comes out of it, and a first
//! scan is mostly rotated archives. [`ReadAhead`] runs the decoder on its own thread and hands
//! over filled blocks, so decompression, parsing and storing run side by side. Plain files gain
//! nothing from it (reading them is a copy from the page cache) and are read directly.

use std::io::{self, Read};
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender, bounded};

/// Bytes per block handed over.
const BLOCK: usize = 1 << 20;
/// Blocks decoded ahead of the reader: enough to ride out uneven decoding, few enough that
/// memory stays flat.
const AHEAD: usize = 3;

/// A reader whose content is produced by another reader on a background thread.
///
/// The content and any error come out in the same order as from the inner reader: the bytes
/// before an error (a truncated archive) are all delivered first.
pub struct ReadAhead {
    blocks: Option<Receiver<io::Result<Vec<u8>>>>,
    /// Emptied blocks going back to the decoder.
    recycle: Sender<Vec<u8>>,
    current: Vec<u8>,
    pos: usize,
    handle: Option<JoinHandle<()>>,
}

impl ReadAhead {
    /// Starts decoding `inner` on a new thread.
    pub fn new(mut inner: Box<dyn Read + Send>) -> io::Result<ReadAhead> {
        let (tx, blocks) = bounded(AHEAD);
        let (recycle, recycled) = bounded::<Vec<u8>>(AHEAD + 2);
        let handle = std::thread::Builder::new().name("decompress".into()).spawn(move || {
            loop {
                let mut block = recycled.try_recv().unwrap_or_default();
                let result = fill(&mut *inner, &mut block);
                // The bytes decoded before an error come first; a failed send means the reader
                // is gone.
                if !block.is_empty() && tx.send(Ok(block)).is_err() {
                    return;
                }
                match result {
                    Ok(false) => {}
                    Ok(true) => return,
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                }
            }
        })?;
        Ok(ReadAhead { blocks: Some(blocks), recycle, current: Vec::new(), pos: 0, handle: Some(handle) })
    }
}

/// Reads from `inner` into `block` (its old bytes overwritten) until it holds [`BLOCK`] bytes or
/// the content ends. Returns whether it ended.
fn fill(inner: &mut dyn Read, block: &mut Vec<u8>) -> io::Result<bool> {
    // A recycled block is already full length: only a new one is zeroed.
    block.resize(BLOCK, 0);
    let mut len = 0;
    let result = loop {
        if len == BLOCK {
            break Ok(false);
        }
        match inner.read(&mut block[len..]) {
            Ok(0) => break Ok(true),
            Ok(n) => len += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => break Err(e),
        }
    };
    block.truncate(len);
    result
}

impl Read for ReadAhead {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.current.len() {
            let Some(blocks) = &self.blocks else { return Ok(0) };
            match blocks.recv() {
                Ok(Ok(block)) => {
                    let used = std::mem::replace(&mut self.current, block);
                    let _ = self.recycle.try_send(used);
                    self.pos = 0;
                }
                Ok(Err(e)) => {
                    self.blocks = None;
                    return Err(e);
                }
                // The decoder finished (its channel is closed once everything was received).
                Err(_) => {
                    self.blocks = None;
                    return Ok(0);
                }
            }
        }
        let n = buf.len().min(self.current.len() - self.pos);
        buf[..n].copy_from_slice(&self.current[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

impl Drop for ReadAhead {
    fn drop(&mut self) {
        // Closing the channel stops the decoder after the block it is filling.
        drop(self.blocks.take());
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Gives `data` in pieces of random sizes, then `error` if any.
    struct Choppy {
        data: Vec<u8>,
        pos: usize,
        rng: fastrand::Rng,
        error: Option<io::ErrorKind>,
    }

    impl Read for Choppy {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.pos == self.data.len() {
                return match self.error.take() {
                    Some(kind) => Err(io::Error::new(kind, "truncated")),
                    None => Ok(0),
                };
            }
            if self.rng.u8(0..10) == 0 {
                return Err(io::ErrorKind::Interrupted.into());
            }
            let n = buf.len().min(self.data.len() - self.pos).min(self.rng.usize(1..300_000));
            buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
            self.pos += n;
            Ok(n)
        }
    }

    fn content(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 % 251) as u8).collect()
    }

    fn choppy(data: &[u8], error: Option<io::ErrorKind>) -> Box<dyn Read + Send> {
        Box::new(Choppy { data: data.to_vec(), pos: 0, rng: fastrand::Rng::with_seed(data.len() as u64), error })
    }

    #[test]
    fn delivers_the_content_unchanged_whatever_the_sizes() {
        for len in [0, 1, BLOCK - 1, BLOCK, BLOCK + 1, 5 * BLOCK + 12_345] {
            let data = content(len);
            let mut out = Vec::new();
            ReadAhead::new(choppy(&data, None)).unwrap().read_to_end(&mut out).unwrap();
            assert!(out == data, "length {len}: got {} bytes", out.len());
        }
    }

    #[test]
    fn an_error_comes_after_every_byte_before_it_and_then_the_end() {
        let data = content(3 * BLOCK + 77);
        let mut r = ReadAhead::new(choppy(&data, Some(io::ErrorKind::UnexpectedEof))).unwrap();
        let mut out = Vec::new();
        let err = r.read_to_end(&mut out).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        assert!(out == data, "got {} of {} bytes before the error", out.len(), data.len());
        assert_eq!(r.read(&mut [0; 8]).unwrap(), 0);
    }

    #[test]
    fn dropping_it_early_stops_the_decoder() {
        let data = content(20 * BLOCK);
        let mut r = ReadAhead::new(choppy(&data, None)).unwrap();
        let mut first = [0; 10];
        r.read_exact(&mut first).unwrap();
        assert_eq!(first[..], data[..10]);
        // Returns (joining the thread) although most of the content was never read.
        drop(r);
    }
}
