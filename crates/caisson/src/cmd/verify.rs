//! `caisson verify --key F <ref>`: fetch the image's signatures (the
//! `sha256-<hex>.sig` tag and OCI referrers), then decide with
//! `caisson_sign::verify`. Exit 0 with at least one valid signature, 1
//! without, 2 on usage or I/O errors.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use caisson_oci::{Digest, Reference};
use caisson_registry_client::{Client, RegistryError};
use caisson_sign::verify::{Candidate, Expected};
use caisson_sign::{bundle, cosign, payload, PublicKey};

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

fn load_keys(paths: &[PathBuf]) -> anyhow::Result<Vec<PublicKey>> {
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
fn tag_candidates(
    client: &Client,
    reference: &Reference,
    digest: &Digest,
) -> anyhow::Result<Vec<Candidate>> {
    let (reg, repo) = (reference.registry.as_str(), reference.repository.as_str());
    let tag = cosign::signature_tag(digest);
    let manifest = match client.fetch_manifest(reg, repo, &tag, None) {
        Ok(m) => m,
        Err(RegistryError::NotFound { .. }) => return Ok(Vec::new()),
        Err(e) => {
            return Err(e).with_context(|| format!("cannot fetch the signatures at tag {tag}"))
        }
    };
    let layers = match cosign::parse_signature_manifest(&manifest.bytes) {
        Ok(l) => l,
        Err(e) => {
            // A malformed signature manifest is a rejected signature, not an I/O error.
            let layer = cosign::signature_layer(b"", b"");
            return Ok(vec![Candidate::SimpleSigning {
                source: format!("tag {tag}"),
                layer: Box::new(layer),
                payload: Err(e.to_string()),
            }]);
        }
    };
    let limit = u64::try_from(payload::MAX_PAYLOAD_BYTES)?;
    Ok(layers
        .into_iter()
        .enumerate()
        .map(|(i, layer)| {
            let payload = client
                .fetch_blob_bytes(reg, repo, &layer.payload, limit)
                .map_err(|e| format!("cannot fetch the payload: {e}"));
            Candidate::SimpleSigning {
                source: format!("tag {tag} layer {i}"),
                layer: Box::new(layer),
                payload,
            }
        })
        .collect())
}

/// Sigstore bundles among the image's referrers.
fn referrer_candidates(
    client: &Client,
    reference: &Reference,
    digest: &Digest,
) -> anyhow::Result<Vec<Candidate>> {
    let (reg, repo) = (reference.registry.as_str(), reference.repository.as_str());
    let refs = client.referrers(reg, repo, digest, Some(bundle::BUNDLE_MEDIA_TYPE))?;
    let limit = u64::try_from(bundle::MAX_BUNDLE_BYTES)?;
    let mut out = Vec::new();
    for d in refs.manifests {
        let source = format!("referrer {}", d.digest);
        let m = match client.fetch_manifest(reg, repo, &d.digest.to_string(), Some(&d.digest)) {
            Ok(m) => m,
            Err(e) => {
                out.push(Candidate::Bundle {
                    source,
                    bytes: Err(e.to_string()),
                });
                continue;
            }
        };
        match bundle::bundle_layers(&m.bytes, digest) {
            Ok(layers) => out.extend(layers.into_iter().map(|l| {
                Candidate::Bundle {
                    source: source.clone(),
                    bytes: client
                        .fetch_blob_bytes(reg, repo, &l, limit)
                        .map_err(|e| format!("cannot fetch the bundle: {e}")),
                }
            })),
            Err(e) => out.push(Candidate::Bundle {
                source,
                bytes: Err(e.to_string()),
            }),
        }
    }
    Ok(out)
}

pub fn run(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let reference: Reference = args.image.parse()?;
    let keys = load_keys(&args.key)?;
    let client = args.registry.client()?;
    let image = client
        .resolve(&reference)
        .with_context(|| format!("cannot resolve {}", args.image))?;
    let digest = image.digest.clone();

    let mut candidates = tag_candidates(&client, &reference, &digest)?;
    match referrer_candidates(&client, &reference, &digest) {
        Ok(c) => candidates.extend(c),
        Err(e) => eprintln!("warning: cannot list the referrers of {digest}: {e:#}"),
    }
    let annotations: BTreeMap<String, String> = args.annotations.into_iter().collect();
    let name = reference.name();
    let expected = Expected {
        digest: &digest,
        manifest: &image.bytes,
        reference: (!args.allow_any_reference).then_some(name.as_str()),
        annotations: &annotations,
    };
    let looked = format!(
        "tag {} and the referrers of {digest}",
        cosign::signature_tag(&digest)
    );
    match caisson_sign::verify::verify(&keys, &expected, candidates, &looked) {
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
