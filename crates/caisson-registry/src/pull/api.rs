//! `GET|PUT|DELETE /api/v1/namespaces/<ns>/pull-policy`: reading needs a
//! role in the namespace, changing it the namespace's `admin` role (or
//! system admin). A PUT is checked and compiled before it is stored; every
//! change is audited with the policy before and after.

use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use caisson_audit::Outcome;
use caisson_registry_store::{BlobStore, MetaStore, PullPolicy, Role};

use crate::api::{bad, not_found, Caller};
use crate::error::ApiResult;
use crate::v2::source_of;
use crate::Registry;

type St<B, M> = State<Arc<Registry<B, M>>>;

pub fn routes<B: BlobStore, M: MetaStore>() -> Router<Arc<Registry<B, M>>> {
    Router::new().route(
        "/namespaces/{name}/pull-policy",
        get(get_policy::<B, M>)
            .put(put_policy::<B, M>)
            .delete(delete_policy::<B, M>),
    )
}

fn body(ns: &str, p: Option<&PullPolicy>) -> Response {
    Json(serde_json::json!({ "namespace": ns, "pull_policy": p })).into_response()
}

fn summary(p: Option<&PullPolicy>) -> String {
    p.map_or("none".into(), |p| {
        serde_json::to_string(&PullPolicy {
            // Keys are long; their count says enough in the audit line.
            trusted_keys: p
                .trusted_keys
                .iter()
                .enumerate()
                .map(|(i, _)| format!("key#{i}"))
                .collect(),
            ..p.clone()
        })
        .unwrap_or_default()
    })
}

impl<B: BlobStore, M: MetaStore> Registry<B, M> {
    async fn change_pull_policy(
        &self,
        c: &Caller,
        ns: &str,
        new: Option<PullPolicy>,
    ) -> ApiResult<Response> {
        let action = if new.is_some() {
            "update-pull-policy"
        } else {
            "delete-pull-policy"
        };
        self.require_role(c, ns, Role::Admin, action).await?;
        if self.meta.get_namespace(ns).await?.is_none() {
            return Err(not_found(format!("namespace {ns} not found")));
        }
        if let Some(p) = &new {
            super::compile(ns, p).map_err(|e| bad(format!("pull policy: {e}")))?;
        }
        let old = self.meta.pull_policy(ns).await?;
        let ev = self.event(
            &c.actor(),
            &c.source,
            action,
            ns,
            Outcome::Success,
            &format!("{}→{}", summary(old.as_ref()), summary(new.as_ref())),
        );
        let change = caisson_registry_store::Change::SetPullPolicy {
            namespace: ns.to_string(),
            policy: new.clone(),
        };
        self.audited(change, move |_| Some(ev)).await?;
        Ok(body(ns, new.as_ref()))
    }
}

async fn get_policy<B: BlobStore, M: MetaStore>(
    State(reg): St<B, M>,
    Path(name): Path<String>,
    req: Request,
) -> ApiResult<Response> {
    let c = reg.caller(req.headers(), source_of(&req)).await?;
    reg.require_role(&c, &name, Role::Reader, "read-pull-policy")
        .await?;
    Ok(body(&name, reg.meta.pull_policy(&name).await?.as_ref()))
}

async fn put_policy<B: BlobStore, M: MetaStore>(
    State(reg): St<B, M>,
    Path(name): Path<String>,
    req: Request,
) -> ApiResult<Response> {
    let c = reg.caller(req.headers(), source_of(&req)).await?;
    let bytes = crate::manifests::read_limited(req.into_body(), 256 * 1024).await?;
    let p: PullPolicy =
        serde_json::from_slice(&bytes).map_err(|e| bad(format!("pull policy JSON: {e}")))?;
    reg.change_pull_policy(&c, &name, Some(p)).await
}

async fn delete_policy<B: BlobStore, M: MetaStore>(
    State(reg): St<B, M>,
    Path(name): Path<String>,
    req: Request,
) -> ApiResult<Response> {
    let c = reg.caller(req.headers(), source_of(&req)).await?;
    reg.change_pull_policy(&c, &name, None).await
}
