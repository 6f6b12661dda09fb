/*
 * mshm_version.c -- the version text of marshal-controller and
 * marshal-shmdump (mshm_version.h).
 */
#include "mshm_version.h"

#include "mshm_gitrev.h"    /* generated: MSHM_GIT_REV */
#include "mshm_layout.h"

const char *
mshm_release(void)
{
    return MARSHAL_RELEASE;
}

const char *
mshm_git_rev(void)
{
    return MSHM_GIT_REV;
}

void
mshm_version_print(FILE *f, const char *prog)
{
    fprintf(f, "%s %s\n", prog, mshm_release());
    if (mshm_git_rev()[0] != '\0') {
        fprintf(f, "git revision %s\n", mshm_git_rev());
    }
    fprintf(f, "segment layout %d.%d\n", MSHM_VERSION_MAJOR, MSHM_VERSION_MINOR);
}
