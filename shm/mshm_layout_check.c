/*
 * mshm_layout_check.c -- compiled with -Wpadded so that any implicit padding
 * in the segment layout (which would differ between ABIs) fails the build.
 */
#include "mshm_layout.h"

extern const size_t mshm_layout_sizes[7];
const size_t mshm_layout_sizes[7] = {
    sizeof(struct mshm_header),  sizeof(struct mshm_slot_hdr), sizeof(struct mshm_group),
    sizeof(struct mshm_server),  sizeof(struct mshm_cluster),  sizeof(struct mshm_longname),
    sizeof(struct mshm_event),
};
