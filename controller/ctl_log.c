/*
 * ctl_log.c -- Redis-style log lines: "pid:C 25 Nov 2026 10:17:45.123 * msg"
 * to stderr (journald adds its own timestamps, but a file needs them), a
 * file, or syslog.  DEBUG lines carry file:line.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "ctl_log.h"

static int log_level = CTL_LOG_NOTICE;
static int log_syslog;
static int log_fd = STDERR_FILENO;

int
ctl_log_open(const struct ctl_config *cfg)
{
    int fd;

    ctl_log_close();
    if (cfg == NULL) {
        return 0;
    }
    log_level = cfg->log_level;
    if (cfg->log_syslog) {
        openlog("marshal-controller", LOG_PID | LOG_NDELAY, LOG_DAEMON);
        log_syslog = 1;
    } else if (cfg->log_file[0] != '\0') {
        fd = open(cfg->log_file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
        if (fd < 0) {
            return -1;
        }
        log_fd = fd;
    }
    return 0;
}

void
ctl_log_close(void)
{
    if (log_syslog) {
        closelog();
        log_syslog = 0;
    }
    if (log_fd != STDERR_FILENO) {
        close(log_fd);
        log_fd = STDERR_FILENO;
    }
}

void
ctl_log_set_level(int level)
{
    log_level = level;
}

void
ctl_log(int level, const char *file, int line, const char *fmt, ...)
{
    static const char marks[] = ".-*#";
    static const int prio[] = {LOG_DEBUG, LOG_INFO, LOG_NOTICE, LOG_WARNING};
    char msg[1024], buf[1200], ts[64];
    struct timeval tv;
    struct tm tm;
    va_list ap;
    int saved = errno, n;

    if (level < log_level || level < CTL_LOG_DEBUG || level > CTL_LOG_WARNING) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (log_syslog) {
        if (level == CTL_LOG_DEBUG) {
            syslog(prio[level], "%s:%d %s", file, line, msg);
        } else {
            syslog(prio[level], "%s", msg);
        }
        errno = saved;
        return;
    }
    gettimeofday(&tv, NULL);
    localtime_r(&tv.tv_sec, &tm);
    strftime(ts, sizeof(ts), "%d %b %Y %H:%M:%S", &tm);
    if (level == CTL_LOG_DEBUG) {
        n = snprintf(buf, sizeof(buf), "%d:C %s.%03d %c %s:%d %s\n", (int)getpid(), ts,
                     (int)(tv.tv_usec / 1000), marks[level], file, line, msg);
    } else {
        n = snprintf(buf, sizeof(buf), "%d:C %s.%03d %c %s\n", (int)getpid(), ts,
                     (int)(tv.tv_usec / 1000), marks[level], msg);
    }
    if (n > (int)sizeof(buf) - 1) {
        n = (int)sizeof(buf) - 1;
        buf[n - 1] = '\n';
    }
    if (write(log_fd, buf, (size_t)n) < 0) {
        /* nowhere left to report it */
    }
    errno = saved;
}

