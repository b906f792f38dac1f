# pss-baseline: the Baseline level of the Kubernetes Pod Security Standards.
# Parameters: version ("latest" or "v1.N"), as pod-security.kubernetes.io/enforce-version.
package caisson.builtin.pss_baseline

import data.caisson.lib.pss
import rego.v1

deny contains v if some v in pss.baseline
