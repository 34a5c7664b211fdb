//! Which file system a directory is on, for the one thing `watch` needs to
//! know: inotify sees only the writes made through this machine's kernel,
//! so on a network file system another machine's appends wake nobody up
//! and only the rescan finds them.

use std::path::Path;

/// `statfs` magic numbers (`linux/magic.h` and the file systems' own
/// headers) of the file systems whose files other machines write.
const NETWORK: [(i64, &str); 12] = [
    (0x6969, "NFS"),
    (0x517B, "SMB"),
    (0xFF53_4D42, "CIFS"),
    (0xFE53_4D42, "SMB2"),
    (0x0102_1997, "9p"),
    (0x00C3_6400, "Ceph"),
    (0x5346_414F, "AFS"),
    (0x7375_7245, "Coda"),
    (0x0116_1970, "GFS2"),
    (0x7461_636F, "OCFS2"),
    (0x0BD0_0BD0, "Lustre"),
    (0x6573_5546, "FUSE (sshfs and the like)"),
];

/// The name of the network file system `dir` is on, or `None` for a local
/// one (or when `statfs` fails: then nothing is known, and nothing said).
pub fn network_file_system(dir: &Path) -> Option<&'static str> {
    let stat = rustix::fs::statfs(dir).ok()?;
    // f_type is signed on some targets: compare its low 32 bits.
    #[allow(clippy::unnecessary_cast)]
    let magic = (stat.f_type as i64) & 0xFFFF_FFFF;
    NETWORK.iter().find(|(number, _)| *number == magic).map(|(_, name)| *name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_temp_dir_is_not_a_network_file_system() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(network_file_system(dir.path()), None);
    }

    #[test]
    fn a_missing_directory_says_nothing() {
        assert_eq!(network_file_system(Path::new("/no/such/dir/here")), None);
    }
}
