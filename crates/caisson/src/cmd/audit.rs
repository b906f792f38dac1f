//! `caisson audit verify|export|public-key`: the registry's hash-chained
//! audit log and its signed checkpoints.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use caisson_registry::anchor::{self, VerifyError, VerifyOptions};
use caisson_registry::store::sqlite::SqliteMetaStore;
use caisson_registry::store::MetaStore;

#[derive(Debug, clap::Args)]
pub struct AuditArgs {
    #[command(subcommand)]
    pub command: AuditCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum AuditCommand {
    /// Check every record's hash and link, and the chain against every
    /// signed checkpoint (truncation, recomputed chains); names what broke.
    Verify {
        /// The registry's data directory.
        #[arg(long, value_name = "DIR")]
        data_dir: PathBuf,
        /// Signed checkpoints (default: `<data-dir>/audit-checkpoints.jsonl`);
        /// give a copy kept elsewhere to detect a deleted or rolled-back file.
        #[arg(long, value_name = "FILE")]
        checkpoints: Option<PathBuf>,
        /// The audit key, public (from `caisson audit public-key`) or the
        /// server's private key file (default: `<data-dir>/audit-key.pem`).
        #[arg(long, value_name = "FILE")]
        audit_key: Option<PathBuf>,
        /// A head recorded earlier (`SEQ:HASH`, as printed by verify): the
        /// chain must still hold that record with that hash.
        #[arg(long, value_name = "SEQ:HASH")]
        expect_head: Option<String>,
    },
    /// Write the audit log as JSON lines.
    Export {
        #[arg(long, value_name = "DIR")]
        data_dir: PathBuf,
        /// Output file (default: stdout).
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Print the public key that signs audit checkpoints (PEM), to verify
    /// them away from the data directory.
    PublicKey {
        #[arg(long, value_name = "DIR")]
        data_dir: PathBuf,
        /// The key file (default: `<data-dir>/audit-key.pem`).
        #[arg(long, value_name = "FILE")]
        audit_key: Option<PathBuf>,
    },
}

const PAGE: u32 = 5000;

pub fn run(args: AuditArgs) -> anyhow::Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(async {
        match args.command {
            AuditCommand::Verify {
                data_dir,
                checkpoints,
                audit_key,
                expect_head,
            } => verify(&data_dir, checkpoints, audit_key, expect_head).await,
            AuditCommand::Export { data_dir, output } => {
                let store = open(&data_dir)?;
                let mut out: Box<dyn Write> = match &output {
                    Some(p) => Box::new(std::io::BufWriter::new(
                        fs_err::File::create(p).context("creating the export file")?,
                    )),
                    None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
                };
                let mut after = 0;
                loop {
                    let page = store
                        .audit_records(after, PAGE)
                        .await
                        .context("reading audit records")?;
                    let Some(last) = page.last() else { break };
                    after = last.seq;
                    caisson_audit::export_jsonl(&mut out, &page).context("writing audit export")?;
                }
                out.flush().context("writing audit export")?;
                Ok(ExitCode::SUCCESS)
            }
            AuditCommand::PublicKey {
                data_dir,
                audit_key,
            } => {
                let path = audit_key.unwrap_or_else(|| data_dir.join(anchor::KEY_FILE));
                let key = anchor::load_verifying_key(&path)?;
                print!("{}", anchor::public_pem(&key));
                Ok(ExitCode::SUCCESS)
            }
        }
    })
}

async fn verify(
    data_dir: &Path,
    checkpoints: Option<PathBuf>,
    audit_key: Option<PathBuf>,
    expect_head: Option<String>,
) -> anyhow::Result<ExitCode> {
    let store = open(data_dir)?;
    let expect_head = match expect_head {
        Some(h) => Some(caisson_audit::checkpoint::parse_head(&h).with_context(|| {
            format!("--expect-head {h:?} is not SEQ:HASH (a sequence number and 64 hex digits)")
        })?),
        None => None,
    };
    let key_path = audit_key
        .clone()
        .unwrap_or_else(|| data_dir.join(anchor::KEY_FILE));
    let cp_path = checkpoints
        .clone()
        .unwrap_or_else(|| data_dir.join(anchor::CHECKPOINT_FILE));
    let key = if key_path.exists() {
        Some(anchor::load_verifying_key(&key_path)?)
    } else if audit_key.is_some() {
        bail!("audit key {} not found", key_path.display());
    } else {
        None
    };
    let checkpoints = match (cp_path.exists(), &key) {
        (true, Some(_)) => Some(cp_path),
        (true, None) => bail!(
            "checkpoints in {} but no audit key at {}\nhint: pass --audit-key with the public key from `caisson audit public-key`",
            cp_path.display(),
            key_path.display()
        ),
        (false, Some(_)) => {
            // The server writes a checkpoint as soon as it has a key.
            println!(
                "audit chain NOT VERIFIED: the checkpoint file {} is missing although the audit key exists (deleted?)",
                cp_path.display()
            );
            return Ok(ExitCode::from(1));
        }
        (false, None) => {
            eprintln!(
                "warning: no audit key and no checkpoints in {}: truncation and recomputed chains cannot be detected",
                data_dir.display()
            );
            None
        }
    };
    let opts = VerifyOptions {
        checkpoints,
        key,
        expect_head,
    };
    match anchor::verify(&store, &opts).await {
        Ok(v) => {
            println!("audit chain intact: {} records", v.records);
            if v.checkpoints > 0 || opts.expect_head.is_some() {
                println!(
                    "anchored: {} signed checkpoint(s){}, up to record {}",
                    v.checkpoints,
                    v.key_id
                        .as_deref()
                        .map(|k| format!(" (key {k})"))
                        .unwrap_or_default(),
                    v.anchored_upto
                );
                let unanchored = i64::try_from(v.records)
                    .unwrap_or(i64::MAX)
                    .saturating_sub(v.anchored_upto);
                if unanchored > 0 {
                    println!(
                        "{unanchored} record(s) after the last checkpoint are not anchored yet"
                    );
                }
            }
            println!("head: {}:{}", v.records, v.head_hash);
            Ok(ExitCode::SUCCESS)
        }
        Err(VerifyError::File(e @ anchor::AnchorFileError::Parse { .. })) => {
            println!("audit chain NOT VERIFIED: {e}");
            Ok(ExitCode::from(1))
        }
        Err(VerifyError::File(e)) => Err(e.into()),
        Err(e @ VerifyError::NoKey) => Err(e.into()),
        Err(VerifyError::Chain(e)) => {
            println!("audit chain BROKEN at record {}: {e}", e.seq());
            Ok(ExitCode::from(1))
        }
        Err(e) => {
            println!("audit chain BROKEN: {e}");
            Ok(ExitCode::from(1))
        }
    }
}

fn open(data_dir: &Path) -> anyhow::Result<SqliteMetaStore> {
    let db = data_dir.join("meta.sqlite");
    if !db.exists() {
        anyhow::bail!("no registry metadata at {}", db.display());
    }
    SqliteMetaStore::open(&db).with_context(|| format!("opening {}", db.display()))
}
