/*
 * The board's byte streams (README "File descriptors") and their bridge
 * natives, for the firmware's board adapters (modules/vboard):
 *   UART0: fd 0 RX, fd 1 TX.
 *   Supervisor link: fd 3 in, fd 4 out, frames of
 *   u32le jsonLength, u32le binLength, json bytes, bin bytes.
 * Link "clock" messages drive the virtual clock, "net" messages the
 * network faults (vb_net_faults.c) and "power" messages the power cuts
 * (vb_power.c); none reaches JS.
 */
#include "xsmc.h"
#include "vb_host.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/select.h>

#define VB_UART_READ_MAX 4096
#define VB_LINK_FRAME_MAX (64u * 1024 * 1024)

static xsSlot gUartCallback;
static int gUartWatching;      /* a callback is registered */
static int gUartEof;
static int gUartAtLineStart = 1;

static int gLinkIn, gLinkOut;  /* fd 3 / fd 4 exist */
static int gLinkEof;
static xsSlot gLinkCallback;
static int gLinkWatching;
static uint8_t *gLinkBuffer;
static size_t gLinkSize, gLinkCapacity;

void vb_io_init(void)
{
	/* a supervisor that went away must not kill the board with SIGPIPE */
	signal(SIGPIPE, SIG_IGN);
	gUartEof = fcntl(0, F_GETFD) == -1;   /* no fd 0 at all: as if at its end */
	gLinkIn = fcntl(3, F_GETFD) != -1;
	gLinkOut = fcntl(4, F_GETFD) != -1;
}

static int vb_write_all(int fd, const void *data, size_t size)
{
	const uint8_t *p = data;
	while (size) {
		ssize_t written = write(fd, p, size);
		if (written < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {   /* a non-blocking fd from the supervisor: wait */
				struct pollfd pfd = { fd, POLLOUT, 0 };
				poll(&pfd, 1, -1);
				continue;
			}
			return -1;
		}
		p += written;
		size -= (size_t)written;
	}
	return 0;
}

void vb_uart_write(const void *data, size_t size)
{
	const char *text = data;
	if (!size)
		return;
	fflush(stdout);   /* the idf layer and native modules may print through stdio */
	/* a panic message starts on its own line, as the device's does */
	if (size > 16 && !memcmp(text, "Guru Meditation:", 16) && !gUartAtLineStart)
		vb_write_all(1, "\n", 1);
	if (vb_write_all(1, data, size) == 0)
		gUartAtLineStart = text[size - 1] == '\n';
}

void vb_link_write(const char *json, size_t json_size, const void *bin, size_t bin_size)
{
	uint8_t header[8];
	uint32_t j = (uint32_t)json_size, b = (uint32_t)bin_size;
	int i;
	if (!gLinkOut)
		return;
	for (i = 0; i < 4; i++) {
		header[i] = (uint8_t)(j >> (8 * i));
		header[4 + i] = (uint8_t)(b >> (8 * i));
	}
	if (vb_write_all(4, header, 8) || vb_write_all(4, json, json_size) || (bin_size && vb_write_all(4, bin, bin_size)))
		gLinkOut = 0;   /* the supervisor closed it: later sends are no-ops */
}

/* ---- bridge natives ---- */

/* xs_vb_uart_write(ArrayBuffer | TypedArray | DataView | string) */
void xs_vb_uart_write(xsMachine *the)
{
	if (xsmcTypeOf(xsArg(0)) == xsStringType) {
		const char *text = xsmcToString(xsArg(0));
		vb_uart_write(text, strlen(text));
	}
	else {
		void *data;
		xsUnsignedValue size;
		xsmcGetBufferReadable(xsArg(0), &data, &size);
		vb_uart_write(data, size);
	}
}

static void vb_uart_stop(xsMachine *the)
{
	if (gUartWatching)
		xsForget(gUartCallback);
	gUartWatching = 0;
}

/* xs_vb_uart_read() -> ArrayBuffer of the bytes available (at most 4096), or undefined */
void xs_vb_uart_read(xsMachine *the)
{
	static uint8_t buffer[VB_UART_READ_MAX];
	struct pollfd pfd = { 0, POLLIN, 0 };
	int available = 0;
	ssize_t got;
	if (gUartEof || poll(&pfd, 1, 0) <= 0 || !(pfd.revents & (POLLIN | POLLHUP | POLLERR)))
		return;
	if (ioctl(0, FIONREAD, &available) < 0)
		available = 0;
	/* readable with nothing buffered is the end of input: read() says so without blocking */
	got = read(0, buffer, available > 0 && available < VB_UART_READ_MAX ? (size_t)available : VB_UART_READ_MAX);
	if (got <= 0) {
		if (got < 0 && (errno == EINTR || errno == EAGAIN))
			return;
		gUartEof = 1;
		vb_uart_stop(the);
		return;
	}
	xsmcSetArrayBuffer(xsResult, buffer, (xsUnsignedValue)got);
}

/* xs_vb_uart_on_readable(callback | null): callback(count) when fd 0 has bytes */
void xs_vb_uart_on_readable(xsMachine *the)
{
	vb_uart_stop(the);
	if (xsmcTypeOf(xsArg(0)) != xsReferenceType)
		return;
	gUartCallback = xsArg(0);
	xsRemember(gUartCallback);
	gUartWatching = 1;
}

/* xs_vb_link_send(json: string, binary?: ArrayBuffer | TypedArray | DataView) */
void xs_vb_link_send(xsMachine *the)
{
	const char *json = xsmcToString(xsArg(0));
	void *bin = NULL;
	xsUnsignedValue bin_size = 0;
	if (xsmcArgc > 1 && xsmcTest(xsArg(1)))
		xsmcGetBufferReadable(xsArg(1), &bin, &bin_size);
	vb_link_write(json, strlen(json), bin, bin_size);
}

/* xs_vb_link_on_message(callback | null): callback(json: string, binary: ArrayBuffer | undefined) */
void xs_vb_link_on_message(xsMachine *the)
{
	if (gLinkWatching)
		xsForget(gLinkCallback);
	gLinkWatching = 0;
	if (xsmcTypeOf(xsArg(0)) != xsReferenceType)
		return;
	gLinkCallback = xsArg(0);
	xsRemember(gLinkCallback);
	gLinkWatching = 1;
}

/* ---- run loop side ---- */

/* The host's own messages (net, power, flash) are answered on either clock;
   only a firmware that listens, or a virtual clock that only the link
   moves, makes the link a reason to keep running. */
static int vb_link_keeps_running(void)
{
	return gLinkIn && !gLinkEof && (gLinkWatching || vb_clock_is_virtual());
}

int vb_io_watch(void *set, int *max_fd)
{
	fd_set *fds = set;
	int count = 0;
	FD_ZERO(fds);
	*max_fd = -1;
	if (gUartWatching && !gUartEof) {
		FD_SET(0, fds);
		*max_fd = 0;
		count++;
	}
	if (gLinkIn && !gLinkEof) {
		FD_SET(3, fds);
		*max_fd = 3;
		count += vb_link_keeps_running();
	}
	return count;
}

/* Returns 1 and the advance if the message is {"t":"clock","advance_ms":N}. */
static int vb_link_clock_message(const char *json, size_t size, int64_t *advance_us)
{
	const char *end = json + size;
	double ms;
	if (!vb_json_member_is(json, end, "t", "\"clock\""))
		return 0;
	*advance_us = 0;
	if (vb_json_member_number(json, end, "advance_ms", &ms) > 0 && ms > 0)
		*advance_us = llround(ms * 1000.0);
	return 1;
}

static void vb_link_deliver(xsMachine *machine, const char *json, size_t json_size, const uint8_t *bin, size_t bin_size, int has_bin)
{
	int64_t advance_us;
	if (vb_link_clock_message(json, json_size, &advance_us)) {
		if (vb_clock_is_virtual()) {
			char ack[64];
			int size;
			vb_clock_advance_window(machine, advance_us);
			/* tells the supervisor that everything due in the window has run */
			size = snprintf(ack, sizeof(ack), "{\"t\":\"clock\",\"now_us\":%lld}", (long long)esp_timer_get_time());
			vb_link_write(ack, (size_t)size, NULL, 0);
		}
		return;
	}
	if (vb_net_link_message(json, json_size) || vb_power_link_message(json, json_size) ||
	    vb_flash_link_message(json, json_size))
		return;   /* the host's network faults, power cuts and flash figures: not the firmware's business */
	if (!gLinkWatching) {
		fprintf(stderr, "vboard: link message dropped, the firmware does not listen: %.*s\n", (int)(json_size > 200 ? 200 : json_size), json);
		return;
	}
	xsBeginHost(machine);
	{
		xsmcVars(2);
		xsmcSetStringBuffer(xsVar(0), (char *)json, (xsIntegerValue)json_size);
		if (has_bin)
			xsmcSetArrayBuffer(xsVar(1), (void *)bin, (xsUnsignedValue)bin_size);
		xsCallFunction2(gLinkCallback, xsGlobal, xsVar(0), xsVar(1));
	}
	xsEndHost(machine);
	vb_run_jobs(machine);   /* each message is a task of its own, as a device event is */
}

static void vb_link_read(xsMachine *machine)
{
	size_t offset = 0;
	ssize_t got;
	if (gLinkCapacity - gLinkSize < 65536) {
		size_t capacity = gLinkCapacity ? gLinkCapacity * 2 : 131072;
		uint8_t *buffer = realloc(gLinkBuffer, capacity);
		if (!buffer) {
			fprintf(stderr, "vboard: out of memory for the link\n");
			exit(VB_EXIT_USAGE);
		}
		gLinkBuffer = buffer;
		gLinkCapacity = capacity;
	}
	got = read(3, gLinkBuffer + gLinkSize, gLinkCapacity - gLinkSize);
	if (got < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (got <= 0) {
		if (gLinkSize)
			fprintf(stderr, "vboard: link closed inside a frame (%zu bytes dropped)\n", gLinkSize);
		gLinkEof = 1;
		gLinkSize = 0;
		return;
	}
	gLinkSize += (size_t)got;
	while (gLinkSize - offset >= 8) {
		const uint8_t *h = gLinkBuffer + offset;
		uint32_t json_size = (uint32_t)h[0] | ((uint32_t)h[1] << 8) | ((uint32_t)h[2] << 16) | ((uint32_t)h[3] << 24);
		uint32_t bin_size = (uint32_t)h[4] | ((uint32_t)h[5] << 8) | ((uint32_t)h[6] << 16) | ((uint32_t)h[7] << 24);
		size_t frame;
		if (json_size > VB_LINK_FRAME_MAX || bin_size > VB_LINK_FRAME_MAX) {
			fprintf(stderr, "vboard: bad link frame (json %u, bin %u bytes): link closed\n", json_size, bin_size);
			gLinkEof = 1;
			gLinkSize = 0;
			return;
		}
		frame = 8 + (size_t)json_size + bin_size;
		if (gLinkSize - offset < frame)
			break;
		/* the buffer is not touched while the message is delivered: only this function reads fd 3 */
		vb_link_deliver(machine, (const char *)h + 8, json_size, h + 8 + json_size, bin_size, bin_size > 0);
		offset += frame;
	}
	memmove(gLinkBuffer, gLinkBuffer + offset, gLinkSize - offset);
	gLinkSize -= offset;
}

void vb_io_dispatch(void *machine_, void *set)
{
	xsMachine *machine = machine_;
	fd_set *fds = set;
	if (FD_ISSET(0, fds) && gUartWatching && !gUartEof) {
		int available = 0;
		if (ioctl(0, FIONREAD, &available) < 0 || available <= 0) {
			gUartEof = 1;   /* readable and empty: end of input */
			xsBeginHost(machine);
			vb_uart_stop(the);
			xsEndHost(machine);
		}
		else {
			xsBeginHost(machine);
			xsCallFunction1(gUartCallback, xsGlobal, xsInteger(available));
			xsEndHost(machine);
			vb_run_jobs(machine);
		}
	}
	if (FD_ISSET(3, fds) && gLinkIn && !gLinkEof)
		vb_link_read(machine);
}
