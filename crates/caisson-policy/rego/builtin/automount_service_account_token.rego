# automount-service-account-token: pods do not mount an API token unless their
# service account is listed as needing one.
# Parameters: allowed_service_accounts (names that may mount the token).
package caisson.builtin.automount_service_account_token

import rego.v1

deny contains v if {
	input.pod != null
	value := object.get(input.pod.spec, "automountServiceAccountToken", null)
	value != false
	account := object.get(input.pod.spec, "serviceAccountName", "default")
	not account in object.get(input, ["parameters", "allowed_service_accounts"], [])
	path := sprintf("%s.automountServiceAccountToken", [input.pod.path])
	v := {
		"check": "automountServiceAccountToken",
		"path": path,
		"msg": sprintf("%s=%s: the pod mounts an API token for service account %s; set automountServiceAccountToken: false unless it calls the Kubernetes API", [path, json.marshal(value), json.marshal(account)]),
	}
}
