/*
 * The board's TCP connections and listeners, shared by the "socket" module
 * (vb_socket.c: what the firmware sees, Moddable 7.2.1's
 * modules/network/socket/lwip/modSocket.c), the host side (vb_tcp.c: real
 * loopback sockets standing in for lwIP's pcbs; vb_net_loop.c: their part
 * of the run loop) and the fault shaper (vb_net_faults.c).
 *
 * The limits are those of a Moddable ESP32 build: its
 * build/devices/esp32/xsProj-esp32/sdkconfig.defaults sets the lwIP options,
 * modSocket.c its queue lengths.
 */
#ifndef VB_TCP_H
#define VB_TCP_H

#include "xsmc.h"
#include "vb_host.h"

#include <netinet/in.h>

#define VB_TCP_MSS 1436          /* CONFIG_LWIP_TCP_MSS: one received segment at most */
#define VB_TCP_WND 8192          /* CONFIG_LWIP_TCP_WND_DEFAULT: received bytes not yet read */
#define VB_TCP_SND_BUF 8192      /* CONFIG_LWIP_TCP_SND_BUF_DEFAULT: tcp_sndbuf() when nothing is unacknowledged */
#define VB_TCP_PCBS 8            /* CONFIG_LWIP_MAX_ACTIVE_TCP = MEMP_NUM_TCP_PCB; esp-lwip's tcp_alloc counts listeners too */
#define VB_TCP_LISTEN_PCBS 4     /* CONFIG_LWIP_MAX_LISTENING_TCP */
#define VB_SOCKET_READ_QUEUE 6   /* MODDEF_SOCKET_READQUEUE: segments waiting behind the one being read */
#define VB_LISTENER_QUEUE 4      /* MODDEF_SOCKET_LISTENERQUEUE: accepted, not yet taken by new Socket({listener}) */

/* modSocket.c's pending bits, delivered in this order by one message */
enum {
	VB_PENDING_CONNECT = 1 << 0,
	VB_PENDING_ERROR = 1 << 1,
	VB_PENDING_DISCONNECT = 1 << 2,
	VB_PENDING_RECEIVE = 1 << 3,
	VB_PENDING_SENT = 1 << 4,
	VB_PENDING_ACCEPT = 1 << 5,
	VB_PENDING_CLOSE = 1 << 6,
};

/* Bytes crossing the emulated link; due_us is when they have crossed it. */
typedef struct vb_chunk vb_chunk;
struct vb_chunk {
	vb_chunk *next;
	int64_t due_us;
	size_t size;            /* 0 inbound: the peer's FIN */
	uint8_t data[];
};

typedef struct {
	vb_chunk *head, *tail;
	size_t bytes, count;
} vb_chunks;

typedef struct vb_tcp vb_tcp;
struct vb_tcp {
	vb_tcp *next;           /* every record, vb_tcp_all() */
	vb_tcp *posted_next;    /* the message queue (vb_socket.c) */
	int posted;
	int is_listener;
	int fd;                 /* the host socket, -1 once gone */

	/* what the firmware's object sees */
	xsMachine *the;
	xsSlot obj;             /* remembered from construction to close() */
	int constructed;        /* a JS object owns it (an accepted one is not owned until new Socket({listener})) */
	int closed;             /* close() called: no more callbacks, freed when the host is done with it */
	int suspended;
	uint8_t pending;
	int delivering;

	/* the device's pcb */
	int pcb;                /* lwIP would hold a tcp_pcb: counts against VB_TCP_PCBS, REMOTE_IP readable */
	int no_pcb;             /* accepted while none was free: lwIP hands Moddable a NULL pcb */
	int connecting;
	uint16_t local_port, remote_port;
	char remote_ip[INET6_ADDRSTRLEN];

	/* inbound: host socket -> in_wire (latency) -> reader -> current segment */
	vb_chunks in_wire, reader;
	vb_chunk *current;
	size_t current_pos;
	int fin_read;           /* the host socket is at its end */
	int fin_delivered;      /* lwIP's recv(NULL) happened: modSocket.c unhooks sent and err */
	int disconnected_while_reading;

	/* outbound: write() -> out_wire (latency, rate) -> host socket */
	vb_chunks out_wire;
	size_t out_sent;        /* bytes of out_wire's head already given to the host socket */
	uint32_t outstanding;   /* modSocket.c's outstandingSent */
	int want_write;
	int64_t ack_poll_us, ack_poll_step_us;

	/* the fault shaper */
	int64_t latency_us;
	double bytes_per_s;     /* 0: unlimited */
	int64_t in_next_us, out_next_us;
	int stalled;

	/* a listener */
	vb_tcp *accept[VB_LISTENER_QUEUE];
	uint16_t port;
	int refused;            /* closed on the host while a "refuse" holds its port */
	int dead;               /* no listen pcb was free: never accepts, as on the device */
};

/* vb_tcp.c: the host side */
vb_tcp *vb_tcp_all(void);
int vb_tcp_pcbs_in_use(void);
vb_tcp *vb_tcp_new(int is_listener);
void vb_tcp_connect(vb_tcp *s, const struct sockaddr *address, socklen_t size);
const char *vb_tcp_listen(vb_tcp *l);        /* NULL, or why binding failed */
void vb_tcp_listener_refuse(vb_tcp *l, int refuse);
void vb_tcp_close(vb_tcp *s);                /* the firmware's close() */
void vb_tcp_segment_read(vb_tcp *s);         /* the current segment was read to its end: tcp_recved() */
size_t vb_tcp_room(vb_tcp *s);               /* tcp_sndbuf() */
void vb_tcp_write(vb_tcp *s, const void *data, size_t size);
void vb_tcp_keepalive(vb_tcp *s, int idle_ms, int interval_ms, int count);
void vb_tcp_drop(vb_tcp *s);                 /* close towards the peer: it reads EOF, the firmware hears a FIN */
void vb_tcp_reset(vb_tcp *s);                /* abort: the peer gets RST, the firmware an error */
int vb_tcp_on_port(vb_tcp *s, int port);     /* local or remote port; -1 matches any */
int vb_tcp_matches(vb_tcp *s, int port);     /* a connection with a host socket, on that port */
void vb_tcp_leak_pcb(void);

/* vb_tcp.c, for vb_net_loop.c */
vb_chunk *vb_chunk_new(const void *data, size_t size, int64_t due_us);
void vb_chunks_push(vb_chunks *q, vb_chunk *c);
vb_chunk *vb_chunks_pop(vb_chunks *q);
void vb_chunks_clear(vb_chunks *q);
void vb_tcp_free(vb_tcp *s);
int vb_tcp_fd(int fd, int connection);       /* a new host socket made fit for the board, or -1 */
void vb_tcp_close_fd(int fd, int abortive);
void vb_tcp_names(vb_tcp *s);                /* local_port from the host socket */
void vb_tcp_set_remote(vb_tcp *s, const struct sockaddr *address);
void vb_tcp_fin_arrived(vb_tcp *s);          /* lwIP's recv(NULL) */
void vb_tcp_lost(vb_tcp *s, int send_reset); /* lwIP's err: the pcb is gone */
size_t vb_tcp_kernel_unacked(vb_tcp *s);

/* vb_socket.c: the firmware's side */
void vb_socket_set_pending(vb_tcp *s, uint8_t bits);  /* modSocket.c socketSetPending() */
int vb_socket_messages_queued(void);
void vb_socket_deliver_messages(xsMachine *the);

/* vb_net_faults.c: the supervisor's rules */
void vb_net_shape_for(vb_tcp *s);            /* applies the shape rule of its ports */
int vb_net_port_refused(uint16_t port);

#endif
