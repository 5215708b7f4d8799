/*
 * The flash's statistics on the link: the supervisor's {"t":"flash"}
 * message is answered with the board's clock and what the flash did since
 * boot, with the timing model's time for it (idf/README.md, "Flash
 * timing"). A benchmark takes two answers around an action: board time
 * and flash time come from the same clock, with no host scheduling in it.
 */
#include "vb_host.h"
#include "vb_idf.h"

#include <stdio.h>

int vb_flash_link_message(const char *json, size_t size)
{
	const char *end = json + size, *id;
	const vb_flash_stats_t *s = vb_flash_stats();
	char reply[512];
	int id_length, length;
	if (!vb_json_member_is(json, end, "t", "\"flash\""))
		return 0;
	id_length = vb_json_member_raw(json, end, "id", &id);
	if (id_length > 64)
		id_length = 0;   /* the supervisor's ids are small numbers */
	length = snprintf(reply, sizeof(reply),
		"{\"t\":\"flash\",\"now_us\":%lld,\"ops\":%llu,\"writes\":%llu,\"write_bytes\":%llu,\"erases\":%llu,"
		"\"erased_bytes\":%llu,\"reads\":%llu,\"read_bytes\":%llu,\"erase_ns\":%llu,\"program_ns\":%llu,\"read_ns\":%llu",
		(long long)esp_timer_get_time(), (unsigned long long)s->ops, (unsigned long long)s->writes,
		(unsigned long long)s->write_bytes, (unsigned long long)s->erases, (unsigned long long)s->erased_bytes,
		(unsigned long long)s->reads, (unsigned long long)s->read_bytes, (unsigned long long)s->erase_ns,
		(unsigned long long)s->program_ns, (unsigned long long)s->read_ns);
	if (id_length)
		length += snprintf(reply + length, sizeof(reply) - (size_t)length, ",\"id\":%.*s", id_length, id);
	length += snprintf(reply + length, sizeof(reply) - (size_t)length, "}");
	vb_link_write(reply, (size_t)length, NULL, 0);
	return 1;
}
