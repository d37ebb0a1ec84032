//! The file drop: each message becomes `<mail id>.eml` (RFC 5322, the bytes an SMTP server would
//! receive) in a folder — the default mailer, for development, demos and a relay that picks files
//! up.
//!
//! A file is written whole or not at all: the bytes go to a hidden temporary file in the same
//! folder, are flushed to disk, and the file is renamed over `<mail id>.eml`. A reader never sees
//! half a message, and a redelivery of the same message (a worker that died after writing but
//! before recording it as sent) replaces the file instead of adding a second one.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use roster_domain::ids::MailId;
use roster_domain::mail::OutgoingMail;
use roster_domain::ports::{MailError, Mailer};

use crate::compose::Composer;
use crate::error::MailSetupError;

/// Writes one `.eml` file per message into a folder.
#[derive(Debug, Clone)]
pub struct FileDropMailer {
    dir: PathBuf,
    composer: Composer,
}

impl FileDropMailer {
    /// A mailer writing into `dir`, created if missing.
    ///
    /// # Errors
    /// [`MailSetupError::OutboxDir`] when the folder cannot be created or written (checked by
    /// writing and removing a temporary file).
    pub fn new(dir: PathBuf, composer: Composer) -> Result<Self, MailSetupError> {
        let unusable = |source| MailSetupError::OutboxDir { dir: dir.clone(), source };
        std::fs::create_dir_all(&dir).map_err(unusable)?;
        temporary_file(&dir).map_err(unusable)?;
        Ok(Self { dir, composer })
    }

    /// The folder messages are written to.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the message `id` is (or will be) written.
    pub fn path_of(&self, id: MailId) -> PathBuf {
        self.dir.join(format!("{id}.eml"))
    }
}

#[async_trait]
impl Mailer for FileDropMailer {
    async fn send(&self, mail: &OutgoingMail) -> Result<(), MailError> {
        let bytes = self.composer.compose(mail)?.formatted();
        let dir = self.dir.clone();
        let path = self.path_of(mail.id);
        let written = tokio::task::spawn_blocking(move || write_atomically(&dir, &path, &bytes)).await;
        match written {
            Ok(Ok(())) => Ok(()),
            // A full disk or a folder removed or made read-only can be fixed: worth retrying.
            Ok(Err(e)) => Err(MailError::Transient(format!("writing to {}: {e}", self.dir.display()))),
            Err(e) => Err(MailError::Transient(format!("the file writer stopped: {e}"))),
        }
    }
}

/// A new hidden temporary file in `dir`, removed when dropped; its name never ends in `.eml`.
fn temporary_file(dir: &Path) -> std::io::Result<tempfile::NamedTempFile> {
    tempfile::Builder::new().prefix(".roster-").suffix(".part").tempfile_in(dir)
}

fn write_atomically(dir: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut file = temporary_file(dir)?;
    file.write_all(bytes)?;
    file.as_file().sync_all()?;
    file.persist(path).map_err(|e| e.error)?;
    // The rename is durable once the folder's entry is on disk too.
    #[cfg(unix)]
    std::fs::File::open(dir)?.sync_all()?;
    Ok(())
}
