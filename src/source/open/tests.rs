//! Opening plain files and every archive format, from offsets, and refusing what is not a file.

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
        let (head, c, _) = read_head(open_regular(&path).unwrap(), 4).unwrap();
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
fn an_xz_archive_asking_for_a_huge_dictionary_is_refused_not_allocated() {
    let mut xz = compressed(Compression::Xz);
    // The block header after the 12-byte stream header: its size, flags, the LZMA2 filter (id
    // 0x21, one byte of properties: the dictionary size), padding, then its CRC32. Property 40
    // is a dictionary of 4 GiB - 1.
    let header = 12;
    let len = (usize::from(xz[header]) + 1) * 4;
    assert_eq!(&xz[header + 2..header + 4], &[0x21, 0x01], "an LZMA2 filter with one property byte");
    xz[header + 4] = 40;
    let mut crc = flate2::Crc::new();
    crc.update(&xz[header..header + len - 4]);
    xz[header + len - 4..header + len].copy_from_slice(&crc.sum().to_le_bytes());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mail.log.2.xz");
    std::fs::write(&path, &xz).unwrap();
    let mut opened = open_at(&path, 0).unwrap();
    let err = opened.reader.read_to_end(&mut Vec::new()).unwrap_err();
    assert!(err.to_string().contains("needs more than 256 MiB of memory to decompress"), "{err}");
    // The same archive with its real dictionary reads.
    let mut plain = String::new();
    decoder(Compression::Xz, io::Cursor::new(compressed(Compression::Xz))).unwrap().read_to_string(&mut plain).unwrap();
    assert_eq!(plain.as_bytes(), TEXT);
}

#[test]
fn tail_reads_the_end_of_a_plain_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a");
    std::fs::write(&path, TEXT).unwrap();
    assert_eq!(read_tail(&File::open(&path).unwrap(), 6).unwrap(), b"three\n");
    assert_eq!(read_tail(&File::open(&path).unwrap(), 1000).unwrap(), TEXT);
}
