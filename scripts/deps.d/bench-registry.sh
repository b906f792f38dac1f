# bench/registry.py (caisson serve vs Debian's docker-registry): wrk for the
# manifest GET load; ab (apache2-utils), skopeo and docker-registry come from
# registry-client.sh.
apt_ensure wrk apache2-utils
