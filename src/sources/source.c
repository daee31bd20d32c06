/*
 * Byte sources other than serial ports: stdin, files and FIFOs, and TCP
 * serial servers ("tcp://host:port", e.g. ser2net), plus the dispatch that
 * picks the kind from the spec. Reads never allocate.
 */
#include "sources/source_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static int set_nonblocking(int fd)
{
        int fl = fcntl(fd, F_GETFL);
        if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
                return -errno;
        return 0;
}

/* Splits "tcp://host:port" (or "tcp://[v6]:port") into host and port. */
static int split_host_port(const char *spec, char *host, size_t hsize, char *port, size_t psize)
{
        const char *hp = spec + strlen("tcp://");
        const char *colon = strrchr(hp, ':');
        if (!colon || colon == hp || colon[1] == '\0')
                return -EINVAL;
        const char *h = hp;
        size_t hl = (size_t)(colon - hp);
        if (h[0] == '[' && hl >= 2 && h[hl - 1] == ']') {
                h++;
                hl -= 2;
        }
        if (hl >= hsize || strlen(colon + 1) >= psize)
                return -EINVAL;
        memcpy(host, h, hl);
        host[hl] = '\0';
        strcpy(port, colon + 1);
        return 0;
}

/* A serial server that does not answer must not hold the caller for the
 * kernel's TCP timeout (minutes): the daemon's watchdog is 30 s. */
#define TCP_CONNECT_TIMEOUT_MS 5000

static int connect_with_timeout(int fd, const struct sockaddr *addr, socklen_t len)
{
        int fl = fcntl(fd, F_GETFL);
        if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
                return -errno;
        if (connect(fd, addr, len) < 0) {
                if (errno != EINPROGRESS)
                        return -errno;
                struct pollfd p = {.fd = fd, .events = POLLOUT};
                int r;
                do
                        r = poll(&p, 1, TCP_CONNECT_TIMEOUT_MS);
                while (r < 0 && errno == EINTR);
                if (r < 0)
                        return -errno;
                if (r == 0)
                        return -ETIMEDOUT;
                int err = 0;
                socklen_t el = sizeof(err);
                if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
                        return -errno;
                if (err)
                        return -err;
        }
        return fcntl(fd, F_SETFL, fl) < 0 ? -errno : 0; /* blocking again unless asked otherwise */
}

static int open_tcp(const char *spec, km_source *s)
{
        char host[256], port[16];
        int r = split_host_port(spec, host, sizeof(host), port, sizeof(port));
        if (r < 0)
                return r;
        struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
        struct addrinfo *res = NULL;
        if (getaddrinfo(host, port, &hints, &res) != 0)
                return -EHOSTUNREACH;
        r = -ECONNREFUSED;
        for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
                int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
                if (fd < 0) {
                        r = -errno;
                        continue;
                }
                r = connect_with_timeout(fd, ai->ai_addr, ai->ai_addrlen);
                if (r == 0) {
                        s->fd = fd;
                        break;
                }
                close(fd);
        }
        freeaddrinfo(res);
        return r;
}

/* Files, FIFOs and stdin. A FIFO read by a non-blocking caller (the daemon)
 * is opened read-write: the open does not wait for a writer and the FIFO
 * never reads as ended when a writer goes away, like a serial port. A
 * blocking caller gets the usual semantics: wait for a writer, end with it. */
static int open_file(const char *spec, km_source *s)
{
        if (strcmp(spec, "-") == 0) {
                s->fd = STDIN_FILENO;
                s->owns_fd = false;
                return 0;
        }
        struct stat st;
        bool fifo = stat(spec, &st) == 0 && S_ISFIFO(st.st_mode);
        int fd = open(spec, (fifo && s->nonblocking ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        s->fd = fd;
        return 0;
}

static km_source_kind guess_kind(const char *spec)
{
        if (strncmp(spec, "tcp://", 6) == 0)
                return KM_SOURCE_TCP;
        struct stat st;
        if (strcmp(spec, "-") != 0 && stat(spec, &st) == 0 && S_ISCHR(st.st_mode))
                return KM_SOURCE_SERIAL;
        return KM_SOURCE_FILE;
}

int km_source_open_kind(const char *spec, km_source_kind kind, const km_serial_params *params, bool nonblocking,
                        km_source **ret)
{
        km_source *s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->kind = kind;
        s->fd = -1;
        s->owns_fd = true;
        s->nonblocking = nonblocking;
        int r;
        switch (kind) {
        case KM_SOURCE_TCP:
                r = open_tcp(spec, s);
                break;
        case KM_SOURCE_SERIAL: {
                km_serial_params def = KM_SERIAL_PARAMS_DEFAULT;
                r = km_serial_open(spec, params ? params : &def, nonblocking, s);
                break;
        }
        default:
                r = open_file(spec, s);
                break;
        }
        if (r == 0 && nonblocking && kind != KM_SOURCE_SERIAL)
                r = set_nonblocking(s->fd);
        if (r < 0) {
                km_source_close(s);
                return r;
        }
        *ret = s;
        return 0;
}

int km_source_open(const char *spec, const km_serial_params *params, bool nonblocking, km_source **ret)
{
        return km_source_open_kind(spec, guess_kind(spec), params, nonblocking, ret);
}

km_source_kind km_source_get_kind(const km_source *s)
{
        return s->kind;
}

int km_source_fd(const km_source *s)
{
        return s->fd;
}

ssize_t km_source_read(km_source *s, void *buf, size_t n)
{
        ssize_t r = read(s->fd, buf, n);
        if (r >= 0)
                return r;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
                return -EAGAIN;
        /* a serial port that vanished (USB unplugged, pty closed) */
        if (errno == EIO || errno == ENXIO || errno == ENODEV)
                return 0;
        return -errno; /* -EINTR included: the caller decides whether to go on */
}

int km_source_set_params(km_source *s, const km_serial_params *params)
{
        if (s->kind != KM_SOURCE_SERIAL)
                return -ENOTTY;
        return km_serial_configure(s, params);
}

void km_source_close(km_source *s)
{
        if (!s)
                return;
        if (s->kind == KM_SOURCE_SERIAL)
                km_serial_close(s);
        else if (s->owns_fd && s->fd >= 0)
                close(s->fd);
        free(s);
}

const char *km_parity_name(km_parity p)
{
        switch (p) {
        case KM_PARITY_NONE:
                return "none";
        case KM_PARITY_ODD:
                return "odd";
        default:
                return "even";
        }
}

int km_parity_parse(const char *str, km_parity *ret)
{
        if (strcasecmp(str, "none") == 0 || strcasecmp(str, "n") == 0)
                *ret = KM_PARITY_NONE;
        else if (strcasecmp(str, "even") == 0 || strcasecmp(str, "e") == 0)
                *ret = KM_PARITY_EVEN;
        else if (strcasecmp(str, "odd") == 0 || strcasecmp(str, "o") == 0)
                *ret = KM_PARITY_ODD;
        else
                return -EINVAL;
        return 0;
}
