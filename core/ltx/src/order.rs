//! Which pages a file may hold, in which order.

use crate::error::{Error, PageFault};
use crate::header::Header;

/// The page order ltx's encoder enforces (encoder.go `EncodePage`) and the completeness of a
/// snapshot (decoder.go `DecodeDatabaseTo` reads pages 1 to `commit`, skipping the lock page).
pub(crate) struct PageOrder {
    snapshot: bool,
    commit: u32,
    lock: u32,
    prev: u32,
}

impl PageOrder {
    pub(crate) fn new(header: &Header) -> PageOrder {
        PageOrder { snapshot: header.is_snapshot(), commit: header.commit, lock: header.lock_pgno(), prev: 0 }
    }

    pub(crate) fn admit(&mut self, pgno: u32) -> Result<(), PageFault> {
        let prev = self.prev;
        if pgno > self.commit {
            return Err(PageFault::BeyondCommit { pgno, commit: self.commit });
        }
        if pgno == self.lock {
            return Err(PageFault::LockPage { pgno });
        }
        if self.snapshot {
            if prev == 0 && pgno != 1 {
                return Err(PageFault::SnapshotStart { pgno });
            }
            if prev != 0 && u64::from(pgno) != self.next() {
                return Err(PageFault::SnapshotGap { prev, pgno });
            }
        } else if pgno <= prev {
            return Err(PageFault::OutOfOrder { prev, pgno });
        }
        self.prev = pgno;
        Ok(())
    }

    /// The page a snapshot needs next (u64: after page `u32::MAX` comes none).
    fn next(&self) -> u64 {
        let next = u64::from(self.prev) + 1;
        if next == u64::from(self.lock) { next + 1 } else { next }
    }

    pub(crate) fn check_complete(&self) -> Result<(), Error> {
        let next = self.next();
        if self.snapshot && next <= u64::from(self.commit) {
            return Err(Error::IncompleteSnapshot { missing: next as u32, commit: self.commit });
        }
        Ok(())
    }
}
