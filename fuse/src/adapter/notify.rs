//! What the mount tells the kernel unasked: pages pushed into its page cache (FUSE's
//! notify-store) and attributes to ask for again (notify-inval-inode), for the core's
//! [`PageSink`].

use fuser::INodeNo;

use crate::fs::pages::PageSink;

/// The kernel's page cache as the core's [`PageSink`]: stores through FUSE's notify
/// channel.
pub struct KernelPages(pub fuser::Notifier);

impl PageSink for KernelPages {
    fn store(&self, ino: u64, offset: u64, data: &[u8]) -> std::io::Result<()> {
        self.0.store(INodeNo(ino), offset, data)
    }

    fn forget_attributes(&self, ino: u64) -> std::io::Result<()> {
        // A negative offset invalidates the attributes only, not the pages.
        self.0.inval_inode(INodeNo(ino), -1, 0)
    }
}
