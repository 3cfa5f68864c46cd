//! Development mode: a PKI and the example federation, so that a newcomer needs nothing
//! but the binary.

use std::path::Path;

use liaison_core::Federation;
use liaison_pki::{DevPkiPaths, PkiError};

use crate::TlsFiles;

/// The PKI of `DATA_DIR/pki`, created on first use for every principal of `federation`.
/// Returns the TLS files and whether they were created now.
pub fn ensure_dev_pki(
    data_dir: &Path,
    federation: &Federation,
) -> Result<(TlsFiles, bool), PkiError> {
    let dir = data_dir.join("pki");
    let created = !DevPkiPaths::in_dir(&dir).ca_cert.exists();
    if created {
        liaison_pki::dev_init(&dir, federation)?;
    }
    Ok((TlsFiles::in_dev_pki(&dir), created))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_once_then_reuses() {
        let dir = tempfile::tempdir().unwrap();
        let federation = Federation::from_toml(crate::EXAMPLE_FEDERATION).unwrap();
        let (files, created) = ensure_dev_pki(dir.path(), &federation).unwrap();
        assert!(created);
        let first = std::fs::read(&files.ca_cert).unwrap();
        let (_, created_again) = ensure_dev_pki(dir.path(), &federation).unwrap();
        assert!(!created_again);
        assert_eq!(std::fs::read(&files.ca_cert).unwrap(), first);
        assert!(
            dir.path()
                .join("pki/principals/RS-MUP/officer.pem")
                .exists()
        );
    }
}
