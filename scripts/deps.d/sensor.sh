# Runtime sensor tests (crates/caisson-sensor/tests/runtime.rs): `script` (util-linux) gives
# `docker exec -it` a terminal; busybox-static supplies a real `httpd` (busybox's applet,
# copied into a test container, which the fixture images lack) for the shell-from-service
# trigger; iproute2 builds the network namespace that plays the metadata service and
# the remote listener.
apt_ensure busybox-static util-linux iproute2
