use std::fmt;

/// One named step of an image build, as shown in progress output and errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Debootstrap,
    PipDownloadNode,
    InstallNode,
    NpmInstallOpenclaw,
    SchemaDump,
    PipInstallHermes,
    RuntimeVersions,
    GuestCopy,
    Finalize,
}

impl Step {
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Debootstrap => "debootstrap",
            Step::PipDownloadNode => "pip download node",
            Step::InstallNode => "install node",
            Step::NpmInstallOpenclaw => "npm install openclaw",
            Step::SchemaDump => "schema dump",
            Step::PipInstallHermes => "pip install hermes",
            Step::RuntimeVersions => "runtime versions",
            Step::GuestCopy => "guest copy",
            Step::Finalize => "finalize",
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
