//! Image recipes: the inputs that determine an image. An image's id is the
//! SHA-256 of its recipe, so a changed recipe gives a new image and an
//! unchanged one is reused.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Version of the build procedure. Raise it when the build changes what
/// ends up in an image, so existing images are not reused.
pub const RECIPE_FORMAT: u32 = 1;

pub const OPENCLAW_VERSION: &str = "2026.9.6";
pub const NODE_VERSION: &str = "24.19.0";
pub const HERMES_VERSION: &str = "0.19.0";

/// Extras of the `hermes-agent` package: `anthropic` brings the client that
/// Hermes' Anthropic provider imports, and `messaging` brings Telegram,
/// Discord and Slack. Email uses the standard library.
///
/// NOTE: Hermes' WhatsApp Web adapter runs a Node.js bridge from
/// `scripts/whatsapp-bridge`, which the 0.19.0 wheel does not contain, and
/// the image has no Node. Only the WhatsApp Cloud API adapter can work here.
pub const HERMES_EXTRAS: [&str; 2] = ["anthropic", "messaging"];

/// Channel plugins installed next to OpenClaw, at OpenClaw's version.
/// OpenClaw 2026.9.6 ships WhatsApp, Slack and Discord outside its core
/// package, and a sandbox cannot fetch them later. A config loads one with
/// `plugins.load.paths: ["/opt/openclaw/node_modules/@openclaw/<name>"]`.
///
/// NOTE: OpenClaw rejects plugin files with more than one hardlink ("failed
/// plugin directory boundary checks"), so plugins load only from a real copy
/// of the image, not from its hardlinked `rootfs/` itself.
pub const OPENCLAW_PLUGINS: [&str; 3] =
    ["@openclaw/discord", "@openclaw/slack", "@openclaw/whatsapp"];

/// The agent runtime an image contains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuntimeKind {
    Openclaw,
    Hermes,
}

impl RuntimeKind {
    pub const ALL: [RuntimeKind; 2] = [RuntimeKind::Openclaw, RuntimeKind::Hermes];

    pub fn as_str(self) -> &'static str {
        match self {
            RuntimeKind::Openclaw => "openclaw",
            RuntimeKind::Hermes => "hermes",
        }
    }
}

impl fmt::Display for RuntimeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error of parsing a [`RuntimeKind`] from text.
#[derive(Debug, thiserror::Error)]
#[error("unknown runtime `{0}`; expected `openclaw` or `hermes`")]
pub struct UnknownRuntimeKind(pub String);

impl FromStr for RuntimeKind {
    type Err = UnknownRuntimeKind;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "openclaw" => Ok(RuntimeKind::Openclaw),
            "hermes" => Ok(RuntimeKind::Hermes),
            other => Err(UnknownRuntimeKind(other.to_string())),
        }
    }
}

/// The Debian system an image starts from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaseRecipe {
    pub suite: String,
    pub variant: String,
    pub packages: Vec<String>,
}

/// Everything that determines an image's runtime layer: the base system and
/// the runtime installed on it. The guest binary is not part of it, so a new
/// guest reuses the layer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recipe {
    pub format: u32,
    pub kind: RuntimeKind,
    pub runtime_version: String,
    pub base: BaseRecipe,
    /// Node.js version for OpenClaw; `None` for Hermes.
    pub node_version: Option<String>,
    /// Python package extras for Hermes; plugin npm packages for OpenClaw.
    pub extras: Vec<String>,
}

impl Recipe {
    /// Returns the recipe that this build of GoPilot uses for `kind`.
    pub fn current(kind: RuntimeKind) -> Recipe {
        let (runtime_version, packages, node_version, extras): (
            &str,
            &[&str],
            Option<&str>,
            &[&str],
        ) = match kind {
            // Node's wheel binary links only glibc and libstdc++6/libgcc-s1,
            // which minbase has because apt depends on them.
            RuntimeKind::Openclaw => (
                OPENCLAW_VERSION,
                &["ca-certificates"],
                Some(NODE_VERSION),
                &OPENCLAW_PLUGINS,
            ),
            RuntimeKind::Hermes => (
                HERMES_VERSION,
                &["ca-certificates", "python3", "python3-venv"],
                None,
                &HERMES_EXTRAS,
            ),
        };
        Recipe {
            format: RECIPE_FORMAT,
            kind,
            runtime_version: runtime_version.to_string(),
            base: BaseRecipe {
                suite: "bookworm".to_string(),
                variant: "minbase".to_string(),
                packages: packages.iter().map(|name| name.to_string()).collect(),
            },
            node_version: node_version.map(str::to_string),
            extras: extras.iter().map(|name| name.to_string()).collect(),
        }
    }

    /// Returns the id of the runtime layer: the hex SHA-256 of this recipe as JSON.
    pub fn layer_id(&self) -> String {
        let json = serde_json::to_vec(self).expect("a recipe always serializes");
        hex::encode(Sha256::digest(json))
    }

    /// Returns the id of the final image: the hex SHA-256 of the layer id
    /// and the guest binary's SHA-256.
    pub fn image_id(&self, guest_sha256: &str) -> String {
        let mut hasher = Sha256::new();
        hasher.update(self.layer_id().as_bytes());
        hasher.update(b"\nguest:");
        hasher.update(guest_sha256.as_bytes());
        hex::encode(hasher.finalize())
    }
}

/// Returns the directory name of an image or layer: `<kind>-<first 12 hex digits of id>`.
pub(crate) fn directory_name(kind: RuntimeKind, id: &str) -> String {
    format!("{kind}-{}", &id[..12])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_and_distinct() {
        let openclaw = Recipe::current(RuntimeKind::Openclaw);
        let hermes = Recipe::current(RuntimeKind::Hermes);
        assert_eq!(
            openclaw.layer_id(),
            Recipe::current(RuntimeKind::Openclaw).layer_id()
        );
        assert_ne!(openclaw.layer_id(), hermes.layer_id());
        assert_eq!(openclaw.layer_id().len(), 64);
    }

    #[test]
    fn guest_changes_image_id_not_layer_id() {
        let recipe = Recipe::current(RuntimeKind::Hermes);
        assert_ne!(recipe.image_id("aa"), recipe.image_id("bb"));
        assert_ne!(recipe.image_id("aa"), recipe.layer_id());
    }

    #[test]
    fn changed_package_list_changes_layer_id() {
        let recipe = Recipe::current(RuntimeKind::Hermes);
        let mut changed = recipe.clone();
        changed.base.packages.push("git".to_string());
        assert_ne!(recipe.layer_id(), changed.layer_id());
    }

    #[test]
    fn kind_parses_and_rejects() {
        assert_eq!(
            "hermes".parse::<RuntimeKind>().unwrap(),
            RuntimeKind::Hermes
        );
        assert_eq!(
            "openclaw".parse::<RuntimeKind>().unwrap(),
            RuntimeKind::Openclaw
        );
        let error = "claw".parse::<RuntimeKind>().unwrap_err();
        assert!(error.to_string().contains("unknown runtime `claw`"));
    }
}
