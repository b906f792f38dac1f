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
    opts.insecure_registries = args.insecure_registries;
    opts.ca_bundle = args.registry_ca;
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
    match &args.output {
        Some(path) => {
            let mut f = std::io::BufWriter::new(
                fs_err::File::create(path).context("cannot create the output file")?,
            );
            caisson_report::write(format, &sbom, &render, &mut f)?;
            f.flush().context("cannot write the output file")?;
        }
        None => {
            let stdout = std::io::stdout();
            let mut lock = stdout.lock();
            caisson_report::write(format, &sbom, &render, &mut lock)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
