/*
 * fuzz_seed.c -- write seed inputs for fuzz_segment into a corpus directory:
 * a valid image made by the real writer, and the same image retired.
 *
 *   usage: fuzz_seed <corpus-dir>
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_image.h"
#include "mshm_attach.h"

static int
write_seed(const char *dir, const char *name, const void *buf, size_t len)
{
    char path[1024];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "wb");
    if (f == NULL || fwrite(buf, 1, len, f) != len) {
        perror(path);
        if (f != NULL) {
            fclose(f);
        }
        return -1;
    }
    return fclose(f) == 0 ? 0 : -1;
}

int
main(int argc, char **argv)
{
    char path[256];
    unsigned char *img;
    size_t len;
    int rc;

    if (argc != 2) {
        fprintf(stderr, "usage: %s <corpus-dir>\n", argv[0]);
        return 2;
    }
    mkdir(argv[1], 0755);
    snprintf(path, sizeof(path), "/dev/shm/mshm-fuzzseed-%ld", (long)getpid());
    rc = mshm_fuzz_make_image(path, &img, &len);
    if (rc != MSHM_OK) {
        fprintf(stderr, "building the image: %s\n", mshm_strerror(rc));
        return 1;
    }
    rc = write_seed(argv[1], "seed-valid", img, len);
    ((struct mshm_header *)(void *)img)->state = MSHM_STATE_RETIRED;
    rc |= write_seed(argv[1], "seed-retired", img, len);
    free(img);
    return rc == 0 ? 0 : 1;
}
