# image-digest: images are pinned by digest (name@sha256:...).
package caisson.builtin.image_digest

import rego.v1

deny contains v if {
	some img in input.images
	not img.pinned
	v := {"check": "digest", "path": img.path, "msg": sprintf("%s=%s: image is not pinned by digest; use name@sha256:…", [img.path, json.marshal(img.ref)])}
}
