# approved-registries: images come from an approved registry or repository prefix.
# Parameters: registries (list: "registry.example.com", "ghcr.io/acme/"…; Docker Hub
# images are normalised to docker.io/library/…).
package caisson.builtin.approved_registries

import rego.v1

approved(img) if {
	some prefix in input.parameters.registries
	startswith(concat("", [img.name, "/"]), concat("", [trim_suffix(prefix, "/"), "/"]))
}

deny contains v if {
	some img in input.images
	img.name != null
	not approved(img)
	v := {"check": "registry", "path": img.path, "msg": sprintf("%s=%s: registry %s is not approved (approved: %s)", [img.path, json.marshal(img.ref), json.marshal(img.registry), concat(", ", input.parameters.registries)])}
}
