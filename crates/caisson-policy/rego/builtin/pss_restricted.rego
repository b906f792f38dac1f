# pss-restricted: the Restricted level of the Kubernetes Pod Security Standards
# (Baseline plus the restricted controls).
# Parameters: version ("latest" or "v1.N"), as pod-security.kubernetes.io/enforce-version.
package caisson.builtin.pss_restricted

import data.caisson.lib.pss
import rego.v1

deny contains v if some v in pss.restricted
