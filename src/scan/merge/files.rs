//! Opening each planned file where its reading resumes, taking its pieces, and wrapping it up
//! once it is read: what its end tells the user, and the checkpoint it leaves.

use std::sync::Arc;

use crate::parse::time::{TimeResolver, YearState};
use crate::source::fingerprint::Fingerprint;
use crate::source::lines::{LineReader, Lines, line_before};
use crate::source::mapped::{MappedLines, Shrank};
use crate::source::open;
use crate::source::readahead::ReadAhead;

use super::{Reading, Scanner, Source};
use crate::scan::Summary;
use crate::scan::plan::FilePlan;
use crate::scan::problems::{PROBLEMS_PER_FILE, Problem, cannot_read};
use crate::scan::reader::{Ended, FileReader, Piece, Position, Setup};

/// Whether `file` still starts with the content `fingerprint` was taken of.
fn starts_like(file: &std::fs::File, fingerprint: &Fingerprint) -> bool {
    use std::os::unix::fs::FileExt;
    let mut head = vec![0; fingerprint.len as usize];
    file.read_exact_at(&mut head, 0).is_ok() && fingerprint.matches(&head)
}

impl Scanner {
    /// Opens a planned file where its reading resumes; `None` when there is nothing to read.
    pub(super) fn open_file(&mut self, mut plan: FilePlan, summary: &mut Summary) -> Option<Reading> {
        let problem = |message| Problem { path: plan.path.clone(), line: None, message };
        let source = &mut plan.source;
        if let Some(&(offset, lines, year)) = self.reached.get(&source.id)
            && offset > source.offset
        {
            (source.offset, source.lines, source.year) = (offset, lines, year);
        }
        let opened = match plan.file.take() {
            Some(file) => open::open_file_at(file, source.offset),
            None => open::open_at(&plan.path, source.offset),
        };
        let opened = match opened {
            Ok(o) => o,
            Err(e) => {
                summary.problems.push(problem(cannot_read(&e)));
                return None;
            }
        };
        if let Some(file) = &opened.plain
            && !starts_like(file, &source.fingerprint)
        {
            // The file kept its inode but not its content: `copytruncate` emptied it (and it was
            // written again) after it was planned. Its old content is in the rotated copy, and its
            // new one is another file's: reading on would take the one for the other.
            summary.notices.push(format!(
                "{}: emptied after this scan found it (logrotate copytruncate?): its new content is read next time",
                plan.path.display()
            ));
            self.changed.push(plan.path.clone());
            return None;
        }
        if opened.position < source.offset {
            // Content shorter than what was read before: a truncated copy of a file already read.
            source.complete |= opened.compression.is_compressed();
            source.size = plan.size;
            self.checkpoint(&plan.source, &plan.path);
            summary.unchanged += 1;
            return None;
        }
        let year = match (source.offset, source.year) {
            (o, Some(y)) if o > 0 => y,
            // Planning infers the years of every file it does not plan to resume; a resumed file
            // always has its saved state, so the last fallback is never reached in practice.
            _ => plan.fresh_year.or(source.year).unwrap_or_else(|| {
                let now = jiff::Timestamp::now().to_zoned_datetime(self.opts.timezone.clone());
                YearState { year: now.year(), month: now.month() }
            }),
        };
        let compression = opened.compression;
        let content = opened.plain.as_ref().and_then(|f| f.try_clone().ok());
        let previous = opened.plain.as_ref().filter(|_| source.offset > 0).and_then(|f| line_before(f, source.offset));
        // Archives are decoded on a thread of their own, beside parsing and storing; plain files
        // are mapped (searched in the page cache, not copied out of it) when they can be.
        let lines = if compression.is_compressed() {
            match ReadAhead::new(opened.reader) {
                Ok(r) => Lines::Read(LineReader::new(Box::new(r), source.offset)),
                Err(e) => {
                    summary.problems.push(problem(format!(
                        "cannot start a thread to decompress it: {e}; skipped, other files were scanned"
                    )));
                    return None;
                }
            }
        } else {
            let mapped = opened.plain.filter(|_| opened.meta.len() > source.offset);
            match mapped.map(|file| MappedLines::new(file, source.offset)) {
                Some(Ok(mapped)) => Lines::Mapped(mapped),
                not_mapped => {
                    if let Some(Err(e)) = not_mapped {
                        tracing::debug!("{}: read instead of mapped: {e}", plan.path.display());
                    }
                    Lines::Read(LineReader::new(opened.reader, source.offset))
                }
            }
        };
        self.bar.set_message(plan.path.display().to_string());
        let reader = FileReader::start(Setup {
            path: plan.path.clone(),
            lines,
            start: Position { offset: source.offset, lines: source.lines, year },
            times: TimeResolver::new(self.opts.timezone.clone(), year),
            server_name: self.opts.server_name.clone(),
            enricher: Arc::clone(&self.enricher),
            previous,
        });
        let reader = match reader {
            Ok(r) => r,
            Err(e) => {
                summary
                    .problems
                    .push(problem(format!("cannot start a thread to read it: {e}; skipped, other files were scanned")));
                return None;
            }
        };
        Some(Reading {
            reader: Source::File(reader),
            compression,
            start_offset: source.offset,
            texts: Default::default(),
            events: Vec::new(),
            at: 0,
            ended: None,
            content,
            plan,
        })
    }

    /// Takes `r`'s next piece, whose events replace those of the last one (all taken by now).
    pub(super) fn read_chunk(&mut self, r: &mut Reading, summary: &mut Summary) {
        let Source::File(reader) = &r.reader else {
            return self.read_journal_chunk(r, summary);
        };
        let (bytes, lines, end, events, texts, new_table, problems) = match reader.next() {
            Some(Piece::Chunk { bytes, lines, end, events, texts, new_table, problems }) => {
                (bytes, lines, end, events, texts, new_table, problems)
            }
            Some(Piece::End(ended)) => {
                r.ended = Some(ended);
                return;
            }
            None => {
                let failed = std::io::Error::other("its reading thread stopped unexpectedly");
                r.ended = Some(Ended { failed: Some(failed), ..Ended::default() });
                return;
            }
        };
        if let Some(file) = &r.content
            && !starts_like(file, &r.plan.source.fingerprint)
        {
            // `copytruncate` emptied the file since it was opened, and new lines may have been
            // written where this piece was read: its events may be those of the new content,
            // which is another file's. The piece is dropped and reading ends before it, as when
            // the truncation is caught under the map: the rotated copy holds the rest. The check
            // comes after the piece was read, so a file that still starts as planned was not
            // truncated before it, and the piece is the planned content.
            r.ended = Some(Ended { failed: Some(std::io::Error::other(Shrank)), ..Ended::default() });
            self.changed.push(r.plan.path.clone());
            return;
        }
        summary.problems.extend(problems);
        r.texts.learn(texts, new_table, &mut self.symbols);
        let taken = std::mem::replace(&mut r.events, events);
        r.at = 0;
        if let Source::File(reader) = &r.reader {
            reader.give_back(taken);
        }
        let source = &mut r.plan.source;
        (source.offset, source.lines, source.year) = (end.offset, end.lines, Some(end.year));
        summary.lines += lines;
        summary.bytes += bytes;
        self.bar.inc(bytes);
        self.batch_bytes += bytes;
    }

    /// Wraps up a file that was read to its end (or to a read error) and whose events were all
    /// given to the correlator.
    pub(super) fn end_file(&mut self, r: Reading, summary: &mut Summary) {
        let Reading { mut plan, compression, start_offset, ended, .. } = r;
        let Ended { failed, partial_len, bad_times, untimed, unreadable, future, first_future } =
            ended.unwrap_or_default();
        if let Some((line, time)) = first_future {
            summary.warnings.push(format!(
                "{}:{line}: {future} event{} dated in the future (the first at {time}): kept as read; check \
                 --year (the year of the newest line of the log and its rotated copies) and the clocks",
                plan.path.display(),
                if future == 1 { " is" } else { "s are" },
            ));
        }
        let problem = |line, message| Problem { path: plan.path.clone(), line, message };
        let source = &mut plan.source;
        for (n, what) in [
            (bad_times, "lines with impossible dates"),
            (untimed, "authentication events without a timestamp"),
            (unreadable, "lines that looked like authentication events but could not be read"),
        ] {
            if n > PROBLEMS_PER_FILE {
                summary.problems.push(problem(None, format!("{} more {what} were skipped", n - PROBLEMS_PER_FILE)));
            }
        }
        match failed {
            None => source.complete = compression.is_compressed(),
            Some(e) if Shrank::is(&e) => summary.notices.push(format!(
                "{}: the file was truncated while it was read (logrotate copytruncate?): scanned up to line {}; \
                 the next scan goes on from there in its rotated copy, and reads the new content",
                plan.path.display(),
                source.lines
            )),
            Some(e) => {
                let kind = if compression.is_compressed() {
                    format!("{} archive is truncated or corrupt", compression.name())
                } else {
                    "read error".to_string()
                };
                summary.problems.push(problem(
                    Some(source.lines + 1),
                    format!(
                        "{kind} ({e}): the {} lines before this point were scanned and kept; the rest of this \
                         file cannot be read (restore it from a backup, or ignore this if it is an old archive)",
                        source.lines
                    ),
                ));
                // Do not retry a broken archive every run; a replaced file (new size) is read again.
                source.complete = compression.is_compressed();
            }
        }
        if partial_len > 0 && compression.is_compressed() {
            summary.notices.push(format!(
                "{}: the archive ends in the middle of a line; that last line was not read",
                plan.path.display()
            ));
        }
        source.size = plan.size;
        if source.offset > start_offset {
            summary.files += 1;
        } else {
            summary.unchanged += 1;
        }
        self.reached.insert(source.id, (source.offset, source.lines, source.year));
        self.checkpoint(&plan.source, &plan.path);
        self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::plan::plan_file;

    /// The crash model's second finding: `copytruncate` between the planning of `mail.log` and
    /// its reading left its inode with new content, which was read as the planned content: the
    /// planned content's unread lines (now in `mail.log.1`) were skipped there, and the new lines
    /// were read again later under their own identity. Opening checks the content.
    #[test]
    fn a_file_emptied_and_written_again_after_planning_is_not_taken_for_the_planned_content() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::Store::open(&dir.path().join("store.sqlite3")).unwrap();
        let live = dir.path().join("mail.log");
        let old = b"Nov 24 00:00:00 mx1 postfix/smtpd[1]: connect from a[192.0.2.1]\n".repeat(4);
        std::fs::write(&live, &old).unwrap();
        let tz = jiff::tz::TimeZone::UTC;

        let kept = plan_file(&store, &live, None, &tz).unwrap().unwrap();
        let mut replaced = plan_file(&store, &live, None, &tz).unwrap().unwrap();
        assert!(starts_like(kept.file.as_ref().unwrap(), &kept.source.fingerprint));

        std::fs::copy(&live, dir.path().join("mail.log.1")).unwrap();
        std::fs::OpenOptions::new().write(true).open(&live).unwrap().set_len(0).unwrap();
        assert!(!starts_like(replaced.file.as_ref().unwrap(), &replaced.source.fingerprint), "emptied");
        std::fs::write(&live, b"Nov 24 00:00:05 mx1 postfix/smtpd[1]: connect from b[192.0.2.2]\n".repeat(3)).unwrap();
        let file = replaced.file.take().unwrap();
        assert!(!starts_like(&file, &replaced.source.fingerprint), "written again");
    }
}
