//! `caisson completion SHELL` and `caisson man`: shell completions and
//! manual pages generated from the command-line definitions themselves
//! (clap_complete, clap_mangen), so they never drift from the binary.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, CommandFactory};
use clap_complete::Shell;

#[derive(Debug, Args)]
pub struct CompletionArgs {
    /// bash, zsh, fish, elvish or powershell.
    #[arg(value_enum)]
    shell: Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write caisson.1 and one page per subcommand (caisson-serve.1, …) into
    /// this directory instead of printing caisson.1 on stdout.
    #[arg(long, value_name = "DIR")]
    out_dir: Option<PathBuf>,
}

/// Prints the completion script on stdout, e.g.
/// `caisson completion bash > /etc/bash_completion.d/caisson`.
pub fn completion(args: CompletionArgs) -> anyhow::Result<ExitCode> {
    let mut cmd = super::Cli::command();
    clap_complete::generate(args.shell, &mut cmd, "caisson", &mut std::io::stdout());
    Ok(ExitCode::SUCCESS)
}

pub fn man(args: ManArgs) -> anyhow::Result<ExitCode> {
    let cmd = super::Cli::command();
    match args.out_dir {
        Some(dir) => {
            fs_err::create_dir_all(&dir)?;
            clap_mangen::generate_to(cmd, &dir)
                .with_context(|| format!("writing manual pages to {}", dir.display()))?;
            eprintln!("caisson man: pages written to {}", dir.display());
        }
        None => {
            let mut out = Vec::new();
            clap_mangen::Man::new(cmd)
                .render(&mut out)
                .context("rendering the manual page")?;
            use std::io::Write;
            std::io::stdout()
                .write_all(&out)
                .context("writing the manual page")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
