/*
 * Network faults for the tests: the supervisor's link messages
 * {"t":"net","op":...} act on the board's connections (vb_tcp.c) and are
 * answered on fd 4 with what they matched, so a test can await the fault
 * before it goes on (README "Network faults").
 *
 * "shape" and "refuse" are rules on a port, held until changed: they also
 * apply to the connections and listeners made later (a reconnect meets the
 * same network). "stall", "resume", "drop" and "reset" act on the
 * connections open now. A connection matches a port by its local or its
 * remote one; a message without "port" matches them all.
 */
#include "vb_tcp.h"

#include <stdarg.h>

#define VB_NET_RULES 32

typedef struct {
	int port;               /* -1: every connection */
	int64_t latency_us;
	double bytes_per_s;
} vb_shape_rule;

static vb_shape_rule gShapes[VB_NET_RULES];
static int gShapeCount;
static int gRefused[VB_NET_RULES];   /* ports, -1 for all */
static int gRefusedCount;

void vb_net_shape_for(vb_tcp *s)
{
	const vb_shape_rule *rule = NULL;
	int i;
	for (i = 0; i < gShapeCount && !rule; i++)
		if (gShapes[i].port >= 0 && vb_tcp_on_port(s, gShapes[i].port))
			rule = &gShapes[i];
	for (i = 0; i < gShapeCount && !rule; i++)
		if (gShapes[i].port < 0)
			rule = &gShapes[i];
	s->latency_us = rule ? rule->latency_us : 0;
	s->bytes_per_s = rule ? rule->bytes_per_s : 0;
}

int vb_net_port_refused(uint16_t port)
{
	int i;
	for (i = 0; i < gRefusedCount; i++)
		if (gRefused[i] < 0 || gRefused[i] == port)
			return 1;
	return 0;
}

/* ---- the reply ---- */

typedef struct {
	char *text;
	size_t size, capacity;
} vb_reply;

static void vb_reply_add(vb_reply *r, const char *format, ...) __attribute__((format(printf, 2, 3)));
static void vb_reply_add(vb_reply *r, const char *format, ...)
{
	va_list arguments;
	int length;
	va_start(arguments, format);
	length = vsnprintf(NULL, 0, format, arguments);
	va_end(arguments);
	if (length < 0)
		return;
	if (r->size + (size_t)length + 1 > r->capacity) {
		size_t capacity = (r->size + (size_t)length + 1) * 2;
		char *text = realloc(r->text, capacity);
		if (!text)
			return;
		r->text = text;
		r->capacity = capacity;
	}
	va_start(arguments, format);
	vsnprintf(r->text + r->size, r->capacity - r->size, format, arguments);
	va_end(arguments);
	r->size += (size_t)length;
}

/* ---- the operations ---- */

static int vb_net_shape(int port, double latency_ms, double bytes_per_s)
{
	int i, matched = 0;
	vb_tcp *s;
	for (i = 0; i < gShapeCount && gShapes[i].port != port; i++)
		;
	if (latency_ms <= 0 && bytes_per_s <= 0) {
		if (i < gShapeCount)
			gShapes[i] = gShapes[--gShapeCount];
	}
	else {
		if (i == gShapeCount)
			gShapeCount++;
		gShapes[i].port = port;
		gShapes[i].latency_us = llround(latency_ms * 1000.0);
		gShapes[i].bytes_per_s = bytes_per_s > 0 ? bytes_per_s : 0;
	}
	for (s = vb_tcp_all(); s; s = s->next) {
		if (vb_tcp_matches(s, port))
			matched++;
		vb_net_shape_for(s);
	}
	return matched;
}

static int vb_net_refuse(int port, int refuse)
{
	int i, matched = 0;
	vb_tcp *l;
	for (i = 0; i < gRefusedCount && gRefused[i] != port; i++)
		;
	if (refuse && i == gRefusedCount)
		gRefused[gRefusedCount++] = port;
	else if (!refuse) {
		for (i = 0; i < gRefusedCount; )
			if (port < 0 || gRefused[i] == port)
				gRefused[i] = gRefused[--gRefusedCount];
			else
				i++;
	}
	for (l = vb_tcp_all(); l; l = l->next) {
		int now;
		if (!l->is_listener || l->closed || l->dead)
			continue;
		now = vb_net_port_refused(l->port);
		if (now != l->refused) {
			vb_tcp_listener_refuse(l, now);
			matched++;
		}
	}
	return matched;
}

static int vb_net_connections(int port, const char *op)
{
	int matched = 0;
	vb_tcp *s, *next;
	for (s = vb_tcp_all(); s; s = next) {
		next = s->next;
		if (!vb_tcp_matches(s, port))
			continue;
		if (!strcmp(op, "stall") || !strcmp(op, "resume")) {
			s->stalled = op[0] == 's';
			matched++;
		}
		else if (s->fd >= 0 && !s->connecting) {
			if (op[0] == 'd')
				vb_tcp_drop(s);
			else
				vb_tcp_reset(s);
			matched++;
		}
	}
	return matched;
}

static int vb_net_clear(void)
{
	int matched = 0;
	vb_tcp *s;
	for (s = vb_tcp_all(); s; s = s->next)
		if (vb_tcp_matches(s, -1) && (s->stalled || s->latency_us || s->bytes_per_s > 0))
			matched++;
	gShapeCount = 0;
	for (s = vb_tcp_all(); s; s = s->next) {
		s->stalled = 0;
		vb_net_shape_for(s);
	}
	return matched + vb_net_refuse(-1, 0);
}

static const char *vb_tcp_state(vb_tcp *s)
{
	if (s->connecting)
		return "connecting";
	if (s->closed)
		return "closing";
	if (!s->constructed)
		return s->no_pcb ? "queued without pcb" : "queued";
	return s->fin_read ? "peer closed" : "open";
}

static void vb_net_list(vb_reply *r)
{
	const char *separator = "";
	vb_tcp *s;
	vb_reply_add(r, ",\"connections\":[");
	for (s = vb_tcp_all(); s; s = s->next) {
		if (!vb_tcp_matches(s, -1))
			continue;
		vb_reply_add(r, "%s{\"local\":%u,\"remote\":%u,\"state\":\"%s\",\"stalled\":%s,\"latency_ms\":%g,\"bytes_per_s\":%g}",
			separator, s->local_port, s->remote_port, vb_tcp_state(s), s->stalled ? "true" : "false",
			(double)s->latency_us / 1000.0, s->bytes_per_s);
		separator = ",";
	}
	vb_reply_add(r, "],\"listeners\":[");
	separator = "";
	for (s = vb_tcp_all(); s; s = s->next) {
		if (!s->is_listener || s->closed)
			continue;
		vb_reply_add(r, "%s{\"port\":%u,\"state\":\"%s\"}", separator, s->port,
			s->dead ? "no listen pcb" : s->refused ? "refused" : "listening");
		separator = ",";
	}
	vb_reply_add(r, "],\"pcbs\":%d", vb_tcp_pcbs_in_use());
}

/* Returns what is wrong with the message, or NULL; *matched is set. */
static const char *vb_net_operation(const char *json, const char *end, const char *op, vb_reply *r, int *matched)
{
	double port_number = -1, latency_ms = 0, bytes_per_s = 0;
	int port = -1, found = vb_json_member_number(json, end, "port", &port_number);
	if (found < 0 || (found && (port_number < 1 || port_number > 65535 || port_number != (int)port_number)))
		return "port: an integer from 1 to 65535";
	if (found)
		port = (int)port_number;
	if (!strcmp(op, "shape")) {
		if (vb_json_member_number(json, end, "latency_ms", &latency_ms) < 0 || latency_ms < 0)
			return "latency_ms: a number of milliseconds, 0 or more";
		if (vb_json_member_number(json, end, "bytes_per_s", &bytes_per_s) < 0 || bytes_per_s < 0)
			return "bytes_per_s: a number, 0 for no limit";
		if (gShapeCount == VB_NET_RULES && (latency_ms > 0 || bytes_per_s > 0))
			return "too many shape rules";
		*matched = vb_net_shape(port, latency_ms, bytes_per_s);
	}
	else if (!strcmp(op, "stall") || !strcmp(op, "resume") || !strcmp(op, "drop") || !strcmp(op, "reset"))
		*matched = vb_net_connections(port, op);
	else if (!strcmp(op, "refuse") || !strcmp(op, "allow")) {
		if (op[0] == 'r' && gRefusedCount == VB_NET_RULES)
			return "too many refused ports";
		*matched = vb_net_refuse(port, op[0] == 'r');
	}
	else if (!strcmp(op, "clear"))
		*matched = vb_net_clear();
	else if (!strcmp(op, "list")) {
		vb_net_list(r);
		*matched = -1;
	}
	else
		return "unknown op (shape, stall, resume, drop, reset, refuse, allow, clear, list)";
	if (found)
		vb_reply_add(r, ",\"port\":%d", port);
	return NULL;
}

int vb_net_link_message(const char *json, size_t size)
{
	const char *end = json + size, *raw, *problem;
	char op[16] = "";
	int length, matched = 0;
	vb_reply reply = { NULL, 0, 0 };
	if (!vb_json_member_is(json, end, "t", "\"net\""))
		return 0;
	vb_reply_add(&reply, "{\"t\":\"net\"");
	length = vb_json_member_raw(json, end, "op", &raw);
	if (length > 2 && length < (int)sizeof(op) + 2 && raw[0] == '"' && raw[length - 1] == '"') {
		memcpy(op, raw + 1, (size_t)length - 2);
		op[length - 2] = 0;
		vb_reply_add(&reply, ",\"op\":\"%s\"", op);
	}
	problem = op[0] ? vb_net_operation(json, end, op, &reply, &matched) : "op: missing";
	if (problem)
		vb_reply_add(&reply, ",\"error\":\"%s\"", problem);
	else if (matched >= 0)
		vb_reply_add(&reply, ",\"matched\":%d", matched);
	length = vb_json_member_raw(json, end, "id", &raw);
	if (length > 0)
		vb_reply_add(&reply, ",\"id\":%.*s", length, raw);
	vb_reply_add(&reply, "}");
	if (reply.text)
		vb_link_write(reply.text, reply.size, NULL, 0);
	else
		fprintf(stderr, "vboard: out of memory for a net reply\n");
	free(reply.text);
	return 1;
}
