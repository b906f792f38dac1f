# Pod Security Standards, the checks of the Kubernetes PodSecurity admission plugin
# (k8s.io/pod-security-admission/policy/check_*.go), one partial set per check.
#
# Input: input.pod (the pod spec of any workload, prepared by Caisson: see
# docs/policy.md) and input.parameters.version ("latest" or "v1.N", N >= 19),
# the policy version as in the pod-security.kubernetes.io/enforce-version label.
# "latest" is v1.37. Each element is {"check", "msg", "path"[, "value"]}.
package caisson.lib.pss

import rego.v1

latest_minor := 37

version_minor := latest_minor if {
	object.get(input, ["parameters", "version"], "latest") == "latest"
} else := to_number(split(trim_prefix(input.parameters.version, "v"), ".")[1])

spec := object.get(input, ["pod", "spec"], {})

containers := object.get(input, ["pod", "containers"], [])

pod_path := object.get(input, ["pod", "path"], "spec")

pod_meta_path := object.get(input, ["pod", "metadata_path"], "metadata")

# Linux-only controls skip pods that declare spec.os.name: windows (policy v1.25+).
windows_exempt if {
	version_minor >= 25
	spec.os.name == "windows"
}

# User-namespaced pods (spec.hostUsers: false) relax runAsNonRoot, runAsUser and the
# baseline procMount check from policy v1.35 (KEP-127).
userns_relaxed if {
	version_minor >= 35
	spec.hostUsers == false
}

set_value(obj, key) := v if {
	v := object.get(obj, key, null)
	v != null
}

violation(check, reason, path, value, detail) := {
	"check": check,
	"path": path,
	"value": value,
	"msg": sprintf("%s (%s=%s): %s", [reason, path, json.marshal(value), detail]),
}

unset_violation(check, reason, path, detail) := {
	"check": check,
	"path": path,
	"msg": sprintf("%s (%s unset): %s", [reason, path, detail]),
}

field_violation(check, reason, path, detail) := {
	"check": check,
	"path": path,
	"msg": sprintf("%s (%s): %s", [reason, path, detail]),
}

# Holders of a securityContext: the pod, then every container.
holders contains h if {
	h := {
		"path": sprintf("%s.securityContext", [pod_path]),
		"label": "pod",
		"sc": object.get(spec, "securityContext", {}),
	}
}

holders contains h if {
	some c in containers
	h := {
		"path": sprintf("%s.securityContext", [c.path]),
		"label": c.label,
		"sc": object.get(c.container, "securityContext", {}),
	}
}

# ---------------------------------------------------------------- baseline

# HostProcess: windowsOptions.hostProcess must be unset or false.
host_process contains v if {
	some h in holders
	h.sc.windowsOptions.hostProcess == true
	path := sprintf("%s.windowsOptions.hostProcess", [h.path])
	v := violation("hostProcess", "hostProcess", path, true, sprintf("%s must not set securityContext.windowsOptions.hostProcess=true", [h.label]))
}

# Host namespaces: hostNetwork, hostPID, hostIPC must be unset or false.
host_namespaces contains v if {
	some field in ["hostNetwork", "hostPID", "hostIPC"]
	spec[field] == true
	path := sprintf("%s.%s", [pod_path, field])
	v := violation("hostNamespaces", "host namespaces", path, true, sprintf("pod must not set %s=true", [field]))
}

# Privileged containers.
privileged contains v if {
	some c in containers
	c.container.securityContext.privileged == true
	path := sprintf("%s.securityContext.privileged", [c.path])
	v := violation("privileged", "privileged", path, true, sprintf("%s must not set securityContext.privileged=true", [c.label]))
}

baseline_capabilities := {
	"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
	"NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
}

# Capabilities (baseline): only the default set may be added.
capabilities_baseline contains v if {
	some c in containers
	some i, cap in c.container.securityContext.capabilities.add
	not cap in baseline_capabilities
	path := sprintf("%s.securityContext.capabilities.add[%d]", [c.path, i])
	v := violation("capabilities_baseline", "non-default capabilities", path, cap, sprintf("%s must not include %s in securityContext.capabilities.add", [c.label, json.marshal(cap)]))
}

# hostPath volumes.
host_path_volumes contains v if {
	some i, vol in spec.volumes
	set_value(vol, "hostPath")
	path := sprintf("%s.volumes[%d].hostPath", [pod_path, i])
	v := field_violation("hostPathVolumes", "hostPath volumes", path, sprintf("volume %s must not use hostPath", [json.marshal(object.get(vol, "name", ""))]))
}

# Host ports: hostPort must be unset or 0.
host_ports contains v if {
	some c in containers
	some i, port in c.container.ports
	hp := set_value(port, "hostPort")
	hp != 0
	path := sprintf("%s.ports[%d].hostPort", [c.path, i])
	v := violation("hostPorts", "hostPort", path, hp, sprintf("%s must not use hostPort %s", [c.label, json.marshal(hp)]))
}

apparmor_annotation_prefix := "container.apparmor.security.beta.kubernetes.io/"

apparmor_annotation_allowed(value) if value == ""

apparmor_annotation_allowed(value) if value == "runtime/default"

apparmor_annotation_allowed(value) if {
	is_string(value)
	startswith(value, "localhost/")
}

# AppArmor (annotations): runtime/default, localhost/* or empty.
app_armor contains v if {
	some key, value in object.get(input.pod, ["metadata", "annotations"], {})
	is_string(key)
	startswith(key, apparmor_annotation_prefix)
	not apparmor_annotation_allowed(value)
	path := sprintf("%s.annotations[%s]", [pod_meta_path, json.marshal(key)])
	v := violation("appArmorProfile", "forbidden AppArmor profile", path, value, sprintf("annotation %s must be \"runtime/default\" or \"localhost/*\"", [key]))
}

# AppArmor (fields): appArmorProfile.type must be RuntimeDefault or Localhost.
app_armor contains v if {
	some h in holders
	profile := set_value(h.sc, "appArmorProfile")
	t := object.get(profile, "type", "")
	not t in {"RuntimeDefault", "Localhost"}
	path := sprintf("%s.appArmorProfile.type", [h.path])
	v := violation("appArmorProfile", "forbidden AppArmor profile", path, t, sprintf("%s must not set securityContext.appArmorProfile.type to %s", [h.label, json.marshal(t)]))
}

selinux_types := {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"} if {
	version_minor >= 31
} else := {"", "container_t", "container_init_t", "container_kvm_t"}

# SELinux: type from the allowed list, user and role unset.
se_linux contains v if {
	some h in holders
	opts := set_value(h.sc, "seLinuxOptions")
	t := object.get(opts, "type", "")
	not t in selinux_types
	path := sprintf("%s.seLinuxOptions.type", [h.path])
	v := violation("seLinuxOptions", "seLinuxOptions", path, t, sprintf("%s set forbidden securityContext.seLinuxOptions: type %s", [h.label, json.marshal(t)]))
}

se_linux contains v if {
	some h in holders
	opts := set_value(h.sc, "seLinuxOptions")
	some field in ["user", "role"]
	value := object.get(opts, field, "")
	value != ""
	path := sprintf("%s.seLinuxOptions.%s", [h.path, field])
	v := violation("seLinuxOptions", "seLinuxOptions", path, value, sprintf("%s set forbidden securityContext.seLinuxOptions: %s may not be set", [h.label, field]))
}

# /proc mount type: unset or Default.
proc_mount_all contains v if {
	some c in containers
	pm := set_value(object.get(c.container, "securityContext", {}), "procMount")
	pm != "Default"
	path := sprintf("%s.securityContext.procMount", [c.path])
	v := violation("procMount", "procMount", path, pm, sprintf("%s must not set securityContext.procMount to %s", [c.label, json.marshal(pm)]))
}

proc_mount_baseline contains v if {
	not userns_relaxed
	some v in proc_mount_all
}

# Seccomp (baseline): the type must not be Unconfined.
seccomp_baseline contains v if {
	some h in holders
	t := h.sc.seccompProfile.type
	t == "Unconfined"
	path := sprintf("%s.seccompProfile.type", [h.path])
	v := violation("seccompProfile_baseline", "seccompProfile", path, t, sprintf("%s must not set securityContext.seccompProfile.type to \"Unconfined\"", [h.label]))
}

sysctls_1_0 := {
	"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.tcp_syncookies",
	"net.ipv4.ping_group_range", "net.ipv4.ip_unprivileged_port_start",
}

sysctls_1_27 := {"net.ipv4.ip_local_reserved_ports"} if version_minor >= 27 else := set()

sysctls_1_29 := {
	"net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout",
	"net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes",
} if version_minor >= 29 else := set()

sysctls_1_32 := {"net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"} if version_minor >= 32 else := set()

sysctls_1_37 := {"net.ipv4.tcp_slow_start_after_idle", "net.ipv4.tcp_notsent_lowat"} if {
	version_minor >= 37
} else := set()

allowed_sysctls := ((sysctls_1_0 | sysctls_1_27) | (sysctls_1_29 | sysctls_1_32)) | sysctls_1_37

# Sysctls: only the safe set.
sysctls contains v if {
	some i, s in spec.securityContext.sysctls
	name := object.get(s, "name", "")
	not name in allowed_sysctls
	path := sprintf("%s.securityContext.sysctls[%d].name", [pod_path, i])
	v := violation("sysctls", "forbidden sysctls", path, name, sprintf("sysctl %s is not in the safe set", [json.marshal(name)]))
}

probe_handlers := [
	["livenessProbe", "httpGet"], ["livenessProbe", "tcpSocket"],
	["readinessProbe", "httpGet"], ["readinessProbe", "tcpSocket"],
	["startupProbe", "httpGet"], ["startupProbe", "tcpSocket"],
	["lifecycle", "postStart", "httpGet"], ["lifecycle", "postStart", "tcpSocket"],
	["lifecycle", "preStop", "httpGet"], ["lifecycle", "preStop", "tcpSocket"],
]

# Host probes and lifecycle hooks (v1.34+): the host field must be unset or "".
host_probes contains v if {
	version_minor >= 34
	some c in containers
	some handler in probe_handlers
	host := object.get(c.container, array.concat(handler, ["host"]), "")
	host != ""
	host != null
	path := sprintf("%s.%s.host", [c.path, concat(".", handler)])
	v := violation("hostProbesAndHostLifecycle", "probe or lifecycle host", path, host, sprintf("%s must not set %s.host", [c.label, concat(".", handler)]))
}

baseline_common contains v if some v in host_process

baseline_common contains v if some v in host_namespaces

baseline_common contains v if some v in privileged

baseline_common contains v if some v in host_ports

baseline_common contains v if some v in app_armor

baseline_common contains v if some v in se_linux

baseline_common contains v if some v in sysctls

baseline_common contains v if some v in host_probes

# The Baseline level.
baseline contains v if some v in baseline_common

baseline contains v if some v in capabilities_baseline

baseline contains v if some v in host_path_volumes

baseline contains v if some v in proc_mount_baseline

baseline contains v if some v in seccomp_baseline

# -------------------------------------------------------------- restricted

allowed_volume_sources := {
	"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "image",
	"persistentVolumeClaim", "projected", "secret",
}

allowed_volume(vol) if {
	some source in allowed_volume_sources
	set_value(vol, source)
}

# Volume types: only the core types above. A volume with no source at all is
# defaulted to emptyDir by the API server, so it passes.
restricted_volumes contains v if {
	some i, vol in spec.volumes
	not allowed_volume(vol)
	some source, value in vol
	source != "name"
	value != null
	path := sprintf("%s.volumes[%d].%s", [pod_path, i, source])
	v := field_violation("restrictedVolumes", "restricted volume types", path, sprintf("volume %s uses restricted volume type %s", [json.marshal(object.get(vol, "name", "")), json.marshal(source)]))
}

# Privilege escalation: allowPrivilegeEscalation must be false (Linux only from v1.25).
allow_privilege_escalation contains v if {
	not windows_exempt
	some c in containers
	ape := object.get(c.container, ["securityContext", "allowPrivilegeEscalation"], null)
	ape != false
	path := sprintf("%s.securityContext.allowPrivilegeEscalation", [c.path])
	detail := sprintf("%s must set securityContext.allowPrivilegeEscalation=false", [c.label])
	v := ape_violation(ape, path, detail)
}

ape_violation(ape, path, detail) := unset_violation("allowPrivilegeEscalation", "allowPrivilegeEscalation != false", path, detail) if {
	ape == null
} else := violation("allowPrivilegeEscalation", "allowPrivilegeEscalation != false", path, ape, detail)

pod_run_as_non_root := object.get(spec, ["securityContext", "runAsNonRoot"], null)

# Running as non-root: runAsNonRoot true at pod level or on every container.
run_as_non_root contains v if {
	not userns_relaxed
	pod_run_as_non_root != null
	pod_run_as_non_root != true
	path := sprintf("%s.securityContext.runAsNonRoot", [pod_path])
	v := violation("runAsNonRoot", "runAsNonRoot != true", path, pod_run_as_non_root, "pod must not set securityContext.runAsNonRoot=false")
}

run_as_non_root contains v if {
	not userns_relaxed
	some c in containers
	value := object.get(c.container, ["securityContext", "runAsNonRoot"], null)
	value != null
	value != true
	path := sprintf("%s.securityContext.runAsNonRoot", [c.path])
	v := violation("runAsNonRoot", "runAsNonRoot != true", path, value, sprintf("%s must not set securityContext.runAsNonRoot=false", [c.label]))
}

run_as_non_root contains v if {
	not userns_relaxed
	pod_run_as_non_root != true
	some c in containers
	object.get(c.container, ["securityContext", "runAsNonRoot"], null) == null
	path := sprintf("%s.securityContext.runAsNonRoot", [c.path])
	v := unset_violation("runAsNonRoot", "runAsNonRoot != true", path, sprintf("pod or %s must set securityContext.runAsNonRoot=true", [c.label]))
}

# Running as non-root user (v1.23+): runAsUser must not be 0.
run_as_user contains v if {
	version_minor >= 23
	not userns_relaxed
	some h in holders
	h.sc.runAsUser == 0
	path := sprintf("%s.runAsUser", [h.path])
	v := violation("runAsUser", "runAsUser=0", path, 0, sprintf("%s must not set runAsUser=0", [h.label]))
}

valid_seccomp(t) if t in {"RuntimeDefault", "Localhost"}

pod_seccomp := object.get(spec, ["securityContext", "seccompProfile"], null)

pod_seccomp_valid if {
	pod_seccomp != null
	valid_seccomp(object.get(pod_seccomp, "type", ""))
}

# Seccomp (restricted): RuntimeDefault or Localhost, at pod level or on every container.
seccomp_restricted contains v if {
	not windows_exempt
	pod_seccomp != null
	t := object.get(pod_seccomp, "type", "")
	not valid_seccomp(t)
	path := sprintf("%s.securityContext.seccompProfile.type", [pod_path])
	v := violation("seccompProfile_restricted", "seccompProfile", path, t, sprintf("pod must not set securityContext.seccompProfile.type to %s", [json.marshal(t)]))
}

seccomp_restricted contains v if {
	not windows_exempt
	some c in containers
	profile := set_value(object.get(c.container, "securityContext", {}), "seccompProfile")
	t := object.get(profile, "type", "")
	not valid_seccomp(t)
	path := sprintf("%s.securityContext.seccompProfile.type", [c.path])
	v := violation("seccompProfile_restricted", "seccompProfile", path, t, sprintf("%s must not set securityContext.seccompProfile.type to %s", [c.label, json.marshal(t)]))
}

seccomp_restricted contains v if {
	not windows_exempt
	not pod_seccomp_valid
	some c in containers
	object.get(c.container, ["securityContext", "seccompProfile"], null) == null
	path := sprintf("%s.securityContext.seccompProfile", [c.path])
	v := unset_violation("seccompProfile_restricted", "seccompProfile", path, sprintf("pod or %s must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\"", [c.label]))
}

# Capabilities (restricted, v1.22+): drop ALL, add at most NET_BIND_SERVICE.
capabilities_restricted_checks contains v if {
	not windows_exempt
	some c in containers
	drop := object.get(c.container, ["securityContext", "capabilities", "drop"], [])
	not "ALL" in drop
	path := sprintf("%s.securityContext.capabilities.drop", [c.path])
	v := violation("capabilities_restricted", "unrestricted capabilities", path, drop, sprintf("%s must set securityContext.capabilities.drop=[\"ALL\"]", [c.label]))
}

capabilities_restricted_checks contains v if {
	not windows_exempt
	some c in containers
	some i, cap in c.container.securityContext.capabilities.add
	cap != "NET_BIND_SERVICE"
	path := sprintf("%s.securityContext.capabilities.add[%d]", [c.path, i])
	v := violation("capabilities_restricted", "unrestricted capabilities", path, cap, sprintf("%s must not include %s in securityContext.capabilities.add", [c.label, json.marshal(cap)]))
}

capabilities_restricted contains v if {
	version_minor >= 22
	some v in capabilities_restricted_checks
}

capabilities_restricted contains v if {
	version_minor < 22
	some v in capabilities_baseline
}

# /proc mount type (restricted, v1.35+): no user-namespace relaxation.
proc_mount_restricted contains v if {
	version_minor >= 35
	some v in proc_mount_all
}

proc_mount_restricted contains v if {
	version_minor < 35
	some v in proc_mount_baseline
}

# The Restricted level: Baseline, with capabilities, hostPath, procMount and seccomp
# replaced by their stricter restricted checks (PSA's OverrideCheckIDs).
restricted contains v if some v in baseline_common

restricted contains v if some v in capabilities_restricted

restricted contains v if some v in restricted_volumes

restricted contains v if some v in proc_mount_restricted

restricted contains v if some v in seccomp_restricted

restricted contains v if some v in allow_privilege_escalation

restricted contains v if some v in run_as_non_root

restricted contains v if some v in run_as_user
