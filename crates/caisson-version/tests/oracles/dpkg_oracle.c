/* Differential oracle: dpkg's own parseversion() + dpkg_version_compare()
 * from libdpkg. Reads "A\tB" lines, prints <, =, > or error per line.
 * Warnings (DPKG_MSG_WARN) are accepted, as `dpkg --compare-versions` does. */
#define LIBDPKG_VOLATILE_API 1
#include <stdio.h>
#include <string.h>
#include <dpkg/dpkg.h>
#include <dpkg/dpkg-db.h>
#include <dpkg/version.h>
#include <dpkg/error.h>

static int parse(struct dpkg_version *v, const char *s) {
	struct dpkg_error err = DPKG_ERROR_INIT;
	if (parseversion(v, s, &err) < 0) {
		int fatal = err.type != DPKG_MSG_WARN;
		dpkg_error_destroy(&err);
		return fatal ? -1 : 0;
	}
	return 0;
}

int main(void) {
	static char line[1 << 16];
	while (fgets(line, sizeof line, stdin)) {
		line[strcspn(line, "\n")] = 0;
		char *tab = strchr(line, '\t');
		if (!tab) { puts("error"); continue; }
		*tab = 0;
		struct dpkg_version a, b;
		if (parse(&a, line) < 0 || parse(&b, tab + 1) < 0) { puts("error"); continue; }
		int r = dpkg_version_compare(&a, &b);
		puts(r < 0 ? "<" : r > 0 ? ">" : "=");
	}
	return 0;
}
