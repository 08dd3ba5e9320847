//! [`UpdateError`]: why an update step did not go on.

/// Why an update step did not go on. A refusal ends the job for good (reported as `failed`
/// with this text); the others are tried again.
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    /// This kiosk does not take the release (key, signature, hardware, downgrade).
    #[error("release {version} refused: {why}")]
    Refused {
        /// The release.
        version: String,
        /// Why.
        why: String,
    },
    /// The downloaded bundle is not the one its manifest describes.
    #[error(transparent)]
    Bundle(#[from] protocol::release::ReleaseError),
    /// A file of the updater could not be read or written.
    #[error("{path}: {source}")]
    File {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The slots failed.
    #[error(transparent)]
    Slot(#[from] super::slots::SlotError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// The fleet call failed.
    #[error(transparent)]
    Fleet(#[from] crate::fleet::FleetError),
    /// There is no credential to download with yet.
    #[error("not enrolled yet")]
    NotEnrolled,
    /// A worker thread of the updater panicked.
    #[error("the updater's worker failed: {0}")]
    Worker(#[from] tokio::task::JoinError),
}

impl UpdateError {
    /// A file error at `path`.
    pub fn file(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> UpdateError + '_ {
        move |source| UpdateError::File {
            path: path.to_owned(),
            source,
        }
    }
}
