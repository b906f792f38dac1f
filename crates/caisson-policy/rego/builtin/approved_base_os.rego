# approved-base-os: the image's operating system (from its SBOM, supplied by the
# caller as input.images[_].os) is approved.
# Parameters: os (list of "id" or "id:version", e.g. "debian:12", "alpine", "wolfi").
package caisson.builtin.approved_base_os

import rego.v1

approved(os) if {
	some entry in input.parameters.os
	not contains(entry, ":")
	os.id == entry
}

approved(os) if {
	some entry in input.parameters.os
	[id, version] := split(entry, ":")
	os.id == id
	version_matches(object.get(os, "version_id", ""), version)
}

version_matches(have, want) if have == want

version_matches(have, want) if startswith(have, concat("", [want, "."]))

deny contains v if {
	some img in input.images
	img.os == null
	v := {"check": "unknown-os", "path": img.path, "msg": sprintf("%s=%s: no SBOM operating system is known for this image", [img.path, json.marshal(img.ref)])}
}

deny contains v if {
	some img in input.images
	img.os != null
	not approved(img.os)
	v := {"check": "os", "path": img.path, "msg": sprintf("%s=%s: base OS %s %s is not approved (approved: %s)", [img.path, json.marshal(img.ref), object.get(img.os, "id", "?"), object.get(img.os, "version_id", ""), concat(", ", input.parameters.os)])}
}
