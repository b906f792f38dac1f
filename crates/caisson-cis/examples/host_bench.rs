//! `caisson host bench` until the CLI is wired to caisson-host's engine
//! client: bollard straight to a unix socket, then the same gather, run and
//! render. Used by bench/host-bench.sh.
//!
//! `cargo run --release -p caisson-cis --example host_bench -- \
//!     unix:///var/run/docker.sock [--root DIR] [--format table|json|sarif]`
#![allow(clippy::unwrap_used)]

use bollard::models::{
    ContainerInspectResponse, ContainerTopResponse, ImageHistoryResponseItem, ImageInspect,
};
use bollard::query_parameters::ListContainersOptionsBuilder;
use bollard::{Docker, API_DEFAULT_VERSION};
use caisson_cis::render::{render, Format};
use caisson_cis::{
    gather_containers, gather_host, ContainerSource, GatherOptions, Options, SourceError,
};

struct Engine {
    docker: Docker,
    rt: tokio::runtime::Runtime,
}

fn err(e: bollard::errors::Error) -> SourceError {
    match e {
        bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        } => SourceError::Gone,
        e => SourceError::Other(e.to_string()),
    }
}

impl ContainerSource for Engine {
    fn list_running(&self) -> Result<Vec<(String, String)>, SourceError> {
        let opts = ListContainersOptionsBuilder::new().all(false).build();
        let list = self
            .rt
            .block_on(self.docker.list_containers(Some(opts)))
            .map_err(err)?;
        Ok(list
            .into_iter()
            .map(|c| {
                (
                    c.id.unwrap_or_default(),
                    c.names
                        .and_then(|n| n.into_iter().next())
                        .unwrap_or_default(),
                )
            })
            .collect())
    }
    fn inspect(&self, id: &str) -> Result<ContainerInspectResponse, SourceError> {
        self.rt
            .block_on(self.docker.inspect_container(id, None))
            .map_err(err)
    }
    fn top(&self, id: &str) -> Result<ContainerTopResponse, SourceError> {
        self.rt
            .block_on(self.docker.top_processes(id, None))
            .map_err(err)
    }
    fn image_inspect(&self, id: &str) -> Result<ImageInspect, SourceError> {
        self.rt.block_on(self.docker.inspect_image(id)).map_err(err)
    }
    fn image_history(&self, id: &str) -> Result<Vec<ImageHistoryResponseItem>, SourceError> {
        self.rt.block_on(self.docker.image_history(id)).map_err(err)
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let host = args
        .first()
        .cloned()
        .unwrap_or_else(|| "unix:///var/run/docker.sock".into());
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let root = flag("--root").unwrap_or_else(|| "/".into());
    let format = Format::parse(&flag("--format").unwrap_or_else(|| "table".into()))
        .expect("--format table|json|sarif");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let docker = Docker::connect_with_unix(&host, 30, API_DEFAULT_VERSION).unwrap();
    let docker = rt.block_on(docker.negotiate_version()).unwrap();
    let info = rt.block_on(docker.info()).unwrap();
    let engine = Engine { docker, rt };
    let g = gather_containers(&engine).unwrap();
    let mut facts = gather_host(
        &GatherOptions {
            root: root.into(),
            docker_host: Some(host),
            content_trust: std::env::var("DOCKER_CONTENT_TRUST").ok(),
            ..Default::default()
        },
        Some(info),
    );
    facts.notes.extend(g.notes);
    let report = caisson_cis::run(&facts, &g.containers, &g.skipped, &Options::default()).unwrap();
    print!(
        "{}",
        render(&report, format, env!("CARGO_PKG_VERSION"), false)
    );
}
