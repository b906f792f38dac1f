//! `caisson admin …`: the registry's `/api/v1` from the command line.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use caisson_registry_client::caisson_api::CaissonApi;
use serde_json::{json, Value};

#[derive(Debug, clap::Args)]
pub struct AdminArgs {
    /// Registry base URL.
    #[arg(
        long,
        env = "CAISSON_URL",
        default_value = "http://127.0.0.1:5000",
        global = true
    )]
    pub url: String,
    /// User (or robot) to authenticate as.
    #[arg(long, env = "CAISSON_USER", default_value = "admin", global = true)]
    pub user: String,
    /// Password or robot secret.
    #[arg(long, env = "CAISSON_PASSWORD", hide_env_values = true, global = true)]
    pub password: Option<String>,
    /// PEM CA certificate to trust for the registry.
    #[arg(long, value_name = "FILE", global = true)]
    pub ca_cert: Option<PathBuf>,
    #[command(subcommand)]
    pub command: AdminCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum AdminCommand {
    /// Users.
    #[command(subcommand)]
    User(UserCmd),
    /// Robot accounts.
    #[command(subcommand)]
    Robot(RobotCmd),
    /// Namespaces (visibility, immutable tags, quota).
    #[command(subcommand)]
    Namespace(NamespaceCmd),
    /// Namespace memberships.
    #[command(subcommand)]
    Member(MemberCmd),
    /// A namespace's pull policy (vulnerabilities, signatures, unscanned images).
    #[command(subcommand)]
    PullPolicy(PullPolicyCmd),
    /// Run garbage collection now.
    Gc,
    /// Hosts reporting with `caisson host agent`.
    #[command(subcommand)]
    Host(super::admin_host::HostCmd),
    /// Runtime alerts sensors sent (`caisson sensor run --server`): list, show, acknowledge.
    #[command(subcommand)]
    Alert(super::admin_alert::AlertCmd),
}

#[derive(Debug, clap::Subcommand)]
pub enum UserCmd {
    List,
    Add {
        name: String,
        /// Password (read from CAISSON_NEW_PASSWORD when absent).
        #[arg(long, env = "CAISSON_NEW_PASSWORD", hide_env_values = true)]
        new_password: String,
        #[arg(long)]
        system_admin: bool,
    },
    Delete {
        name: String,
    },
    Passwd {
        name: String,
        #[arg(long, env = "CAISSON_NEW_PASSWORD", hide_env_values = true)]
        new_password: String,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum RobotCmd {
    List,
    /// Create `robot$<name>`; the secret is printed once.
    Create {
        name: String,
        /// `<namespace>:<action,…>` (actions: pull, push, delete); repeatable.
        #[arg(long = "scope", required = true)]
        scopes: Vec<String>,
        /// Lifetime in seconds.
        #[arg(long)]
        expires_in: Option<i64>,
    },
    Delete {
        name: String,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum NamespaceCmd {
    List,
    /// Create or update a namespace.
    Set {
        name: String,
        #[arg(long)]
        public: bool,
        #[arg(long)]
        immutable_tags: bool,
        #[arg(long)]
        quota_bytes: Option<u64>,
    },
    Delete {
        name: String,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum MemberCmd {
    List {
        namespace: String,
    },
    /// Grant a role: reader, writer, maintainer, admin.
    Set {
        namespace: String,
        /// The user (named `member` here: `user` is the global --user).
        #[arg(value_name = "USER")]
        member: String,
        role: String,
    },
    Remove {
        namespace: String,
        #[arg(value_name = "USER")]
        member: String,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum PullPolicyCmd {
    Show {
        namespace: String,
    },
    /// Replace the namespace's pull policy with the one these flags describe
    /// (or the JSON document of --file).
    Set {
        namespace: String,
        /// Block images with findings at or above: critical, high, medium, low.
        #[arg(long)]
        block_severity: Option<String>,
        /// Ignore a vulnerability (id or alias), optionally until a date:
        /// `CVE-2024-1234` or `CVE-2024-1234=2027-01-31`; repeatable.
        #[arg(long = "allow", value_name = "ID[=EXPIRES]")]
        allow: Vec<String>,
        /// Block images without a signature verified by a --trusted-key.
        #[arg(long)]
        require_signature: bool,
        /// PEM public key (cosign.pub) signatures must verify with; repeatable.
        #[arg(long = "trusted-key", value_name = "FILE")]
        trusted_keys: Vec<PathBuf>,
        /// Block images not scanned yet (or whose scan failed).
        #[arg(long)]
        block_unscanned: bool,
        /// Members with this role or a higher one bypass the policy
        /// (reader, writer, maintainer, admin; default maintainer).
        #[arg(long)]
        bypass_role: Option<String>,
        /// The whole policy as JSON (the API's document) instead of flags.
        #[arg(long, value_name = "FILE", conflicts_with_all = ["block_severity", "allow", "require_signature", "trusted_keys", "block_unscanned", "bypass_role"])]
        file: Option<PathBuf>,
    },
    /// Remove the namespace's pull policy.
    Clear {
        namespace: String,
    },
}

fn pull_policy_document(cmd: &PullPolicyCmd) -> anyhow::Result<Value> {
    let PullPolicyCmd::Set {
        block_severity,
        allow,
        require_signature,
        trusted_keys,
        block_unscanned,
        bypass_role,
        file,
        ..
    } = cmd
    else {
        bail!("not a set command");
    };
    if let Some(f) = file {
        let text = fs_err::read_to_string(f)?;
        return serde_json::from_str(&text)
            .with_context(|| format!("{} is not a JSON pull policy", f.display()));
    }
    let allow: Vec<Value> = allow
        .iter()
        .map(|a| match a.split_once('=') {
            Some((id, expires)) => json!({"id": id, "expires": expires}),
            None => json!({"id": a}),
        })
        .collect();
    let keys = trusted_keys
        .iter()
        .map(|k| {
            fs_err::read_to_string(k)
                .with_context(|| format!("reading trusted key {}", k.display()))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut doc = json!({
        "allow": allow,
        "require_signature": require_signature,
        "trusted_keys": keys,
        "block_unscanned": block_unscanned,
    });
    if let Some(s) = block_severity {
        doc["block_severity"] = json!(s);
    }
    if let Some(r) = bypass_role {
        doc["bypass_role"] = json!(r);
    }
    Ok(doc)
}

/// The registry's `/api/v1` as one account: `caisson_api`'s typed client
/// (the one `caisson registry` uses) with JSON bodies.
pub(crate) struct Api {
    api: CaissonApi,
    user: String,
    password: Option<String>,
}

impl Api {
    /// A client for `url` as `user` (Basic with `password` when given),
    /// trusting `ca_cert` too.
    pub(crate) fn connect(
        url: &str,
        user: &str,
        password: Option<String>,
        ca_cert: Option<&std::path::Path>,
    ) -> anyhow::Result<Api> {
        let auth = password.clone().map(|p| (user.to_string(), p));
        Ok(Api {
            api: CaissonApi::for_url(url, ca_cert, auth)?,
            user: user.to_string(),
            password,
        })
    }

    /// `method /api/v1{path}` with an optional JSON body: the JSON answer
    /// (`Null` when empty); a non-2xx answer is an error naming the call,
    /// the status and the registry's message.
    pub(crate) fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        Ok(self.api.send_json(method, path, body.as_ref())?)
    }
}

fn parse_scope(s: &str) -> anyhow::Result<Value> {
    let (ns, actions) = s
        .split_once(':')
        .with_context(|| format!("scope {s:?} is not <namespace>:<actions>"))?;
    Ok(json!({"namespace": ns, "actions": actions.split(',').collect::<Vec<_>>()}))
}

pub fn run(args: AdminArgs) -> anyhow::Result<ExitCode> {
    let api = Api::connect(
        &args.url,
        &args.user,
        args.password.clone(),
        args.ca_cert.as_deref(),
    )?;
    use reqwest::Method as M;
    let out = match args.command {
        AdminCommand::Host(cmd) => {
            super::admin_host::run(cmd, |path| api.call(M::GET, path, None))?;
            return Ok(ExitCode::SUCCESS);
        }
        AdminCommand::Alert(cmd) => {
            super::admin_alert::run(cmd, |m, path, body| api.call(m, path, body))?;
            return Ok(ExitCode::SUCCESS);
        }
        AdminCommand::User(UserCmd::List) => api.call(M::GET, "/users", None)?,
        AdminCommand::User(UserCmd::Add { name, new_password, system_admin }) => api.call(
            M::POST,
            "/users",
            Some(json!({"name": name, "password": new_password, "system_admin": system_admin})),
        )?,
        AdminCommand::User(UserCmd::Delete { name }) => api.call(M::DELETE, &format!("/users/{name}"), None)?,
        AdminCommand::User(UserCmd::Passwd { name, new_password }) => {
            // Changing your own password proves the current one (the one
            // this command authenticates with).
            let mut body = json!({"password": new_password});
            if name == api.user {
                if let Some(current) = &api.password {
                    body["current_password"] = json!(current);
                }
            }
            api.call(M::PUT, &format!("/users/{name}/password"), Some(body))?
        }
        AdminCommand::Robot(RobotCmd::List) => api.call(M::GET, "/robots", None)?,
        AdminCommand::Robot(RobotCmd::Create { name, scopes, expires_in }) => {
            let scopes = scopes.iter().map(|s| parse_scope(s)).collect::<anyhow::Result<Vec<_>>>()?;
            let v = api.call(
                M::POST,
                "/robots",
                Some(json!({"name": name, "scopes": scopes, "expires_in_secs": expires_in})),
            )?;
            eprintln!("hint: the secret is shown once; store it now");
            v
        }
        AdminCommand::Robot(RobotCmd::Delete { name }) => {
            api.call(M::DELETE, &format!("/robots/{name}"), None)?
        }
        AdminCommand::Namespace(NamespaceCmd::List) => api.call(M::GET, "/namespaces", None)?,
        AdminCommand::Namespace(NamespaceCmd::Set { name, public, immutable_tags, quota_bytes }) => api.call(
            M::PUT,
            &format!("/namespaces/{name}"),
            Some(json!({"public": public, "immutable_tags": immutable_tags, "quota_bytes": quota_bytes})),
        )?,
        AdminCommand::Namespace(NamespaceCmd::Delete { name }) => {
            api.call(M::DELETE, &format!("/namespaces/{name}"), None)?
        }
        AdminCommand::Member(MemberCmd::List { namespace }) => {
            api.call(M::GET, &format!("/namespaces/{namespace}/members"), None)?
        }
        AdminCommand::Member(MemberCmd::Set { namespace, member, role }) => api.call(
            M::PUT,
            &format!("/namespaces/{namespace}/members/{member}"),
            Some(json!({"role": role})),
        )?,
        AdminCommand::Member(MemberCmd::Remove { namespace, member }) => api.call(
            M::DELETE,
            &format!("/namespaces/{namespace}/members/{member}"),
            None,
        )?,
        AdminCommand::PullPolicy(cmd) => {
            let (method, namespace, body) = match &cmd {
                PullPolicyCmd::Show { namespace } => (M::GET, namespace, None),
                PullPolicyCmd::Clear { namespace } => (M::DELETE, namespace, None),
                PullPolicyCmd::Set { namespace, .. } => {
                    (M::PUT, namespace, Some(pull_policy_document(&cmd)?))
                }
            };
            api.call(method, &format!("/namespaces/{namespace}/pull-policy"), body)?
        }
        AdminCommand::Gc => api.call(M::POST, "/gc", None)?,
    };
    if !out.is_null() {
        println!("{}", serde_json::to_string_pretty(&out)?);
    }
    Ok(ExitCode::SUCCESS)
}
