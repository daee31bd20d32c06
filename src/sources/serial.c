/*
 * Serial ports through libserialport (the only file that includes it).
 *
 * libserialport only opens ports it can find in sysfs, which excludes
 * pseudo-terminals: a pty (a simulated meter, socat, a test) is opened
 * directly and set to raw mode with termios instead. Everything else about
 * real UARTs (USB adapters, ttyAMA, ttyS) is left to libserialport.
 *
 * A pty carries bytes, not bits on a wire: Linux's pty driver keeps no
 * parity and no character size (it clears PARENB and sets CS8 whatever it is
 * asked), and a later request whose only change is PARENB fails with EINVAL.
 * So a pty is always set to 8N1 at the requested speed, and the parity asked
 * for is what the caller reports; asking for even parity again (a restart,
 * a reopen, parity = auto flipping back) then works every time.
 */
#include "sources/source_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <libserialport.h>
#include <termios.h>
#include <unistd.h>

static enum sp_parity sp_parity_of(km_parity p)
{
        switch (p) {
        case KM_PARITY_NONE:
                return SP_PARITY_NONE;
        case KM_PARITY_ODD:
                return SP_PARITY_ODD;
        default:
                return SP_PARITY_EVEN;
        }
}

static int sp_errno(enum sp_return r)
{
        if (r == SP_ERR_MEM)
                return -ENOMEM;
        if (r == SP_ERR_ARG)
                return -EINVAL;
        if (r == SP_ERR_SUPP)
                return -ENOTSUP;
        int e = sp_last_error_code();
        return e > 0 ? -e : -EIO;
}

static int configure_sp(struct sp_port *port, const km_serial_params *p)
{
        enum sp_return r;
        if ((r = sp_set_baudrate(port, p->baud)) != SP_OK || (r = sp_set_bits(port, p->data_bits)) != SP_OK ||
            (r = sp_set_parity(port, sp_parity_of(p->parity))) != SP_OK ||
            (r = sp_set_stopbits(port, p->stop_bits)) != SP_OK ||
            (r = sp_set_flowcontrol(port, SP_FLOWCONTROL_NONE)) != SP_OK)
                return sp_errno(r);
        return 0;
}

static speed_t termios_speed(int baud)
{
        switch (baud) {
        case 1200: return B1200;
        case 2400: return B2400;
        case 4800: return B4800;
        case 9600: return B9600;
        case 19200: return B19200;
        case 38400: return B38400;
        case 57600: return B57600;
        case 115200: return B115200;
        default: return B0;
        }
}

/* A pty only: see the top of the file for why parity and size are not set. */
static int configure_termios(int fd, const km_serial_params *p)
{
        struct termios t;
        if (tcgetattr(fd, &t) < 0)
                return -errno;
        cfmakeraw(&t);
        speed_t sp = termios_speed(p->baud);
        if (sp == B0)
                return -EINVAL;
        cfsetispeed(&t, sp);
        cfsetospeed(&t, sp);
        t.c_cflag &= (tcflag_t) ~(CSIZE | PARENB | PARODD | CSTOPB | CRTSCTS);
        t.c_cflag |= CLOCAL | CREAD | CS8;
        t.c_cc[VMIN] = 1;
        t.c_cc[VTIME] = 0;
        return tcsetattr(fd, TCSANOW, &t) < 0 ? -errno : 0;
}

static int open_pty(const char *path, const km_serial_params *params, bool nonblocking, km_source *s)
{
        int fd = open(path, O_RDONLY | O_NOCTTY | O_CLOEXEC | (nonblocking ? O_NONBLOCK : 0));
        if (fd < 0)
                return -errno;
        if (!isatty(fd)) {
                close(fd);
                return -ENOTTY;
        }
        s->fd = fd;
        return configure_termios(fd, params);
}

int km_serial_open(const char *path, const km_serial_params *params, bool nonblocking, km_source *s)
{
        struct sp_port *port = NULL;
        if (sp_get_port_by_name(path, &port) != SP_OK)
                return open_pty(path, params, nonblocking, s);
        enum sp_return r = sp_open(port, SP_MODE_READ);
        if (r != SP_OK) {
                int e = sp_errno(r);
                sp_free_port(port);
                return e;
        }
        s->port = port;
        int err = configure_sp(port, params);
        if (err < 0)
                return err;
        int fd = -1;
        if (sp_get_port_handle(port, &fd) != SP_OK)
                return -EIO;
        s->fd = fd;
        if (nonblocking) {
                int fl = fcntl(fd, F_GETFL);
                if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
                        return -errno;
        }
        return 0;
}

int km_serial_configure(km_source *s, const km_serial_params *params)
{
        if (s->port)
                return configure_sp(s->port, params);
        return configure_termios(s->fd, params);
}

void km_serial_close(km_source *s)
{
        if (s->port) {
                sp_close(s->port);
                sp_free_port(s->port);
                s->port = NULL;
        } else if (s->fd >= 0) {
                close(s->fd);
        }
        s->fd = -1;
}
