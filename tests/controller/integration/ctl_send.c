/*
 * ctl_send.c -- send datagrams to marshal-controller's control socket
 * (tests only).
 *
 *   ctl_send [-x] [-n COUNT] SOCKET MESSAGE
 *
 * Sends MESSAGE as one datagram, exactly as given (no newline is added),
 * COUNT times (default 1; blocking, so a flood waits for the receiver's
 * queue instead of failing).  -x: MESSAGE is hex ("00ff41"), for bytes a
 * shell argument cannot carry (NUL).  Exit 0 sent, 1 send failed (errno
 * text on stderr, e.g. "Permission denied"), 2 usage.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int
hexval(int ch)
{
    if (ch >= '0' && ch <= '9') {
        return ch - '0';
    }
    if (ch >= 'a' && ch <= 'f') {
        return ch - 'a' + 10;
    }
    if (ch >= 'A' && ch <= 'F') {
        return ch - 'A' + 10;
    }
    return -1;
}

static void
usage(void)
{
    fprintf(stderr, "usage: ctl_send [-x] [-n COUNT] SOCKET MESSAGE\n");
    exit(2);
}

int
main(int argc, char **argv)
{
    struct sockaddr_un sa;
    char *msg;
    size_t len, i;
    long count = 1, k;
    int hex = 0, ch, fd;

    while ((ch = getopt(argc, argv, "xn:")) != -1) {
        switch (ch) {
        case 'x':
            hex = 1;
            break;
        case 'n':
            count = strtol(optarg, NULL, 10);
            if (count < 1) {
                usage();
            }
            break;
        default:
            usage();
        }
    }
    if (argc - optind != 2 || strlen(argv[optind]) >= sizeof(sa.sun_path)) {
        usage();
    }
    msg = argv[optind + 1];
    len = strlen(msg);
    if (hex) {
        if (len % 2 != 0) {
            usage();
        }
        for (i = 0; i < len / 2; i++) {
            int hi = hexval((unsigned char)msg[2 * i]), lo = hexval((unsigned char)msg[2 * i + 1]);

            if (hi < 0 || lo < 0) {
                usage();
            }
            msg[i] = (char)(hi * 16 + lo);
        }
        len /= 2;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, argv[optind], strlen(argv[optind]) + 1);
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        perror("socket");
        return 1;
    }
    for (k = 0; k < count; k++) {
        if (sendto(fd, msg, len, MSG_NOSIGNAL, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
            fprintf(stderr, "ctl_send: %s: %s\n", sa.sun_path, strerror(errno));
            close(fd);
            return 1;
        }
    }
    close(fd);
    return 0;
}
