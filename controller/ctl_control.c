/*
 * ctl_control.c -- the control socket "<segment path>.ctl" (ctl_control.h
 * has the protocol) and the operator's side of "clear".
 *
 * Everything that arrives here comes from another process and is treated as
 * hostile: a datagram is read into a bounded buffer (a longer one is
 * truncated by the kernel and refused), descriptors passed with SCM_RIGHTS
 * are closed at once, the text is parsed strictly, the names are checked
 * against the configuration by the model, and a refusal costs one log line
 * at most (CTL_CONTROL_LOG_PER_SEC a second, the rest counted).  At most
 * CTL_CONTROL_PER_WAKEUP datagrams are read per wakeup so a flood cannot
 * starve the loop (health checks, sentinels, heartbeat).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl_conn.h"
#include "ctl_control.h"
#include "ctl_log.h"
#include "ctl_model.h"
#include "mshm_read.h"

/* The listening side. */
struct ctl_control {
    struct ev_loop *loop;
    struct ctl_model *m;
    ev_io io;
    int fd;
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    dev_t dev;                  /* the socket file we bound: only it is   */
    ino_t ino;                  /* unlinked at exit                       */
    uint64_t log_sec;           /* current rate-limit window (s)          */
    uint32_t log_lines;         /* lines logged in it                     */
    uint64_t log_dropped;       /* refusals not logged since last summary */
};

/* ---- parsing ------------------------------------------------------------ */

int
ctl_control_parse(const char *buf, size_t len, struct ctl_control_msg *out, char *why,
                  size_t whylen)
{
    const char *w[3];
    size_t wl[3], i, start = 0;
    int n = 0;

    if (len == 0) {
        snprintf(why, whylen, "empty datagram");
        return -1;
    }
    if (len > CTL_CONTROL_MSG_MAX) {
        snprintf(why, whylen, "longer than %d bytes", CTL_CONTROL_MSG_MAX);
        return -1;
    }
    if (buf[len - 1] == '\n') {
        len--;              /* one trailing newline, as the library sends */
    }
    for (i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)buf[i];

        if (ch < 0x20 || ch > 0x7e) {
            snprintf(why, whylen, "byte 0x%02x at offset %zu is not printable ASCII", ch, i);
            return -1;
        }
    }
    for (i = 0; i <= len; i++) {
        if (i < len && buf[i] != ' ') {
            continue;
        }
        if (i == start) {
            snprintf(why, whylen, "words must be separated by single spaces");
            return -1;
        }
        if (n == 3) {
            snprintf(why, whylen, "more than 3 words");
            return -1;
        }
        w[n] = buf + start;
        wl[n] = i - start;
        n++;
        start = i + 1;
    }
    if (n != 3) {
        snprintf(why, whylen, "%d word%s; expected VERB CLUSTER MEMBER", n, n == 1 ? "" : "s");
        return -1;
    }
    if (wl[0] == 8 && memcmp(w[0], "diverged", 8) == 0) {
        out->verb = CTL_CONTROL_DIVERGED;
    } else if (wl[0] == 5 && memcmp(w[0], "clear", 5) == 0) {
        out->verb = CTL_CONTROL_CLEAR;
    } else {
        snprintf(why, whylen, "unknown verb \"%.*s\" (diverged, clear)",
                 (int)(wl[0] > 16 ? 16 : wl[0]), w[0]);
        return -1;
    }
    if (wl[1] >= CTL_NAME_MAX || wl[2] >= CTL_NAME_MAX) {
        snprintf(why, whylen, "name longer than %d bytes", CTL_NAME_MAX - 1);
        return -1;
    }
    memcpy(out->cluster, w[1], wl[1]);
    out->cluster[wl[1]] = '\0';
    memcpy(out->member, w[2], wl[2]);
    out->member[wl[2]] = '\0';
    return 0;
}

int
ctl_control_path(const char *seg_path, char *out, size_t len)
{
    int n = snprintf(out, len, "%s.ctl", seg_path);

    if (n < 0 || (size_t)n >= len || (size_t)n >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
        return -1;
    }
    return 0;
}

/* ---- receiving ---------------------------------------------------------- */

/* A refusal: logged unless this second's budget is spent (then counted). */
static void
refuse(struct ctl_control *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
refuse(struct ctl_control *c, const char *fmt, ...)
{
    uint64_t sec = ctl_now_ms() / 1000;
    char msg[512];
    va_list ap;

    if (sec != c->log_sec) {
        if (c->log_dropped > 0) {
            log_warn("control %s: %llu more datagrams ignored without a log line (at most "
                     "%d lines a second)", c->path, (unsigned long long)c->log_dropped,
                     CTL_CONTROL_LOG_PER_SEC);
        }
        c->log_sec = sec;
        c->log_lines = 0;
        c->log_dropped = 0;
    }
    if (c->log_lines >= CTL_CONTROL_LOG_PER_SEC) {
        c->log_dropped++;
        return;
    }
    c->log_lines++;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    log_warn("control %s: %s", c->path, msg);
}

/* Take the sender's credentials out of the ancillary data; close any
 * descriptor passed along (they would leak into the controller). */
static int
take_cmsgs(struct msghdr *mh, struct ucred *cred)
{
    struct cmsghdr *cm;
    int have = 0;

    for (cm = CMSG_FIRSTHDR(mh); cm != NULL; cm = CMSG_NXTHDR(mh, cm)) {
        if (cm->cmsg_level != SOL_SOCKET) {
            continue;
        }
        if (cm->cmsg_type == SCM_CREDENTIALS &&
            cm->cmsg_len >= CMSG_LEN(sizeof(struct ucred))) {
            memcpy(cred, CMSG_DATA(cm), sizeof(*cred));
            have = 1;
        } else if (cm->cmsg_type == SCM_RIGHTS && cm->cmsg_len >= CMSG_LEN(0)) {
            size_t k, nfd = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);

            for (k = 0; k < nfd; k++) {
                int fd;

                memcpy(&fd, CMSG_DATA(cm) + k * sizeof(int), sizeof(fd));
                close(fd);
            }
        }
    }
    return have;
}

/* May uid clear a mark?  Root, or the controller's own user. */
static int
may_clear(uid_t uid)
{
    return uid == 0 || uid == getuid() || uid == geteuid();
}

/* Apply one datagram. */
static void
handle(struct ctl_control *c, const char *buf, size_t len, int truncated,
       const struct ucred *cred)
{
    struct ctl_control_msg msg;
    char why[256];
    long pid = cred ? (long)cred->pid : -1;
    long uid = cred ? (long)cred->uid : -1;
    int rc;

    if (truncated) {
        refuse(c, "datagram from pid %ld uid %ld ignored: longer than %d bytes", pid, uid,
               CTL_CONTROL_MSG_MAX);
        return;
    }
    if (ctl_control_parse(buf, len, &msg, why, sizeof(why)) != 0) {
        refuse(c, "datagram of %zu bytes from pid %ld uid %ld ignored: %s", len, pid, uid, why);
        return;
    }
    if (msg.verb == CTL_CONTROL_CLEAR && (cred == NULL || !may_clear(cred->uid))) {
        refuse(c, "clear %s %s from pid %ld uid %ld refused: only root or the controller's "
               "user may clear", msg.cluster, msg.member, pid, uid);
        return;
    }
    rc = ctl_model_mirror_diverged(c->m, msg.cluster, msg.member,
                                   msg.verb == CTL_CONTROL_DIVERGED, why, sizeof(why));
    if (rc < 0) {
        refuse(c, "%s %s %s from pid %ld uid %ld ignored: %s",
               msg.verb == CTL_CONTROL_DIVERGED ? "diverged" : "clear", msg.cluster,
               msg.member, pid, uid, why);
    } else if (rc > 0) {
        log_notice("control: %s %s %s from pid %ld uid %ld",
                   msg.verb == CTL_CONTROL_DIVERGED ? "diverged" : "clear", msg.cluster,
                   msg.member, pid, uid);
    } else {
        log_debug("control: %s %s %s from pid %ld uid %ld: already so",
                  msg.verb == CTL_CONTROL_DIVERGED ? "diverged" : "clear", msg.cluster,
                  msg.member, pid, uid);
    }
}

static void
on_readable(struct ev_loop *loop, ev_io *w, int revents)
{
    struct ctl_control *c = w->data;
    int n;

    (void)loop;
    (void)revents;
    for (n = 0; n < CTL_CONTROL_PER_WAKEUP; n++) {
        /* one byte more than allowed: a longer datagram sets MSG_TRUNC */
        char buf[CTL_CONTROL_MSG_MAX + 1];
        union {
            struct cmsghdr align;
            char b[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(8 * sizeof(int))];
        } ctl;
        struct ucred cred;
        struct msghdr mh;
        struct iovec iov;
        ssize_t len;
        int have;

        iov.iov_base = buf;
        iov.iov_len = sizeof(buf);
        memset(&mh, 0, sizeof(mh));
        mh.msg_iov = &iov;
        mh.msg_iovlen = 1;
        mh.msg_control = ctl.b;
        mh.msg_controllen = sizeof(ctl.b);
        len = recvmsg(c->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (len < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                refuse(c, "recvmsg: %s", strerror(errno));
            }
            return;
        }
        have = take_cmsgs(&mh, &cred);
        handle(c, buf, (size_t)len, (mh.msg_flags & MSG_TRUNC) != 0, have ? &cred : NULL);
    }
    /* more may be queued: the (level-triggered) watcher fires again */
}

/* ---- setup -------------------------------------------------------------- */

struct ctl_control *
ctl_control_new(struct ev_loop *loop, const struct ctl_config *cfg, struct ctl_model *m)
{
    struct ctl_control *c = calloc(1, sizeof(*c));
    struct sockaddr_un sa;
    struct stat st;
    mode_t mode, old_mask;
    gid_t gid = cfg->seg_gid;
    int one = 1, rc;

    if (c == NULL) {
        log_warn("control socket: out of memory");
        return NULL;
    }
    c->fd = -1;
    c->loop = loop;
    c->m = m;
    if (ctl_control_path(cfg->seg_path, c->path, sizeof(c->path)) != 0) {
        log_warn("control socket %s.ctl: path longer than %zu bytes; use a shorter "
                 "segment.path", cfg->seg_path, sizeof(sa.sun_path) - 1);
        goto out_free;
    }
    /* the segment's writer lock is ours: no other controller uses the path,
     * so a socket left there is a dead run's -- anything else is not ours */
    if (lstat(c->path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            log_warn("control socket %s: something that is not a socket is in the way; "
                     "refusing to remove it", c->path);
            goto out_free;
        }
        if (unlink(c->path) != 0) {
            log_warn("control socket %s: cannot remove the stale socket: %s", c->path,
                     strerror(errno));
            goto out_free;
        }
    } else if (errno != ENOENT) {
        log_warn("control socket %s: %s", c->path, strerror(errno));
        goto out_free;
    }
    c->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        log_warn("control socket: socket: %s", strerror(errno));
        goto out_free;
    }
    if (setsockopt(c->fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) != 0) {
        log_warn("control socket: SO_PASSCRED: %s", strerror(errno));
        goto out_close;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, c->path, strlen(c->path) + 1);
    /* created owner-only; opened up (mode, group) once it is ours */
    old_mask = umask(0177);
    rc = bind(c->fd, (struct sockaddr *)&sa, sizeof(sa));
    umask(old_mask);
    if (rc != 0) {
        log_warn("control socket %s: bind: %s", c->path, strerror(errno));
        goto out_close;
    }
    if (lstat(c->path, &st) != 0) {
        log_warn("control socket %s: %s", c->path, strerror(errno));
        goto out_unlink;
    }
    c->dev = st.st_dev;
    c->ino = st.st_ino;
    /* the segment's group, as the writer set it (segment.group or ours) */
    {
        struct stat seg;

        if (stat(cfg->seg_path, &seg) == 0) {
            gid = seg.st_gid;
        }
    }
    if (gid != (gid_t)-1 && gid != st.st_gid && lchown(c->path, (uid_t)-1, gid) != 0) {
        log_warn("control socket %s: cannot give it group %ld: %s", c->path, (long)gid,
                 strerror(errno));
        goto out_unlink;
    }
    /* writers must be able to connect: write for owner and group (group
     * only when it may read the segment); others as the segment */
    mode = (cfg->seg_mode & 0777) | 0200 | ((cfg->seg_mode & 0040) ? 0020 : 0);
    if (chmod(c->path, mode) != 0) {
        log_warn("control socket %s: chmod %04o: %s", c->path, (unsigned)mode, strerror(errno));
        goto out_unlink;
    }
    ev_io_init(&c->io, on_readable, c->fd, EV_READ);
    c->io.data = c;
    ev_io_start(loop, &c->io);
    log_notice("control socket %s (mode %04o)", c->path, (unsigned)mode);
    return c;

out_unlink:
    unlink(c->path);
out_close:
    close(c->fd);
out_free:
    free(c);
    return NULL;
}

void
ctl_control_free(struct ctl_control *c)
{
    struct stat st;

    if (c == NULL) {
        return;
    }
    ev_io_stop(c->loop, &c->io);
    close(c->fd);
    if (lstat(c->path, &st) == 0 && st.st_dev == c->dev && st.st_ino == c->ino) {
        unlink(c->path);
    }
    free(c);
}

/* ---- operator side: clear ----------------------------------------------- */

/* Member state of cluster/member in a state copy: 1 diverged, 0 clear,
 * -1 no such mirror or member (err says which). */
static int
member_state(const struct mshm_state *st, const char *cluster, const char *member, char *err,
             size_t errlen)
{
    const struct mshm_cluster *cl = NULL;
    uint32_t i, j, n;

    for (i = 0; i < st->hdr.n_clusters; i++) {
        if ((st->clusters[i].flags & MSHM_CF_IN_USE) &&
            strncmp(st->clusters[i].name, cluster, MSHM_NAME_MAX) == 0) {
            cl = &st->clusters[i];
            break;
        }
    }
    if (cl == NULL) {
        snprintf(err, errlen, "no cluster or farm \"%s\" in the segment", cluster);
        return -1;
    }
    if (cl->rule != MSHM_RULE_MARSHAL1 && cl->rule != MSHM_RULE_MARSHAL10) {
        snprintf(err, errlen, "%s is not a mirror (marshal1 cluster or marshal10 farm)",
                 cluster);
        return -1;
    }
    n = cl->n_members < MSHM_CLUSTER_MEMBERS ? cl->n_members : MSHM_CLUSTER_MEMBERS;
    for (j = 0; j < n; j++) {
        uint32_t idx = cl->members[j].idx;
        const char *name = NULL;

        if (cl->kind == MSHM_KIND_FARM && idx < st->hdr.n_clusters &&
            (st->clusters[idx].flags & MSHM_CF_IN_USE)) {
            name = st->clusters[idx].name;
        } else if (cl->kind == MSHM_KIND_CLUSTER && idx < st->hdr.n_groups &&
                   (st->groups[idx].flags & MSHM_GF_IN_USE)) {
            name = st->groups[idx].name;
        }
        if (name == NULL || strncmp(name, member, MSHM_NAME_MAX) != 0) {
            continue;
        }
        if (cl->members[j].flags & MSHM_MF_PRIMARY) {
            snprintf(err, errlen, "%s is the primary of %s: a primary is never diverged",
                     member, cluster);
            return -1;
        }
        return (cl->members[j].flags & MSHM_MF_DIVERGED) != 0;
    }
    snprintf(err, errlen, "%s has no member \"%s\"", cluster, member);
    return -1;
}

/* One consistent look at the member (see member_state). */
static int
look(struct mshm_reader *r, const char *cluster, const char *member, char *err, size_t errlen)
{
    struct mshm_state st;
    int rc;

    memset(&st, 0, sizeof(st));
    rc = mshm_read_state(r, &st);
    if (rc != MSHM_OK) {
        snprintf(err, errlen, "segment %s: cannot read the state: %s", r->path,
                 mshm_strerror(rc));
        return -1;
    }
    rc = member_state(&st, cluster, member, err, errlen);
    mshm_state_free(&st);
    return rc;
}

int
ctl_control_clear(const char *seg_path, const char *cluster, const char *member,
                  int timeout_ms, int *was_set, char *err, size_t errlen)
{
    struct ctl_control_msg parsed;
    struct mshm_reader r;
    struct sockaddr_un sa;
    char msg[CTL_CONTROL_MSG_MAX + 1], why[128];
    uint64_t deadline;
    uint32_t seen;
    int fd, n, rc, state;

    *was_set = 0;
    n = snprintf(msg, sizeof(msg), "clear %s %s\n", cluster, member);
    if (n < 0 || (size_t)n >= sizeof(msg) ||
        ctl_control_parse(msg, (size_t)n, &parsed, why, sizeof(why)) != 0) {
        snprintf(err, errlen, "invalid cluster or member name (printable ASCII, no spaces, "
                 "at most %d bytes)", CTL_NAME_MAX - 1);
        return -1;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    if (ctl_control_path(seg_path, sa.sun_path, sizeof(sa.sun_path)) != 0) {
        snprintf(err, errlen, "control socket path %s.ctl is too long", seg_path);
        return -1;
    }
    memset(&r, 0, sizeof(r));
    rc = mshm_attach(&r, seg_path, 0);
    if (rc != MSHM_OK) {
        snprintf(err, errlen, "segment %s: %s", seg_path, r.errstr[0] ? r.errstr :
                 mshm_strerror(rc));
        return -1;
    }
    state = look(&r, cluster, member, err, errlen);
    if (state < 0) {
        goto out_detach;
    }
    *was_set = state;
    seen = mshm_ld_acq(&mshm_hdr(&r)->notify);
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        goto out_detach;
    }
    if (sendto(fd, msg, (size_t)n, MSG_NOSIGNAL, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        snprintf(err, errlen, "cannot send to the controller's socket %s: %s%s", sa.sun_path,
                 strerror(errno),
                 errno == ECONNREFUSED || errno == ENOENT ? " (is marshal-controller running?)"
                 : errno == EAGAIN ? " (its queue is full: is it stuck?)" : "");
        close(fd);
        goto out_detach;
    }
    close(fd);
    deadline = mshm_now_ns() + (uint64_t)timeout_ms * 1000000ull;
    for (;;) {
        uint64_t now;
        int wait_ms;

        if (mshm_replaced(&r)) {
            mshm_reattach(&r, 0);   /* on failure keep looking at the old one */
            seen = mshm_ld_acq(&mshm_hdr(&r)->notify);
        }
        state = look(&r, cluster, member, err, errlen);
        if (state == 0) {
            mshm_detach(&r);
            return 0;
        }
        if (state < 0) {
            goto out_detach;    /* e.g. a reload removed it meanwhile */
        }
        now = mshm_now_ns();
        if (now >= deadline) {
            snprintf(err, errlen, "%s %s still diverged after %d ms: the controller refused "
                     "the request (see its log: only root or its own user may clear) or "
                     "is not running", cluster, member, timeout_ms);
            goto out_detach;
        }
        wait_ms = (int)((deadline - now) / 1000000ull) + 1;
        mshm_wait(&r, &seen, wait_ms < 100 ? wait_ms : 100);
    }

out_detach:
    mshm_detach(&r);
    return -1;
}
