/*
 * ctl_log.h -- controller logging: levels, stderr/syslog/file (signals are
 * handled on the loop through ev_signal, so no handler ever logs).  Secrets are never passed
 * here: callers log addresses and names only.
 */
#ifndef CTL_LOG_H
#define CTL_LOG_H

#include "ctl_config.h"

/* Route output per cfg (stderr when cfg is NULL).  Returns 0 or -1 (errno). */
int ctl_log_open(const struct ctl_config *cfg);
void ctl_log_close(void);
void ctl_log_set_level(int level);

/* printf-style log line at level (enum ctl_log_level). */
void ctl_log(int level, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define log_debug(...)  ctl_log(CTL_LOG_DEBUG, __FILE__, __LINE__, __VA_ARGS__)
#define log_info(...)   ctl_log(CTL_LOG_VERBOSE, __FILE__, __LINE__, __VA_ARGS__)
#define log_notice(...) ctl_log(CTL_LOG_NOTICE, __FILE__, __LINE__, __VA_ARGS__)
#define log_warn(...)   ctl_log(CTL_LOG_WARNING, __FILE__, __LINE__, __VA_ARGS__)

#endif /* CTL_LOG_H */
