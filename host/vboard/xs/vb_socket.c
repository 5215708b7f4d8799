/*
 * The "socket" module: Moddable's classic Socket and Listener as the ESP32
 * build of Moddable SDK 7.2.1 gives them (modules/network/socket/socket.js
 * over lwip/modSocket.c), TCP only, over the host sockets of vb_tcp.c.
 *
 * What the firmware sees follows modSocket.c, to the wording of its errors
 * and its quirks; the comments give the lines of that file. In short:
 * - callbacks come from messages: bits are set as events happen
 *   (socketSetPending) and one message delivers them all, in the order
 *   connected, readable, writable, disconnected, error (socketClearPending);
 *   each message is a task of its own here (promise jobs run after it);
 * - readable announces one received segment (at most an MSS), and read()
 *   reads from that segment only; what the callback leaves unread is kept,
 *   and no further readable comes until the segment has been read to its
 *   end, which read() then posts;
 * - writable comes when everything written has been acknowledged, with the
 *   room in the send buffer; write() refuses more than the room;
 * - a disconnect waits until the data that came before it has been read.
 */
#include "vb_tcp.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

void xs_socket_destructor(void *data);
void xs_listener_destructor(void *data);

static vb_tcp *gPostedHead, *gPostedTail;

/* ---- messages ---- */

static void vb_socket_post(vb_tcp *s)
{
	if (s->posted)
		return;
	s->posted = 1;
	s->posted_next = NULL;
	if (gPostedTail)
		gPostedTail->posted_next = s;
	else
		gPostedHead = s;
	gPostedTail = s;
}

/* socketSetPending() (1279-1302): the first bit posts a message, bits set
   before it is delivered ride along, nothing is posted after close or for
   an accepted socket nobody has taken yet, and a suspended socket keeps its
   bits until it is resumed. */
void vb_socket_set_pending(vb_tcp *s, uint8_t bits)
{
	int schedule;
	if ((s->pending & bits) == bits || (s->pending & VB_PENDING_CLOSE))
		return;
	schedule = s->pending == 0;
	s->pending |= bits;
	if (schedule && (s->constructed || (bits & VB_PENDING_ACCEPT)) && !s->suspended)
		vb_socket_post(s);
}

int vb_socket_messages_queued(void)
{
	return gPostedHead != NULL;
}

static void vb_socket_call(vb_tcp *s, int message, int value, int has_value)
{
	xsMachine *machine = s->the;
	xsBeginHost(machine);   /* an exception thrown by the callback panics, as a timer's does */
	{
		if (has_value)
			xsCall2(s->obj, xsID("callback"), xsInteger(message), xsInteger(value));
		else
			xsCall1(s->obj, xsID("callback"), xsInteger(message));
	}
	xsEndHost(machine);
}

#define VB_CLOSED(s) ((s)->pending & VB_PENDING_CLOSE)

/* socketMsgDataReceived() (839-923) */
static void vb_socket_received(vb_tcp *s)
{
	if (s->current && s->current_pos < s->current->size)
		return;   /* 847-849: the segment being read is not finished; it stays, no new message */
	if (s->current)
		vb_tcp_segment_read(s);
	{
		vb_chunk *c = s->reader.head;
		if (!c)
			return;
		s->reader.head = c->next;
		if (!s->reader.head)
			s->reader.tail = NULL;
		s->reader.bytes -= c->size;
		s->reader.count--;
		c->next = NULL;
		s->current = c;
		s->current_pos = 0;
	}
	vb_socket_call(s, 2, (int)s->current->size, 1);
}

/* listenerMsgNew() (1207-1221): once per connection waiting in the queue */
static void vb_listener_announce(vb_tcp *l)
{
	int i;
	for (i = 0; i < VB_LISTENER_QUEUE; i++) {
		if (l->accept[i])
			vb_socket_call(l, 1, 0, 0);
	}
}

/* socketClearPending() (1304-1352) */
static void vb_socket_deliver(vb_tcp *s)
{
	uint8_t pending;
	if (s->suspended)
		return;   /* 1309: the bits stay for suspend(false) */
	pending = s->pending;
	s->pending &= VB_PENDING_CLOSE;
	if (!pending || (pending & VB_PENDING_CLOSE))
		return;
	if (s->is_listener) {
		if (pending & VB_PENDING_ACCEPT)
			vb_listener_announce(s);
		return;
	}
	if ((pending & VB_PENDING_CONNECT) && !VB_CLOSED(s) && s->pcb)   /* 816: only with a pcb */
		vb_socket_call(s, 1, 0, 0);
	if ((pending & VB_PENDING_RECEIVE) && !VB_CLOSED(s))
		vb_socket_received(s);
	if ((pending & VB_PENDING_SENT) && !VB_CLOSED(s))
		vb_socket_call(s, 3, s->pcb ? (int)vb_tcp_room(s) : 0, 1);
	if ((pending & VB_PENDING_DISCONNECT) && !VB_CLOSED(s))
		vb_socket_call(s, -1, 0, 0);
	if ((pending & VB_PENDING_ERROR) && !VB_CLOSED(s))
		vb_socket_call(s, -2, 0, 0);
}

/* The messages queued so far, each a task of its own; those they post wait
   for the next turn of the run loop, after the timers (as the device's
   modMessageService() serves the messages waiting when it starts). */
void vb_socket_deliver_messages(xsMachine *the)
{
	vb_tcp *last = gPostedTail;
	while (gPostedHead) {
		vb_tcp *s = gPostedHead;
		gPostedHead = s->posted_next;
		if (!gPostedHead)
			gPostedTail = NULL;
		s->posted = 0;
		s->posted_next = NULL;
		vb_socket_deliver(s);
		vb_run_jobs(the);
		if (s == last)
			break;
	}
}

/* ---- the objects ---- */

/* xsmcGetHostDataValidate() as XS 7.2.1 words it for a closed socket (its
   destructor cleared by close()), so firmware sees the device's message */
static vb_tcp *vb_host_data(xsMachine *the, xsSlot *slot, xsDestructor destructor)
{
	vb_tcp *s = xsmcGetHostData(*slot);   /* not a host object at all: XS says so */
	if (xsGetHostDestructor(*slot) != destructor || !s)
		xsSyntaxError("C: xsGetHostData: invalid host data");
	return s;
}

static void vb_socket_own(xsMachine *the, vb_tcp *s)
{
	s->the = the;
	s->obj = xsThis;
	s->constructed = 1;
	/* no XS allocation between these two: a collection could take the object */
	xsmcSetHostData(xsThis, s);
	xsRemember(s->obj);
}

/* configureSocketTCP() (783-809); noDelay needs nothing: the host socket never delays */
static void vb_socket_configure(xsMachine *the, vb_tcp *s)
{
	int idle = 0, interval = 0, count = 0;
	xsmcGet(xsVar(0), xsArg(0), xsID("keepalive"));
	if (!xsmcTest(xsVar(0)))
		return;
	xsmcGet(xsVar(1), xsVar(0), xsID("enable"));
	if (!xsmcTest(xsVar(1)))
		return;
	if (xsmcHas(xsVar(0), xsID("idle"))) {
		xsmcGet(xsVar(1), xsVar(0), xsID("idle"));
		idle = xsmcToInteger(xsVar(1));
	}
	if (xsmcHas(xsVar(0), xsID("interval"))) {
		xsmcGet(xsVar(1), xsVar(0), xsID("interval"));
		interval = xsmcToInteger(xsVar(1));
	}
	if (xsmcHas(xsVar(0), xsID("count"))) {
		xsmcGet(xsVar(1), xsVar(0), xsID("count"));
		count = xsmcToInteger(xsVar(1));
	}
	vb_tcp_keepalive(s, idle, interval, count);
}

/* new Socket({listener}) (209-252) */
static void vb_socket_accept(xsMachine *the)
{
	vb_tcp *l, *s = NULL;
	uint8_t pending;
	int i;
	xsmcGet(xsVar(0), xsArg(0), xsID("listener"));
	l = vb_host_data(the, &xsVar(0), xs_listener_destructor);
	for (i = 0; i < VB_LISTENER_QUEUE && !s; i++) {
		s = l->accept[i];
		l->accept[i] = NULL;
	}
	if (!s)
		xsUnknownError("no socket avaiable from listener");   /* sic, 251 */
	if (s->no_pcb)   /* 230 writes xss->skt->so_options with skt NULL */
		vb_panic("LoadProhibited", "new Socket({listener}) took a connection that lwIP accepted with a NULL pcb, all "
			"CONFIG_LWIP_MAX_ACTIVE_TCP pcbs being in use (Moddable 7.2.1 lwip/modSocket.c dereferences it)");
	vb_socket_own(the, s);
	vb_socket_configure(the, s);
	pending = VB_PENDING_CONNECT | s->pending;   /* 218, 237-243 */
	s->pending = 0;
	vb_socket_set_pending(s, pending);
}

/* The host name lwIP's DNS would resolve, IPv4 first as lwIP asks for it. */
static int vb_socket_resolve(const char *host, uint16_t port, struct sockaddr_storage *address, socklen_t *size)
{
	struct addrinfo hints, *found, *pick = NULL, *a;
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, NULL, &hints, &found))
		return -1;
	for (a = found; a && !pick; a = a->ai_next)
		if (a->ai_family == AF_INET)
			pick = a;
	for (a = found; a && !pick; a = a->ai_next)
		if (a->ai_family == AF_INET6)
			pick = a;
	if (pick) {
		memcpy(address, pick->ai_addr, pick->ai_addrlen);
		*size = pick->ai_addrlen;
		((struct sockaddr_in *)address)->sin_port = htons(port);   /* same place in sockaddr_in6 */
	}
	freeaddrinfo(found);
	return pick ? 0 : -1;
}

/* lwIP's ipaddr_aton(): dotted IPv4 (inet_aton's forms) or IPv6 */
static int vb_socket_parse_address(const char *text, uint16_t port, struct sockaddr_storage *address, socklen_t *size)
{
	struct sockaddr_in *v4 = (struct sockaddr_in *)address;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)address;
	memset(address, 0, sizeof(*address));
	if (inet_aton(text, &v4->sin_addr)) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons(port);
		*size = sizeof(*v4);
		return 0;
	}
	if (inet_pton(AF_INET6, text, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons(port);
		*size = sizeof(*v6);
		return 0;
	}
	return -1;
}

/* new Socket(dictionary) (191-414): checks in the device's order, then
   the pcb, then a non-blocking connect whose outcome comes as a message */
void xs_socket(xsMachine *the)
{
	struct sockaddr_storage address;
	socklen_t size = 0;
	char text[256];
	int resolved;
	uint16_t port = 0;
	vb_tcp *s;

	xsmcVars(2);
	if (xsmcArgc < 1 || xsmcTypeOf(xsArg(0)) != xsReferenceType)
		xsUnknownError("invalid dictionary");
	if (xsmcHas(xsArg(0), xsID("listener"))) {
		vb_socket_accept(the);
		return;
	}
	if (xsmcHas(xsArg(0), xsID("kind"))) {
		const char *kind;
		xsmcGet(xsVar(0), xsArg(0), xsID("kind"));
		kind = xsmcToString(xsVar(0));
		if (!strcmp(kind, "UDP") || !strcmp(kind, "RAW"))
			xsUnknownError("%s sockets are not emulated by the virtual board (TCP only)", kind);
		if (strcmp(kind, "TCP"))
			xsUnknownError("invalid socket kind");
	}
	if (xsmcHas(xsArg(0), xsID("port"))) {
		xsmcGet(xsVar(0), xsArg(0), xsID("port"));
		port = (uint16_t)xsmcToInteger(xsVar(0));   /* xss->port is 16 bits */
	}
	if (vb_tcp_pcbs_in_use() >= VB_TCP_PCBS)
		xsUnknownError("failed to allocate socket");   /* 321: tcp_new() found no pcb */
	memset(&address, 0, sizeof(address));
	if (xsmcHas(xsArg(0), xsID("host"))) {
		xsmcGet(xsVar(0), xsArg(0), xsID("host"));
		xsmcToStringBuffer(xsVar(0), text, sizeof(text));
		resolved = vb_socket_resolve(text, port, &address, &size) == 0;
	}
	else if (xsmcHas(xsArg(0), xsID("address"))) {
		xsmcGet(xsVar(0), xsArg(0), xsID("address"));
		xsmcToStringBuffer(xsVar(0), text, sizeof(text));
		if (vb_socket_parse_address(text, port, &address, &size))
			xsUnknownError("invalid IP address");
		resolved = 1;
	}
	else
		xsUnknownError("invalid dictionary");

	s = vb_tcp_new(0);
	vb_socket_own(the, s);
	if (resolved)
		vb_tcp_connect(s, (struct sockaddr *)&address, size);
	else
		vb_socket_set_pending(s, VB_PENDING_ERROR);   /* didFindDNS() without an address (950) */
	vb_socket_configure(the, s);
}

/* Only a JS object that was never remembered can be collected: one whose
   construction failed. Closed ones have no destructor anymore. */
static void vb_tcp_destroy(void *data)
{
	vb_tcp *s = data;
	if (s && !s->closed) {
		s->pending |= VB_PENDING_CLOSE;
		s->closed = 1;
		vb_tcp_close(s);
	}
}

void xs_socket_destructor(void *data)
{
	vb_tcp_destroy(data);
}

/* close() of a socket or a listener: the JS object lets go of it (no
   destructor, no host data, no longer remembered), then it closes. */
static void vb_detach_and_close(xsMachine *the, vb_tcp *s, xsDestructor destructor)
{
	vb_host_data(the, &xsThis, destructor);
	xsmcSetHostDestructor(xsThis, NULL);
	xsmcSetHostData(xsThis, NULL);
	xsForget(s->obj);
	s->pending |= VB_PENDING_CLOSE;
	s->closed = 1;
	vb_tcp_close(s);
}

/* close() (462-484): no callbacks after it; the connection closes (RST if
   received data was left unread, else FIN once written data has gone) */
void xs_socket_close(xsMachine *the)
{
	vb_tcp *s = xsmcGetHostData(xsThis);
	if (!s)
		return;   /* closed already: nothing, as on the device */
	vb_detach_and_close(the, s, xs_socket_destructor);
}

/* get(name) (486-495): "REMOTE_IP" while there is a pcb; nothing else in 7.2.1 */
void xs_socket_get(xsMachine *the)
{
	vb_tcp *s = vb_host_data(the, &xsThis, xs_socket_destructor);
	const char *name = xsmcToString(xsArg(0));
	if (s->pcb && !strcmp(name, "REMOTE_IP"))
		xsmcSetString(xsResult, s->remote_ip);
}

/* A segment read to its end (582-603): lwIP may open its window
   (tcp_recved) and the next queued segment, or the disconnect that waited
   behind the data, gets its message. */
static void vb_socket_segment_done(vb_tcp *s)
{
	vb_tcp_segment_read(s);
	if (s->reader.count)
		vb_socket_set_pending(s, VB_PENDING_RECEIVE);
	else if (s->disconnected_while_reading)
		vb_socket_set_pending(s, VB_PENDING_DISCONNECT);
}

/* The destination of read(): a constructor compared by identity (562-578) */
static int vb_socket_is_global(xsMachine *the, const char *name)
{
	xsmcGet(xsVar(0), xsGlobal, xsID(name));
	return vb_slots_identical(the, &xsArg(0), &xsVar(0));
}

/* read() -> bytes left in the segment; read(type[, count | terminator]) (497-604) */
void xs_socket_read(xsMachine *the)
{
	vb_tcp *s = vb_host_data(the, &xsThis, xs_socket_destructor);
	int argc = xsmcArgc;
	uint16_t available;   /* 16 bits, as the device's srcBytes */
	uint8_t *data;

	if (!s->current || s->current_pos >= s->current->size) {
		if (argc == 0) {
			xsmcSetInteger(xsResult, 0);
			return;
		}
		xsUnknownError("nothing to read");
	}
	data = s->current->data + s->current_pos;
	available = (uint16_t)(s->current->size - s->current_pos);
	if (argc == 0) {
		xsmcSetInteger(xsResult, available);
		return;
	}
	if (argc > 1) {
		xsType limiter = xsmcTypeOf(xsArg(1));
		if (limiter == xsNumberType || limiter == xsIntegerType) {
			uint16_t count = (uint16_t)xsmcToInteger(xsArg(1));
			if (count < available)
				available = count;
		}
		else if (limiter == xsStringType) {
			/* c_strchr() on the segment: found before a NUL byte, the
			   terminator is included */
			uint8_t terminator = (uint8_t)xsmcToString(xsArg(1))[0];
			uint16_t i;
			for (i = 0; terminator && i < available && data[i]; i++) {
				if (data[i] == terminator) {
					available = i + 1;
					break;
				}
			}
		}
	}
	switch (xsmcTypeOf(xsArg(0))) {
	case xsNullType:
		xsmcSetInteger(xsResult, available);   /* skips the bytes */
		break;
	case xsReferenceType:
		xsmcVars(1);
		if (vb_socket_is_global(the, "String"))
			xsmcSetStringBuffer(xsResult, (char *)data, available);
		else if (vb_socket_is_global(the, "Number")) {
			xsmcSetInteger(xsResult, data[0]);
			available = 1;
		}
		else if (vb_socket_is_global(the, "ArrayBuffer"))
			xsmcSetArrayBuffer(xsResult, data, available);
		else
			xsUnknownError("unsupported output type");
		break;
	default:
		break;   /* undefined, a number...: the bytes are consumed, nothing returned */
	}
	s->current_pos += available;
	if (s->current_pos == s->current->size)
		vb_socket_segment_done(s);
}

/* write() -> room; write(data...) (606-763): all or nothing, lengths in 16 bits */
void xs_socket_write(xsMachine *the)
{
	vb_tcp *s = vb_host_data(the, &xsThis, xs_socket_destructor);
	int argc = xsmcArgc, pass, i;
	uint16_t available, needed = 0;

	if (s->suspended)
		xsUnknownError("suspended");
	if (!s->pcb || (s->pending & (VB_PENDING_ERROR | VB_PENDING_DISCONNECT))) {
		if (argc == 0) {
			xsmcSetInteger(xsResult, 0);
			return;
		}
		fprintf(stderr, "vboard: write on closed socket\n");   /* the device's xsTrace, on its console */
		return;
	}
	available = (uint16_t)vb_tcp_room(s);
	if (argc == 0) {
		xsmcSetInteger(xsResult, available);
		return;
	}
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < argc; i++) {
			xsType type = xsmcTypeOf(xsArg(i));
			void *bytes = NULL;
			xsUnsignedValue size;
			uint8_t byte;
			if (type == xsStringType) {
				bytes = xsmcToString(xsArg(i));
				size = (xsUnsignedValue)strlen(bytes);
			}
			else if (type == xsNumberType || type == xsIntegerType) {
				byte = (uint8_t)xsmcToInteger(xsArg(i));
				bytes = &byte;
				size = 1;
			}
			else if (type == xsReferenceType)
				xsmcGetBufferReadable(xsArg(i), &bytes, &size);
			else
				xsUnknownError("unsupported type for write");
			if (pass == 0)
				needed += (uint16_t)size;
			else
				vb_tcp_write(s, bytes, (uint16_t)size);   /* tcp_write()'s len is a u16_t */
		}
		if (pass == 0 && needed > available) {
			available = (uint16_t)vb_tcp_room(s);   /* 752: after tcp_output(), once more */
			if (needed > available)
				xsUnknownError("can't write all data");
		}
	}
	s->outstanding += needed;
}

/* suspend([flag]) -> flag (765-781): no messages while suspended */
void xs_socket_suspend(xsMachine *the)
{
	vb_tcp *s = vb_host_data(the, &xsThis, xs_socket_destructor);
	if (xsmcArgc) {
		int suspended = xsmcToBoolean(xsArg(0)) ? 1 : 0;
		if (suspended != s->suspended) {
			s->suspended = suspended;
			if (!suspended && s->pending)
				vb_socket_post(s);
		}
	}
	xsmcSetBoolean(xsResult, s->suspended);
}

/* new Listener({port}) (1114-1167), on 127.0.0.1 */
void xs_listener(xsMachine *the)
{
	uint16_t port = 0;
	int listeners = 0;
	const char *problem;
	vb_tcp *l;
	xsmcVars(1);
	if (xsmcArgc < 1 || xsmcTypeOf(xsArg(0)) != xsReferenceType)
		xsUnknownError("invalid dictionary");
	if (xsmcHas(xsArg(0), xsID("port"))) {
		xsmcGet(xsVar(0), xsArg(0), xsID("port"));
		port = (uint16_t)xsmcToInteger(xsVar(0));
	}
	if (vb_tcp_pcbs_in_use() >= VB_TCP_PCBS)
		xsUnknownError("socket allocation failed");
	if (xsmcHas(xsArg(0), xsID("address"))) {
		xsmcGet(xsVar(0), xsArg(0), xsID("address"));
		if (xsmcTest(xsVar(0))) {
			char text[64];
			struct in_addr ignored;
			struct in6_addr ignored6;
			xsmcToStringBuffer(xsVar(0), text, sizeof(text));
			if (!inet_aton(text, &ignored) && inet_pton(AF_INET6, text, &ignored6) != 1)
				xsUnknownError("invalid IP address");
		}
	}
	for (l = vb_tcp_all(); l; l = l->next)
		listeners += l->is_listener && !l->closed && !l->dead;
	l = vb_tcp_new(1);
	l->port = port;
	if (listeners >= VB_TCP_LISTEN_PCBS) {
		/* tcp_listen() finds no listen pcb and returns NULL: the listener
		   never accepts, and the bound pcb stays allocated for good */
		l->dead = 1;
		vb_tcp_leak_pcb();
		fprintf(stderr, "vboard: Listener on port %u: all %d listen pcbs in use (CONFIG_LWIP_MAX_LISTENING_TCP): it will never accept\n", port, VB_TCP_LISTEN_PCBS);
	}
	else if ((problem = vb_tcp_listen(l))) {
		l->closed = 1;
		fprintf(stderr, "vboard: Listener on port %u: %s\n", port, problem);
		xsUnknownError("socket bind");
	}
	vb_socket_own(the, l);
	if (vb_net_port_refused(l->port))
		vb_tcp_listener_refuse(l, 1);
}

void xs_listener_destructor(void *data)
{
	vb_tcp_destroy(data);
}

/* close() (1189-1205) */
void xs_listener_close(xsMachine *the)
{
	vb_tcp *l = xsmcGetHostData(xsThis);
	if (!l || (l->pending & VB_PENDING_CLOSE)) {
		fprintf(stderr, "vboard: close on closed listener\n");   /* the device's xsTrace */
		return;
	}
	vb_detach_and_close(the, l, xs_listener_destructor);
}
