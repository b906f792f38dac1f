//! `caisson key generate`: a cosign-compatible key pair.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use caisson_sign::SigningKey;

use super::registry_args::password;

#[derive(Debug, clap::Args)]
pub struct KeyArgs {
    #[command(subcommand)]
    pub command: KeyCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum KeyCommand {
    /// Write PREFIX.key (ECDSA P-256, cosign's encrypted format, password
    /// from COSIGN_PASSWORD or a prompt) and PREFIX.pub (PKIX PEM).
    Generate(GenerateArgs),
}

#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
    /// Path prefix of the files written: PREFIX.key and PREFIX.pub.
    #[arg(long, default_value = "cosign", value_name = "PREFIX")]
    pub output_key_prefix: PathBuf,
    /// Overwrite existing files.
    #[arg(long)]
    pub force: bool,
}

pub fn run(args: KeyArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        KeyCommand::Generate(g) => generate(g),
    }
}

fn with_ext(prefix: &std::path::Path, ext: &str) -> PathBuf {
    let mut s = prefix.as_os_str().to_owned();
    s.push(ext);
    PathBuf::from(s)
}

fn generate(args: GenerateArgs) -> anyhow::Result<ExitCode> {
    let key_path = with_ext(&args.output_key_prefix, ".key");
    let pub_path = with_ext(&args.output_key_prefix, ".pub");
    for p in [&key_path, &pub_path] {
        if p.exists() && !args.force {
            anyhow::bail!("{} exists; pass --force to overwrite it", p.display());
        }
    }
    let pass = password("Enter password for private key: ", true)?;
    let key = SigningKey::generate_p256();
    let pem = key
        .to_encrypted_pem(&pass)
        .context("cannot encrypt the private key")?;
    let public = key.public_key().to_pem()?;
    write_private(&key_path, pem.as_bytes())?;
    fs_err::write(&pub_path, public)?;
    eprintln!(
        "Private key written to {}\nPublic key written to {}",
        key_path.display(),
        pub_path.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Writes a private key readable by the owner only.
fn write_private(path: &std::path::Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut opts = fs_err::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use fs_err::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(bytes)?;
    Ok(())
}
