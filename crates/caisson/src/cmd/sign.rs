//! `caisson sign --key F <ref>`: cosign-compatible image signing.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use caisson_oci::{Descriptor, Reference};
use caisson_registry_client::RegistryError;
use caisson_sign::{bundle, cosign, payload, RsaPadding, SigningKey};

use super::registry_args::{password, RegistryArgs};

#[derive(Debug, clap::Args)]
pub struct SignArgs {
    /// Private key: cosign's encrypted key, or PKCS#8 / SEC1 / PKCS#1 PEM.
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// The image to sign: registry/repository[:tag][@digest].
    pub image: String,
    /// Annotation key=value put in the payload's `optional` (repeatable).
    #[arg(short = 'a', long = "annotation", value_name = "KEY=VALUE", value_parser = parse_kv)]
    pub annotations: Vec<(String, String)>,
    /// Also store a Sigstore bundle v0.3 as an OCI 1.1 referrer.
    #[arg(long)]
    pub referrers: bool,
    /// Sign with RSA-PSS instead of PKCS#1 v1.5 (RSA keys only).
    #[arg(long)]
    pub rsa_pss: bool,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

pub(crate) fn parse_kv(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("{s:?} is not KEY=VALUE")),
    }
}

/// Loads a private key, asking for the password only if it is encrypted.
pub(crate) fn load_signing_key(path: &std::path::Path) -> anyhow::Result<SigningKey> {
    let pem = fs_err::read(path)?;
    let mut prompt_error = None;
    let mut ask = || match password("Enter password for private key: ", false) {
        Ok(p) => Some(p),
        Err(e) => {
            prompt_error = Some(e);
            None
        }
    };
    let key = SigningKey::from_pem(&pem, &mut ask, &path.display().to_string());
    match (key, prompt_error) {
        (Ok(k), _) => Ok(k),
        (Err(_), Some(e)) => Err(e),
        (Err(e), None) => Err(e.into()),
    }
}

pub fn run(args: SignArgs) -> anyhow::Result<ExitCode> {
    let reference: Reference = args.image.parse()?;
    let key = load_signing_key(&args.key)?.with_rsa_padding(if args.rsa_pss {
        RsaPadding::Pss
    } else {
        RsaPadding::Pkcs1v15
    });
    let client = args.registry.client()?;
    let (reg, repo) = (reference.registry.as_str(), reference.repository.as_str());
    let image = client
        .resolve(&reference)
        .with_context(|| format!("cannot resolve {}", args.image))?;
    let digest = image.digest.clone();

    // The simple-signing payload and its signature, in the `.sig` manifest.
    let annotations: BTreeMap<String, String> = args.annotations.into_iter().collect();
    let payload = payload::build(&reference.name(), &digest, &annotations)?;
    let signature = key.sign(&payload)?;
    let layer = cosign::signature_layer(&payload, &signature);
    let tag = cosign::signature_tag(&digest);
    let existing = match client.fetch_manifest(reg, repo, &tag, None) {
        Ok(m) => Some(m.bytes),
        Err(RegistryError::NotFound { .. }) => None,
        Err(e) => return Err(e).context("cannot read the existing signatures"),
    };
    let built = cosign::build_signature_manifest(existing.as_deref(), &layer)?;
    client.push_blob(reg, repo, &payload)?;
    client.push_blob(reg, repo, &built.config)?;
    let pushed = client.put_manifest(reg, repo, &tag, built.media_type, &built.manifest)?;
    eprintln!(
        "Signed {}@{digest} ({}); signature at tag {tag}",
        reference.name(),
        key.algorithm()
    );

    let mut out = serde_json::json!({
        "image": format!("{}@{digest}", reference.name()),
        "signature_tag": tag,
        "signature_manifest": pushed.digest.to_string(),
    });
    if args.referrers {
        let bundle_bytes = bundle::sign_manifest(&key, &image.bytes)?;
        client.push_blob(reg, repo, bundle::EMPTY_BLOB)?;
        client.push_blob(reg, repo, &bundle_bytes)?;
        let subject = Descriptor {
            media_type: image.media_type.clone(),
            digest: digest.clone(),
            size: u64::try_from(image.bytes.len())?,
            platform: None,
            annotations: BTreeMap::new(),
            artifact_type: None,
            urls: Vec::new(),
        };
        let manifest = bundle::referrer_manifest(&subject, &bundle_bytes)?;
        let referrer = client.push_referrer(
            reg,
            repo,
            &digest,
            &manifest,
            bundle::BUNDLE_MEDIA_TYPE,
            BTreeMap::from([(
                bundle::CONTENT_ANNOTATION.to_string(),
                "message-signature".to_string(),
            )]),
        )?;
        eprintln!("Stored a Sigstore bundle as referrer {referrer}");
        out["referrer"] = referrer.to_string().into();
    }
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(ExitCode::SUCCESS)
}
