# Network segmentation (crates/caisson-netpol/tests/generate.rs,
# crates/caisson/tests/netpol_docker.rs): Debian's nftables is the oracle for
# the generated ruleset's syntax (`nft -c -f`) and loads it in the end-to-end
# test; kubernetes-validate ships the official Kubernetes JSON schemas
# (1.37) and validates the generated NetworkPolicies against them (--strict).
apt_ensure nftables
pip_ensure kubernetes-validate==1.37.0
