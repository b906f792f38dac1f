//! `caisson sbom <source>`: list the packages in an image and write an SBOM.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use caisson_report::{Format, RenderOptions};

#[derive(Debug, clap::Args)]
pub struct SbomArgs {
    /// oci:<dir>[:<tag>] | oci-archive:<file>[:<tag>] | docker-archive:<file>[:<name:tag>] | dir:<rootfs> | registry:<ref>
    pub source: String,
    /// Output format: table (default on a terminal), json (default otherwise), cyclonedx-json, spdx-json.
    #[arg(short, long)]
    pub format: Option<Format>,
    /// Write the document to FILE instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Platform to choose from a multi-platform image: os/arch[/variant].
    #[arg(long)]
    pub platform: Option<caisson_oci::Platform>,
    /// Registry host[:port] to reach over plain HTTP (repeatable).
    #[arg(long = "insecure-registry", value_name = "HOST")]
    pub insecure_registries: Vec<String>,
    /// PEM file of extra CA certificates to trust for registries.
    #[arg(long, value_name = "FILE")]
    pub registry_ca: Option<PathBuf>,
    /// Largest uncompressed layer, in bytes.
    #[arg(long, value_name = "BYTES")]
    pub max_layer_size: Option<u64>,
    /// Largest compression ratio accepted past the first GiB of a layer.
    #[arg(long, value_name = "RATIO")]
    pub max_compression_ratio: Option<u64>,
    /// Also store the document in a registry as an OCI 1.1 referrer of this
    /// image (registry/repository[:tag][@digest]); needs -f cyclonedx-json or spdx-json.
    #[arg(long, value_name = "REF")]
    pub attach: Option<String>,
}

pub(crate) fn now_rfc3339() -> String {
    // SOURCE_DATE_EPOCH makes documents reproducible.
    let t = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .map(|s| std::time::UNIX_EPOCH + std::time::Duration::from_secs(s))
        .unwrap_or_else(std::time::SystemTime::now);
    caisson_report::rfc3339_utc(t)
}

pub fn run(args: SbomArgs) -> anyhow::Result<ExitCode> {
    let mut opts = caisson_sbom::Options {
        platform: args.platform,
        ..Default::default()
    };
    if let Some(v) = args.max_layer_size {
        opts.limits.max_layer_bytes = v;
    }
    if let Some(v) = args.max_compression_ratio {
        opts.limits.max_compression_ratio = v;
    }
    opts.insecure_registries = args.insecure_registries.clone();
    opts.ca_bundle = args.registry_ca.clone();
    let sbom = caisson_sbom::generate(&args.source, &opts)
        .with_context(|| format!("cannot build the SBOM of {}", args.source))?;
    for w in &sbom.warnings {
        eprintln!("warning[{}]: {}", w.code, w.message);
    }
    let to_terminal = args.output.is_none() && std::io::stdout().is_terminal();
    let format = args.format.unwrap_or(if to_terminal {
        Format::Table
    } else {
        Format::Json
    });
    let mut render = RenderOptions::new(&sbom, &now_rfc3339(), env!("CARGO_PKG_VERSION"));
    render.color = to_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let attach_media = match (&args.attach, format) {
        (None, _) => None,
        (Some(_), Format::CycloneDxJson) => Some("application/vnd.cyclonedx+json"),
        (Some(_), Format::SpdxJson) => Some("application/spdx+json"),
        (Some(_), _) => anyhow::bail!("--attach needs -f cyclonedx-json or -f spdx-json"),
    };
    let mut document = Vec::new();
    caisson_report::write(format, &sbom, &render, &mut document)?;
    match &args.output {
        Some(path) => fs_err::write(path, &document).context("cannot write the output file")?,
        None => {
            let stdout = std::io::stdout();
            let mut lock = stdout.lock();
            lock.write_all(&document)
                .and_then(|()| lock.flush())
                .context("cannot write to stdout")?;
        }
    }
    if let (Some(image), Some(media)) = (&args.attach, attach_media) {
        let registry = super::registry_args::RegistryArgs {
            insecure_registries: args.insecure_registries.clone(),
            registry_ca: args.registry_ca.clone(),
        };
        let (subject, referrer) =
            super::sbom_attach::attach(image, &registry, &document, media, &now_rfc3339())?;
        eprintln!("Attached the SBOM to {image} ({subject}) as referrer {referrer}");
    }
    Ok(ExitCode::SUCCESS)
}
