/*
 * fuzz_image.h -- build a valid segment image with the real writer, as the
 * starting point of mutation fuzzing (unit driver) and as a libFuzzer seed.
 */
#ifndef MSHM_FUZZ_IMAGE_H
#define MSHM_FUZZ_IMAGE_H

#include <stddef.h>

/*
 * Create a segment at path (small capacities: 8 groups, 32 servers, 4
 * clusters, 4 long names, a 16-event ring), publish a topology with groups,
 * replicas, a long host name, a cluster, a farm, a deleted group and a few
 * events, then read the file into a 64-aligned malloc'ed buffer (*buf, free()
 * it).  The segment file and its lock are removed.  Returns 0 or a negative
 * MSHM_ERR_* code.
 */
int mshm_fuzz_make_image(const char *path, unsigned char **buf, size_t *len);

#endif /* MSHM_FUZZ_IMAGE_H */
