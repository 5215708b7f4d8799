/*
 * The sockets' part of the board's run loop (vb_loop.c): which host
 * sockets to wait for and how long, then their I/O. Received bytes are
 * taken as lwIP hands segments to modSocket.c, written ones go as the
 * emulated link lets them, acknowledgements become "writable", connects
 * complete, listeners accept; then the socket messages queued so far are
 * delivered (vb_socket.c). Everything here runs on real time
 * (CLOCK_MONOTONIC), whatever the board's clock.
 */
#include "vb_tcp.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#define VB_ACK_POLL_MIN_US 250     /* loopback acknowledges at once: look again soon... */
#define VB_ACK_POLL_MAX_US 50000   /* ...and less often while the peer's window stays shut */
#define VB_ACCEPTS_PER_TURN 8

static size_t vb_tcp_window_used(vb_tcp *s)
{
	return s->in_wire.bytes + s->reader.bytes + (s->current ? s->current->size : 0);
}

/* the firmware's connection, or one it closed that still sends */
static int vb_tcp_active(vb_tcp *s)
{
	return !s->is_listener && s->fd >= 0 && (s->constructed || s->closed);
}

/* lwIP announces its window again only once a segment fits
   (tcp_update_rcv_ann_wnd), so peers send whole segments */
static int vb_tcp_may_read(vb_tcp *s, int64_t now)
{
	return vb_tcp_active(s) && !s->closed && !s->connecting && !s->stalled && !s->fin_read
		&& vb_tcp_window_used(s) + VB_TCP_MSS <= VB_TCP_WND && !(s->bytes_per_s > 0 && now < s->in_next_us);
}

static int64_t vb_tcp_rate_delay_us(double bytes_per_s, size_t bytes)
{
	return (int64_t)((double)bytes * 1e6 / bytes_per_s);
}

static void vb_tcp_receive(vb_tcp *s, int64_t now)
{
	int turns;
	for (turns = 0; turns < 2 * VB_SOCKET_READ_QUEUE && vb_tcp_may_read(s, now); turns++) {
		uint8_t buffer[VB_TCP_MSS];
		ssize_t got = recv(s->fd, buffer, sizeof(buffer), 0);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				vb_tcp_lost(s, 0);   /* ECONNRESET: the peer's RST */
			return;
		}
		if (got == 0)
			s->fin_read = 1;
		vb_chunks_push(&s->in_wire, vb_chunk_new(buffer, (size_t)got, now + s->latency_us));
		if (s->bytes_per_s > 0)
			s->in_next_us = (s->in_next_us > now ? s->in_next_us : now) + vb_tcp_rate_delay_us(s->bytes_per_s, (size_t)got);
	}
}

/* Segments that have crossed the link go to modSocket.c's reader queue,
   didReceive() (1023-1037); a full queue refuses them (ERR_MEM) and they
   wait. */
static void vb_tcp_arrive(vb_tcp *s, int64_t now)
{
	while (s->in_wire.head && s->in_wire.head->due_us <= now) {
		vb_chunk *c = s->in_wire.head;
		if (c->size == 0) {
			free(vb_chunks_pop(&s->in_wire));
			vb_tcp_fin_arrived(s);
			continue;
		}
		if (s->reader.count >= VB_SOCKET_READ_QUEUE)
			break;
		vb_chunks_push(&s->reader, vb_chunks_pop(&s->in_wire));
		vb_socket_set_pending(s, VB_PENDING_RECEIVE);
	}
}

static void vb_tcp_send(vb_tcp *s, int64_t now, int writable)
{
	if (s->want_write && !writable)
		return;
	while (s->out_wire.head && s->fd >= 0) {
		vb_chunk *c = s->out_wire.head;
		size_t size = c->size - s->out_sent;
		ssize_t sent;
		if (c->due_us > now || (s->bytes_per_s > 0 && now < s->out_next_us))
			return;
		if (s->bytes_per_s > 0 && size > VB_TCP_MSS)
			size = VB_TCP_MSS;
		sent = send(s->fd, c->data + s->out_sent, size, MSG_NOSIGNAL);
		if (sent < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				s->want_write = 1;
			else
				vb_tcp_lost(s, 0);   /* EPIPE, ECONNRESET */
			return;
		}
		s->want_write = 0;
		s->out_sent += (size_t)sent;
		if (s->bytes_per_s > 0)
			s->out_next_us = (s->out_next_us > now ? s->out_next_us : now) + vb_tcp_rate_delay_us(s->bytes_per_s, (size_t)sent);
		if (s->out_sent == c->size) {
			free(vb_chunks_pop(&s->out_wire));
			s->out_sent = 0;
		}
		s->ack_poll_us = now;
		s->ack_poll_step_us = 0;
	}
}

/* didSend() (1042-1053): "writable" once everything written is acknowledged. */
static void vb_tcp_check_acks(vb_tcp *s, int64_t now)
{
	if (!s->outstanding || s->fin_delivered || s->connecting || s->fd < 0 || s->out_wire.head || now < s->ack_poll_us)
		return;
	if (vb_tcp_kernel_unacked(s) == 0) {
		s->outstanding = 0;
		vb_socket_set_pending(s, VB_PENDING_SENT);
		return;
	}
	s->ack_poll_step_us = s->ack_poll_step_us ? s->ack_poll_step_us * 2 : VB_ACK_POLL_MIN_US;
	if (s->ack_poll_step_us > VB_ACK_POLL_MAX_US)
		s->ack_poll_step_us = VB_ACK_POLL_MAX_US;
	s->ack_poll_us = now + s->ack_poll_step_us;
}

static void vb_tcp_connected(vb_tcp *s)
{
	int error = 0;
	socklen_t size = sizeof(error);
	if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &error, &size) < 0)
		error = errno;
	if (error) {
		vb_tcp_lost(s, 0);   /* ECONNREFUSED: lwIP's SYN answered by RST */
		return;
	}
	s->connecting = 0;
	vb_tcp_names(s);
	vb_net_shape_for(s);
	if (!s->closed)
		vb_socket_set_pending(s, VB_PENDING_CONNECT);
}

/* The firmware's close() takes effect once what it wrote before has gone: FIN. */
static void vb_tcp_finish_close(vb_tcp *s)
{
	if (s->closed && s->fd >= 0 && !s->out_wire.head) {
		vb_tcp_close_fd(s->fd, 0);
		s->fd = -1;
	}
}

static void vb_tcp_service(vb_tcp *s, fd_set *read_fds, fd_set *write_fds, int64_t now)
{
	if (!vb_tcp_active(s))
		return;
	if (s->connecting) {
		if (FD_ISSET(s->fd, write_fds))
			vb_tcp_connected(s);
		return;
	}
	if (s->stalled)
		return;
	if (!s->closed) {
		if (FD_ISSET(s->fd, read_fds))
			vb_tcp_receive(s, now);
		vb_tcp_arrive(s, now);
	}
	if (s->fd >= 0)
		vb_tcp_send(s, now, FD_ISSET(s->fd, write_fds));
	if (s->fd >= 0 && !s->closed)
		vb_tcp_check_acks(s, now);
	vb_tcp_finish_close(s);
}

/* lwIP's accept, modSocket.c didAccept() (1228-1277): the connection
   waits in the listener's queue for new Socket({listener}). */
static void vb_tcp_accept(vb_tcp *l)
{
	int turns;
	for (turns = 0; turns < VB_ACCEPTS_PER_TURN; turns++) {
		struct sockaddr_storage address;
		socklen_t size = sizeof(address);
		int fd = accept(l->fd, (struct sockaddr *)&address, &size);
		int slot, full;
		vb_tcp *s;
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return;
		}
		fd = vb_tcp_fd(fd, 1);
		if (fd < 0)
			continue;
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
		fcntl(fd, F_SETFD, FD_CLOEXEC);
		for (slot = 0; slot < VB_LISTENER_QUEUE && l->accept[slot]; slot++)
			;
		if (slot == VB_LISTENER_QUEUE) {
			fprintf(stderr, "vboard: tcp accept queue full (port %u): connection reset\n", l->port);
			vb_tcp_close_fd(fd, 1);   /* didAccept returns ERR_ABRT: lwIP aborts it */
			continue;
		}
		full = vb_tcp_pcbs_in_use() >= VB_TCP_PCBS;
		s = vb_tcp_new(0);
		s->fd = fd;
		s->the = l->the;
		s->local_port = l->port;
		vb_tcp_set_remote(s, (struct sockaddr *)&address);
		if (full) {
			/* tcp_listen_input() could not allocate a pcb and tells the
			   listener so with a NULL one, which Moddable queues as if it
			   were a connection (vb_socket.c: what new Socket() then does) */
			s->no_pcb = 1;
			fprintf(stderr, "vboard: connection to port %u from port %u arrived with all %d TCP pcbs in use\n", l->port, s->remote_port, VB_TCP_PCBS);
		}
		else
			s->pcb = 1;
		vb_net_shape_for(s);
		l->accept[slot] = s;
		vb_socket_set_pending(l, VB_PENDING_ACCEPT);
	}
}

static void vb_tcp_sweep(void)
{
	vb_tcp *s, *next;
	for (s = vb_tcp_all(); s; s = next) {
		next = s->next;
		if (s->closed && !s->posted && (s->is_listener || s->fd < 0))
			vb_tcp_free(s);
	}
}

void vb_net_flush(void)
{
	int64_t now = vb_net_now_us();
	vb_tcp *s;
	for (s = vb_tcp_all(); s; s = s->next) {
		if (s->is_listener || !vb_tcp_active(s) || s->stalled || s->connecting)
			continue;
		vb_tcp_send(s, now, 0);
		vb_tcp_finish_close(s);
	}
}

int vb_net_watch(void *read_set, void *write_set, int *max_fd)
{
	fd_set *read_fds = read_set, *write_fds = write_set;
	int64_t now = vb_net_now_us();
	int alive = 0;
	vb_tcp *s;
	for (s = vb_tcp_all(); s; s = s->next) {
		int fd = s->fd;
		if (s->is_listener) {
			if (s->closed)
				continue;
			alive++;
			if (fd >= 0)
				FD_SET(fd, read_fds);
		}
		else {
			if ((s->constructed && !s->closed) || (s->closed && fd >= 0))
				alive++;
			if (!vb_tcp_active(s) || s->stalled)
				continue;
			if (vb_tcp_may_read(s, now))
				FD_SET(fd, read_fds);
			if (s->connecting || (s->out_wire.head && s->want_write))
				FD_SET(fd, write_fds);
		}
		if (fd > *max_fd && fd >= 0 && (FD_ISSET(fd, read_fds) || FD_ISSET(fd, write_fds)))
			*max_fd = fd;
	}
	return alive;
}

int64_t vb_net_timeout_us(void)
{
	int64_t now = vb_net_now_us(), next = INT64_MAX;
	vb_tcp *s;
	if (vb_socket_messages_queued())
		return 0;
	for (s = vb_tcp_all(); s; s = s->next) {
		int queued = 0;
		if (!vb_tcp_active(s) || s->connecting || s->stalled)
			continue;
		if (s->in_wire.head && (s->in_wire.head->size == 0 || s->reader.count < VB_SOCKET_READ_QUEUE) && s->in_wire.head->due_us < next)
			next = s->in_wire.head->due_us;
		if (s->bytes_per_s > 0 && now < s->in_next_us && s->in_next_us < next && !s->closed && !s->fin_read
			&& ioctl(s->fd, FIONREAD, &queued) == 0 && queued > 0)
			next = s->in_next_us;
		if (s->out_wire.head && !s->want_write) {
			int64_t due = s->out_wire.head->due_us;
			if (s->bytes_per_s > 0 && s->out_next_us > due)
				due = s->out_next_us;
			if (due < next)
				next = due;
		}
		if (s->outstanding && !s->fin_delivered && !s->out_wire.head && !s->closed && s->ack_poll_us < next)
			next = s->ack_poll_us;
	}
	if (next == INT64_MAX)
		return -1;
	return next > now ? next - now : 0;
}

void vb_net_dispatch(void *machine, void *read_set, void *write_set)
{
	int64_t now = vb_net_now_us();
	vb_tcp *s, *next;
	for (s = vb_tcp_all(); s; s = next) {
		next = s->next;
		if (s->is_listener) {
			if (!s->closed && s->fd >= 0 && FD_ISSET(s->fd, (fd_set *)read_set))
				vb_tcp_accept(s);
		}
		else
			vb_tcp_service(s, read_set, write_set, now);
	}
	vb_tcp_sweep();
	vb_socket_deliver_messages(machine);
}
