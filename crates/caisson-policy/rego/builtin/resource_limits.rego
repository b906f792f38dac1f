# resource-limits: every container and init container sets CPU and memory limits.
# Parameters: resources (default ["cpu", "memory"]).
package caisson.builtin.resource_limits

import rego.v1

required := object.get(input, ["parameters", "resources"], ["cpu", "memory"])

deny contains v if {
	some c in input.pod.containers
	c.type != "ephemeralContainers"
	some resource in required
	object.get(c.container, ["resources", "limits", resource], null) == null
	path := sprintf("%s.resources.limits.%s", [c.path, resource])
	v := {
		"check": "limits",
		"path": path,
		"msg": sprintf("%s unset: %s must set a %s limit", [path, c.label, resource]),
	}
}
