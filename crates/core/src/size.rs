//! Machine sizes and the resources each one grants.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A machine size from the public API's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum Size {
    Small,
    #[default]
    Medium,
    Large,
    Xlarge,
}

/// Resources granted to a sandbox of one size.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Resources {
    /// CPU quota in virtual CPUs.
    pub vcpus: u32,
    /// Memory limit in bytes.
    pub memory_bytes: u64,
    /// Maximum number of processes and threads.
    pub pids: u64,
}

const GIB: u64 = 1024 * 1024 * 1024;

impl Size {
    pub const ALL: [Size; 4] = [Size::Small, Size::Medium, Size::Large, Size::Xlarge];

    pub fn as_str(self) -> &'static str {
        match self {
            Size::Small => "small",
            Size::Medium => "medium",
            Size::Large => "large",
            Size::Xlarge => "xlarge",
        }
    }

    pub fn parse(value: &str) -> Option<Size> {
        Size::ALL.into_iter().find(|size| size.as_str() == value)
    }

    pub fn resources(self) -> Resources {
        let (vcpus, gib, pids) = match self {
            Size::Small => (1, 2, 1024),
            Size::Medium => (2, 4, 2048),
            Size::Large => (2, 8, 4096),
            Size::Xlarge => (4, 16, 8192),
        };
        Resources { vcpus, memory_bytes: gib * GIB, pids }
    }

    /// Returns the V8 old-space limit in MiB for a Node.js runtime of this
    /// size: three quarters of the memory limit, leaving room for the
    /// runtime's helper processes and native memory.
    pub fn node_heap_mib(self) -> u64 {
        self.resources().memory_bytes / (1024 * 1024) * 3 / 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_match_public_table() {
        let table: Vec<(Size, u32, u64)> = Size::ALL
            .into_iter()
            .map(|s| (s, s.resources().vcpus, s.resources().memory_bytes / GIB))
            .collect();
        assert_eq!(
            table,
            vec![
                (Size::Small, 1, 2),
                (Size::Medium, 2, 4),
                (Size::Large, 2, 8),
                (Size::Xlarge, 4, 16)
            ]
        );
    }

    #[test]
    fn node_heap_fits_inside_limit() {
        assert_eq!(Size::Small.node_heap_mib(), 1536);
        for size in Size::ALL {
            assert!(size.node_heap_mib() * 1024 * 1024 < size.resources().memory_bytes);
        }
    }

    #[test]
    fn parse_round_trips() {
        for size in Size::ALL {
            assert_eq!(Size::parse(size.as_str()), Some(size));
        }
        assert_eq!(Size::parse("huge"), None);
    }
}
