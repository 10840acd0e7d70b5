//! A Linux pseudo-terminal standing in for a modem's USB serial port.
//!
//! Owns: the PTY pair (master for the emulator, slave for the host), the
//! slave's raw mode, the optional stable symlink to `/dev/pts/N`, and the
//! exclusive-open flag the host's serial library sets.
//!
//! * The slave is opened once here and kept open for the life of the PTY,
//!   in raw mode (`cfmakeraw`): termios persist between host opens and the
//!   master never reads EIO while no host has the port open. Output written
//!   while no host is attached waits in the PTY buffer.
//! * A host opening the port with the `serialport` crate sets `TIOCEXCL`.
//!   Because the kept slave keeps the tty alive, that flag outlives the
//!   host: a host that exits without `TIOCNXCL` (killed, or a library that
//!   does not clear it) would leave the port refusing every non-root open
//!   with EBUSY (root bypasses the check). The PTY therefore watches the
//!   slave node with inotify and clears the flag (`TIOCNXCL` on the kept
//!   slave) whenever a host closes it ([`Pty::wait`] reports it;
//!   [`Pty::release_exclusive`] clears it).
//! * Dropping the PTY closes both ends (the host's reads fail, new opens
//!   fail) and removes the symlink if it still points at this PTY.
//!
//! Every descriptor is close-on-exec, so child processes never keep a PTY
//! alive.

use std::ffi::CStr;
use std::fs;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// What [`Pty::wait`] found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ready {
    /// The host wrote something.
    pub readable: bool,
    /// There is room to write to the host.
    pub writable: bool,
    /// A host closed the slave since the last call, and that close is the
    /// latest open/close seen (nobody opened it again since).
    pub host_closed: bool,
    /// A host opened the slave since the last call.
    pub host_opened: bool,
}

/// One PTY pair with its kept slave and optional symlink.
#[derive(Debug)]
pub struct Pty {
    master: OwnedFd,
    slave: OwnedFd,
    inotify: Option<OwnedFd>,
    slave_path: PathBuf,
    link: Option<PathBuf>,
}

fn check(result: libc::c_int) -> io::Result<libc::c_int> {
    if result < 0 { Err(io::Error::last_os_error()) } else { Ok(result) }
}

impl Pty {
    /// Opens a PTY pair, puts the slave in raw mode and, if `link` is given,
    /// points that symlink at the slave (replacing a stale symlink; a
    /// non-symlink file there is an error). Missing parent directories of
    /// the link are created.
    pub fn open(link: Option<&Path>) -> io::Result<Pty> {
        // SAFETY: plain libc calls on descriptors this function owns; every
        // pointer passed is valid for the stated length.
        unsafe {
            let master_fd = check(libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC))?;
            let master = OwnedFd::from_raw_fd(master_fd);
            check(libc::fcntl(master_fd, libc::F_SETFD, libc::FD_CLOEXEC))?;
            check(libc::grantpt(master_fd))?;
            check(libc::unlockpt(master_fd))?;
            let mut name = [0 as libc::c_char; 128];
            let rc = libc::ptsname_r(master_fd, name.as_mut_ptr(), name.len());
            if rc != 0 {
                return Err(io::Error::from_raw_os_error(rc));
            }
            let slave_c = CStr::from_ptr(name.as_ptr());
            let slave_path = PathBuf::from(std::ffi::OsStr::from_bytes(slave_c.to_bytes()));
            let slave_fd = check(libc::open(slave_c.as_ptr(), libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC))?;
            let slave = OwnedFd::from_raw_fd(slave_fd);
            let mut termios: libc::termios = std::mem::zeroed();
            check(libc::tcgetattr(slave_fd, &mut termios))?;
            libc::cfmakeraw(&mut termios);
            check(libc::cfsetispeed(&mut termios, libc::B115200))?;
            check(libc::cfsetospeed(&mut termios, libc::B115200))?;
            check(libc::tcsetattr(slave_fd, libc::TCSANOW, &termios))?;
            let flags = check(libc::fcntl(master_fd, libc::F_GETFL))?;
            check(libc::fcntl(master_fd, libc::F_SETFL, flags | libc::O_NONBLOCK))?;
            // Best effort: without inotify the exclusive flag is not cleared
            // after a host that did not clear it exits.
            let inotify = match check(libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC)) {
                Ok(fd) => {
                    let fd = OwnedFd::from_raw_fd(fd);
                    let mask = libc::IN_OPEN | libc::IN_CLOSE_WRITE | libc::IN_CLOSE_NOWRITE;
                    check(libc::inotify_add_watch(fd.as_raw_fd(), slave_c.as_ptr(), mask)).ok().map(|_| fd)
                }
                Err(_) => None,
            };
            let mut pty = Pty { master, slave, inotify, slave_path, link: None };
            if let Some(link) = link {
                point_link(link, &pty.slave_path)?;
                pty.link = Some(link.to_path_buf());
            }
            Ok(pty)
        }
    }

    /// The slave's path, `/dev/pts/N`.
    pub fn slave_path(&self) -> &Path {
        &self.slave_path
    }

    /// The symlink, if any.
    pub fn link(&self) -> Option<&Path> {
        self.link.as_deref()
    }

    /// The path a host should open: the symlink if any, else the slave.
    pub fn path(&self) -> &Path {
        self.link.as_deref().unwrap_or(&self.slave_path)
    }

    /// Waits up to `timeout` for host input (and, with `want_write`, for
    /// room to write), and reports host opens and closes of the slave.
    pub fn wait(&self, timeout: Duration, want_write: bool) -> io::Result<Ready> {
        let mut events = libc::POLLIN;
        if want_write {
            events |= libc::POLLOUT;
        }
        let mut fds = [
            libc::pollfd { fd: self.master.as_raw_fd(), events, revents: 0 },
            libc::pollfd {
                fd: self.inotify.as_ref().map_or(-1, |fd| fd.as_raw_fd()),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        let millis = libc::c_int::try_from(timeout.as_millis()).unwrap_or(libc::c_int::MAX);
        // SAFETY: `fds` is a valid array of two pollfd.
        let rc = unsafe { libc::poll(fds.as_mut_ptr(), 2, millis) };
        if rc < 0 {
            let error = io::Error::last_os_error();
            return if error.kind() == io::ErrorKind::Interrupted { Ok(Ready::default()) } else { Err(error) };
        }
        let mut ready = Ready {
            readable: fds[0].revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0,
            writable: fds[0].revents & libc::POLLOUT != 0,
            ..Ready::default()
        };
        if fds[1].revents & libc::POLLIN != 0 {
            self.read_inotify(&mut ready);
        }
        Ok(ready)
    }

    fn read_inotify(&self, ready: &mut Ready) {
        let Some(fd) = &self.inotify else { return };
        let mut buf = [0u8; 4096];
        loop {
            // SAFETY: `buf` is valid for its length.
            let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            let Ok(n) = usize::try_from(n) else { return };
            if n == 0 {
                return;
            }
            let mut at = 0;
            // struct inotify_event { int wd; u32 mask; u32 cookie; u32 len; char name[len]; }
            while at + 16 <= n {
                let field = |i: usize| u32::from_ne_bytes([buf[i], buf[i + 1], buf[i + 2], buf[i + 3]]);
                let mask = field(at + 4);
                let len = field(at + 12) as usize;
                // Only the latest event counts for `host_closed`: a close
                // followed by a new host's open leaves that host's flag alone.
                if mask & libc::IN_OPEN != 0 {
                    ready.host_opened = true;
                    ready.host_closed = false;
                }
                if mask & (libc::IN_CLOSE_WRITE | libc::IN_CLOSE_NOWRITE) != 0 {
                    ready.host_closed = true;
                }
                at += 16 + len;
            }
        }
    }

    /// Reads host input without blocking (`WouldBlock` when there is none).
    pub fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        // SAFETY: `buf` is valid for its length.
        let n = unsafe { libc::read(self.master.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        usize::try_from(n).map_err(|_| io::Error::last_os_error())
    }

    /// Writes to the host without blocking; returns how much was taken
    /// (`WouldBlock` when the PTY buffer is full).
    pub fn write(&self, data: &[u8]) -> io::Result<usize> {
        // SAFETY: `data` is valid for its length.
        let n = unsafe { libc::write(self.master.as_raw_fd(), data.as_ptr().cast(), data.len()) };
        usize::try_from(n).map_err(|_| io::Error::last_os_error())
    }

    /// Clears the slave's exclusive-open flag (`TIOCNXCL`) so the next host
    /// can open it.
    pub fn release_exclusive(&self) -> io::Result<()> {
        // SAFETY: ioctl without argument on a descriptor we own.
        check(unsafe { libc::ioctl(self.slave.as_raw_fd(), libc::TIOCNXCL) }).map(|_| ())
    }

    /// Whether the slave's exclusive-open flag is set (`TIOCGEXCL`).
    pub fn exclusive(&self) -> io::Result<bool> {
        let mut value: libc::c_int = 0;
        // SAFETY: TIOCGEXCL writes one int through the pointer.
        check(unsafe { libc::ioctl(self.slave.as_raw_fd(), libc::TIOCGEXCL, &mut value) })?;
        Ok(value != 0)
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        if let Some(link) = &self.link
            && fs::read_link(link).is_ok_and(|target| target == self.slave_path)
        {
            let _ = fs::remove_file(link);
        }
    }
}

/// Points `link` at `target` atomically (a temporary symlink renamed over it).
fn point_link(link: &Path, target: &Path) -> io::Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    if let Ok(meta) = fs::symlink_metadata(link)
        && !meta.file_type().is_symlink()
    {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{} exists and is not a symlink; refusing to replace it", link.display()),
        ));
    }
    let parent = link.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    fs::create_dir_all(parent)?;
    let file_name = link
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, format!("{} has no file name", link.display())))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(file_name);
    tmp_name.push(format!(".{}.{}.tmp", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed)));
    let tmp = parent.join(tmp_name);
    let _ = fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp)?;
    fs::rename(&tmp, link).inspect_err(|_| {
        let _ = fs::remove_file(&tmp);
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::unix::fs::OpenOptionsExt;

    fn open_like_serialport(path: &Path) -> io::Result<fs::File> {
        let file =
            fs::OpenOptions::new().read(true).write(true).custom_flags(libc::O_NOCTTY | libc::O_NONBLOCK).open(path)?;
        let fd = file.as_raw_fd();
        // SAFETY: ioctl without argument and termios calls on an open
        // descriptor with a valid termios struct.
        unsafe {
            check(libc::ioctl(fd, libc::TIOCEXCL))?;
            // serialport then makes the port raw and refuses it if the
            // settings do not read back the same.
            let mut wanted: libc::termios = std::mem::zeroed();
            check(libc::tcgetattr(fd, &mut wanted))?;
            wanted.c_cflag |= libc::CREAD | libc::CLOCAL;
            libc::cfmakeraw(&mut wanted);
            check(libc::tcsetattr(fd, libc::TCSANOW, &wanted))?;
            let mut actual: libc::termios = std::mem::zeroed();
            check(libc::tcgetattr(fd, &mut actual))?;
            let flags = |t: &libc::termios| (t.c_iflag, t.c_oflag, t.c_lflag, t.c_cflag);
            assert_eq!(flags(&actual), flags(&wanted), "settings did not apply correctly");
        }
        Ok(file)
    }

    fn read_master(pty: &Pty, want: usize) -> Vec<u8> {
        let mut got = Vec::new();
        let deadline = std::time::Instant::now() + Duration::from_secs(2);
        while got.len() < want && std::time::Instant::now() < deadline {
            pty.wait(Duration::from_millis(20), false).expect("poll");
            let mut buf = [0u8; 256];
            if let Ok(n) = pty.read(&mut buf) {
                got.extend_from_slice(&buf[..n]);
            }
        }
        got
    }

    #[test]
    fn raw_both_ways_and_the_link_points_at_the_slave_until_dropped() {
        let dir = std::env::temp_dir().join(format!("weft-modem-sim-pty-{}", std::process::id()));
        let link = dir.join("nested").join("modem");
        let pty = Pty::open(Some(&link)).expect("pty");
        assert_eq!(fs::read_link(&link).expect("symlink"), pty.slave_path());
        assert_eq!(pty.path(), link);
        let mut host = open_like_serialport(&link).expect("host opens the link");
        // Raw: CR and control bytes pass untouched, nothing is echoed.
        let bytes = [0xC0, 0x0D, 0x0A, 0x03, 0x11, 0x13, 0x7F, 0xDB];
        host.write_all(&bytes).expect("write");
        assert_eq!(read_master(&pty, bytes.len()), bytes);
        assert_eq!(pty.write(&bytes).expect("write"), bytes.len());
        std::thread::sleep(Duration::from_millis(20));
        let mut buf = [0u8; 16];
        let n = host.read(&mut buf).expect("read");
        assert_eq!(&buf[..n], &bytes);
        drop(host);
        // Replacing a stale symlink works; a regular file is refused.
        let again = Pty::open(Some(&link)).expect("second pty takes over the link");
        assert_eq!(fs::read_link(&link).expect("symlink"), again.slave_path());
        drop(pty);
        assert!(fs::read_link(&link).is_ok(), "the old PTY leaves the new link alone");
        drop(again);
        assert!(fs::symlink_metadata(&link).is_err(), "removed on drop");
        fs::write(&link, b"not a link").expect("file");
        assert_eq!(Pty::open(Some(&link)).expect_err("refused").kind(), io::ErrorKind::AlreadyExists);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn open_close_reopen_with_tiocexcl() {
        let pty = Pty::open(None).expect("pty");
        let host = open_like_serialport(pty.slave_path()).expect("first open");
        assert!(pty.exclusive().expect("TIOCGEXCL"), "the host's TIOCEXCL is on the shared tty");
        drop(host);
        let ready = pty.wait(Duration::from_millis(200), false).expect("poll");
        assert!(ready.host_closed, "inotify reports the close: {ready:?}");
        assert!(pty.exclusive().expect("TIOCGEXCL"), "closing without TIOCNXCL leaves the flag set");
        pty.release_exclusive().expect("TIOCNXCL");
        assert!(!pty.exclusive().expect("TIOCGEXCL"));
        let host = open_like_serialport(pty.slave_path()).expect("reopen");
        let ready = pty.wait(Duration::from_millis(200), false).expect("poll");
        assert!(ready.host_opened, "{ready:?}");
        drop(host);
        open_like_serialport(pty.slave_path()).expect("and again");
    }

    #[test]
    fn dropping_closes_the_host_side() {
        let pty = Pty::open(None).expect("pty");
        let path = pty.slave_path().to_path_buf();
        let mut host = open_like_serialport(&path).expect("open");
        drop(pty);
        let mut buf = [0u8; 8];
        // A hung-up tty reads EOF or EIO.
        match host.read(&mut buf) {
            Ok(0) => {}
            Ok(n) => panic!("read {n} bytes from a closed PTY"),
            Err(e) => assert_ne!(e.kind(), io::ErrorKind::WouldBlock, "{e}"),
        }
        drop(host);
        assert!(open_like_serialport(&path).is_err(), "a closed PTY cannot be opened");
    }
}
