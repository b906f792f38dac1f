//! Registry connection flags shared by `sign` and `verify`, and the password
//! for encrypted keys.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Context;
use caisson_registry_client::{Client, ClientOptions};
use zeroize::Zeroizing;

#[derive(Debug, Clone, clap::Args)]
pub struct RegistryArgs {
    /// Registry host[:port] to reach over plain HTTP (repeatable).
    #[arg(long = "insecure-registry", value_name = "HOST")]
    pub insecure_registries: Vec<String>,
    /// PEM file of extra CA certificates to trust for registries.
    #[arg(long, value_name = "FILE")]
    pub registry_ca: Option<PathBuf>,
}

impl RegistryArgs {
    /// A client with credentials from the usual auth files
    /// (REGISTRY_AUTH_FILE, containers auth.json, Docker config).
    pub fn client(&self) -> anyhow::Result<Client> {
        Client::new(ClientOptions {
            insecure_registries: self.insecure_registries.clone(),
            ca_bundle: self.registry_ca.clone(),
            ..ClientOptions::default()
        })
        .context("cannot set up the registry client")
    }
}

/// Environment variable holding the key password, as cosign reads it.
pub const PASSWORD_ENV: &str = "COSIGN_PASSWORD";

/// The key password: `COSIGN_PASSWORD` (may be empty), else a prompt when
/// stdin is a terminal (`confirm` asks twice), else an error.
pub fn password(prompt: &str, confirm: bool) -> anyhow::Result<Zeroizing<Vec<u8>>> {
    if let Some(v) = std::env::var_os(PASSWORD_ENV) {
        let s = v
            .into_string()
            .map_err(|_| anyhow::anyhow!("{PASSWORD_ENV} is not valid UTF-8"))?;
        return Ok(Zeroizing::new(s.into_bytes()));
    }
    if !std::io::stdin().is_terminal() {
        anyhow::bail!(
            "no password: set {PASSWORD_ENV} (it may be empty) or run on a terminal to be prompted"
        );
    }
    let first =
        Zeroizing::new(rpassword::prompt_password(prompt).context("cannot read the password")?);
    if confirm {
        let again = Zeroizing::new(
            rpassword::prompt_password("Enter password for private key again: ")
                .context("cannot read the password")?,
        );
        if *first != *again {
            anyhow::bail!("the passwords do not match");
        }
    }
    Ok(Zeroizing::new(first.as_bytes().to_vec()))
}
