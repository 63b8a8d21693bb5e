//! Surviving a mapped file that shrinks under its map.
//!
//! Reading a page of a memory map that lies past the end of its file (the file was truncated
//! after it was mapped: logrotate's `copytruncate` during a scan) raises `SIGBUS`, which kills
//! the process. [`install`] installs a handler that recognises a fault inside a watched map, maps
//! zero pages over the rest of that map (so the faulting read, when it is retried, and every
//! later one read zeros) and marks the map: its reader asks [`Guarded::faulted`] before trusting
//! what it read. A fault anywhere else goes to the handler that was there before (by default: the
//! process dies, as it would have).
//!
//! The handler is process-wide, so the library never installs it by itself: a program that
//! embeds the library keeps the signal handling it chose. The binary calls [`install`] at
//! startup. Until someone has, [`register`] fails, and its callers read plain files with `read`
//! instead of mapping them ([`MappedLines::new`](super::mapped::MappedLines::new) fails, and the
//! scan falls back to [`LineReader`](super::lines::LineReader)): slower, the same lines, and a
//! file truncated during the scan simply ends early instead of killing the process. Tests that
//! map files (and truncate them) call [`install`] themselves.

use std::io;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Readers guarded at once: one per file read side by side, with room to spare (past them,
/// files are read instead of mapped).
const SLOTS: usize = 16;

/// One reader's slot and the map it watches. `len` is 0 while no map is watched.
struct Slot {
    taken: AtomicBool,
    start: AtomicUsize,
    len: AtomicUsize,
    faulted: AtomicBool,
}

#[allow(clippy::declare_interior_mutable_const)] // only to initialise the array
const FREE: Slot = Slot {
    taken: AtomicBool::new(false),
    start: AtomicUsize::new(0),
    len: AtomicUsize::new(0),
    faulted: AtomicBool::new(false),
};

static SLOT: [Slot; SLOTS] = [FREE; SLOTS];

/// The page size, and the handler installed before ours; set once by [`install`], read by the
/// handler.
static INSTALLED: OnceLock<io::Result<Previous>> = OnceLock::new();

struct Previous {
    page: usize,
    action: libc::sigaction,
}

/// A reader's slot in the guard: the map it watches (one at a time) and whether a read of any of
/// them touched a page past the end of its file. Dropping it frees the slot.
#[derive(Debug)]
pub struct Guarded {
    slot: usize,
}

impl Guarded {
    /// Whether a read of a map watched so far touched a page past the end of its file (and read
    /// zeros).
    pub fn faulted(&self) -> bool {
        SLOT[self.slot].faulted.load(Ordering::Acquire)
    }

    /// Watches the `len` bytes of a read-only map at `start` (in place of the last one).
    pub fn watch(&self, start: *const u8, len: usize) {
        let slot = &SLOT[self.slot];
        slot.len.store(0, Ordering::Release);
        slot.start.store(start as usize, Ordering::Release);
        slot.len.store(len, Ordering::Release);
    }

    /// Stops watching the current map: call before it is unmapped.
    pub fn unwatch(&self) {
        SLOT[self.slot].len.store(0, Ordering::Release);
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        let slot = &SLOT[self.slot];
        slot.len.store(0, Ordering::Release);
        slot.start.store(0, Ordering::Release);
        slot.taken.store(false, Ordering::Release);
    }
}

/// Installs the process-wide `SIGBUS` handler that lets files be mapped safely; call it once at
/// startup, from the program (not from a library: the handler replaces the program's own, which
/// it then calls for faults outside the maps it watches). Calling it again does nothing and
/// returns the first call's outcome. On an error maps cannot be guarded, and plain files are read
/// instead of mapped.
pub fn install() -> io::Result<()> {
    match INSTALLED.get_or_init(install_handler) {
        Ok(_) => Ok(()),
        Err(e) => Err(io::Error::new(e.kind(), format!("cannot install the SIGBUS handler: {e}"))),
    }
}

/// Whether [`install`] has installed the handler.
pub fn installed() -> bool {
    matches!(INSTALLED.get(), Some(Ok(_)))
}

/// A slot for one reader's maps. Fails when the handler was not installed ([`install`]) or every
/// slot is in use: the caller then reads its file without a map.
pub fn register() -> io::Result<Guarded> {
    if !installed() {
        return Err(io::Error::other(
            "the SIGBUS handler is not installed (the program did not call source::guard::install)",
        ));
    }
    for (i, slot) in SLOT.iter().enumerate() {
        if slot.taken.compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire).is_ok() {
            slot.len.store(0, Ordering::Release);
            slot.faulted.store(false, Ordering::Release);
            return Ok(Guarded { slot: i });
        }
    }
    Err(io::Error::other("too many files mapped at once"))
}

/// Installs the handler, returning what it replaced.
fn install_handler() -> io::Result<Previous> {
    // SAFETY: sysconf has no preconditions.
    let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096).max(1);
    // SAFETY: a zeroed sigaction is a valid value to fill in; the handler only makes calls that
    // are safe in a signal handler (atomics, mmap, sigaction).
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_sigbus as *const () as usize;
        action.sa_flags = libc::SA_SIGINFO;
        libc::sigemptyset(&mut action.sa_mask);
        let mut previous: libc::sigaction = std::mem::zeroed();
        if libc::sigaction(libc::SIGBUS, &action, &mut previous) != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Previous { page, action: previous })
    }
}

/// The handler: a fault inside a watched map gets zero pages; any other goes to the handler from
/// before.
extern "C" fn on_sigbus(signal: libc::c_int, info: *mut libc::siginfo_t, _context: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo_t to an SA_SIGINFO handler.
    let addr = unsafe { (*info).si_addr() } as usize;
    if let Some(Ok(previous)) = INSTALLED.get() {
        for slot in &SLOT {
            let (start, len) = (slot.start.load(Ordering::Acquire), slot.len.load(Ordering::Acquire));
            if len == 0 || addr < start || addr >= start + len {
                continue;
            }
            let page = addr & !(previous.page - 1);
            // SAFETY: the range lies inside a map this process made and still holds; replacing it
            // with fresh private zero pages is what the reader of that map expects.
            let zeros = unsafe {
                libc::mmap(
                    page as *mut libc::c_void,
                    start + len - page,
                    libc::PROT_READ,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
                    -1,
                    0,
                )
            };
            if zeros != libc::MAP_FAILED {
                slot.faulted.store(true, Ordering::Release);
                return;
            }
        }
        // Not ours: let the handler from before take it when the access is retried.
        // SAFETY: restoring a sigaction the kernel gave us.
        unsafe { libc::sigaction(signal, &previous.action, std::ptr::null_mut()) };
    } else {
        // SAFETY: restoring the default action, so that the retried access ends the process.
        unsafe { libc::signal(signal, libc::SIG_DFL) };
    }
}
