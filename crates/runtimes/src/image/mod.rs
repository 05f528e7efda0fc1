//! Runtime images: one Debian root filesystem per runtime kind with the
//! runtime and the `gopilot-guest` supervisor installed, content-addressed
//! by recipe and cached under the data directory. See [`ImageStore`].

mod chroot;
mod command;
mod error;
mod fs_util;
mod guest;
mod host_config;
mod layer;
mod manifest;
mod progress;
mod recipe;
mod step;
mod store;

pub use chroot::ChrootCommand;
pub use error::ImageError;
pub use guest::{locate_guest_binary, sha256_file};
pub use layer::{LayerInfo, HERMES_VENV, OPENCLAW_PREFIX};
pub use manifest::{Image, ImageInfo, Manifest};
pub use progress::{NoProgress, Progress, TerminalProgress};
pub use recipe::{
    BaseRecipe, Recipe, RuntimeKind, UnknownRuntimeKind, HERMES_VERSION, NODE_VERSION,
    OPENCLAW_VERSION,
};
pub use step::Step;
pub use store::{BuildOptions, ImageStore, GUEST_PATH_IN_IMAGE};
