/*
 * Power cuts for the tests, armed at any moment: the supervisor's link
 * messages {"t":"power",...} arm a cut at the N-th flash operation from now
 * (clean or torn, the same cut as --power-cut-at's: idf/vb_flash.c) and
 * read the count of flash operations since boot, so that a test can count
 * what an action writes in a dry run and then cut at each of its
 * operations. An action that ends in a restart ends the process before it
 * could be asked: the count is sent at every exit() too (a power cut
 * itself exits without it: the test that armed it knows where it was).
 * README "Power cuts".
 */
#include "vb_host.h"
#include "vb_idf.h"

#include <stdio.h>
#include <stdlib.h>

static void vb_power_report_exit(void)
{
	char report[80];
	int size = snprintf(report, sizeof(report), "{\"t\":\"power\",\"ops\":%llu,\"exit\":true}",
		(unsigned long long)vb_flash_stats()->ops);
	vb_link_write(report, (size_t)size, NULL, 0);
}

void vb_power_init(void)
{
	atexit(vb_power_report_exit);
}

/* Arms the cut a message asks for; returns what is wrong with it, or NULL. */
static const char *vb_power_arm(const char *json, const char *end, char *reply, size_t reply_size)
{
	double after;
	int found = vb_json_member_number(json, end, "cut_after", &after);
	int torn = vb_json_member_is(json, end, "torn", "true");
	uint64_t cut_at;
	if (!found)
		return NULL;
	if (found < 0 || after < 0 || after > 0x7fffffff || after != (long)after)
		return "cut_after: an integer from 0 (0 disarms)";
	if (vb_json_member(json, end, "torn") && !torn && !vb_json_member_is(json, end, "torn", "false"))
		return "torn: true or false";
	cut_at = vb_flash_arm_power_cut((long)after, torn);
	snprintf(reply, reply_size, ",\"cut_at\":%llu,\"torn\":%s", (unsigned long long)cut_at, cut_at && torn ? "true" : "false");
	return NULL;
}

int vb_power_link_message(const char *json, size_t size)
{
	const char *end = json + size, *id, *problem;
	char armed[64] = "", reply[256];
	int id_length, length;
	if (!vb_json_member_is(json, end, "t", "\"power\""))
		return 0;
	problem = vb_power_arm(json, end, armed, sizeof(armed));
	id_length = vb_json_member_raw(json, end, "id", &id);
	if (id_length > 64)
		id_length = 0;   /* the supervisor's ids are small numbers */
	if (problem)
		length = snprintf(reply, sizeof(reply), "{\"t\":\"power\",\"error\":\"%s\"", problem);
	else
		length = snprintf(reply, sizeof(reply), "{\"t\":\"power\",\"ops\":%llu%s",
			(unsigned long long)vb_flash_stats()->ops, armed);
	if (id_length)
		length += snprintf(reply + length, sizeof(reply) - (size_t)length, ",\"id\":%.*s", id_length, id);
	length += snprintf(reply + length, sizeof(reply) - (size_t)length, "}");
	vb_link_write(reply, (size_t)length, NULL, 0);
	return 1;
}
