//! Development mode: a PKI and the example federation, so that a newcomer needs nothing
//! but the binary.

use std::path::{Path, PathBuf};

use liaison_core::Federation;
use liaison_pki::{DevPkiPaths, PkiError};

use crate::TlsFiles;

/// The PKI of `DATA_DIR/pki`, created on first use for every principal of `federation`,
/// with the audit log's signing key. Returns the TLS files, the audit key's path and
/// whether the PKI was created now.
pub fn ensure_dev_pki(
    data_dir: &Path,
    federation: &Federation,
) -> Result<(TlsFiles, PathBuf, bool), PkiError> {
    let dir = data_dir.join("pki");
    let paths = DevPkiPaths::in_dir(&dir);
    let created = !paths.ca_cert.exists();
    if created {
        liaison_pki::dev_init(&dir, federation)?;
    } else {
        // A PKI made by an earlier version lacks the newer files.
        if !paths.audit_key.exists() {
            liaison_pki::write_audit_key(&paths.audit_key)?;
        }
        if !paths.token_key.exists() {
            liaison_pki::write_audit_key(&paths.token_key)?;
        }
    }
    Ok((TlsFiles::in_dev_pki(&dir), paths.audit_key, created))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_once_then_reuses() {
        let dir = tempfile::tempdir().unwrap();
        let federation = Federation::from_toml(crate::EXAMPLE_FEDERATION).unwrap();
        let (files, _, created) = ensure_dev_pki(dir.path(), &federation).unwrap();
        assert!(created);
        let first = std::fs::read(&files.ca_cert).unwrap();
        let (_, audit_key, created_again) = ensure_dev_pki(dir.path(), &federation).unwrap();
        assert!(audit_key.exists());
        assert!(!created_again);
        assert_eq!(std::fs::read(&files.ca_cert).unwrap(), first);
        assert!(
            dir.path()
                .join("pki/principals/RS-MUP/officer.pem")
                .exists()
        );
    }
}
