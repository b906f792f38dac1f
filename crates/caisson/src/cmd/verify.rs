//! `caisson verify --key F <ref>`: fetch the image's signatures (the
//! `sha256-<hex>.sig` tag and OCI referrers), then decide with
//! `caisson_sign::verify`. Exit 0 with at least one valid signature, 1
//! without, 2 on usage or I/O errors.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use caisson_oci::Reference;
use caisson_registry_client::signatures::{verify_image, Requirements};
use caisson_sign::PublicKey;

use super::registry_args::RegistryArgs;
use super::sign::parse_kv;

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// Public key (PKIX or PKCS#1 PEM), or a directory of them (*.pub, *.pem);
    /// repeatable. A signature valid under any key is accepted.
    #[arg(long, value_name = "FILE|DIR", required = true)]
    pub key: Vec<PathBuf>,
    /// The image to verify: registry/repository[:tag][@digest].
    pub image: String,
    /// Require the payload annotation KEY=VALUE (repeatable).
    #[arg(short = 'a', long = "annotation", value_name = "KEY=VALUE", value_parser = parse_kv)]
    pub annotations: Vec<(String, String)>,
    /// Accept payloads that name another repository (cosign does not check
    /// the docker-reference; Caisson does by default).
    #[arg(long)]
    pub allow_any_reference: bool,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

pub(crate) fn load_keys(paths: &[PathBuf]) -> anyhow::Result<Vec<PublicKey>> {
    let mut keys = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut entries: Vec<PathBuf> = fs_err::read_dir(p)?
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|f| f.is_file() && f.extension().is_some_and(|x| x == "pub" || x == "pem"))
                .collect();
            entries.sort();
            let before = keys.len();
            for f in entries {
                match load_key(&f) {
                    Ok(k) => keys.push(k),
                    Err(e) => eprintln!("warning: skipping {}: {e:#}", f.display()),
                }
            }
            if keys.len() == before {
                anyhow::bail!("no public keys in {}", p.display());
            }
        } else {
            keys.push(load_key(p)?);
        }
    }
    Ok(keys)
}

fn load_key(path: &Path) -> anyhow::Result<PublicKey> {
    let pem = fs_err::read(path)?;
    Ok(PublicKey::from_pem(&pem, &path.display().to_string())?)
}

/// The `.sig` tag's layers with their payloads.
pub fn run(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let reference: Reference = args.image.parse()?;
    let keys = load_keys(&args.key)?;
    let client = args.registry.client()?;
    let requirements = Requirements {
        check_reference: !args.allow_any_reference,
        annotations: args.annotations.into_iter().collect(),
    };
    let outcome = verify_image(&client, &reference, &keys, &requirements)
        .with_context(|| format!("cannot verify {}", args.image))?;
    let digest = outcome.image.digest.clone();
    if let Some(e) = &outcome.referrers_error {
        eprintln!("warning: cannot list the referrers of {digest}: {e}");
    }
    let name = reference.name();
    match outcome.result {
        Ok(verified) => {
            eprintln!(
                "Verified {} signature(s) of {name}@{digest}",
                verified.len()
            );
            println!("{}", serde_json::to_string_pretty(&verified)?);
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("error: verification failed for {name}@{digest}");
            match &e {
                caisson_sign::VerifyError::NoValidSignature { rejections, .. } => {
                    for (source, r) in rejections {
                        eprintln!("  {source}: {r}");
                    }
                }
                other => eprintln!("  {other}"),
            }
            Ok(ExitCode::from(1))
        }
    }
}

/// Flags that turn on live signature facts for admission policies.
#[derive(Debug, Clone, clap::Args)]
pub struct TrustArgs {
    /// Public key (file, or a directory of `.pub`/`.pem` files) whose
    /// signatures the `signed-images` policy accepts; with it, admission
    /// verifies each image's signatures in its registry (repeatable).
    #[arg(long = "trusted-key", value_name = "FILE|DIR")]
    pub trusted_keys: Vec<PathBuf>,
    /// Take each image's findings (per severity) and OS from its registry's
    /// stored scan results when it lives in a Caisson registry (for the
    /// `vulnerability-threshold` and `approved-base-os` policies).
    #[arg(long)]
    pub scan_results: bool,
    /// Seconds a signature verdict for a digest is reused.
    #[arg(long, default_value_t = 300, value_name = "SECS")]
    pub verdict_cache_secs: u64,
    /// Seconds a tag's resolution to a digest is reused.
    #[arg(long, default_value_t = 30, value_name = "SECS")]
    pub tag_cache_secs: u64,
    /// Seconds a failure (unsigned, unreachable, unknown image) is reused.
    #[arg(long, default_value_t = 10, value_name = "SECS")]
    pub failure_cache_secs: u64,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

impl TrustArgs {
    /// The live facts source, when keys were given.
    pub fn source(
        &self,
    ) -> anyhow::Result<Option<std::sync::Arc<dyn caisson_admission::resolve::FactsSource>>> {
        if self.trusted_keys.is_empty() && !self.scan_results {
            return Ok(None);
        }
        let keys = if self.trusted_keys.is_empty() {
            Vec::new()
        } else {
            load_keys(&self.trusted_keys)?
        };
        // reqwest's blocking client runs its own runtime: build it off any
        // async context.
        let registry = self.registry.clone();
        let client = std::thread::spawn(move || registry.client())
            .join()
            .map_err(|_| anyhow::anyhow!("setting up the registry client panicked"))??;
        let requirements = Requirements {
            check_reference: true,
            ..Requirements::default()
        };
        let mut facts = caisson_admission::resolve::SignatureFacts::with_times(
            client,
            keys,
            requirements,
            caisson_admission::resolve::CacheTimes {
                tag: std::time::Duration::from_secs(self.tag_cache_secs),
                verdict: std::time::Duration::from_secs(self.verdict_cache_secs),
                failure: std::time::Duration::from_secs(self.failure_cache_secs),
            },
        );
        if self.scan_results {
            facts = facts.with_scan_results(caisson_admission::resolve::ScanResults {
                insecure: self.registry.insecure_registries.clone(),
                ca: self.registry.registry_ca.clone(),
            });
        }
        Ok(Some(std::sync::Arc::new(facts)))
    }
}
