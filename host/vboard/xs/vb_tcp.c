/*
 * The host side of the board's TCP: each pcb the device's lwIP would hold
 * is a real non-blocking socket on loopback here. This file keeps the
 * records, counts the pcbs, and does what the firmware (vb_socket.c) and
 * the fault shaper (vb_net_faults.c) ask of them; vb_net_loop.c moves
 * their bytes.
 *
 * Received bytes queue as lwIP's segments do (in_wire, then modSocket.c's
 * reader queue, then the segment being read); written bytes wait in
 * out_wire until the emulated link lets them go, and count against
 * tcp_sndbuf() until the peer's TCP has acknowledged them (the kernel's
 * SIOCOUTQ), so "writable" comes when lwIP's didSend would.
 */
#include "vb_tcp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define VB_FIRST_SOCKET_FD 5       /* above the board's own streams (README "File descriptors") */

static vb_tcp *gAll;
static int gLeakedPcbs;            /* bound pcbs lwIP never frees (a listener without a listen pcb) */

int64_t vb_net_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

vb_tcp *vb_tcp_all(void)
{
	return gAll;
}

void vb_tcp_leak_pcb(void)
{
	gLeakedPcbs++;
}

/* What esp-lwip's tcp_alloc() counts against MEMP_NUM_TCP_PCB: listeners
   and connections. Connections the firmware has closed are not counted:
   lwIP kills TIME_WAIT, LAST_ACK, CLOSING and FIN_WAIT pcbs to make room. */
int vb_tcp_pcbs_in_use(void)
{
	int count = gLeakedPcbs;
	vb_tcp *s;
	for (s = gAll; s; s = s->next) {
		if (s->is_listener)
			count += !s->closed && !s->dead;
		else
			count += s->pcb && !s->closed;
	}
	return count;
}

/* ---- byte queues ---- */

vb_chunk *vb_chunk_new(const void *data, size_t size, int64_t due_us)
{
	vb_chunk *c = malloc(sizeof(vb_chunk) + size);
	if (!c) {
		fprintf(stderr, "vboard: out of memory for socket data\n");
		exit(VB_EXIT_USAGE);
	}
	c->next = NULL;
	c->due_us = due_us;
	c->size = size;
	if (size)
		memcpy(c->data, data, size);
	return c;
}

void vb_chunks_push(vb_chunks *q, vb_chunk *c)
{
	if (q->tail)
		q->tail->next = c;
	else
		q->head = c;
	q->tail = c;
	q->bytes += c->size;
	q->count++;
}

vb_chunk *vb_chunks_pop(vb_chunks *q)
{
	vb_chunk *c = q->head;
	if (c) {
		q->head = c->next;
		if (!q->head)
			q->tail = NULL;
		q->bytes -= c->size;
		q->count--;
		c->next = NULL;
	}
	return c;
}

void vb_chunks_clear(vb_chunks *q)
{
	vb_chunk *c;
	while ((c = vb_chunks_pop(q)))
		free(c);
}

/* ---- records ---- */

vb_tcp *vb_tcp_new(int is_listener)
{
	vb_tcp *s = calloc(1, sizeof(vb_tcp)), **link;
	if (!s) {
		fprintf(stderr, "vboard: out of memory for a socket\n");
		exit(VB_EXIT_USAGE);
	}
	s->is_listener = is_listener;
	s->fd = -1;
	for (link = &gAll; *link; link = &(*link)->next)
		;
	*link = s;   /* in creation order: "list" and the shaper see them so */
	return s;
}

void vb_tcp_free(vb_tcp *s)
{
	vb_tcp **link;
	for (link = &gAll; *link; link = &(*link)->next) {
		if (*link == s) {
			*link = s->next;
			break;
		}
	}
	if (s->fd >= 0)
		close(s->fd);
	vb_chunks_clear(&s->in_wire);
	vb_chunks_clear(&s->reader);
	vb_chunks_clear(&s->out_wire);
	free(s->current);
	free(s);
}

/* When the board's process ends (a reset, a panic, a power cut, a kill),
   the host closes its connections as they are: what the board had written
   reaches the peer (a device's last reply before esp_restart() has left
   its radio too), then a FIN where a device's peer would hear nothing
   until it sent again; RST where received bytes were left unread. Only the
   shaper's "reset" and lwIP's close with unread data abort on purpose. */
static void vb_tcp_linger(int fd, int abortive)
{
	struct linger linger = { abortive, 0 };
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, sizeof(linger));
}

void vb_tcp_close_fd(int fd, int abortive)
{
	vb_tcp_linger(fd, abortive);
	close(fd);
}

/* Keeps sockets off fds 0-4 (a socket on fd 1 would get the UART's bytes)
   and within select()'s reach. */
int vb_tcp_fd(int fd, int connection)
{
	int one = 1;
	if (fd >= 0 && fd < VB_FIRST_SOCKET_FD) {
		int moved = fcntl(fd, F_DUPFD_CLOEXEC, VB_FIRST_SOCKET_FD);
		close(fd);
		fd = moved;
	}
	if (fd >= FD_SETSIZE) {
		close(fd);
		errno = EMFILE;
		return -1;
	}
	/* out_wire already gathers what one task writes, as lwIP's tcp_output
	   after the message does; Nagle on loopback would only add the host's
	   delayed-ACK stalls */
	if (fd >= 0 && connection)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

void vb_tcp_names(vb_tcp *s)
{
	struct sockaddr_storage address;
	socklen_t size = sizeof(address);
	if (!getsockname(s->fd, (struct sockaddr *)&address, &size))
		s->local_port = ntohs(address.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&address)->sin6_port : ((struct sockaddr_in *)&address)->sin_port);
}

void vb_tcp_set_remote(vb_tcp *s, const struct sockaddr *address)
{
	if (address->sa_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)address;
		inet_ntop(AF_INET6, &a->sin6_addr, s->remote_ip, sizeof(s->remote_ip));
		s->remote_port = ntohs(a->sin6_port);
	}
	else {
		const struct sockaddr_in *a = (const struct sockaddr_in *)address;
		inet_ntop(AF_INET, &a->sin_addr, s->remote_ip, sizeof(s->remote_ip));
		s->remote_port = ntohs(a->sin_port);
	}
}

/* lwIP's recv callback with a NULL pbuf, modSocket.c didReceive()
   (lines 1010-1021): sent and err are unhooked, and the disconnect waits
   until the firmware has read what arrived before it. */
void vb_tcp_fin_arrived(vb_tcp *s)
{
	s->fin_delivered = 1;
	if (s->reader.count || s->current)
		s->disconnected_while_reading = 1;
	else
		vb_socket_set_pending(s, VB_PENDING_DISCONNECT);
}

/* The connection is gone at once (RST from the peer or the shaper, a failed
   connect): lwIP frees the pcb and calls err, didError() (954-968). After
   the FIN, err is unhooked: nothing is reported. */
void vb_tcp_lost(vb_tcp *s, int send_reset)
{
	if (s->fd >= 0)
		vb_tcp_close_fd(s->fd, send_reset);
	s->fd = -1;
	s->connecting = 0;
	vb_chunks_clear(&s->in_wire);
	vb_chunks_clear(&s->out_wire);
	s->out_sent = 0;
	if (!s->pcb)
		return;
	s->pcb = 0;
	if (!s->closed && !s->fin_delivered)
		vb_socket_set_pending(s, VB_PENDING_ERROR);
}

void vb_tcp_connect(vb_tcp *s, const struct sockaddr *address, socklen_t size)
{
	int fd;
	s->pcb = 1;
	vb_tcp_set_remote(s, address);
	vb_net_shape_for(s);
	if (vb_net_port_refused(s->remote_port)) {
		vb_tcp_lost(s, 0);   /* the SYN is answered with RST */
		return;
	}
	fd = vb_tcp_fd(socket(address->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), 1);
	if (fd < 0) {
		fprintf(stderr, "vboard: socket: %s\n", strerror(errno));
		vb_tcp_lost(s, 0);
		return;
	}
	s->fd = fd;
	if (connect(fd, address, size) == 0) {
		vb_tcp_names(s);
		vb_socket_set_pending(s, VB_PENDING_CONNECT);
	}
	else if (errno == EINPROGRESS)
		s->connecting = 1;
	else
		vb_tcp_lost(s, 0);
}

const char *vb_tcp_listen(vb_tcp *l)
{
	struct sockaddr_in address;
	int one = 1, fd;
	memset(&address, 0, sizeof(address));
	address.sin_family = AF_INET;
	address.sin_port = htons(l->port);
	address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = vb_tcp_fd(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), 0);
	if (fd < 0)
		return strerror(errno);
	/* a rebooted board binds its port again at once, as the device's
	   Listener does (SOF_REUSEADDR) */
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&address, sizeof(address)) || listen(fd, 16)) {
		const char *problem = strerror(errno);
		close(fd);
		return problem;
	}
	l->fd = fd;
	if (!l->port) {
		socklen_t size = sizeof(address);
		if (!getsockname(fd, (struct sockaddr *)&address, &size))
			l->port = ntohs(address.sin_port);
	}
	return NULL;
}

/* A refused port: peers get ECONNREFUSED, as from a board that does not
   listen; allowed again, the listener binds its port anew. */
void vb_tcp_listener_refuse(vb_tcp *l, int refuse)
{
	if (refuse && !l->refused) {
		if (l->fd >= 0)
			close(l->fd);
		l->fd = -1;
		l->refused = 1;
	}
	else if (!refuse && l->refused) {
		const char *problem;
		l->refused = 0;
		if ((problem = vb_tcp_listen(l)))
			fprintf(stderr, "vboard: listener on port %u cannot listen again: %s\n", l->port, problem);
	}
}

static size_t vb_tcp_unread(vb_tcp *s)
{
	int queued = 0;
	size_t bytes = s->in_wire.bytes + s->reader.bytes + (s->current ? s->current->size : 0);
	if (s->fd >= 0 && !s->connecting && ioctl(s->fd, FIONREAD, &queued) == 0 && queued > 0)
		bytes += (size_t)queued;
	return bytes;
}

void vb_tcp_close(vb_tcp *s)
{
	int i;
	if (s->is_listener) {
		/* the connections nobody took go with it (xs_listener_destructor) */
		for (i = 0; i < VB_LISTENER_QUEUE; i++) {
			vb_tcp *queued = s->accept[i];
			if (queued) {
				s->accept[i] = NULL;
				queued->closed = 1;
				if (queued->fd >= 0)
					vb_tcp_close_fd(queued->fd, 0);
				queued->fd = -1;
			}
		}
		if (s->fd >= 0)
			close(s->fd);
		s->fd = -1;
		return;
	}
	if (s->fd < 0)
		return;
	if (s->connecting || vb_tcp_unread(s)) {
		/* lwIP's tcp_close() answers data the application has not taken
		   with RST (tcp_close_shutdown: refused data or rcv_wnd not
		   restored by tcp_recved); a SYN_SENT pcb just goes */
		vb_tcp_lost(s, !s->connecting);
		return;
	}
	vb_chunks_clear(&s->in_wire);
	if (!s->out_wire.head) {
		vb_tcp_close_fd(s->fd, 0);
		s->fd = -1;
	}
	/* else written bytes still go, then the FIN (vb_net_dispatch) */
}

void vb_tcp_segment_read(vb_tcp *s)
{
	free(s->current);
	s->current = NULL;
	s->current_pos = 0;
}

size_t vb_tcp_kernel_unacked(vb_tcp *s)
{
	int queued = 0;
	if (s->fd < 0 || s->connecting || ioctl(s->fd, SIOCOUTQ, &queued) < 0 || queued < 0)
		return 0;
	return (size_t)queued;
}

size_t vb_tcp_room(vb_tcp *s)
{
	size_t unacked = s->out_wire.bytes - s->out_sent + vb_tcp_kernel_unacked(s);
	return unacked >= VB_TCP_SND_BUF ? 0 : VB_TCP_SND_BUF - unacked;
}

void vb_tcp_write(vb_tcp *s, const void *data, size_t size)
{
	if (!size || s->fd < 0)
		return;   /* a connection the shaper dropped swallows what is written */
	vb_chunks_push(&s->out_wire, vb_chunk_new(data, size, vb_net_now_us() + s->latency_us));
}

void vb_tcp_keepalive(vb_tcp *s, int idle_ms, int interval_ms, int count)
{
	int one = 1, idle = (idle_ms + 999) / 1000, interval = (interval_ms + 999) / 1000;
	if (s->fd < 0)
		return;
	setsockopt(s->fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	if (idle > 0)
		setsockopt(s->fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	if (interval > 0)
		setsockopt(s->fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof(interval));
	if (count > 0)
		setsockopt(s->fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof(count));
}

int vb_tcp_on_port(vb_tcp *s, int port)
{
	return port < 0 || s->local_port == port || s->remote_port == port;
}

int vb_tcp_matches(vb_tcp *s, int port)
{
	return !s->is_listener && s->fd >= 0 && vb_tcp_on_port(s, port);
}

void vb_tcp_drop(vb_tcp *s)
{
	uint8_t discard[4096];
	if (s->fd < 0)
		return;
	/* bytes the peer sent and nobody read would turn the close into RST:
	   they are lost on the way instead */
	while (recv(s->fd, discard, sizeof(discard), MSG_DONTWAIT) > 0)
		;
	vb_tcp_close_fd(s->fd, 0);
	s->fd = -1;
	s->connecting = 0;
	vb_chunks_clear(&s->in_wire);
	vb_chunks_clear(&s->out_wire);
	s->out_sent = 0;
	s->fin_read = 1;
	if (!s->closed && !s->fin_delivered)
		vb_tcp_fin_arrived(s);
}

void vb_tcp_reset(vb_tcp *s)
{
	vb_tcp_lost(s, 1);
}
