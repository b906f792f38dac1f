//! `caisson audit verify|export`: the registry's hash-chained audit log.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use caisson_registry::store::sqlite::SqliteMetaStore;
use caisson_registry::store::MetaStore;

#[derive(Debug, clap::Args)]
pub struct AuditArgs {
    #[command(subcommand)]
    pub command: AuditCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum AuditCommand {
    /// Check every record's hash and link; names the first broken record.
    Verify {
        /// The registry's data directory.
        #[arg(long, value_name = "DIR")]
        data_dir: PathBuf,
    },
    /// Write the audit log as JSON lines.
    Export {
        #[arg(long, value_name = "DIR")]
        data_dir: PathBuf,
        /// Output file (default: stdout).
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

const PAGE: u32 = 5000;

/// Feeds every record, page by page, to `each`.
async fn walk(
    store: &SqliteMetaStore,
    mut each: impl FnMut(&caisson_audit::AuditRecord) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut after = 0;
    loop {
        let page = store
            .audit_records(after, PAGE)
            .await
            .context("reading audit records")?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        for r in &page {
            each(r)?;
        }
    }
    Ok(())
}

pub fn run(args: AuditArgs) -> anyhow::Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(async {
        match args.command {
            AuditCommand::Verify { data_dir } => {
                let store = open(&data_dir)?;
                let mut v = caisson_audit::Verifier::new();
                let mut broken = None;
                walk(&store, |r| {
                    if broken.is_none() {
                        if let Err(e) = v.push(r) {
                            broken = Some(e);
                        }
                    }
                    Ok(())
                })
                .await?;
                match broken {
                    None => {
                        println!("audit chain intact: {} records", v.count());
                        Ok(ExitCode::SUCCESS)
                    }
                    Some(e) => {
                        println!("audit chain BROKEN at record {}: {e}", e.seq());
                        Ok(ExitCode::from(1))
                    }
                }
            }
            AuditCommand::Export { data_dir, output } => {
                let store = open(&data_dir)?;
                let mut out: Box<dyn Write> = match &output {
                    Some(p) => Box::new(std::io::BufWriter::new(
                        fs_err::File::create(p).context("creating the export file")?,
                    )),
                    None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
                };
                walk(&store, |r| {
                    caisson_audit::export_jsonl(&mut out, [r]).context("writing audit export")
                })
                .await?;
                out.flush().context("writing audit export")?;
                Ok(ExitCode::SUCCESS)
            }
        }
    })
}

fn open(data_dir: &std::path::Path) -> anyhow::Result<SqliteMetaStore> {
    let db = data_dir.join("meta.sqlite");
    if !db.exists() {
        anyhow::bail!("no registry metadata at {}", db.display());
    }
    SqliteMetaStore::open(&db).with_context(|| format!("opening {}", db.display()))
}
