//! Who the service user is on the target system: its uid and primary group, from this machine's
//! user database or from the files of the tree `setup --root` writes into.

use std::path::Path;

/// The service user as the target system knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Account {
    pub(super) uid: u32,
    /// The primary group, which the services run as (the units set no `Group=`, so systemd
    /// takes this one) and which owns the data directory and reads the config.
    pub(super) gid: u32,
    /// Its name, when the group database has it.
    pub(super) group: Option<String>,
}

/// Where users are looked up: the target system's own database.
///
/// With `--root /` (the default) the target is this machine, asked through NSS (`getpwnam_r`,
/// `getgrgid_r`), so LDAP or systemd-userdb users count too. With any other root, the target is
/// the tree under it (an image being built, a package's staging directory): only its
/// `etc/passwd` and `etc/group` are read, never this machine's, whose ids mean nothing there
/// (and whose group names may not exist there: `nobody`'s group is `nogroup` on Debian but
/// `nobody` on Fedora). A staging tree without `etc/passwd` knows no user: nothing is chowned,
/// and the commands to run on the target are printed.
#[derive(Clone, Copy, Debug)]
pub(super) enum Accounts<'a> {
    /// This machine's NSS.
    Host,
    /// `<root>/etc/passwd` and `<root>/etc/group`.
    Files(&'a Path),
}

impl<'a> Accounts<'a> {
    pub(super) fn of(root: &'a Path) -> Accounts<'a> {
        if root.canonicalize().is_ok_and(|r| r == Path::new("/")) { Accounts::Host } else { Accounts::Files(root) }
    }

    pub(super) fn user(self, name: &str) -> Option<Account> {
        match self {
            Accounts::Host => {
                let (uid, gid) = nss::user(name)?;
                Some(Account { uid, gid, group: nss::group_name(gid) })
            }
            Accounts::Files(root) => {
                let (uid, gid) = file_user(root, name)?;
                Some(Account { uid, gid, group: file_group_name(root, gid) })
            }
        }
    }
}

/// The shell of a user nobody logs in as.
const NOLOGIN: &str = "/usr/sbin/nologin";

/// Groups the service user joins where the target has them: `adm` reads the mail logs (the
/// units also add it to the services, `SupplementaryGroups=adm`), `systemd-journal` the whole
/// journal, both for scans run by hand as the user too.
const SERVICE_GROUPS: [&str; 2] = ["adm", "systemd-journal"];

impl Accounts<'_> {
    /// Whether the target has group `name`.
    pub(super) fn group_exists(self, name: &str) -> bool {
        match self {
            Accounts::Host => nss::group_exists(name),
            Accounts::Files(root) => file_entry(root, "group", 0, name).is_some(),
        }
    }

    /// The command line (program first) that creates `user` on the target as a system user with
    /// home `home` (the data directory, which `setup` creates itself), no login shell, a primary
    /// group of its own name and the [`SERVICE_GROUPS`] the target has.
    pub(super) fn useradd(self, user: &str, home: &Path) -> Vec<String> {
        let mut args: Vec<String> = ["useradd", "--system"].map(String::from).into();
        // A group of the user's name left from an earlier user would make `--user-group` fail.
        if self.group_exists(user) {
            args.extend(["--gid".to_string(), user.to_string()]);
        } else {
            args.push("--user-group".to_string());
        }
        args.extend(["--home-dir".to_string(), home.display().to_string(), "--shell".into(), NOLOGIN.into()]);
        let groups: Vec<&str> = SERVICE_GROUPS.into_iter().filter(|g| self.group_exists(g)).collect();
        if !groups.is_empty() {
            args.extend(["--groups".to_string(), groups.join(",")]);
        }
        args.push(user.to_string());
        args
    }
}

/// The fields of the `etc/<db>` line (passwd or group format) under `root` whose field `key` is
/// `value`.
fn file_entry(root: &Path, db: &str, key: usize, value: &str) -> Option<Vec<String>> {
    let text = std::fs::read_to_string(root.join("etc").join(db)).ok()?;
    text.lines()
        .map(|line| line.split(':').map(str::to_string).collect::<Vec<_>>())
        .find(|f| f.len() >= 3 && f.get(key).is_some_and(|v| v == value))
}

/// The uid and primary gid of `name` in `<root>/etc/passwd`.
fn file_user(root: &Path, name: &str) -> Option<(u32, u32)> {
    let f = file_entry(root, "passwd", 0, name)?;
    Some((f.get(2)?.parse().ok()?, f.get(3)?.parse().ok()?))
}

/// The name of group `gid` in `<root>/etc/group`.
fn file_group_name(root: &Path, gid: u32) -> Option<String> {
    file_entry(root, "group", 2, &gid.to_string()).and_then(|f| f.into_iter().next())
}

/// This machine's user and group databases, through the C library (NSS).
mod nss {
    use std::ffi::{CStr, CString};

    /// Largest buffer offered to the C library for one entry.
    const MAX_BUF: usize = 1 << 20;

    /// Runs a `get*_r` lookup with a buffer that grows while the C library says it is too small
    /// (`ERANGE`), up to [`MAX_BUF`]; `lookup` returns the call's code and what it made of the
    /// entry (read while the buffer is alive), which counts only when the code is 0.
    fn with_buffer<T>(mut lookup: impl FnMut(&mut [libc::c_char]) -> (libc::c_int, Option<T>)) -> Option<T> {
        let mut buf = vec![0 as libc::c_char; 4096];
        loop {
            let (rc, found) = lookup(&mut buf);
            if rc == libc::ERANGE && buf.len() < MAX_BUF {
                buf.resize(buf.len() * 4, 0);
                continue;
            }
            return if rc == 0 { found } else { None };
        }
    }

    /// The uid and primary gid of `name`.
    pub fn user(name: &str) -> Option<(u32, u32)> {
        let name = CString::new(name).ok()?;
        with_buffer(|buf| {
            // SAFETY: zeroed `passwd` is a valid out-parameter (plain integers and null
            // pointers).
            let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
            let mut result: *mut libc::passwd = std::ptr::null_mut();
            // SAFETY: `name` is NUL-terminated, `buf` outlives the call and its length is
            // passed; `result` is only compared with null.
            let rc = unsafe { libc::getpwnam_r(name.as_ptr(), &mut pwd, buf.as_mut_ptr(), buf.len(), &mut result) };
            (rc, (!result.is_null()).then_some((pwd.pw_uid, pwd.pw_gid)))
        })
    }

    /// Whether group `name` exists.
    pub fn group_exists(name: &str) -> bool {
        let Ok(name) = CString::new(name) else { return false };
        with_buffer(|buf| {
            // SAFETY: zeroed `group` is a valid out-parameter (an integer and null pointers).
            let mut grp: libc::group = unsafe { std::mem::zeroed() };
            let mut result: *mut libc::group = std::ptr::null_mut();
            // SAFETY: `name` is NUL-terminated, `buf` outlives the call and its length is
            // passed; `result` is only compared with null.
            let rc = unsafe { libc::getgrnam_r(name.as_ptr(), &mut grp, buf.as_mut_ptr(), buf.len(), &mut result) };
            (rc, (!result.is_null()).then_some(()))
        })
        .is_some()
    }

    /// The name of group `gid`.
    pub fn group_name(gid: u32) -> Option<String> {
        with_buffer(|buf| {
            // SAFETY: zeroed `group` is a valid out-parameter (an integer and null pointers).
            let mut grp: libc::group = unsafe { std::mem::zeroed() };
            let mut result: *mut libc::group = std::ptr::null_mut();
            // SAFETY: `buf` outlives the call and its length is passed; `gr_name` points into
            // `buf`, which is alive while it is read below.
            let rc = unsafe { libc::getgrgid_r(gid, &mut grp, buf.as_mut_ptr(), buf.len(), &mut result) };
            if rc != 0 || result.is_null() || grp.gr_name.is_null() {
                return (rc, None);
            }
            // SAFETY: a successful call leaves `gr_name` pointing at a NUL-terminated string in `buf`.
            (rc, unsafe { CStr::from_ptr(grp.gr_name) }.to_str().ok().map(str::to_string))
        })
    }
}
