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
    if !std::fs::metadata(path)?.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file (a directory, FIFO, socket or device); only log files and their archives are read",
        ));
    }
    let file = File::open(path)?;
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

fn decoder(compression: Compression, input: BufReader<File>) -> io::Result<Box<dyn Read + Send>> {
    Ok(match compression {
        Compression::None => Box::new(input),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(input)),
        Compression::Xz => Box::new(liblzma::bufread::XzDecoder::new_multi_decoder(input)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(input)?),
        Compression::Bzip2 => Box::new(bzip2::bufread::MultiBzDecoder::new(input)),
    })
}

/// Up to `n` bytes of the start of `path`'s content (decompressed), with its format and metadata.
pub fn read_head(path: &Path, n: usize) -> io::Result<(Vec<u8>, Compression, Metadata)> {
    let opened = open_at(path, 0)?;
    let mut head = Vec::with_capacity(n.min(1 << 20));
    // A truncated archive may still give its first bytes; an error with nothing read is an error.
    match opened.reader.take(n as u64).read_to_end(&mut head) {
        Ok(_) => {}
        Err(e) if head.is_empty() => return Err(e),
        Err(_) => {}
    }
    Ok((head, opened.compression, opened.meta))
}

/// Up to the last `n` bytes of a plain file.
pub fn read_tail(path: &Path, n: u64) -> io::Result<Vec<u8>> {
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    let start = len.saturating_sub(n);
    file.seek(SeekFrom::Start(start))?;
    let mut tail = Vec::with_capacity((len - start) as usize);
    file.take(n).read_to_end(&mut tail)?;
    Ok(tail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn only_regular_files_are_opened() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
        assert!(made.success());
        // Opening the FIFO would block this test forever: it must be refused unopened.
        for path in [dir.path(), fifo.as_path(), Path::new("/dev/null")] {
            let err = open_at(path, 0).err().unwrap_or_else(|| panic!("{} was opened", path.display()));
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{}", path.display());
            assert!(err.to_string().contains("not a regular file"), "{err}");
        }
    }

    const TEXT: &[u8] = b"line one\nline two\nline three\n";

    fn compressed(kind: Compression) -> Vec<u8> {
        match kind {
            Compression::None => TEXT.to_vec(),
            Compression::Gzip => {
                let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                e.write_all(TEXT).unwrap();
                e.finish().unwrap()
            }
            Compression::Xz => {
                let mut e = liblzma::write::XzEncoder::new(Vec::new(), 6);
                e.write_all(TEXT).unwrap();
                e.finish().unwrap()
            }
            Compression::Zstd => zstd::encode_all(TEXT, 3).unwrap(),
            Compression::Bzip2 => {
                let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
                e.write_all(TEXT).unwrap();
                e.finish().unwrap()
            }
        }
    }

    #[test]
    fn every_format_is_detected_by_content_and_read_from_an_offset() {
        let dir = tempfile::tempdir().unwrap();
        for kind in [Compression::None, Compression::Gzip, Compression::Xz, Compression::Zstd, Compression::Bzip2] {
            // A misleading name: only the content decides.
            let path = dir.path().join(format!("mail.log.{}.txt", kind.name()));
            std::fs::write(&path, compressed(kind)).unwrap();
            let mut opened = open_at(&path, 9).unwrap();
            assert_eq!(opened.compression, kind);
            assert_eq!(opened.position, 9);
            let mut rest = String::new();
            opened.reader.read_to_string(&mut rest).unwrap();
            assert_eq!(rest, "line two\nline three\n", "{kind:?}");
            let (head, c, _) = read_head(&path, 4).unwrap();
            assert_eq!((head.as_slice(), c), (&b"line"[..], kind));
        }
    }

    #[test]
    fn an_offset_past_the_end_reports_where_the_content_ends() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.gz");
        std::fs::write(&path, compressed(Compression::Gzip)).unwrap();
        assert_eq!(open_at(&path, 1000).unwrap().position, TEXT.len() as u64);
    }

    #[test]
    fn a_truncated_archive_gives_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.gz");
        let mut big = Vec::new();
        {
            let mut e = flate2::write::GzEncoder::new(&mut big, flate2::Compression::default());
            for i in 0..20000 {
                writeln!(e, "line {i} {}", i * 7919 % 10007).unwrap();
            }
            e.finish().unwrap();
        }
        std::fs::write(&path, &big[..big.len() / 2]).unwrap();
        let mut opened = open_at(&path, 0).unwrap();
        let mut sink = Vec::new();
        assert!(opened.reader.read_to_end(&mut sink).is_err());
        assert!(!sink.is_empty());
    }

    #[test]
    fn tail_reads_the_end_of_a_plain_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a");
        std::fs::write(&path, TEXT).unwrap();
        assert_eq!(read_tail(&path, 6).unwrap(), b"three\n");
        assert_eq!(read_tail(&path, 1000).unwrap(), TEXT);
    }
}
