//! Reads the package sources that the host is configured with (apt, pip,
//! npm), so image builds use the same mirrors and registries as the host.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::error::ImageError;

const APT_SOURCES_LIST: &str = "/etc/apt/sources.list";
const APT_SOURCES_DIR: &str = "/etc/apt/sources.list.d";

/// Returns the URI of the first `deb` source in the host's apt configuration
/// that serves `suite` with the `main` component.
pub fn debian_mirror(suite: &str) -> Result<String, ImageError> {
    let mut files = vec![PathBuf::from(APT_SOURCES_LIST)];
    if let Ok(entries) = std::fs::read_dir(APT_SOURCES_DIR) {
        let mut extra: Vec<PathBuf> = entries
            .filter_map(|entry| entry.ok().map(|entry| entry.path()))
            .filter(|path| {
                matches!(
                    path.extension().and_then(|ext| ext.to_str()),
                    Some("list" | "sources")
                )
            })
            .collect();
        extra.sort();
        files.extend(extra);
    }

    for file in &files {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        let found = if file.extension().and_then(|ext| ext.to_str()) == Some("sources") {
            mirror_in_deb822(&text, suite)
        } else {
            mirror_in_one_line_format(&text, suite)
        };
        if let Some(uri) = found {
            tracing::debug!(suite, file = %file.display(), "found Debian mirror in apt sources");
            return Ok(uri);
        }
    }

    Err(ImageError::MirrorNotFound {
        suite: suite.to_string(),
        searched: files
            .iter()
            .map(|file| file.display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
    })
}

/// Finds the mirror in a one-line-style file (`deb [options] uri suite components...`).
fn mirror_in_one_line_format(text: &str, suite: &str) -> Option<String> {
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or_default().trim();
        let mut fields = line.split_whitespace().peekable();
        if fields.next() != Some("deb") {
            continue;
        }

        // Options are one bracketed group that may contain spaces.
        if fields.peek().is_some_and(|field| field.starts_with('[')) {
            for field in fields.by_ref() {
                if field.ends_with(']') {
                    break;
                }
            }
        }

        let (Some(uri), Some(line_suite)) = (fields.next(), fields.next()) else {
            continue;
        };
        let components: Vec<&str> = fields.collect();
        if line_suite == suite && components.contains(&"main") {
            return Some(uri.to_string());
        }
    }
    None
}

/// Finds the mirror in a deb822-style `.sources` file: stanzas of
/// `Field: value` lines separated by blank lines.
fn mirror_in_deb822(text: &str, suite: &str) -> Option<String> {
    for stanza in text.split("\n\n") {
        let mut types = "";
        let mut uris = "";
        let mut suites = "";
        let mut components = "";
        let mut enabled = true;
        for line in stanza.lines() {
            if line.trim_start().starts_with('#') {
                continue;
            }
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim();
            match key.trim().to_ascii_lowercase().as_str() {
                "types" => types = value,
                "uris" => uris = value,
                "suites" => suites = value,
                "components" => components = value,
                "enabled" => enabled = value != "no",
                _ => {}
            }
        }

        let serves_suite = types.split_whitespace().any(|kind| kind == "deb")
            && suites.split_whitespace().any(|name| name == suite)
            && components.split_whitespace().any(|name| name == "main");
        if enabled && serves_suite {
            if let Some(uri) = uris.split_whitespace().next() {
                return Some(uri.to_string());
            }
        }
    }
    None
}

/// Returns the npm registry the host's npm is configured with, or `None`
/// when the host has no npm (npm inside the image then uses its default).
pub fn npm_registry() -> Option<String> {
    let output = Command::new("npm")
        .args(["config", "get", "registry"])
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let registry = String::from_utf8_lossy(&output.stdout).trim().to_string();
    (!registry.is_empty() && registry != "undefined").then_some(registry)
}

/// Returns the CA bundle file the host's npm is configured to trust
/// (`cafile`), if any. A host behind a TLS-inspecting proxy needs it to
/// reach the registry.
pub fn npm_cafile() -> Option<PathBuf> {
    let output = Command::new("npm")
        .args(["config", "get", "cafile"])
        .output()
        .ok()?;
    let path = String::from_utf8_lossy(&output.stdout).trim().to_string();
    let configured =
        output.status.success() && !path.is_empty() && path != "null" && path != "undefined";
    configured
        .then(|| PathBuf::from(path))
        .filter(|path| path.is_file())
}

/// The host pip's index configuration, to carry into a pip that runs inside
/// an image.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct PipSettings {
    /// `PIP_INDEX_URL`, `PIP_EXTRA_INDEX_URL` and `PIP_TRUSTED_HOST` values.
    /// Options naming host paths (such as `find-links`) are left out, because
    /// those paths do not exist inside the image.
    pub index_env: Vec<(String, String)>,
    /// The CA bundle pip is configured to trust (`cert`), on the host.
    pub cert: Option<PathBuf>,
}

/// Reads the host pip's configuration through `python3 -m pip config list`.
pub fn pip_settings() -> PipSettings {
    match Command::new("python3")
        .args(["-m", "pip", "config", "list"])
        .output()
    {
        Ok(output) if output.status.success() => {
            pip_settings_from_config_list(&String::from_utf8_lossy(&output.stdout))
        }
        _ => PipSettings::default(),
    }
}

/// Parses `pip config list` output (`section.key='value'` lines). pip prints
/// environment settings (`:env:.`) after files and the environment wins, so
/// a later line replaces an earlier one.
fn pip_settings_from_config_list(text: &str) -> PipSettings {
    const FORWARDED: [(&str, &str); 3] = [
        ("index-url", "PIP_INDEX_URL"),
        ("extra-index-url", "PIP_EXTRA_INDEX_URL"),
        ("trusted-host", "PIP_TRUSTED_HOST"),
    ];

    let mut settings = PipSettings::default();
    for line in text.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let option = key.rsplit('.').next().unwrap_or_default();
        let value = value
            .trim()
            .trim_matches('\'')
            .trim_matches('"')
            .to_string();

        if option == "cert" {
            settings.cert = Some(PathBuf::from(value));
            continue;
        }
        let Some((_, variable)) = FORWARDED.iter().find(|(name, _)| *name == option) else {
            continue;
        };
        settings.index_env.retain(|(name, _)| name != variable);
        settings.index_env.push((variable.to_string(), value));
    }
    settings.cert = settings.cert.filter(|path| path.is_file());
    settings
}

/// Returns true when `path` exists and is executable by someone.
pub(crate) fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deb822_picks_suite_with_main() {
        let text = "Types: deb\n# comment\nURIs: http://mirror.test/debian\nSuites: bookworm bookworm-updates\nComponents: main\n\n\
                    Types: deb\nURIs: http://mirror.test/debian-security\nSuites: bookworm-security\nComponents: main\n";
        assert_eq!(
            mirror_in_deb822(text, "bookworm").as_deref(),
            Some("http://mirror.test/debian")
        );
        assert_eq!(mirror_in_deb822(text, "trixie"), None);
    }

    #[test]
    fn deb822_skips_disabled_and_source_stanzas() {
        let text = "Types: deb-src\nURIs: http://src.test/debian\nSuites: bookworm\nComponents: main\n\n\
                    Enabled: no\nTypes: deb\nURIs: http://off.test/debian\nSuites: bookworm\nComponents: main\n";
        assert_eq!(mirror_in_deb822(text, "bookworm"), None);
    }

    #[test]
    fn one_line_format_with_options() {
        let text = "# deb http://old.test/debian bookworm main\n\
                    deb [arch=amd64 signed-by=/k.gpg] http://mirror.test/debian bookworm main contrib\n";
        assert_eq!(
            mirror_in_one_line_format(text, "bookworm").as_deref(),
            Some("http://mirror.test/debian")
        );
    }

    #[test]
    fn one_line_format_requires_main() {
        let text = "deb http://mirror.test/debian bookworm contrib\n";
        assert_eq!(mirror_in_one_line_format(text, "bookworm"), None);
    }

    #[test]
    fn pip_config_list_forwards_index_options() {
        let text =
            "global.cert='/etc/ssl/certs/ca.crt'\nglobal.index-url='https://index.test/simple'\n\
                    :env:.find-links='/opt/wheels'\n:env:.index-url='https://env.test/simple'\n";
        let settings = pip_settings_from_config_list(text);
        assert_eq!(
            settings.index_env,
            vec![(
                "PIP_INDEX_URL".to_string(),
                "https://env.test/simple".to_string()
            )]
        );
        assert_eq!(
            settings.cert, None,
            "a cert path that does not exist is dropped"
        );
    }
}
