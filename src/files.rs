//! Files the library creates, made so that nobody else can aim them.
//!
//! A library inside someone else's process (perhaps a privileged one) must
//! not be steered into overwriting a file through a symlink planted where
//! it will write, nor leave its output where others can swap it. So every
//! file is new: created with `O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC`,
//! mode 0600, relative to a directory descriptor that was checked first
//! (so the directory cannot be swapped between check and create). Whatever
//! already sits at the name — a file, a symlink, even a dangling one — is
//! refused, never followed, truncated or removed.
//!
//! Directories are trusted when owned by this user or root and either
//! writable by nobody else or sticky (`/tmp`, `/dev/shm`): in a sticky
//! directory others cannot rename or remove a file that is not theirs.
//! Where the directory comes from is the caller's business: from
//! `config`, which reads nothing in a privileged process.

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Creates `dir/name` as a new file, read-write, mode 0600. The error's
/// text is a one-line diagnostic naming the path and the reason.
pub fn create_private_file(dir: &Path, name: &str) -> io::Result<File> {
    let shown = dir.join(name);
    let refuse = |kind: io::ErrorKind, why: &str| io::Error::new(kind, format!("{}: {why}", shown.display()));
    if name.is_empty() || name == "." || name == ".." || name.contains('/') || name.contains('\0') {
        return Err(refuse(io::ErrorKind::InvalidInput, "not a plain file name"));
    }
    let dir_c = CString::new(dir.as_os_str().as_bytes())
        .map_err(|_| refuse(io::ErrorKind::InvalidInput, "the directory's name holds a NUL byte"))?;
    let name_c = CString::new(name).map_err(|_| refuse(io::ErrorKind::InvalidInput, "not a plain file name"))?;

    // SAFETY: a NUL-terminated path; the descriptor is owned below.
    let dir_fd = unsafe { libc::open(dir_c.as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC) };
    if dir_fd < 0 {
        let error = io::Error::last_os_error();
        return Err(refuse(error.kind(), &format!("cannot open the directory: {error}")));
    }
    // SAFETY: a descriptor just opened and owned by nothing else.
    let dir_fd = unsafe { OwnedFd::from_raw_fd(dir_fd) };
    if let Err(why) = trusted_directory(&dir_fd) {
        return Err(refuse(io::ErrorKind::PermissionDenied, &why));
    }

    let flags = libc::O_RDWR | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_CLOEXEC;
    // SAFETY: a directory descriptor we own, a NUL-terminated single name,
    // and the mode as the variadic argument O_CREAT needs.
    let fd = unsafe {
        libc::openat(
            std::os::fd::AsRawFd::as_raw_fd(&dir_fd),
            name_c.as_ptr(),
            flags,
            0o600 as libc::c_uint,
        )
    };
    if fd < 0 {
        let error = io::Error::last_os_error();
        let why = match error.raw_os_error() {
            Some(libc::EEXIST) => "exists already (a file or a symlink); refusing to follow or replace it".to_owned(),
            _ => format!("cannot create: {error}"),
        };
        return Err(refuse(error.kind(), &why));
    }
    // SAFETY: a descriptor just opened and owned by nothing else.
    Ok(unsafe { File::from_raw_fd(fd) })
}

/// Whether files made in the directory stay ours: see the module comment.
fn trusted_directory(dir: &OwnedFd) -> Result<(), String> {
    // SAFETY: an all-zero `stat` is a valid buffer for fstat to fill.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: a descriptor we own and a valid out-buffer.
    if unsafe { libc::fstat(std::os::fd::AsRawFd::as_raw_fd(dir), &mut st) } != 0 {
        return Err(format!("cannot examine the directory: {}", io::Error::last_os_error()));
    }
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    if st.st_uid != me && st.st_uid != 0 {
        return Err(format!(
            "the directory belongs to uid {}, neither this user nor root",
            st.st_uid
        ));
    }
    let others_write = st.st_mode & (libc::S_IWGRP | libc::S_IWOTH) != 0;
    if others_write && st.st_mode & libc::S_ISVTX == 0 {
        return Err("the directory is writable by others and not sticky".to_owned());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::io::{Read, Write};
    use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
    use std::path::PathBuf;

    /// A fresh private directory for one test, removed when dropped.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(tag: &str) -> Scratch {
            let path = std::env::temp_dir().join(format!("rustasync-files-{tag}-{}", std::process::id()));
            let _ = fs::remove_dir_all(&path);
            fs::create_dir(&path).expect("scratch directory");
            fs::set_permissions(&path, fs::Permissions::from_mode(0o700)).expect("chmod");
            Scratch(path)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn a_new_file_is_private_and_not_inherited() {
        let dir = Scratch::new("new");
        let mut file = create_private_file(&dir.0, "report").expect("created");
        file.write_all(b"figures").expect("writable");
        let meta = fs::symlink_metadata(dir.0.join("report")).expect("exists");
        assert!(meta.file_type().is_file());
        assert_eq!(meta.mode() & 0o7777, 0o600);
        let fd = std::os::fd::AsRawFd::as_raw_fd(&file);
        // SAFETY: fcntl on a descriptor we own.
        assert_ne!(unsafe { libc::fcntl(fd, libc::F_GETFD) } & libc::FD_CLOEXEC, 0);
    }

    #[test]
    fn a_planted_symlink_is_refused_and_its_target_untouched() {
        let dir = Scratch::new("symlink");
        let target = dir.0.join("precious");
        fs::write(&target, b"keep me").expect("target");
        symlink(&target, dir.0.join("report")).expect("plant");
        let error = create_private_file(&dir.0, "report").expect_err("must refuse");
        assert_eq!(error.kind(), io::ErrorKind::AlreadyExists);
        assert!(error.to_string().contains("refusing to follow"), "{error}");
        let mut kept = String::new();
        fs::File::open(&target).unwrap().read_to_string(&mut kept).unwrap();
        assert_eq!(kept, "keep me");
        assert!(
            fs::symlink_metadata(dir.0.join("report"))
                .unwrap()
                .file_type()
                .is_symlink()
        );

        // A dangling symlink would otherwise create its target.
        let absent = dir.0.join("absent");
        symlink(&absent, dir.0.join("dangling")).expect("plant");
        assert!(create_private_file(&dir.0, "dangling").is_err());
        assert!(!absent.exists());
    }

    #[test]
    fn an_existing_file_is_neither_truncated_nor_reused() {
        let dir = Scratch::new("existing");
        fs::write(dir.0.join("report"), b"someone else's").expect("plant");
        let error = create_private_file(&dir.0, "report").expect_err("must refuse");
        assert_eq!(error.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read(dir.0.join("report")).unwrap(), b"someone else's");
    }

    #[test]
    fn untrusted_directories_and_names_are_refused() {
        let dir = Scratch::new("dirs");
        fs::set_permissions(&dir.0, fs::Permissions::from_mode(0o777)).expect("chmod");
        let error = create_private_file(&dir.0, "report").expect_err("world-writable, not sticky");
        assert!(error.to_string().contains("not sticky"), "{error}");
        fs::set_permissions(&dir.0, fs::Permissions::from_mode(0o1777)).expect("chmod");
        create_private_file(&dir.0, "report").expect("sticky is fine");
        fs::set_permissions(&dir.0, fs::Permissions::from_mode(0o700)).expect("chmod");

        for name in ["", ".", "..", "a/b", "../report"] {
            assert_eq!(
                create_private_file(&dir.0, name).expect_err(name).kind(),
                io::ErrorKind::InvalidInput
            );
        }
        assert!(create_private_file(&dir.0.join("missing"), "report").is_err());

        // A directory of another user (only root can make one to test with).
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            let theirs = dir.0.join("theirs");
            fs::create_dir(&theirs).expect("mkdir");
            std::os::unix::fs::chown(&theirs, Some(65534), Some(65534)).expect("chown");
            let error = create_private_file(&theirs, "report").expect_err("another user's directory");
            assert!(error.to_string().contains("uid 65534"), "{error}");
        }
    }
}
