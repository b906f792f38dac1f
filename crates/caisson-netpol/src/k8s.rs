//! Kubernetes NetworkPolicy (networking.k8s.io/v1): the types (as much of
//! the API as `learn` writes and `check` evaluates), the generation of one
//! policy per workload from flows, and the decision for one connection.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::check::Conn;
use crate::error::Error;
use crate::flow::{Flow, Peer};
use crate::workload::{Workload, WorkloadKind};

/// The namespace label every namespace carries (Kubernetes ≥ 1.21).
pub const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";
/// Ports of one peer beyond this become one range (`port`..`endPort`).
pub const PORT_COLLAPSE: usize = 16;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkPolicy {
    pub api_version: String,
    pub kind: String,
    pub metadata: Metadata,
    pub spec: Spec,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metadata {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Spec {
    #[serde(default)]
    pub pod_selector: LabelSelector,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policy_types: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress: Option<Vec<IngressRule>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub egress: Option<Vec<EgressRule>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LabelSelector {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub match_labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_expressions: Vec<Requirement>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Requirement {
    pub key: String,
    pub operator: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngressRule {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub from: Vec<PeerSelector>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<PortSelector>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EgressRule {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub to: Vec<PeerSelector>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<PortSelector>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PeerSelector {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_selector: Option<LabelSelector>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_selector: Option<LabelSelector>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_block: Option<IpBlock>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IpBlock {
    pub cidr: IpNet,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub except: Vec<IpNet>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PortValue {
    Number(u16),
    Name(String),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PortSelector {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<PortValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_port: Option<u16>,
}

/// Parses NetworkPolicy documents (YAML, `---`-separated; other kinds are
/// an error). Named ports cannot be evaluated without the pods: an error.
pub fn parse(text: &str, source_name: &str) -> Result<Vec<NetworkPolicy>, Error> {
    let mut out = Vec::new();
    for (i, doc) in serde_norway::Deserializer::from_str(text).enumerate() {
        let err = |reason: String| Error::K8s {
            source_name: source_name.to_string(),
            document: i + 1,
            reason,
        };
        let value = serde_norway::Value::deserialize(doc).map_err(|e| err(e.to_string()))?;
        if value.is_null() {
            continue;
        }
        let p: NetworkPolicy = serde_norway::from_value(value).map_err(|e| err(e.to_string()))?;
        if p.kind != "NetworkPolicy" || p.api_version != "networking.k8s.io/v1" {
            return Err(err(format!(
                "{} {} is not a networking.k8s.io/v1 NetworkPolicy",
                p.api_version, p.kind
            )));
        }
        for sel in p.selectors() {
            for r in &sel.match_expressions {
                if !matches!(
                    r.operator.as_str(),
                    "In" | "NotIn" | "Exists" | "DoesNotExist"
                ) {
                    return Err(err(format!("unknown selector operator {:?}", r.operator)));
                }
            }
        }
        for port in p.ports() {
            if let Some(PortValue::Name(n)) = &port.port {
                return Err(err(format!(
                    "named port {n:?}: check needs port numbers (the pods' port names are not in the flows)"
                )));
            }
        }
        out.push(p);
    }
    Ok(out)
}

impl NetworkPolicy {
    fn selectors(&self) -> Vec<&LabelSelector> {
        let mut v = vec![&self.spec.pod_selector];
        let peers = self
            .spec
            .ingress
            .iter()
            .flatten()
            .flat_map(|r| &r.from)
            .chain(self.spec.egress.iter().flatten().flat_map(|r| &r.to));
        for p in peers {
            v.extend(p.pod_selector.iter());
            v.extend(p.namespace_selector.iter());
        }
        v
    }

    fn ports(&self) -> impl Iterator<Item = &PortSelector> {
        self.spec
            .ingress
            .iter()
            .flatten()
            .flat_map(|r| &r.ports)
            .chain(self.spec.egress.iter().flatten().flat_map(|r| &r.ports))
    }

    fn has_type(&self, t: &str) -> bool {
        if self.spec.policy_types.is_empty() {
            // The API's default: Ingress always, Egress when rules exist.
            return t == "Ingress" || (t == "Egress" && self.spec.egress.is_some());
        }
        self.spec.policy_types.iter().any(|x| x == t)
    }

    fn selects(&self, w: &Workload) -> bool {
        w.kind == WorkloadKind::K8s
            && w.namespace == self.metadata.namespace
            && self.spec.pod_selector.matches(&w.labels)
    }
}

impl LabelSelector {
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.match_labels
            .iter()
            .all(|(k, v)| labels.get(k) == Some(v))
            && self.match_expressions.iter().all(|r| {
                let v = labels.get(&r.key);
                match r.operator.as_str() {
                    "In" => v.is_some_and(|v| r.values.contains(v)),
                    "NotIn" => v.is_none_or(|v| !r.values.contains(v)),
                    "Exists" => v.is_some(),
                    "DoesNotExist" => v.is_none(),
                    _ => false,
                }
            })
    }
}

fn peer_matches(sel: &PeerSelector, policy_ns: Option<&str>, peer: &Peer, addr: IpAddr) -> bool {
    if let Some(b) = &sel.ip_block {
        return b.cidr.contains(&addr) && !b.except.iter().any(|e| e.contains(&addr));
    }
    let Some(w) = peer.workload().filter(|w| w.kind == WorkloadKind::K8s) else {
        return false;
    };
    let ns_ok = match &sel.namespace_selector {
        // Only the namespace's name label is known from the flows.
        Some(ns) => {
            let labels = w
                .namespace
                .iter()
                .map(|n| (NAMESPACE_NAME_LABEL.to_string(), n.clone()))
                .collect();
            ns.matches(&labels)
        }
        None => w.namespace.as_deref() == policy_ns,
    };
    ns_ok
        && sel
            .pod_selector
            .as_ref()
            .is_none_or(|p| p.matches(&w.labels))
}

fn port_matches(sel: &PortSelector, proto: &str, port: u16) -> bool {
    let p = sel.protocol.as_deref().unwrap_or("TCP");
    if !p.eq_ignore_ascii_case(proto) {
        return false;
    }
    match (&sel.port, sel.end_port) {
        (None, _) => true,
        (Some(PortValue::Number(n)), None) => *n == port,
        (Some(PortValue::Number(n)), Some(end)) => (*n..=end).contains(&port),
        (Some(PortValue::Name(_)), _) => false,
    }
}

fn rule_matches(
    peers: &[PeerSelector],
    ports: &[PortSelector],
    ns: Option<&str>,
    peer: &Peer,
    addr: IpAddr,
    c: &Conn,
) -> bool {
    (peers.is_empty() || peers.iter().any(|s| peer_matches(s, ns, peer, addr)))
        && (ports.is_empty() || ports.iter().any(|s| port_matches(s, c.proto, c.port)))
}

/// Why the policies deny this connection, or `None` when they allow it.
pub fn decide(policies: &[NetworkPolicy], c: &Conn) -> Option<String> {
    if let Some(src) = c.src.workload() {
        let selecting: Vec<_> = policies
            .iter()
            .filter(|p| p.has_type("Egress") && p.selects(src))
            .collect();
        let allowed = selecting.iter().any(|p| {
            p.spec.egress.iter().flatten().any(|r| {
                rule_matches(
                    &r.to,
                    &r.ports,
                    p.metadata.namespace.as_deref(),
                    c.dst,
                    c.dst_addr,
                    c,
                )
            })
        });
        if !selecting.is_empty() && !allowed {
            let names: Vec<_> = selecting.iter().map(|p| p.metadata.name.as_str()).collect();
            return Some(format!(
                "egress of {} not allowed by {}",
                src.display(),
                names.join(", ")
            ));
        }
    }
    if let Some(dst) = c.dst.workload() {
        let selecting: Vec<_> = policies
            .iter()
            .filter(|p| p.has_type("Ingress") && p.selects(dst))
            .collect();
        let allowed = selecting.iter().any(|p| {
            p.spec.ingress.iter().flatten().any(|r| {
                rule_matches(
                    &r.from,
                    &r.ports,
                    p.metadata.namespace.as_deref(),
                    c.src,
                    c.src_addr,
                    c,
                )
            })
        });
        if !selecting.is_empty() && !allowed {
            let names: Vec<_> = selecting.iter().map(|p| p.metadata.name.as_str()).collect();
            return Some(format!(
                "ingress of {} not allowed by {}",
                dst.display(),
                names.join(", ")
            ));
        }
    }
    None
}

/// The selector of `peer` as seen from a policy in namespace `ns`; `None`
/// for a Kubernetes workload without labels (no selector can pick it).
fn selectors_for(
    peer: &Peer,
    addrs: &BTreeSet<IpAddr>,
    ns: Option<&str>,
) -> Option<Vec<PeerSelector>> {
    let block = |cidr: IpNet| PeerSelector {
        pod_selector: None,
        namespace_selector: None,
        ip_block: Some(IpBlock {
            cidr,
            except: vec![],
        }),
    };
    match peer {
        Peer::External(net) => Some(vec![block(*net)]),
        Peer::Workload(w) if w.kind == WorkloadKind::K8s => {
            if w.labels.is_empty() {
                return None;
            }
            let pod = LabelSelector {
                match_labels: w.labels.clone(),
                match_expressions: vec![],
            };
            let namespace = (w.namespace.as_deref() != ns).then(|| LabelSelector {
                match_labels: w
                    .namespace
                    .iter()
                    .map(|n| (NAMESPACE_NAME_LABEL.to_string(), n.clone()))
                    .collect(),
                match_expressions: vec![],
            });
            Some(vec![PeerSelector {
                pod_selector: Some(pod),
                namespace_selector: namespace,
                ip_block: None,
            }])
        }
        // A container outside Kubernetes: its addresses.
        Peer::Workload(_) => Some(addrs.iter().map(|a| block(IpNet::from(*a))).collect()),
    }
}

/// (protocol, port) sets per peer → NetworkPolicy ports; more than
/// [`PORT_COLLAPSE`] ports of one protocol become one range, and the note
/// says so.
fn port_selectors(
    ports: &BTreeSet<(String, u16)>,
    peer: &str,
    notes: &mut Vec<String>,
) -> Vec<PortSelector> {
    let mut by_proto: BTreeMap<&str, Vec<u16>> = BTreeMap::new();
    for (proto, port) in ports {
        by_proto.entry(proto.as_str()).or_default().push(*port);
    }
    let mut out = Vec::new();
    for (proto, list) in by_proto {
        let protocol = Some(proto.to_ascii_uppercase());
        if list.len() > PORT_COLLAPSE {
            let (lo, hi) = (
                list.iter().min().copied().unwrap_or(0),
                list.iter().max().copied().unwrap_or(0),
            );
            notes.push(format!(
                "{peer}: {} {proto} ports observed, collapsed into the range {lo}-{hi}: narrow it if the range is wider than the service needs",
                list.len()
            ));
            out.push(PortSelector {
                protocol,
                port: Some(PortValue::Number(lo)),
                end_port: Some(hi),
            });
        } else {
            out.extend(list.into_iter().map(|p| PortSelector {
                protocol: protocol.clone(),
                port: Some(PortValue::Number(p)),
                end_port: None,
            }));
        }
    }
    out
}

/// One generated policy: a file name, the workload, the YAML with its
/// header comment.
#[derive(Debug, Clone)]
pub struct Generated {
    pub file_name: String,
    pub workload: Workload,
    pub policy: NetworkPolicy,
    pub text: String,
}

/// One NetworkPolicy per Kubernetes workload in `flows` (`namespace`:
/// only that namespace's). Workloads that cannot be selected (no labels)
/// are named in `skipped`.
pub fn generate(
    flows: &[Flow],
    namespace: Option<&str>,
    skipped: &mut Vec<String>,
) -> Result<Vec<Generated>, Error> {
    let mut workloads: BTreeSet<&Workload> = BTreeSet::new();
    for f in flows {
        for p in [&f.src, &f.dst] {
            if let Some(w) = p.workload().filter(|w| w.kind == WorkloadKind::K8s) {
                if namespace.is_none_or(|n| w.namespace.as_deref() == Some(n)) {
                    workloads.insert(w);
                }
            }
        }
    }
    let mut out = Vec::new();
    for w in workloads {
        if w.labels.is_empty() {
            skipped.push(format!("{}: no pod labels to select it by", w.display()));
            continue;
        }
        out.push(generate_one(flows, w)?);
    }
    Ok(out)
}

type PeerPorts<'a> = BTreeMap<&'a Peer, (BTreeSet<(String, u16)>, BTreeSet<IpAddr>, u64)>;

fn generate_one<'a>(flows: &'a [Flow], w: &Workload) -> Result<Generated, Error> {
    let ns = w.namespace.as_deref();
    let mut notes = Vec::new();
    let mut ingress_peers: PeerPorts<'a> = BTreeMap::new();
    let mut egress_peers: PeerPorts<'a> = BTreeMap::new();
    let (mut first, mut last, mut n_flows, mut n_conns) = (i64::MAX, i64::MIN, 0usize, 0u64);
    for f in flows {
        let add = |map: &mut PeerPorts<'a>, peer: &'a Peer, addrs: &BTreeSet<IpAddr>| {
            let e = map.entry(peer).or_default();
            e.0.insert((f.proto.clone(), f.port));
            e.1.extend(addrs.iter().copied());
            e.2 = e.2.saturating_add(f.count);
        };
        let mut involved = false;
        for (side, other, addrs, map) in [
            (&f.src, &f.dst, &f.dst_addrs, &mut egress_peers),
            (&f.dst, &f.src, &f.src_addrs, &mut ingress_peers),
        ] {
            if side.workload() != Some(w) || side == other {
                continue;
            }
            involved = true;
            if !matches!(f.proto.as_str(), "tcp" | "udp" | "sctp") {
                notes.push(format!(
                    "{} with {} not expressible in a NetworkPolicy (only TCP, UDP, SCTP): left out",
                    f.proto,
                    other.display()
                ));
                continue;
            }
            add(map, other, addrs);
        }
        if involved {
            n_flows += 1;
            n_conns = n_conns.saturating_add(f.count);
            first = first.min(f.first_seen_secs());
            last = last.max(f.last_seen_secs());
        }
    }
    let mut ingress = Vec::new();
    let mut header_rules = Vec::new();
    for (peer, (ports, addrs, count)) in &ingress_peers {
        let Some(from) = selectors_for(peer, addrs, ns) else {
            notes.push(format!(
                "ingress from {}: no pod labels to select it by: left out",
                peer.display()
            ));
            continue;
        };
        header_rules.push(format!(
            "ingress from {} on {} ({count} connections)",
            peer.display(),
            port_list(ports)
        ));
        ingress.push(IngressRule {
            from,
            ports: port_selectors(ports, &peer.display(), &mut notes),
        });
    }
    let mut egress = Vec::new();
    for (peer, (ports, addrs, count)) in &egress_peers {
        let Some(to) = selectors_for(peer, addrs, ns) else {
            notes.push(format!(
                "egress to {}: no pod labels to select it by: left out",
                peer.display()
            ));
            continue;
        };
        header_rules.push(format!(
            "egress to {} on {} ({count} connections)",
            peer.display(),
            port_list(ports)
        ));
        egress.push(EgressRule {
            to,
            ports: port_selectors(ports, &peer.display(), &mut notes),
        });
    }
    egress.push(dns_rule());
    let policy = NetworkPolicy {
        api_version: "networking.k8s.io/v1".into(),
        kind: "NetworkPolicy".into(),
        metadata: Metadata {
            name: format!("{}-caisson", w.name),
            namespace: w.namespace.clone(),
            labels: BTreeMap::from([(
                "app.kubernetes.io/managed-by".to_string(),
                "caisson".to_string(),
            )]),
        },
        spec: Spec {
            pod_selector: LabelSelector {
                match_labels: w.labels.clone(),
                match_expressions: vec![],
            },
            policy_types: vec!["Ingress".into(), "Egress".into()],
            ingress: Some(ingress),
            egress: Some(egress),
        },
    };
    let yaml = serde_norway::to_string(&policy).map_err(|e| Error::Yaml(e.to_string()))?;
    let mut text = format!(
        "# NetworkPolicy learned by `caisson netpol learn` for {} (Kubernetes owner).\n\
         # Observed {n_flows} flows ({n_conns} connections) from {} to {}.\n",
        w.display(),
        caisson_report::rfc3339_utc_secs(if first == i64::MAX { 0 } else { first }),
        caisson_report::rfc3339_utc_secs(if last == i64::MIN { 0 } else { last }),
    );
    for r in &header_rules {
        text.push_str(&format!("#   {r}\n"));
    }
    text.push_str("# Always included: DNS (UDP and TCP 53) to kube-dns in kube-system.\n");
    for n in &notes {
        text.push_str(&format!("# NOTE: {n}\n"));
    }
    text.push_str("# Review before applying: `caisson netpol check THIS_FILE --flows FLOWS` lists the observed flows it denies.\n");
    text.push_str(&yaml);
    Ok(Generated {
        file_name: format!("{}-{}-caisson.yaml", ns.unwrap_or("default"), w.name),
        workload: w.clone(),
        policy,
        text,
    })
}

fn port_list(ports: &BTreeSet<(String, u16)>) -> String {
    let v: Vec<String> = ports.iter().map(|(p, n)| format!("{p}/{n}")).collect();
    if v.len() > 8 {
        format!(
            "{} … ({} ports)",
            v.get(..8).unwrap_or_default().join(", "),
            v.len()
        )
    } else {
        v.join(", ")
    }
}

fn dns_rule() -> EgressRule {
    EgressRule {
        to: vec![PeerSelector {
            pod_selector: Some(LabelSelector {
                match_labels: BTreeMap::from([("k8s-app".to_string(), "kube-dns".to_string())]),
                match_expressions: vec![],
            }),
            namespace_selector: Some(LabelSelector {
                match_labels: BTreeMap::from([(
                    NAMESPACE_NAME_LABEL.to_string(),
                    "kube-system".to_string(),
                )]),
                match_expressions: vec![],
            }),
            ip_block: None,
        }],
        ports: ["UDP", "TCP"]
            .into_iter()
            .map(|p| PortSelector {
                protocol: Some(p.into()),
                port: Some(PortValue::Number(53)),
                end_port: None,
            })
            .collect(),
    }
}
