/*
 * test_layout.c -- pins the segment ABI of shm/mshm_layout.h at run time.
 *
 * mshm_layout.h pins itself with static assertions; this test pins the same
 * numbers independently (a second, separately written list), plus the magic
 * spelling, the hot-line separation and the enum/flag values, which are
 * part of the format too (a changed meaning needs a major bump).
 */
#define _GNU_SOURCE
#include "test_util.h"

#define PIN(T, f, off) assert_int_equal(offsetof(struct T, f), (off))
#define FSIZE(T, f) sizeof(((struct T *)0)->f)

static int
setup(void **state)
{
    return tu_setup_module(state, "layout");
}

static void
test_sizes(void **state)
{
    (void)state;
    assert_int_equal(sizeof(struct mshm_header), 384);
    assert_int_equal(MSHM_HEADER_SIZE_1_0, 320);
    assert_int_equal(sizeof(struct mshm_slotmap), 16448);
    assert_int_equal(sizeof(struct mshm_slotmap) % 8, 0);
    assert_int_equal(sizeof(struct mshm_slot_hdr), 64);
    assert_int_equal(sizeof(struct mshm_group), 256);
    assert_int_equal(sizeof(struct mshm_server), 128);
    assert_int_equal(sizeof(struct mshm_cluster), 384);
    assert_int_equal(sizeof(struct mshm_member), 8);
    assert_int_equal(sizeof(struct mshm_longname), 256);
    assert_int_equal(sizeof(struct mshm_event), 64);
    /* every record keeps 8-byte alignment so word copies stay aligned */
    assert_int_equal(sizeof(struct mshm_group) % 8, 0);
    assert_int_equal(sizeof(struct mshm_server) % 8, 0);
    assert_int_equal(sizeof(struct mshm_cluster) % 8, 0);
    assert_int_equal(sizeof(struct mshm_longname) % 8, 0);
    assert_int_equal(sizeof(struct mshm_event) % 8, 0);
}

static void
test_header_offsets(void **state)
{
    (void)state;
    PIN(mshm_header, magic, 0);
    PIN(mshm_header, version_major, 8);
    PIN(mshm_header, version_minor, 10);
    PIN(mshm_header, header_size, 12);
    PIN(mshm_header, total_size, 16);
    PIN(mshm_header, segment_id, 24);
    PIN(mshm_header, created_realtime_ns, 32);
    PIN(mshm_header, slot_off, 40);
    assert_int_equal(FSIZE(mshm_header, slot_off), 16);
    PIN(mshm_header, slot_size, 56);
    PIN(mshm_header, group_cap, 60);
    PIN(mshm_header, group_stride, 64);
    PIN(mshm_header, server_cap, 68);
    PIN(mshm_header, server_stride, 72);
    PIN(mshm_header, cluster_cap, 76);
    PIN(mshm_header, cluster_stride, 80);
    PIN(mshm_header, longname_cap, 84);
    PIN(mshm_header, longname_stride, 88);
    PIN(mshm_header, group_off, 92);
    PIN(mshm_header, server_off, 96);
    PIN(mshm_header, cluster_off, 100);
    PIN(mshm_header, longname_off, 104);
    PIN(mshm_header, ring_cap, 108);
    PIN(mshm_header, ring_off, 112);
    PIN(mshm_header, ring_stride, 120);
    PIN(mshm_header, geo_check, 124);
    PIN(mshm_header, latch, 128);
    PIN(mshm_header, state, 136);
    PIN(mshm_header, flags, 140);
    PIN(mshm_header, writer_epoch, 144);
    PIN(mshm_header, notify, 148);
    PIN(mshm_header, config_version, 152);
    PIN(mshm_header, pad2, 160);
    assert_int_equal(FSIZE(mshm_header, pad2), 32);
    PIN(mshm_header, hb_count, 192);
    PIN(mshm_header, hb_mono_ns, 200);
    PIN(mshm_header, hb_realtime_ns, 208);
    PIN(mshm_header, writer_starttime, 216);
    PIN(mshm_header, writer_pid, 224);
    PIN(mshm_header, hb_interval_ms, 228);
    PIN(mshm_header, stale_after_ms, 232);
    PIN(mshm_header, pad3, 236);
    PIN(mshm_header, boot_id, 240);
    assert_int_equal(FSIZE(mshm_header, boot_id), 16);
    PIN(mshm_header, ev_head, 256);
    PIN(mshm_header, pad4, 264);
    assert_int_equal(FSIZE(mshm_header, pad4), 56);
    /* geo_check covers exactly the bytes before it */
    assert_int_equal(offsetof(struct mshm_header, geo_check) +
                         FSIZE(mshm_header, geo_check),
                     offsetof(struct mshm_header, latch));
}

static void
test_hot_lines(void **state)
{
    size_t latch = offsetof(struct mshm_header, latch);
    size_t hb = offsetof(struct mshm_header, hb_count);
    size_t ev = offsetof(struct mshm_header, ev_head);

    (void)state;
    /* each hot word starts its own 64-byte line, and the lines differ */
    assert_int_equal(latch % MSHM_LINE, 0);
    assert_int_equal(hb % MSHM_LINE, 0);
    assert_int_equal(ev % MSHM_LINE, 0);
    assert_int_equal(latch / MSHM_LINE, 2);
    assert_int_equal(hb / MSHM_LINE, 3);
    assert_int_equal(ev / MSHM_LINE, 4);
    /* the immutable geometry ends before the publish line */
    assert_true(offsetof(struct mshm_header, geo_check) < latch);
    /* the publish-line fields stay on the publish line */
    assert_int_equal(offsetof(struct mshm_header, notify) / MSHM_LINE, 2);
    assert_int_equal(offsetof(struct mshm_header, config_version) / MSHM_LINE, 2);
    assert_int_equal(offsetof(struct mshm_header, boot_id) / MSHM_LINE, 3);
    assert_int_equal(MSHM_LINE, 64);
}

static void
test_slot_hdr_offsets(void **state)
{
    (void)state;
    PIN(mshm_slot_hdr, pub_seq, 0);
    PIN(mshm_slot_hdr, state_sum, 8);
    PIN(mshm_slot_hdr, n_groups, 16);
    PIN(mshm_slot_hdr, n_servers, 20);
    PIN(mshm_slot_hdr, n_clusters, 24);
    PIN(mshm_slot_hdr, n_longnames, 28);
    PIN(mshm_slot_hdr, n_slotmaps, 32);
    PIN(mshm_slot_hdr, pad0, 36);
    PIN(mshm_slot_hdr, pad, 40);
    assert_int_equal(FSIZE(mshm_slot_hdr, pad), 24);
}

static void
test_group_offsets(void **state)
{
    (void)state;
    PIN(mshm_group, name, 0);
    assert_int_equal(FSIZE(mshm_group, name), 64);
    PIN(mshm_group, change_seq, 64);
    PIN(mshm_group, master_epoch, 72);
    PIN(mshm_group, gen, 80);
    PIN(mshm_group, flags, 84);
    PIN(mshm_group, master_idx, 88);
    PIN(mshm_group, power, 92);
    PIN(mshm_group, max_lag_ms, 96);
    PIN(mshm_group, n_servers, 100);
    assert_int_equal(FSIZE(mshm_group, n_servers), 2);
    PIN(mshm_group, route, 102);
    PIN(mshm_group, pad0, 103);
    PIN(mshm_group, n_master_down, 104);
    PIN(mshm_group, n_master_up, 108);
    PIN(mshm_group, n_master_switch, 112);
    PIN(mshm_group, n_all_slaves_down, 116);
    PIN(mshm_group, n_all_slaves_up, 120);
    PIN(mshm_group, n_degraded, 124);
    PIN(mshm_group, servers, 128);
    assert_int_equal(FSIZE(mshm_group, servers), 32 * 4);
}

static void
test_server_offsets(void **state)
{
    (void)state;
    PIN(mshm_server, host, 0);
    assert_int_equal(FSIZE(mshm_server, host), 64);
    PIN(mshm_server, change_seq, 64);
    PIN(mshm_server, last_ok_mono_ns, 72);
    PIN(mshm_server, repl_offset, 80);
    PIN(mshm_server, group_idx, 88);
    PIN(mshm_server, gen, 92);
    PIN(mshm_server, flags, 96);
    PIN(mshm_server, power, 100);
    PIN(mshm_server, n_down, 104);
    PIN(mshm_server, n_up, 108);
    PIN(mshm_server, lag_ms, 112);
    PIN(mshm_server, rtt_us, 116);
    PIN(mshm_server, longname_idx, 120);
    PIN(mshm_server, port, 124);
    PIN(mshm_server, role, 126);
    PIN(mshm_server, health, 127);
}

static void
test_cluster_offsets(void **state)
{
    (void)state;
    PIN(mshm_member, idx, 0);
    PIN(mshm_member, power, 4);
    PIN(mshm_member, flags, 6);

    PIN(mshm_cluster, name, 0);
    PIN(mshm_cluster, change_seq, 64);
    PIN(mshm_cluster, gen, 72);
    PIN(mshm_cluster, flags, 76);
    PIN(mshm_cluster, kind, 80);
    PIN(mshm_cluster, rule, 81);
    PIN(mshm_cluster, dist, 82);
    PIN(mshm_cluster, hash, 83);
    PIN(mshm_cluster, mirror_policy, 84);
    PIN(mshm_cluster, hash_tag, 85);
    assert_int_equal(FSIZE(mshm_cluster, hash_tag), 2);
    PIN(mshm_cluster, pad0, 87);
    PIN(mshm_cluster, n_members, 88);
    PIN(mshm_cluster, pad1, 90);
    PIN(mshm_cluster, primary, 92);
    PIN(mshm_cluster, slotmap_idx, 96);
    PIN(mshm_cluster, slotmap_seq, 100);
    PIN(mshm_cluster, members, 104);
    assert_int_equal(FSIZE(mshm_cluster, members), 32 * 8);
    PIN(mshm_cluster, pad3, 360);
    assert_int_equal(FSIZE(mshm_cluster, pad3), 24);

    PIN(mshm_slotmap, change_seq, 0);
    PIN(mshm_slotmap, gen, 8);
    PIN(mshm_slotmap, flags, 12);
    PIN(mshm_slotmap, cluster_idx, 16);
    PIN(mshm_slotmap, member, 64);
    assert_int_equal(FSIZE(mshm_slotmap, member), MSHM_SLOTS);

    PIN(mshm_longname, host, 0);
    assert_int_equal(FSIZE(mshm_longname, host), 256);
}

static void
test_event_offsets(void **state)
{
    (void)state;
    PIN(mshm_event, seq, 0);
    PIN(mshm_event, pub_seq, 8);
    PIN(mshm_event, mono_ns, 16);
    PIN(mshm_event, epoch, 24);
    PIN(mshm_event, type, 32);
    PIN(mshm_event, flags, 34);
    PIN(mshm_event, group_idx, 36);
    PIN(mshm_event, server_idx, 40);
    PIN(mshm_event, old_idx, 44);
    PIN(mshm_event, new_idx, 48);
    PIN(mshm_event, cluster_idx, 52);
    PIN(mshm_event, realtime_ns, 56);
}

static void
test_magic_spelling(void **state)
{
    uint64_t magic = MSHM_MAGIC;
    unsigned char bytes[8];

    (void)state;
    memcpy(bytes, &magic, sizeof(bytes));
    /* x86/arm64 little-endian: the first bytes of every segment file */
    assert_memory_equal(bytes, "MSHMRSL1", 8);
    assert_int_equal(MSHM_NONE, 0xffffffffu);
    assert_int_equal(MSHM_VERSION_MAJOR, 1);
}

static void
test_magic_in_file(void **state)
{
    struct tu_ctx *c = *state;
    struct mshm_writer *w = tu_open(c->path, MSHM_CREATED);
    unsigned char *buf;
    size_t len;

    mshm_writer_close(w, 1);
    buf = tu_read_file(c->path, &len);
    assert_true(len >= 320);
    assert_memory_equal(buf, "MSHMRSL1", 8);
    /* version_major 1 at offset 8, little-endian u16 */
    assert_int_equal(buf[8], 1);
    assert_int_equal(buf[9], 0);
    free(buf);
}

static void
test_enum_values(void **state)
{
    (void)state;
    /* on-disk meaning of enum values and flag bits: append-only */
    assert_int_equal(MSHM_STATE_INITIALIZING, 0);
    assert_int_equal(MSHM_STATE_LIVE, 1);
    assert_int_equal(MSHM_STATE_RETIRED, 2);
    assert_int_equal(MSHM_HF_WARMING_UP, 0x1);
    assert_int_equal(MSHM_HF_WRITER_STOPPED, 0x2);
    assert_int_equal(MSHM_ROUTE_MASTER, 0);
    assert_int_equal(MSHM_ROUTE_MASTER_READONLY, 1);
    assert_int_equal(MSHM_ROUTE_SPLIT, 2);
    assert_int_equal(MSHM_GF_IN_USE, 0x1);
    assert_int_equal(MSHM_GF_NO_MASTER, 0x4);
    assert_int_equal(MSHM_GF_NO_READS, 0x100);
    assert_int_equal(MSHM_GF_ALL_REPLICAS_DOWN, 0x200);
    assert_int_equal(MSHM_ROLE_MASTER, 1);
    assert_int_equal(MSHM_ROLE_REPLICA, 2);
    assert_int_equal(MSHM_HEALTH_UP, 1);
    assert_int_equal(MSHM_HEALTH_DOWN, 2);
    assert_int_equal(MSHM_SF_IN_USE, 0x1);
    assert_int_equal(MSHM_SF_READABLE, 0x80);
    assert_int_equal(MSHM_SF_HOST_LONG, 0x200);
    assert_int_equal(MSHM_SF_STALE_MASTER, 0x400);
    assert_int_equal(MSHM_KIND_CLUSTER, 0);
    assert_int_equal(MSHM_KIND_FARM, 1);
    assert_int_equal(MSHM_RULE_MARSHAL10, 2);
    assert_int_equal(MSHM_DIST_SLOTS, 2);
    assert_int_equal(MSHM_HASH_ONE_AT_A_TIME, 11);
    assert_int_equal(MSHM_CF_IN_USE, 0x1);
    assert_int_equal(MSHM_CF_HASH_TAG, 0x2);
    assert_int_equal(MSHM_MF_PRIMARY, 0x1);
    assert_int_equal(MSHM_MF_DIVERGED, 0x2);
    assert_int_equal(MSHM_EV_MASTER_SWITCH, 3);
    assert_int_equal(MSHM_EV_WRITER_ADOPT, 15);
    assert_int_equal(MSHM_EV_MIRROR_DIVERGED, 17);
    assert_int_equal(MSHM_EV_READS_UNAVAILABLE, 18);
    assert_int_equal(MSHM_EV_READS_AVAILABLE, 19);
    assert_int_equal(MSHM_EV_TYPE_MAX, 20);
    assert_int_equal(MSHM_RR_DOWN, 0x1);
    assert_int_equal(MSHM_RR_NO_REPLICA, 0x10);
    /* status codes are shared with the public API: never renumbered */
    assert_int_equal(MSHM_ERR_NOENT, -1);
    assert_int_equal(MSHM_ERR_CORRUPT, -4);
    assert_int_equal(MSHM_ERR_RETIRED, -5);
    assert_int_equal(MSHM_ERR_SYS, -11);
    assert_int_equal(MSHM_ERR_LOST, -12);
    assert_string_equal(mshm_strerror(MSHM_ERR_LOST), "events lost");
    assert_string_equal(mshm_strerror(-13), "unknown error");
    assert_string_equal(mshm_strerror(1), "unknown error");
}

static void
test_maxima(void **state)
{
    (void)state;
    assert_int_equal(MSHM_NAME_MAX, 64);
    assert_int_equal(MSHM_HOST_INLINE, 64);
    assert_int_equal(MSHM_HOST_MAX, 256);
    assert_int_equal(MSHM_GROUP_SERVERS, 32);
    assert_int_equal(MSHM_CLUSTER_MEMBERS, 32);
    /* cap * stride can exceed 32 bits: the validator multiplies in 64 bits
     * (test_validate feeds it such a header) */
    assert_true((uint64_t)MSHM_MAX_SERVERS * 65536 > UINT32_MAX);
    assert_true(MSHM_MAX_TOTAL <= (1ULL << 30));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_header_offsets),
        cmocka_unit_test(test_hot_lines),
        cmocka_unit_test(test_slot_hdr_offsets),
        cmocka_unit_test(test_group_offsets),
        cmocka_unit_test(test_server_offsets),
        cmocka_unit_test(test_cluster_offsets),
        cmocka_unit_test(test_event_offsets),
        cmocka_unit_test(test_magic_spelling),
        cmocka_unit_test_setup_teardown(test_magic_in_file, setup, tu_teardown),
        cmocka_unit_test(test_enum_values),
        cmocka_unit_test(test_maxima),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
