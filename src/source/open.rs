//! Opening a log file, decompressing it when its first bytes say it is compressed.
//!
//! The format is decided by magic bytes, never by the name: `mail.log.2.gz` may be plain text
//! (compression failed half-way, or `compressext` lies) and `mail.log.1` may be compressed.

use std::fs::{File, Metadata};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

/// How a file's content is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    /// Plain text: can be read from any offset and can still grow.
    None,
    /// gzip (`1f 8b`), multi-member.
    Gzip,
    /// xz (`fd 37 7a 58 5a 00`), multi-stream.
    Xz,
    /// Zstandard (`28 b5 2f fd`), multi-frame.
    Zstd,
    /// bzip2 (`BZh`), multi-stream.
    Bzip2,
}

impl Compression {
    /// Recognises the format from a file's first bytes.
    pub fn detect(head: &[u8]) -> Compression {
        if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
            Compression::Xz
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else if head.len() >= 4 && head.starts_with(b"BZh") && (b'1'..=b'9').contains(&head[3]) {
            Compression::Bzip2
        } else {
            Compression::None
        }
    }

    /// Short name for messages.
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "plain",
            Compression::Gzip => "gzip",
            Compression::Xz => "xz",
            Compression::Zstd => "zstd",
            Compression::Bzip2 => "bzip2",
        }
    }

    /// True for archives, which never grow once written.
    pub fn is_compressed(self) -> bool {
        self != Compression::None
    }
}

/// A file opened for reading its (decompressed) content.
pub struct Opened {
    /// The content, from [`Opened::position`] on.
    pub reader: Box<dyn Read + Send>,
    /// How the file is stored.
    pub compression: Compression,
    /// The file's metadata at opening time (size is the stored size).
    pub meta: Metadata,
    /// Offset in the decompressed content where `reader` starts; less than asked for when the
    /// content is shorter.
    pub position: u64,
    /// The file itself when it is not compressed (to map it instead of reading it).
    pub plain: Option<File>,
}

const IO_BUFFER: usize = 256 * 1024;

/// Opens `path` and positions its content at `offset` (seeking in plain files, decompressing and
/// discarding in archives). Anything but a regular file is refused before it is opened: opening
/// a FIFO would wait for a writer, and a stream has no offsets to resume from.
pub fn open_at(path: &Path, offset: u64) -> io::Result<Opened> {
    open_file_at(open_regular(path)?, offset)
}

/// Opens `path` if it is a regular file (see [`open_at`]), to be read with [`read_head`] and
/// [`open_file_at`].
pub fn open_regular(path: &Path) -> io::Result<File> {
    if !std::fs::metadata(path)?.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file (a directory, FIFO, socket or device); only log files and their archives are read",
        ));
    }
    File::open(path)
}

/// [`open_at`] for a file already open, whatever its position: a scan reads the very file it
/// identified, even when rotation has since put another one at its path.
pub fn open_file_at(mut file: File, offset: u64) -> io::Result<Opened> {
    file.seek(SeekFrom::Start(0))?;
    let meta = file.metadata()?;
    let mut buffered = BufReader::with_capacity(IO_BUFFER, file);
    let compression = Compression::detect(buffered.fill_buf()?);
    if compression == Compression::None {
        let mut file = buffered.into_inner();
        let position = offset.min(meta.len());
        file.seek(SeekFrom::Start(position))?;
        let plain = Some(file.try_clone()?);
        return Ok(Opened { reader: Box::new(file), compression, meta, position, plain });
    }
    let mut reader = decoder(compression, buffered)?;
    let position = io::copy(&mut (&mut reader).take(offset), &mut io::sink())?;
    Ok(Opened { reader, compression, meta, position, plain: None })
}

/// The decompressed content of `input`, an archive in `compression`'s format (`None`: `input`
/// itself). [`open_at`] reads every file through it; a damaged or truncated archive gives an
/// error from the returned reader, never a panic.
pub fn decoder<R: BufRead + Send + 'static>(compression: Compression, input: R) -> io::Result<Box<dyn Read + Send>> {
    Ok(match compression {
        Compression::None => Box::new(input),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(input)),
        Compression::Xz => {
            let stream = liblzma::stream::Stream::new_stream_decoder(XZ_MEMORY_LIMIT, liblzma::stream::CONCATENATED)
                .map_err(io::Error::from)?;
            Box::new(XzLimited(liblzma::bufread::XzDecoder::new_stream(input, stream)))
        }
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(input)?),
        Compression::Bzip2 => Box::new(bzip2::bufread::MultiBzDecoder::new(input)),
    })
}

/// The most memory an xz archive may take to decompress. logrotate's `xz` (preset 6) needs 9 MiB
/// and the largest preset 65 MiB; a header can ask for a dictionary of 4 GiB, which is refused
/// rather than allocated.
const XZ_MEMORY_LIMIT: u64 = 256 << 20;

/// An xz decoder whose refusal of [`XZ_MEMORY_LIMIT`] says what it is and what to do.
struct XzLimited<R>(liblzma::bufread::XzDecoder<R>);

impl<R: BufRead> Read for XzLimited<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf).map_err(|e| {
            let limit = e.get_ref().and_then(|i| i.downcast_ref::<liblzma::stream::Error>());
            if matches!(limit, Some(liblzma::stream::Error::MemLimit)) {
                io::Error::other(format!(
                    "it needs more than {} MiB of memory to decompress (its dictionary is that large); \
                     decompress it with `xz -d` and scan the result if it is genuine",
                    XZ_MEMORY_LIMIT >> 20
                ))
            } else {
                e
            }
        })
    }
}

/// Up to `n` bytes of the start of `file`'s content (decompressed), with its format and metadata,
/// whatever the file's position.
pub fn read_head(file: File, n: usize) -> io::Result<(Vec<u8>, Compression, Metadata)> {
    let opened = open_file_at(file, 0)?;
    let mut head = Vec::with_capacity(n.min(1 << 20));
    // A truncated archive may still give its first bytes; an error with nothing read is an error.
    match opened.reader.take(n as u64).read_to_end(&mut head) {
        Ok(_) => {}
        Err(e) if head.is_empty() => return Err(e),
        Err(_) => {}
    }
    Ok((head, opened.compression, opened.meta))
}

/// Up to the last `n` bytes of a plain file; its position is left alone.
pub fn read_tail(file: &File, n: u64) -> io::Result<Vec<u8>> {
    use std::os::unix::fs::FileExt;
    let len = file.metadata()?.len();
    let start = len.saturating_sub(n);
    let mut tail = vec![0; (len - start) as usize];
    let mut filled = 0;
    while filled < tail.len() {
        match file.read_at(&mut tail[filled..], start + filled as u64) {
            Ok(0) => break,
            Ok(k) => filled += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    // Shorter when the file was truncated meanwhile.
    tail.truncate(filled);
    Ok(tail)
}

#[cfg(test)]
mod tests;
