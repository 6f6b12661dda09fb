/*
 * mshm_version.h -- what `--version` prints for Marshal's programs: the
 * release (the project's CMake version), the git revision it was built from
 * (when built from a git checkout) and the segment layout version it reads
 * and writes (mshm_layout.h).  Owns no state.
 */
#ifndef MSHM_VERSION_H
#define MSHM_VERSION_H

#include <stdio.h>

/* The release, e.g. "0.2.0". */
const char *mshm_release(void);

/* The git revision ("v0.2.0-12-g1a2b3c4d5e6f-dirty"), or "" when not built from git. */
const char *mshm_git_rev(void);

/*
 * Print the version lines of program prog to f:
 *   marshal-controller 0.2.0
 *   git revision 1a2b3c4d5e6f
 *   segment layout 1.2
 * (the git line only when there is a revision).
 */
void mshm_version_print(FILE *f, const char *prog);

#endif /* MSHM_VERSION_H */
