# image-tag: images name a tag other than latest, or a digest.
package caisson.builtin.image_tag

import rego.v1

deny contains v if {
	some img in input.images
	not img.pinned
	img.tag == null
	v := {"check": "untagged", "path": img.path, "msg": sprintf("%s=%s: image has no tag (resolves to :latest); pin a version tag or a digest", [img.path, json.marshal(img.ref)])}
}

deny contains v if {
	some img in input.images
	not img.pinned
	img.tag == "latest"
	v := {"check": "latest", "path": img.path, "msg": sprintf("%s=%s: image uses the :latest tag; pin a version tag or a digest", [img.path, json.marshal(img.ref)])}
}

deny contains v if {
	some img in input.images
	img.error != null
	v := {"check": "invalid", "path": img.path, "msg": sprintf("%s=%s: %s", [img.path, json.marshal(img.ref), img.error])}
}
