# signed-images: every image has a signature verified by a trusted key. The caller
# passes the verifier's verdict per image digest (input.images[_].signature).
# Parameters: keys (optional list of trusted key ids; empty means any key the
# verifier trusted).
package caisson.builtin.signed_images

import rego.v1

keys := object.get(input, ["parameters", "keys"], [])

deny contains v if {
	some img in input.images
	img.signature == null
	v := {"check": "unsigned", "path": img.path, "msg": sprintf("%s=%s: no signature verdict for this image (digest %s)", [img.path, json.marshal(img.ref), json.marshal(img.digest)])}
}

deny contains v if {
	some img in input.images
	img.signature != null
	img.signature.verified != true
	reason := object.get(img.signature, "reason", "verification failed")
	v := {"check": "unverified", "path": img.path, "msg": sprintf("%s=%s: signature not verified: %s", [img.path, json.marshal(img.ref), reason])}
}

deny contains v if {
	some img in input.images
	img.signature.verified == true
	count(keys) > 0
	key := object.get(img.signature, "key", "")
	not key in keys
	v := {"check": "untrusted-key", "path": img.path, "msg": sprintf("%s=%s: signed by key %s, which is not trusted", [img.path, json.marshal(img.ref), json.marshal(key)])}
}
