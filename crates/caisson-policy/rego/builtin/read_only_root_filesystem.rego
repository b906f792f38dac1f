# read-only-root-filesystem: every container mounts its root filesystem read-only.
package caisson.builtin.read_only_root_filesystem

import rego.v1

deny contains v if {
	some c in input.pod.containers
	value := object.get(c.container, ["securityContext", "readOnlyRootFilesystem"], null)
	value != true
	path := sprintf("%s.securityContext.readOnlyRootFilesystem", [c.path])
	v := {
		"check": "readOnlyRootFilesystem",
		"path": path,
		"msg": sprintf("%s=%s: %s must set securityContext.readOnlyRootFilesystem=true", [path, json.marshal(value), c.label]),
	}
}
